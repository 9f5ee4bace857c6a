//! The REST API. Handlers parse input into domain types, run one transaction through `db`, and
//! map errors to RFC 9457 problem responses. Each handler's `#[utoipa::path]` describes it in the
//! OpenAPI document (`openapi`), served at `/openapi.json` and shown at `/docs`.

mod health;
mod members;
pub mod openapi;
mod problem;

use axum::Router;
use sqlx::AnyPool;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

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
    let (router, document) = api().split_for_parts();
    router
        .merge(openapi::pages(document))
        .fallback(problem::not_found_fallback)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The OpenAPI document of the API [`router`] serves, from the same handlers.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

/// Every API route, each adding its operation to the document as it is added to the router.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(members::router())
        .merge(health::router())
}
