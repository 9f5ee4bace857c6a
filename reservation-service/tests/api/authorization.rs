//! Who may do what: a member's token acts for that member only (reserve, read, list, cancel,
//! stream), staff acts for anyone, the consumer's view is for operators, and health,
//! readiness and the documents are open.

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use reservation_service::auth::Scope;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TestApp, TestResponse, bearer, member_token, staff_token, token};

async fn send(
    app: &TestApp,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> TestResponse {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, bearer(token));
    }
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map_or_else(Body::empty, |body| Body::from(body.to_string()));
    app.send_as_is(request.body(body).expect("a request")).await
}

fn reservation_for(member_id: Uuid, resource: &str) -> serde_json::Value {
    json!({
        "member_id": member_id, "resource": resource,
        "starts_at": "2030-01-01T10:00:00Z", "ends_at": "2030-01-01T11:00:00Z",
    })
}

#[tokio::test]
async fn a_members_token_reserves_reads_and_cancels_only_for_that_member() {
    let app = TestApp::spawn().await;
    let (member, other) = (app.active_member().await, app.active_member().await);
    let own = member_token(member);
    let mine = send(
        &app,
        Method::POST,
        "/reservations",
        Some(&own),
        Some(reservation_for(member, "room-1")),
    )
    .await;
    assert_eq!(mine.status, StatusCode::CREATED, "{}", mine.body);
    let (status, body) = send(
        &app,
        Method::POST,
        "/reservations",
        Some(&own),
        Some(reservation_for(other, "room-2")),
    )
    .await
    .problem();
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["detail"],
        format!("this token acts for member {member} only, not for member {other}")
    );

    let theirs = send(
        &app,
        Method::POST,
        "/reservations",
        Some(&staff_token()),
        Some(reservation_for(other, "room-3")),
    )
    .await;
    assert_eq!(
        theirs.status,
        StatusCode::CREATED,
        "staff reserves for anyone"
    );
    let theirs = theirs.body["id"].as_str().expect("an id").to_owned();
    for (method, uri) in [
        (Method::GET, format!("/reservations/{theirs}")),
        (Method::POST, format!("/reservations/{theirs}/cancel")),
        (Method::GET, format!("/reservations?member_id={other}")),
        (Method::GET, format!("/known-members/{other}")),
        (Method::GET, format!("/updates?member_id={other}")),
    ] {
        let (status, _) = send(&app, method.clone(), &uri, Some(&own), None)
            .await
            .problem();
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri}");
    }
    let listed = send(&app, Method::GET, "/reservations", Some(&own), None).await;
    assert_eq!(listed.status, StatusCode::OK);
    let members: Vec<&str> = listed.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["member_id"].as_str().expect("a member"))
        .collect();
    assert_eq!(
        members,
        [member.to_string()],
        "a member's list holds only its own"
    );
    let mine = mine.body["id"].as_str().expect("an id");
    let cancelled = send(
        &app,
        Method::POST,
        &format!("/reservations/{mine}/cancel"),
        Some(&own),
        None,
    )
    .await;
    assert_eq!(cancelled.status, StatusCode::OK);
}

#[tokio::test]
async fn a_missing_scope_or_token_is_refused_and_named() {
    let app = TestApp::spawn().await;
    let member = app.active_member().await;
    let reader = token(&member.to_string(), &[Scope::ReservationsRead]);
    let response = send(
        &app,
        Method::POST,
        "/reservations",
        Some(&reader),
        Some(reservation_for(member, "room-1")),
    )
    .await;
    assert_eq!(
        response.headers[header::WWW_AUTHENTICATE],
        "Bearer realm=\"reservation-service\", error=\"insufficient_scope\", scope=\"reservations:write\""
    );
    let (status, body) = response.problem();
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["detail"],
        "this request needs the scope reservations:write, which the token does not grant"
    );

    let consumer = send(&app, Method::GET, "/consumer", Some(&staff_token()), None).await;
    assert_eq!(
        consumer.status,
        StatusCode::OK,
        "staff, with operator, passes"
    );
    let no_operator = token("desk", &[Scope::Staff, Scope::ReservationsRead]);
    let (status, body) = send(&app, Method::GET, "/consumer", Some(&no_operator), None)
        .await
        .problem();
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["detail"]
            .as_str()
            .expect("a detail")
            .contains("operator")
    );

    let response = send(&app, Method::GET, "/reservations", None, None).await;
    assert_eq!(
        response.headers[header::WWW_AUTHENTICATE],
        "Bearer realm=\"reservation-service\""
    );
    assert_eq!(response.problem().0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_update_stream_takes_its_token_from_the_query_for_browsers() {
    let app = TestApp::spawn().await;
    let member = app.active_member().await;
    let own = member_token(member);
    let (status, _) = send(&app, Method::GET, "/updates", None, None)
        .await
        .problem();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = send(
        &app,
        Method::GET,
        "/updates?access_token=forged",
        None,
        None,
    )
    .await
    .problem();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let request = Request::builder()
        .uri(format!("/updates?access_token={own}"))
        .body(Body::empty())
        .expect("a request");
    let response = reservation_service::http::router(app.state.clone())
        .oneshot_answer(request)
        .await;
    assert_eq!(response, StatusCode::OK);
}

#[tokio::test]
async fn health_readiness_the_live_page_and_the_documents_need_no_token() {
    let app = TestApp::spawn().await;
    for uri in ["/health", "/ready", "/openapi.json"] {
        let status = send(&app, Method::GET, uri, None, None).await.status;
        assert!(
            status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE,
            "{uri}: {status}"
        );
    }
    let page = reservation_service::http::router(app.state.clone())
        .oneshot_answer(
            Request::builder()
                .uri("/")
                .body(Body::empty())
                .expect("a request"),
        )
        .await;
    assert_eq!(page, StatusCode::OK);
}

/// The status of one request, without reading a body that may never end (a stream).
trait OneshotAnswer {
    async fn oneshot_answer(self, request: Request<Body>) -> StatusCode;
}

impl OneshotAnswer for axum::Router {
    async fn oneshot_answer(self, request: Request<Body>) -> StatusCode {
        use tower::ServiceExt;
        self.oneshot(request).await.expect("an answer").status()
    }
}
