//! `/health` (the process answers) and `/ready` (its database and broker answer).

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde::Serialize;

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
}

/// Answered from the background check's last result, never from a round trip: readiness
/// probes get their answer at once, also while a dependency hangs. Errors are named, not
/// quoted (the driver's text is in the log).
#[derive(Serialize)]
struct Readiness {
    /// `ready`, `degraded`, `starting` (not checked yet) or `stale` (the check is stuck).
    status: &'static str,
    /// `ok`, `unavailable` or `unknown`; the same for `broker`.
    database: &'static str,
    broker: &'static str,
    outbox_backlog: Option<i64>,
    /// `leader` publishes the outbox; `standby` waits to take over from another replica.
    outbox_relay: &'static str,
    /// How old the answer is.
    checked_ms_ago: Option<u64>,
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let report = state.health.latest();
    let label = |result: Option<&Result<(), String>>| match result {
        None => "unknown",
        Some(Ok(())) => "ok",
        Some(Err(_)) => "unavailable",
    };
    let status = match &report {
        None => "starting",
        Some(report) if report.is_stale() => "stale",
        Some(report) if report.is_healthy() => "ready",
        Some(_) => "degraded",
    };
    let body = Readiness {
        status,
        database: label(report.as_ref().map(|report| &report.database)),
        broker: label(report.as_ref().map(|report| &report.broker)),
        outbox_backlog: report.as_ref().and_then(|report| report.outbox_backlog),
        outbox_relay: if state.relay.is_leader() {
            "leader"
        } else {
            "standby"
        },
        checked_ms_ago: report.as_ref().map(|report| {
            u64::try_from(report.checked_at.elapsed().as_millis()).unwrap_or(u64::MAX)
        }),
    };
    let status = if status == "ready" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
