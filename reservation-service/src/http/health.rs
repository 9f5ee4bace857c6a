//! `/health` (the process answers), `/ready` (its database and broker answer and its consumer
//! makes progress) and `/consumer` (what the member-event consumer has done).

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ApiError, AppState};
use crate::{
    auth::{Caller, Scope},
    domain::NotReady,
    events::{PartitionLag, StatsSnapshot},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(consumer))
}

/// Answered from the background check's last result, never from a round trip: readiness
/// probes get their answer at once, also while a dependency hangs. Errors are named, not
/// quoted (the driver's text is in the log).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "status": "ready", "database": "ok", "broker": "ok", "consumer": "running", "reasons": []
}))]
struct Readiness {
    /// `ready` or `degraded`.
    #[schema(pattern = "^(ready|degraded)$")]
    status: &'static str,
    /// `ok`, `unavailable` or `unknown` (not checked yet); the same for `broker`.
    #[schema(pattern = "^(ok|unavailable|unknown)$")]
    database: &'static str,
    #[schema(pattern = "^(ok|unavailable|unknown)$")]
    broker: &'static str,
    /// `running`, `retrying` (an event or the database keeps failing) or `stopped`.
    #[schema(pattern = "^(running|retrying|stopped)$")]
    consumer: &'static str,
    /// Why it is not ready; empty when it is.
    reasons: Vec<Reason>,
}

#[derive(Serialize, ToSchema)]
struct Reason {
    #[serde(flatten)]
    kind: NotReady,
    /// The reason in words.
    detail: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "applied": 1520, "duplicates": 3, "stale": 0, "dead_lettered": 1, "reservations_cancelled": 212,
    "retries": 0, "batches": 240, "in_flight": 0, "failing": false, "stopped": false,
    "assigned_partitions": [0, 1, 2],
    "lag": [{ "partition": 0, "position": 512, "high_watermark": 512, "lag": 0 }],
    "total_lag": 0
}))]
struct ConsumerView {
    #[serde(flatten)]
    stats: StatsSnapshot,
    assigned_partitions: Vec<i32>,
    /// Per assigned partition; empty when the broker cannot be asked (see `lag_error`).
    lag: Vec<PartitionLag>,
    total_lag: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    lag_error: Option<String>,
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
/// once. Not ready while the database or broker does not answer, or the consumer retries,
/// stopped, holds no partitions or makes no progress with lag.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    responses(
        (status = OK, description = "Ready", body = Readiness),
        (status = SERVICE_UNAVAILABLE, description = "Not ready: `reasons` says why", body = Readiness,
            example = json!({
                "status": "degraded", "database": "ok", "broker": "unavailable", "consumer": "running",
                "reasons": [{ "reason": "broker_unavailable", "detail": "the broker does not answer" }]
            })),
    )
)]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let report = state.health.report();
    let label = |result: &Option<Result<(), String>>| match result {
        None => "unknown",
        Some(Ok(())) => "ok",
        Some(Err(_)) => "unavailable",
    };
    let stats = state.stats.snapshot();
    let ready = report.not_ready.is_empty();
    let body = Readiness {
        status: if ready { "ready" } else { "degraded" },
        database: label(&report.observation.database),
        broker: label(&report.observation.broker),
        consumer: if stats.stopped {
            "stopped"
        } else if stats.failing {
            "retrying"
        } else {
            "running"
        },
        reasons: report
            .not_ready
            .into_iter()
            .map(|kind| Reason {
                detail: kind.to_string(),
                kind,
            })
            .collect(),
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// What the member-event consumer has done since start-up, and its lag per assigned partition.
/// Operators only: the broker's own error text may appear in `lag_error`.
#[utoipa::path(
    get,
    path = "/consumer",
    tag = "operations",
    security(("bearer" = ["operator"])),
    responses((status = OK, description = "Counters, partitions and lag", body = ConsumerView))
)]
async fn consumer(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<Json<ConsumerView>, ApiError> {
    caller.require(Scope::Operator)?;
    let (lag, lag_error, assigned_partitions) = match &state.consumer {
        Some(probe) => match probe.lag().await {
            Ok(lag) => (lag, None, probe.assigned_partitions().await),
            Err(error) => (Vec::new(), Some(error), probe.assigned_partitions().await),
        },
        None => (Vec::new(), Some("no consumer".to_owned()), Vec::new()),
    };
    Ok(Json(ConsumerView {
        stats: state.stats.snapshot(),
        assigned_partitions,
        total_lag: lag.iter().map(|partition| partition.lag).sum(),
        lag,
        lag_error,
    }))
}
