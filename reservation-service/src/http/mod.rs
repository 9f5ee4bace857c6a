//! The REST API, the `/updates` stream and the live page at `/`. Handlers parse input into domain types, run one transaction through `db`, and
//! map errors to RFC 9457 problem responses. Each handler's `#[utoipa::path]` describes it in the
//! OpenAPI document (`openapi`), served at `/openapi.json` and shown at `/docs`.

mod authentication;
mod examples;
mod health;
mod known_members;
mod limits;
mod live;
mod metrics;
pub mod openapi;
mod problem;
mod reservations;
mod server;
mod updates;

use std::sync::Arc;

use axum::{Router, extract::FromRef};
use sqlx::AnyPool;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::{
    auth::Verifier,
    events::{ConsumerHealth, ConsumerProbe, ConsumerStats},
    trace_context,
};
pub use limits::RequestLimits;
pub use problem::ApiError;
pub use server::{ServerSettings, serve};
pub use updates::UpdateStreams;

#[derive(Clone)]
pub struct AppState {
    pub pool: AnyPool,
    /// Live access to the consumer, for `/consumer`; `None` where the router runs without one.
    pub consumer: Option<ConsumerProbe>,
    pub stats: Arc<ConsumerStats>,
    /// What the background health check last found, for `/ready`.
    pub health: Arc<ConsumerHealth>,
    /// The `/updates` streams' commit signal, cap and shutdown.
    pub updates: UpdateStreams,
    /// Checks the bearer token of every API request.
    pub verifier: Arc<Verifier>,
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

/// Every route but `/updates` under `limits`. An update stream stays open for as long as its
/// client watches: it has its own cap (`SSE_MAX_STREAMS`) and no deadline, and open streams must
/// not use up the requests the API may run at once.
pub fn router_with_limits(state: AppState, limits: RequestLimits) -> Router {
    let (bounded, _) = bounded_api().split_for_parts();
    let bounded = bounded
        .merge(openapi::pages(openapi_document()))
        .fallback(problem::not_found_fallback);
    let (streams, _) = updates::router().split_for_parts();
    limits::apply(bounded, limits)
        .merge(streams)
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
        .merge(reservations::router())
        .merge(known_members::router())
        .merge(updates::router())
        .merge(live::router())
        .merge(health::router())
        .merge(metrics::router())
}

/// Every route of [`api`] but the update stream.
fn bounded_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(reservations::router())
        .merge(known_members::router())
        .merge(live::router())
        .merge(health::router())
        .merge(metrics::router())
}
