//! `/health` (the process answers) and `/ready` (its database and broker answer).

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
}

/// Answered from the background check's last result, never from a round trip: readiness
/// probes get their answer at once, also while a dependency hangs. Errors are named, not
/// quoted (the driver's text is in the log).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "status": "ready", "database": "ok", "broker": "ok", "outbox_backlog": 0,
    "outbox_relay": "leader", "checked_ms_ago": 412
}))]
struct Readiness {
    /// `ready`, `degraded`, `starting` (not checked yet) or `stale` (the check is stuck).
    #[schema(pattern = "^(ready|degraded|starting|stale)$")]
    status: &'static str,
    /// `ok`, `unavailable` or `unknown`; the same for `broker`.
    #[schema(pattern = "^(ok|unavailable|unknown)$")]
    database: &'static str,
    #[schema(pattern = "^(ok|unavailable|unknown)$")]
    broker: &'static str,
    /// Outbox rows not published yet; null before the first check.
    outbox_backlog: Option<i64>,
    /// `leader` publishes the outbox; `standby` waits to take over from another replica.
    #[schema(pattern = "^(leader|standby)$")]
    outbox_relay: &'static str,
    /// How old the answer is; null before the first check.
    checked_ms_ago: Option<u64>,
}

#[derive(Serialize, ToSchema)]
struct Alive {
    /// Always `ok`.
    #[schema(example = "ok", pattern = "^ok$")]
    status: &'static str,
}

/// The process answers (liveness). Touches nothing else.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses((status = OK, description = "Alive", body = Alive))
)]
async fn health() -> Json<Alive> {
    Json(Alive { status: "ok" })
}

/// Whether to send traffic here (readiness): the background check's last result, answered at
/// once, never by a round trip to the database or broker.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    responses(
        (status = OK, description = "Ready: the database and the broker answered the last check", body = Readiness),
        (status = SERVICE_UNAVAILABLE, description = "Not ready: `status` says why, the dependencies which",
            body = Readiness,
            example = json!({
                "status": "degraded", "database": "ok", "broker": "unavailable", "outbox_backlog": 12,
                "outbox_relay": "leader", "checked_ms_ago": 950
            })),
    )
)]
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
