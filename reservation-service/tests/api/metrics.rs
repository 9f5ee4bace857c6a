//! `GET /metrics`: the Prometheus text format, every family this service names, and labels that
//! stay bounded: the route template, never the path.

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use reservation_service::{http, metrics};
use tower::ServiceExt;
use uuid::Uuid;

use crate::helpers::TestApp;

/// The answer to `GET uri`: status, content type and body as text.
async fn get_text(app: &TestApp, uri: &str) -> (StatusCode, String, String) {
    let request = Request::builder()
        .uri(uri)
        .body(Body::empty())
        .expect("a request");
    let response = http::router(app.state.clone())
        .oneshot(request)
        .await
        .expect("an answer");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body");
    (
        status,
        content_type,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[tokio::test]
async fn metrics_are_served_in_the_prometheus_text_format_with_every_family_described() {
    let app = TestApp::spawn().await;
    // The application installs the recorder before it serves; a router on its own does not.
    metrics::install().expect("the recorder");
    // HTTP series exist once a request was answered.
    get_text(&app, "/health").await;
    let (status, content_type, text) = get_text(&app, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    // Lag series come with the partitions the consumer holds; this router has no consumer.
    let families = metrics::NAMES
        .iter()
        .copied()
        .filter(|name| *name != metrics::LAG)
        .chain([
            "http_requests_total",
            "http_request_duration_seconds",
            "process_resident_memory_bytes",
            "process_cpu_seconds_total",
            "process_open_fds",
        ]);
    for family in families {
        assert!(
            text.contains(&format!("# HELP {family} ")),
            "no description of {family} in:\n{text}"
        );
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "no type of {family} in:\n{text}"
        );
    }
    assert!(
        text.contains("# TYPE reservation_consumer_event_age_seconds histogram"),
        "latencies are histograms with buckets, not summaries:\n{text}"
    );
    assert!(
        !text.contains("member_outbox"),
        "only this service's families"
    );
}

#[tokio::test]
async fn requests_are_counted_under_their_route_template_never_their_path() {
    let app = TestApp::spawn().await;
    metrics::install().expect("the recorder");
    let ids = [Uuid::now_v7(), Uuid::now_v7()];
    for id in ids {
        get_text(&app, &format!("/known-members/{id}")).await;
    }
    get_text(&app, &format!("/no-such-page/{}", ids[0])).await;
    let (_, _, text) = get_text(&app, "/metrics").await;

    let series: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("http_requests_total{"))
        .collect();
    assert!(
        series
            .iter()
            .any(|line| line.contains("route=\"/known-members/{id}\"")
                && line.contains("method=\"GET\"")
                && line.contains("service=\"reservation-service\"")),
        "{series:#?}"
    );
    assert!(
        series
            .iter()
            .any(|line| line.contains("route=\"unmatched\"")),
        "{series:#?}"
    );
    for id in ids {
        assert!(!text.contains(&id.to_string()), "an id in a label:\n{text}");
    }
}
