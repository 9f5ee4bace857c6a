//! Request limits: a request held past the deadline is answered 503 as a problem; past the cap of
//! requests in flight, another is refused at once with 503 and `Retry-After`, and taken again
//! once the held one ends.

use std::{convert::Infallible, time::Duration};

use axum::{
    Router,
    body::{Body, Bytes},
    http::{
        Method, Request, Response, StatusCode,
        header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER},
    },
};
use member_service::http::{self, RequestLimits};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

use crate::helpers::{TestApp, bearer, staff_token};

/// A registration whose body never ends: its handler waits for the rest, keeping it in flight,
/// as a slow client would.
fn held_request() -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri("/members")
        .header(CONTENT_TYPE, "application/json")
        .header(AUTHORIZATION, bearer(&staff_token()))
        .body(Body::from_stream(futures::stream::pending::<
            Result<Bytes, Infallible>,
        >()))
        .expect("request")
}

fn health() -> Request<Body> {
    Request::builder()
        .uri("/health")
        .body(Body::empty())
        .expect("request")
}

async fn problem(response: Response<Body>) -> Value {
    assert_eq!(
        response.headers()[CONTENT_TYPE],
        "application/problem+json",
        "a problem body"
    );
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("response body");
    serde_json::from_slice(&bytes).expect("a JSON body")
}

#[tokio::test]
async fn a_request_held_past_the_deadline_is_answered_503_as_a_problem() {
    let app = TestApp::spawn().await;
    let limits = RequestLimits {
        timeout: Duration::from_millis(200),
        ..RequestLimits::default()
    };
    let router = http::router_with_limits(app.state.clone(), limits);

    let response = tokio::time::timeout(Duration::from_secs(10), router.oneshot(held_request()))
        .await
        .expect("answered at the deadline, not left waiting")
        .expect("the router answers every request");

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = problem(response).await;
    assert_eq!(body["status"], 503);
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("longer"))
    );
}

#[tokio::test]
async fn past_the_cap_a_request_is_refused_at_once_with_retry_after() {
    let app = TestApp::spawn().await;
    let limits = RequestLimits {
        max_concurrent: 1,
        ..RequestLimits::default()
    };
    let router = http::router_with_limits(app.state.clone(), limits);
    let held = tokio::spawn(router.clone().oneshot(held_request()));

    let refused = refused_while_held(&router).await;
    assert_eq!(refused.headers()[RETRY_AFTER], "1");
    let body = problem(refused).await;
    assert_eq!(body["status"], 503);

    held.abort();
    let _ = held.await;
    let response = router.oneshot(health()).await.expect("answered");
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the held request's place is free again"
    );
}

/// The answer to a request sent while another holds the only place; polls until the held one has
/// taken it, since it runs in a task of its own.
async fn refused_while_held(router: &Router) -> Response<Body> {
    for _ in 0..200 {
        let response = router.clone().oneshot(health()).await.expect("answered");
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            return response;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no request was refused while another held the only place");
}

/// A client that opens a connection and sends its request's head slowly holds it only so long;
/// one that sends it at once is served on the same server.
#[tokio::test]
async fn a_client_slow_to_send_its_request_head_is_disconnected() {
    let app = TestApp::spawn().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("an address");
    let shutdown = tokio_util::sync::CancellationToken::new();
    let settings = http::ServerSettings {
        header_read_timeout: Duration::from_millis(300),
        drain: Duration::from_secs(1),
    };
    let server = tokio::spawn(http::serve(
        listener,
        http::router(app.state.clone()),
        shutdown.clone(),
        settings,
    ));

    let mut slow = tokio::net::TcpStream::connect(address)
        .await
        .expect("connected");
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n")
        .await
        .expect("part of a head");
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut answer)).await;
    assert!(
        closed.is_ok(),
        "the connection is closed once the head is late"
    );
    assert!(
        !answer.starts_with(b"HTTP/1.1 200"),
        "the late request is not served"
    );

    let mut prompt = tokio::net::TcpStream::connect(address)
        .await
        .expect("connected");
    prompt
        .write_all(b"GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .expect("a whole head");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), prompt.read_to_end(&mut answer))
        .await
        .expect("answered")
        .expect("read");
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "a prompt client is served"
    );

    shutdown.cancel();
    server.await.expect("the server task").expect("served");
}
