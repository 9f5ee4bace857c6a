//! Bounds on the API's requests: a deadline for each, and a cap on how many run at once. Past
//! the cap a request is refused at once (503 with `Retry-After`) rather than queued, so an
//! overloaded instance answers fast and a load balancer or client can try elsewhere or later.
//!
//! Both services have this file, kept identical by `tests/tests/plumbing_copies.rs` (see
//! `docs/decisions/0001-shared-plumbing.md`).

use std::time::Duration;

use axum::{BoxError, Router, error_handling::HandleErrorLayer, response::IntoResponse};
use tower::{
    ServiceBuilder,
    limit::GlobalConcurrencyLimitLayer,
    load_shed::{LoadShedLayer, error::Overloaded},
    timeout::{TimeoutLayer, error::Elapsed},
};

use super::ApiError;

/// How long a request may run and how many may run at once.
#[derive(Clone, Copy, Debug)]
pub struct RequestLimits {
    /// Past it the request is answered 503; the handler's work is dropped (a transaction not
    /// yet committed rolls back).
    pub timeout: Duration,
    /// Requests in flight beyond it are refused with 503 and `Retry-After`.
    pub max_concurrent: usize,
}

impl Default for RequestLimits {
    /// The settings' defaults.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            max_concurrent: 512,
        }
    }
}

/// Applies `limits` to every route `router` has so far. One semaphore is shared by all of them
/// (a plain `ConcurrencyLimitLayer` would give each route a cap of its own).
pub fn apply<State: Clone + Send + Sync + 'static>(
    router: Router<State>,
    limits: RequestLimits,
) -> Router<State> {
    router.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(refusal))
            .layer(TimeoutLayer::new(limits.timeout))
            .layer(LoadShedLayer::new())
            .layer(GlobalConcurrencyLimitLayer::new(limits.max_concurrent)),
    )
}

/// The problem for a request the limits stopped.
async fn refusal(error: BoxError) -> axum::response::Response {
    if error.is::<Overloaded>() {
        ApiError::Overloaded("too many requests in flight; try again shortly".to_owned())
    } else if error.is::<Elapsed>() {
        ApiError::TimedOut("the request took longer than the server allows".to_owned())
    } else {
        ApiError::internal(anyhow::anyhow!("request limits: {error}"))
    }
    .into_response()
}
