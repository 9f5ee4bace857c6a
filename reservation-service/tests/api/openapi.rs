//! The OpenAPI document: the committed copy is the served one, every route is in it, every
//! documented status is one a handler returns (each is made to happen here, and its body checked
//! against the documented schema), and `/docs` is served from the binary.

use std::collections::BTreeSet;

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use reservation_service::http;
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

use crate::{
    helpers::{TestApp, TestResponse, bearer, token},
    openapi_checks::{self, DOCUMENTATION_ROUTES, Operation},
};

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/api/openapi.json");

/// Documented statuses a router without a consumer cannot return, and the test that shows each.
const SHOWN_ELSEWHERE: [(&str, Method, StatusCode, &str); 6] = [
    (
        "/metrics",
        Method::GET,
        StatusCode::OK,
        "the Prometheus text format: tests/api/metrics.rs",
    ),
    (
        "/metrics",
        Method::GET,
        StatusCode::NOT_FOUND,
        "METRICS_ENABLED=false turns metrics off process-wide: the unit test in src/http/metrics.rs",
    ),
    (
        "/",
        Method::GET,
        StatusCode::OK,
        "an HTML page: tests/api/updates.rs",
    ),
    (
        "/ready",
        Method::GET,
        StatusCode::OK,
        "needs a consumer holding partitions: tests/tests/broker_recovery.rs",
    ),
    (
        "/updates",
        Method::GET,
        StatusCode::OK,
        "an endless event stream: tests/api/updates.rs",
    ),
    (
        "/updates",
        Method::GET,
        StatusCode::SERVICE_UNAVAILABLE,
        "needs the streams' cap reached: tests/api/updates.rs",
    ),
];

async fn served_document(app: &TestApp) -> Value {
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status, StatusCode::OK);
    response.body
}

#[tokio::test]
async fn the_committed_openapi_document_is_the_one_the_router_serves() {
    let app = TestApp::spawn().await;
    let served = served_document(&app).await;
    assert_eq!(
        served,
        serde_json::to_value(http::openapi_document()).expect("document"),
        "/openapi.json serves the document the handlers describe"
    );
    openapi_checks::assert_committed(&served, COMMITTED, "reservation-service");
}

#[tokio::test]
async fn every_route_the_router_serves_is_in_the_openapi_document() {
    let app = TestApp::spawn().await;
    let document = served_document(&app).await;
    let router = http::router(app.state.clone());
    let mut served = BTreeSet::new();
    for path in openapi_checks::served_paths(&router) {
        if DOCUMENTATION_ROUTES.contains(&path.as_str()) {
            continue;
        }
        for method in openapi_checks::served_methods(&router, &path).await {
            served.insert((path.clone(), method));
        }
    }
    assert_eq!(served, openapi_checks::documented_operations(&document));
}

/// One request, as an operation of the document and what it answered.
struct Observed {
    operation: Operation,
    response: TestResponse,
}

async fn observe(app: &TestApp, method: Method, path: &str, uri: &str) -> Observed {
    observe_with(app, method, path, uri, None).await
}

async fn observe_with(
    app: &TestApp,
    method: Method,
    path: &str,
    uri: &str,
    body: Option<&str>,
) -> Observed {
    let mut request = Request::builder().method(method.clone()).uri(uri);
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let request = request
        .body(body.map_or_else(Body::empty, |body| Body::from(body.to_owned())))
        .expect("a request");
    Observed {
        operation: (path.to_owned(), method),
        response: app.send(request).await,
    }
}

/// A body that is not labelled JSON.
async fn plain_text_post(app: &TestApp, path: &str) -> Observed {
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .expect("a request");
    Observed {
        operation: (path.to_owned(), Method::POST),
        response: app.send(request).await,
    }
}

