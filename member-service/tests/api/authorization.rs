//! Who may do what: no token, a token that does not verify (expired, another service's, another
//! issuer's), a token without the route's scope, and a member's token used for another member.

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use jsonwebtoken::{EncodingKey, Header};
use member_service::auth::Scope;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TestApp, TestResponse, bearer, member_token, token};

async fn send(app: &TestApp, method: Method, uri: &str, token: Option<&str>) -> TestResponse {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, bearer(token));
    }
    app.send_as_is(request.body(Body::empty()).expect("a request"))
        .await
}

fn challenge(response: &TestResponse) -> String {
    response.headers[header::WWW_AUTHENTICATE]
        .to_str()
        .expect("a challenge")
        .to_owned()
}

/// Signed with the router's secret, so only the claim under test is wrong.
fn signed(claims: serde_json::Value) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(b"router-tests-hs256-secret-not-for-production"),
    )
    .expect("a token")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn a_request_without_a_token_is_refused_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    for (method, uri) in [
        (Method::GET, "/members".to_owned()),
        (Method::POST, "/members".to_owned()),
        (Method::GET, format!("/members/{}", Uuid::now_v7())),
        (Method::DELETE, format!("/members/{}", Uuid::now_v7())),
    ] {
        let response = send(&app, method.clone(), &uri, None).await;
        assert_eq!(challenge(&response), "Bearer realm=\"member-service\"");
        let (status, body) = response.problem();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert_eq!(body["detail"], "the request has no bearer token");
    }
}

#[tokio::test]
async fn tokens_that_do_not_verify_are_refused_saying_why() {
    let app = TestApp::spawn().await;
    let claims = |audience: &str, issuer: &str, expires: i64| json!({ "iss": issuer, "aud": audience, "sub": "staff", "exp": expires, "scope": "staff members:read" });
    let cases = [
        (
            signed(claims("member-service", "router-tests", now() - 10)),
            "the token has expired",
        ),
        (
            signed(claims("reservation-service", "router-tests", now() + 60)),
            "the token is not meant for this service (audience)",
        ),
        (
            signed(claims("member-service", "someone-else", now() + 60)),
            "the token was not issued by the trusted issuer",
        ),
        (
            "not-a-token".to_owned(),
            "the token is malformed or lacks a claim (exp, iss, aud, sub)",
        ),
    ];
    for (token, detail) in cases {
        let response = send(&app, Method::GET, "/members", Some(&token)).await;
        assert!(
            challenge(&response).contains("error=\"invalid_token\""),
            "{detail}"
        );
        let (status, body) = response.problem();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["detail"], detail);
    }
    let tampered = format!(
        "{}x",
        signed(claims("member-service", "router-tests", now() + 60))
    );
    let (status, body) = send(&app, Method::GET, "/members", Some(&tampered))
        .await
        .problem();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["detail"], "the token's signature does not verify");
}

#[tokio::test]
async fn a_token_without_the_routes_scope_is_refused_naming_the_scope() {
    let app = TestApp::spawn().await;
    let member = app.register_member().await;
    let read_only = token("staff", &[Scope::Staff, Scope::MembersRead]);
    let response = send(
        &app,
        Method::DELETE,
        &format!("/members/{member}"),
        Some(&read_only),
    )
    .await;
    assert_eq!(
        challenge(&response),
        "Bearer realm=\"member-service\", error=\"insufficient_scope\", scope=\"members:write\""
    );
    let (status, body) = response.problem();
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["detail"],
        "this request needs the scope members:write, which the token does not grant"
    );
    assert_eq!(
        send(
            &app,
            Method::GET,
            &format!("/members/{member}"),
            Some(&read_only)
        )
        .await
        .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_members_token_reads_and_erases_only_that_member() {
    let app = TestApp::spawn().await;
    let member = app.register_member().await;
    let other = app.register_member().await;
    let own = member_token(member);
    let (status, body) = send(&app, Method::GET, &format!("/members/{other}"), Some(&own))
        .await
        .problem();
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["detail"],
        format!("this token acts for member {member} only, not for member {other}")
    );
    let (status, _) = send(
        &app,
        Method::DELETE,
        &format!("/members/{other}"),
        Some(&own),
    )
    .await
    .problem();
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = send(&app, Method::GET, "/members", Some(&own))
        .await
        .problem();
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "listing every member is for staff"
    );
    assert_eq!(
        body["detail"],
        "this request acts for every member and needs the scope staff"
    );
    assert_eq!(
        send(&app, Method::GET, &format!("/members/{member}"), Some(&own))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(
            &app,
            Method::DELETE,
            &format!("/members/{member}"),
            Some(&own)
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(&app, Method::GET, &format!("/members/{other}"), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn health_readiness_and_the_documentation_need_no_token() {
    let app = TestApp::spawn().await;
    for uri in ["/health", "/ready", "/openapi.json"] {
        let status = send(&app, Method::GET, uri, None).await.status;
        assert!(
            status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE,
            "{uri}: {status}"
        );
    }
}
