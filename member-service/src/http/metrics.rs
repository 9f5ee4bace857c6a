//! `GET /metrics` in the Prometheus text format, and the middleware that counts and times every
//! request by method, route template and status.
//!
//! Both services have this file, kept identical by `tests/tests/plumbing_copies.rs` (see
//! `docs/decisions/0001-shared-plumbing.md`).
//!
//! Written here rather than taken from `axum-prometheus`: that crate fixes its metric names at
//! compile time through environment variables, has no label for the service (two share a
//! process in the local stack) and brings a second major version of `tower-http`; what it would
//! do for us is the forty lines below.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request},
    http::{Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use metrics::{counter, histogram};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ApiError, AppState};
use crate::metrics::recorder::{self, HTTP_REQUEST_DURATION, HTTP_REQUESTS, RecorderError};

/// The route label of a request no route matched: a raw path would make a series per path.
pub const UNMATCHED_ROUTE: &str = "unmatched";
/// The Prometheus text exposition format, version 0.0.4.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Prometheus metrics of this service: HTTP requests, its own work (the `member_` or
/// `reservation_` families) and the process (memory, CPU, file descriptors). Open, like
/// `/health`: it names no member and no event.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = OK, description = "The metrics, in the Prometheus text format",
        content_type = "text/plain; version=0.0.4; charset=utf-8", body = String),
        (status = NOT_FOUND, description = "Metrics are turned off (`METRICS_ENABLED=false`)",
            body = super::problem::Problem, content_type = "application/problem+json"))
)]
async fn metrics() -> Response {
    // The application installed the recorder at start-up; a router built on its own (tests)
    // installs it here. Failing means another recorder holds the process and none was shared:
    // no figures at all is an error, not an empty page.
    match crate::metrics::install() {
        Ok(handle) => {
            let text = crate::metrics::render(&handle);
            ([(header::CONTENT_TYPE, TEXT_FORMAT)], text).into_response()
        }
        Err(error @ RecorderError::Disabled) => {
            ApiError::NotFound(error.to_string()).into_response()
        }
        Err(error) => ApiError::internal(error).into_response(),
    }
}

/// Counts and times the request under its route template (`/members/{id}`), never its path.
pub async fn track(request: Request, next: Next) -> Response {
    if !recorder::enabled() {
        return next.run(request).await;
    }
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
        .to_owned();
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = [
        ("service", env!("CARGO_PKG_NAME").to_owned()),
        ("method", method.to_owned()),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    counter!(HTTP_REQUESTS, &labels).increment(1);
    histogram!(HTTP_REQUEST_DURATION, &labels).record(started.elapsed().as_secs_f64());
    response
}

/// The standard methods by name; anything else a client invents is `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    /// The lib's unit tests install no recorder, so turning metrics off here touches no other
    /// test of this process.
    #[tokio::test]
    async fn turned_off_metrics_are_not_found_and_install_no_recorder() {
        recorder::disable();
        let response = metrics().await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .expect("the body");
        let problem: serde_json::Value = serde_json::from_slice(&body).expect("problem+json");
        assert_eq!(
            problem["detail"],
            "metrics are turned off in this process (METRICS_ENABLED=false)"
        );
        assert!(matches!(
            crate::metrics::install(),
            Err(RecorderError::Disabled)
        ));
    }
}
