//! The REST API. Handlers parse input into domain types, run one transaction through `db`, and
//! map errors to RFC 9457 problem responses. Each handler's `#[utoipa::path]` describes it in the
//! OpenAPI document (`openapi`), served at `/openapi.json` and shown at `/docs`.

mod authentication;
mod health;
mod limits;
mod members;
mod metrics;
pub mod openapi;
mod problem;
mod server;

use std::sync::Arc;

use axum::{Router, extract::FromRef};
use sqlx::AnyPool;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::{
    auth::Verifier,
    events::{Health, OutboxSignal, RelayLeadership},
    trace_context,
};
pub use limits::RequestLimits;
pub use problem::ApiError;
pub use server::{ServerSettings, serve};

/// Everything the handlers use; none of it needs a broker, so tests build the router on a
/// database alone.
#[derive(Clone)]
pub struct AppState {
    pub pool: AnyPool,
    pub outbox_signal: OutboxSignal,
    /// What the background health check last found, for `/ready`.
    pub health: Health,
    pub relay: RelayLeadership,
    /// Checks the bearer token of every API request.
    pub verifier: Arc<Verifier>,
}

impl AppState {
    /// A state with no health check run yet (so not ready) and no relay leading.
    pub fn new(pool: AnyPool, verifier: Verifier) -> Self {
        Self {
            pool,
            outbox_signal: OutboxSignal::default(),
            health: Health::default(),
            relay: RelayLeadership::default(),
            verifier: Arc::new(verifier),
        }
    }
}

impl FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

/// The router with the default [`RequestLimits`].
pub fn router(state: AppState) -> Router {
    router_with_limits(state, RequestLimits::default())
}

pub fn router_with_limits(state: AppState, limits: RequestLimits) -> Router {
    let (router, mut document) = api().split_for_parts();
    authentication::document_security(&mut document);
    let router = router
        .merge(openapi::pages(document))
        .fallback(problem::not_found_fallback);
    limits::apply(router, limits)
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(axum::middleware::from_fn(problem::bare_errors_as_problems))
        .layer(axum::extract::DefaultBodyLimit::max(
            problem::MAX_BODY_BYTES,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(trace_context::http_request_span)
                .on_response(trace_context::record_response),
        )
        .with_state(state)
}

/// The OpenAPI document of the API [`router`] serves, from the same handlers.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut document = api().into_openapi();
    authentication::document_security(&mut document);
    document
}

/// Every API route, each adding its operation to the document as it is added to the router.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(members::router())
        .merge(health::router())
        .merge(metrics::router())
}
