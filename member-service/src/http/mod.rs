//! The REST API. Handlers parse input into domain types, run one transaction through `db`, and
//! map errors to RFC 9457 problem responses.

mod health;
mod members;
mod problem;

use axum::Router;
use sqlx::AnyPool;
use tower_http::trace::TraceLayer;

use crate::events::{BrokerProbe, OutboxSignal, RelayLeadership};
pub use problem::ApiError;

#[derive(Clone)]
pub struct AppState {
    pub pool: AnyPool,
    pub outbox_signal: OutboxSignal,
    pub broker: BrokerProbe,
    pub relay: RelayLeadership,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(members::router())
        .merge(health::router())
        .fallback(problem::not_found_fallback)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
