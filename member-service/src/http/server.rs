//! The accept loop under the router. `axum::serve` has no setting for how long a client may
//! take to send its request's head, so a client that opens connections and sends a byte a
//! minute would hold each for ever; hyper's own connection builder has that setting.
//!
//! Both services have this file, kept identical by `tests/tests/plumbing_copies.rs` (see
//! `docs/decisions/0001-shared-plumbing.md`).

use std::time::Duration;

use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How the server treats its connections.
#[derive(Clone, Copy, Debug)]
pub struct ServerSettings {
    /// How long a client may take to send a request's head (HTTP/1) before its connection is
    /// closed.
    pub header_read_timeout: Duration,
    /// After the stop, how long in-flight requests may take before their connections are
    /// closed: a client that stops reading its response could otherwise hold the stop for ever.
    pub drain: Duration,
}

/// How long to wait after a failed accept (most often: out of file descriptors) before the next.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Serves `router` until `shutdown`, then lets in-flight requests finish for up to
/// `settings.drain`.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    shutdown: CancellationToken,
    settings: ServerSettings,
) -> anyhow::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout);
    let connections = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(router.clone());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, "connection ended with an error");
            }
        });
    }
    // No new connections from here on; those open finish their requests and close.
    drop(listener);
    tokio::select! {
        () = connections.shutdown() => {}
        () = tokio::time::sleep(settings.drain) => {
            tracing::warn!(drain = ?settings.drain, "connections still open after the stop; closing them");
        }
    }
    Ok(())
}
