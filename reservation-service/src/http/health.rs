//! `/health` (the process answers), `/ready` (its database and broker answer) and `/consumer`
//! (what the member-event consumer has done).

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde::Serialize;

use super::AppState;
use crate::{
    db,
    events::{PartitionLag, StatsSnapshot},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/consumer", get(consumer))
}

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    database: String,
    broker: String,
    /// The consumer is retrying an event it could not apply.
    consumer_failing: bool,
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
    let database = db::ping(&state.pool).await;
    let broker = state.consumer.check().await;
    let consumer_failing = state.stats.snapshot().failing;
    let ready = database.is_ok() && broker.is_ok() && !consumer_failing;
    let body = Readiness {
        status: if ready { "ready" } else { "degraded" },
        database: database.map_or_else(|error| error.to_string(), |()| "ok".to_owned()),
        broker: broker.map_or_else(|error| error, |()| "ok".to_owned()),
        consumer_failing,
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

async fn consumer(State(state): State<AppState>) -> Json<ConsumerView> {
    let (lag, lag_error) = match state.consumer.lag().await {
        Ok(lag) => (lag, None),
        Err(error) => (Vec::new(), Some(error)),
    };
    Json(ConsumerView {
        stats: state.stats.snapshot(),
        assigned_partitions: state.consumer.assigned_partitions(),
        total_lag: lag.iter().map(|partition| partition.lag).sum(),
        lag,
        lag_error,
    })
}
