//! `/health` (the process answers), `/ready` (its database and broker answer and its consumer
//! makes progress) and `/consumer` (what the member-event consumer has done).

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde::Serialize;

use super::AppState;
use crate::{
    domain::NotReady,
    events::{PartitionLag, StatsSnapshot},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/consumer", get(consumer))
}

/// Answered from the background check's last result, never from a round trip: readiness
/// probes get their answer at once, also while a dependency hangs. Errors are named, not
/// quoted (the driver's text is in the log).
#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    database: &'static str,
    broker: &'static str,
    /// `running`, `retrying` (an event or the database keeps failing) or `stopped`.
    consumer: &'static str,
    /// Why it is not ready; empty when it is.
    reasons: Vec<Reason>,
}

#[derive(Serialize)]
struct Reason {
    #[serde(flatten)]
    kind: NotReady,
    detail: String,
}

#[derive(Serialize)]
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

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

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

async fn consumer(State(state): State<AppState>) -> Json<ConsumerView> {
    let (lag, lag_error, assigned_partitions) = match &state.consumer {
        Some(probe) => match probe.lag().await {
            Ok(lag) => (lag, None, probe.assigned_partitions().await),
            Err(error) => (Vec::new(), Some(error), probe.assigned_partitions().await),
        },
        None => (Vec::new(), Some("no consumer".to_owned()), Vec::new()),
    };
    Json(ConsumerView {
        stats: state.stats.snapshot(),
        assigned_partitions,
        total_lag: lag.iter().map(|partition| partition.lag).sum(),
        lag,
        lag_error,
    })
}
