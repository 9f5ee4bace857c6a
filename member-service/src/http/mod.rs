//! The REST API. Handlers parse input into domain types, run one transaction through `db`, and
//! map errors to RFC 9457 problem responses.

mod health;
mod members;
mod problem;

use axum::Router;
use sqlx::AnyPool;
use tower_http::trace::TraceLayer;

use crate::events::{Health, OutboxSignal, RelayLeadership};
pub use problem::ApiError;

/// Everything the handlers use; none of it needs a broker, so tests build the router on a
/// database alone.
#[derive(Clone)]
pub struct AppState {
    pub pool: AnyPool,
    pub outbox_signal: OutboxSignal,
    /// What the background health check last found, for `/ready`.
    pub health: Health,
    pub relay: RelayLeadership,
}

impl AppState {
    /// A state with no health check run yet (so not ready) and no relay leading.
    pub fn new(pool: AnyPool) -> Self {
        Self {
            pool,
            outbox_signal: OutboxSignal::default(),
            health: Health::default(),
            relay: RelayLeadership::default(),
        }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(members::router())
        .merge(health::router())
        .fallback(problem::not_found_fallback)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