#[tokio::test]
async fn every_documented_status_is_one_the_handlers_return() {
    let app = TestApp::spawn().await;
    let document = served_document(&app).await;
    let member = app.active_member().await;
    let unknown = Uuid::now_v7();
    let reservation = |member_id: Uuid| {
        json!({
            "member_id": member_id, "resource": "room-1",
            "starts_at": "2030-01-01T10:00:00Z", "ends_at": "2030-01-01T11:00:00Z",
        })
        .to_string()
    };
    let post = |body: String| {
        let app = &app;
        async move {
            observe_with(
                app,
                Method::POST,
                "/reservations",
                "/reservations",
                Some(&body),
            )
            .await
        }
    };

    let mut seen = vec![
        post(reservation(member)).await,
        post(reservation(member)).await,
        post(reservation(unknown)).await,
        post("{not".to_owned()).await,
        post("x".repeat(70_000)).await,
        plain_text_post(&app, "/reservations").await,
        observe(&app, Method::GET, "/reservations", "/reservations?limit=1").await,
        observe(&app, Method::GET, "/reservations", "/reservations?limit=0").await,
        observe(&app, Method::GET, "/health", "/health").await,
        observe(&app, Method::GET, "/ready", "/ready").await,
        observe(&app, Method::GET, "/consumer", "/consumer").await,
        observe(&app, Method::GET, "/updates", "/updates?member_id=7").await,
    ];
    // A valid body, so that the missing scope is what is refused.
    let scopeless = Request::builder()
        .method(Method::POST)
        .uri("/reservations")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, bearer(&token("nobody", &[])))
        .body(Body::from(reservation(member)))
        .expect("a request");
    seen.push(Observed {
        operation: ("/reservations".to_owned(), Method::POST),
        response: app.send(scopeless).await,
    });
    let id = seen[0].response.body["id"]
        .as_str()
        .expect("reserved")
        .to_owned();
    let (member_text, unknown_text) = (member.to_string(), unknown.to_string());
    for (reservation_id, member_id) in [
        (id.as_str(), member_text.as_str()),
        ("7", "7"),
        (&unknown_text, &unknown_text),
    ] {
        let uri = format!("/reservations/{reservation_id}");
        seen.push(observe(&app, Method::GET, "/reservations/{id}", &uri).await);
        let uri = format!("/known-members/{member_id}");
        seen.push(observe(&app, Method::GET, "/known-members/{id}", &uri).await);
    }
    for id in [id.as_str(), id.as_str(), "7", &unknown_text] {
        let uri = format!("/reservations/{id}/cancel");
        seen.push(observe(&app, Method::POST, "/reservations/{id}/cancel", &uri).await);
    }
    // A database that is gone: every handler that uses it answers 500.
    app.state.pool.close().await;
    seen.extend([
        post(reservation(member)).await,
        observe(&app, Method::GET, "/reservations", "/reservations").await,
        observe(
            &app,
            Method::GET,
            "/reservations/{id}",
            &format!("/reservations/{id}"),
        )
        .await,
        observe(
            &app,
            Method::POST,
            "/reservations/{id}/cancel",
            &format!("/reservations/{id}/cancel"),
        )
        .await,
        observe(
            &app,
            Method::GET,
            "/known-members/{id}",
            &format!("/known-members/{member}"),
        )
        .await,
    ]);

    let mut observed = BTreeSet::new();
    let router = http::router(app.state.clone());
    for (operation, (status, content_type, body)) in
        openapi_checks::refusals(&router, &document, &token("nobody", &[])).await
    {
        openapi_checks::assert_documented(
            &document,
            &operation,
            status,
            content_type.as_deref(),
            &body,
        );
        observed.insert((operation, status));
    }
    for Observed {
        operation,
        response,
    } in &seen
    {
        openapi_checks::assert_documented(
            &document,
            operation,
            response.status,
            response.content_type.as_deref(),
            &response.body,
        );
        observed.insert((operation.clone(), response.status));
    }
    for (path, method, status, _shown_by) in SHOWN_ELSEWHERE {
        observed.insert(((path.to_owned(), method), status));
    }
    let documented = openapi_checks::documented_statuses(&document);
    let never_seen: Vec<_> = documented.difference(&observed).collect();
    assert!(
        never_seen.is_empty(),
        "documented, never returned: {never_seen:?}"
    );
}

#[tokio::test]
async fn the_docs_page_and_its_assets_are_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let get = |uri: &'static str| {
        let router = http::router(app.state.clone());
        async move {
            let request = Request::builder()
                .uri(uri)
                .body(Body::empty())
                .expect("a request");
            let response = router.oneshot(request).await.expect("an answer");
            let status = response.status();
            let location = response.headers().get(header::LOCATION).cloned();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("a body");
            (
                status,
                location,
                String::from_utf8_lossy(&body).into_owned(),
            )
        }
    };
    let (status, location, _) = get("/docs").await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(location.expect("a location"), "/docs/");

    let (status, _, page) = get("/docs/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("swagger-ui"), "{page}");
    for reference in ["src=\"http", "href=\"http", "//cdn", "unpkg"] {
        assert!(!page.contains(reference), "the page loads {reference}…");
    }
    let (status, _, initializer) = get("/docs/swagger-initializer.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(initializer.contains("/openapi.json"), "{initializer}");
    let (status, _, script) = get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(script.len() > 100_000, "the bundle is compiled in");
}
