//! What the observability phase needs around the services: an OTLP/HTTP trace receiver, and a
//! scraper reading `/metrics` as Prometheus would.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::post};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{error::BenchError, system::BenchSystem};

/// How often the scraper reads both services' `/metrics`.
const SCRAPE_EVERY: Duration = Duration::from_secs(1);

/// What the collector has received.
#[derive(Debug, Default)]
struct Received {
    requests: AtomicU64,
    spans: AtomicU64,
}

/// An OTLP/HTTP trace receiver in this process: it decodes each export (so that a malformed one
/// is refused, as a real collector would) and counts its spans, then discards them.
pub struct Collector {
    pub address: SocketAddr,
    received: Arc<Received>,
    stop: CancellationToken,
    server: JoinHandle<()>,
}

impl Collector {
    pub async fn start() -> Result<Self, BenchError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(collector_error)?;
        let address = listener.local_addr().map_err(collector_error)?;
        let received = Arc::new(Received::default());
        let stop = CancellationToken::new();
        let router = Router::new()
            .route("/v1/traces", post(receive))
            .with_state(received.clone());
        let stopped = stop.clone();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(stopped.cancelled_owned())
                .await;
        });
        Ok(Self {
            address,
            received,
            stop,
            server,
        })
    }

    /// Spans and export requests received so far.
    pub fn received(&self) -> (u64, u64) {
        (
            self.received.spans.load(Ordering::Relaxed),
            self.received.requests.load(Ordering::Relaxed),
        )
    }

    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.server.await;
    }
}

async fn receive(State(received): State<Arc<Received>>, body: Bytes) -> StatusCode {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST;
    };
    let spans: usize = request
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .map(|scope| scope.spans.len())
        .sum();
    received.requests.fetch_add(1, Ordering::Relaxed);
    received.spans.fetch_add(spans as u64, Ordering::Relaxed);
    // An empty ExportTraceServiceResponse is zero bytes: full success.
    StatusCode::OK
}

fn collector_error(source: std::io::Error) -> BenchError {
    BenchError::Output {
        path: "the OTLP collector's port".to_owned(),
        source,
    }
}

/// Reads both services' `/metrics` every second until stopped; counts the successful reads.
pub struct Scraper {
    stop: CancellationToken,
    task: JoinHandle<u64>,
}

impl Scraper {
    pub fn start(system: &BenchSystem) -> Self {
        let http = system.http().clone();
        let urls: Vec<String> = [Some(system.member_url.clone()), system.reservation_url()]
            .into_iter()
            .flatten()
            .map(|url| format!("{url}/metrics"))
            .collect();
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut scrapes = 0;
            let mut ticks = tokio::time::interval(SCRAPE_EVERY);
            loop {
                tokio::select! {
                    _ = stopped.cancelled() => return scrapes,
                    _ = ticks.tick() => {}
                }
                for url in &urls {
                    if let Ok(response) = http.get(url).send().await
                        && response.status().is_success()
                        && response.bytes().await.is_ok()
                    {
                        scrapes += 1;
                    }
                }
            }
        });
        Self { stop, task }
    }

    pub async fn stop(self) -> u64 {
        self.stop.cancel();
        self.task.await.unwrap_or_default()
    }
}
