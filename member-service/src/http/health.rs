//! `/health` (the process answers) and `/ready` (its database and broker answer).

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde::Serialize;

use super::AppState;
use crate::db;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
}

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    database: String,
    broker: String,
    outbox_backlog: Option<i64>,
    /// `leader` publishes the outbox; `standby` waits to take over from another replica.
    outbox_relay: &'static str,
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let database = db::ping(&state.pool).await;
    let backlog = match &database {
        Ok(()) => match state.pool.acquire().await {
            Ok(mut connection) => db::outbox::backlog(&mut connection).await.ok(),
            Err(_) => None,
        },
        Err(_) => None,
    };
    let broker = state.broker.check().await;
    let ready = database.is_ok() && broker.is_ok();
    let body = Readiness {
        status: if ready { "ready" } else { "degraded" },
        database: database.map_or_else(|error| error.to_string(), |()| "ok".to_owned()),
        broker: broker.map_or_else(|error| error, |()| "ok".to_owned()),
        outbox_backlog: backlog,
        outbox_relay: if state.relay.is_leader() {
            "leader"
        } else {
            "standby"
        },
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
