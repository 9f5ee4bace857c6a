//! The OpenAPI document: the committed copy is the served one, every route is in it, every
//! documented status is one a handler returns (each is made to happen here, and its body checked
//! against the documented schema), and `/docs` is served from the binary.

use std::{collections::BTreeSet, time::Instant};

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use member_service::{events::HealthReport, http};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

use crate::{
    helpers::{TestApp, TestResponse, token},
    openapi_checks::{self, DOCUMENTATION_ROUTES, Operation},
};

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/api/openapi.json");

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
    openapi_checks::assert_committed(&served, COMMITTED, "member-service");
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
    let unknown = Uuid::now_v7();
    let member = json!({ "name": "Ada Lovelace", "email": "ada@example.com" }).to_string();
    let broken = json!({ "name": " ", "email": "ada" }).to_string();

    let mut seen = vec![
        observe_with(&app, Method::POST, "/members", "/members", Some(&member)).await,
        observe_with(&app, Method::POST, "/members", "/members", Some(&member)).await,
        observe_with(&app, Method::POST, "/members", "/members", Some(&broken)).await,
        observe_with(&app, Method::POST, "/members", "/members", Some("{not")).await,
        observe_with(
            &app,
            Method::POST,
            "/members",
            "/members",
            Some(&"x".repeat(70_000)),
        )
        .await,
        plain_text_post(&app, "/members").await,
        observe(&app, Method::GET, "/members", "/members?limit=2").await,
        observe(&app, Method::GET, "/members", "/members?limit=0").await,
        observe(&app, Method::GET, "/health", "/health").await,
        observe(&app, Method::GET, "/ready", "/ready").await,
    ];
    let id = seen[0].response.body["id"]
        .as_str()
        .expect("registered")
        .to_owned();
    for method in [Method::GET, Method::DELETE] {
        for uri in [
            format!("/members/{id}"),
            "/members/7".to_owned(),
            format!("/members/{unknown}"),
        ] {
            seen.push(observe(&app, method.clone(), "/members/{id}", &uri).await);
        }
    }
    app.state.health.publish(HealthReport {
        database: Ok(()),
        broker: Ok(()),
        outbox_backlog: Some(0),
        checked_at: Instant::now(),
    });
    seen.push(observe(&app, Method::GET, "/ready", "/ready").await);
    // A database that is gone: every handler that uses it answers 500.
    app.pool().close().await;
    seen.extend([
        observe_with(&app, Method::POST, "/members", "/members", Some(&member)).await,
        observe(&app, Method::GET, "/members", "/members").await,
        observe(
            &app,
            Method::GET,
            "/members/{id}",
            &format!("/members/{id}"),
        )
        .await,
        observe(
            &app,
            Method::DELETE,
            "/members/{id}",
            &format!("/members/{id}"),
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
    // The Prometheus text format, not JSON: shown by tests/api/metrics.rs.
    observed.insert((("/metrics".to_owned(), Method::GET), StatusCode::OK));
    // Only with METRICS_ENABLED=false, which turns metrics off for the whole process: shown by
    // the unit test in src/http/metrics.rs, in a process of its own.
    observed.insert((("/metrics".to_owned(), Method::GET), StatusCode::NOT_FOUND));
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
