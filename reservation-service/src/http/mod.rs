//! The REST API. Handlers parse input into domain types, run one transaction through `db`, and
//! map errors to RFC 9457 problem responses.

mod health;
mod known_members;
mod problem;
mod reservations;

use std::sync::Arc;

use axum::Router;
use sqlx::AnyPool;
use tower_http::trace::TraceLayer;

use crate::events::{ConsumerHealth, ConsumerProbe, ConsumerStats};
pub use problem::ApiError;

#[derive(Clone)]
pub struct AppState {
    pub pool: AnyPool,
    /// Live access to the consumer, for `/consumer`; `None` where the router runs without one.
    pub consumer: Option<ConsumerProbe>,
    pub stats: Arc<ConsumerStats>,
    /// What the background health check last found, for `/ready`.
    pub health: Arc<ConsumerHealth>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(reservations::router())
        .merge(known_members::router())
        .merge(health::router())
        .fallback(problem::not_found_fallback)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
