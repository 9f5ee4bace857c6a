//! The process's Prometheus recorder, and this service's part of what it holds.
//!
//! Both services have this file, kept identical by `tests/tests/plumbing_copies.rs` (see
//! `docs/decisions/0001-shared-plumbing.md`).
//!
//! The `metrics` facade has one recorder per process. Deployed, each service is its own process
//! and installs it ([`install`]). The local stack and the system tests run both services in one
//! process: there the first service installs it and the other is handed its handle ([`share`]);
//! a service that finds another recorder installed and was handed none refuses to start rather
//! than export nothing. Each service names its metrics with its own prefix, `member_` or
//! `reservation_`, and its HTTP series carry a `service` label, so in one process nothing
//! collides; and each `/metrics` renders only its own series ([`render`]), so that Prometheus
//! scraping both services of one process counts nothing twice. The process's own figures
//! (`process_*`: memory, CPU, file descriptors) belong to whichever process answers.

use std::{
    sync::{
        Mutex, OnceLock, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use metrics::{Unit, describe_counter, describe_histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests answered, by `service`, `method`, `route` (the template) and `status`.
pub const HTTP_REQUESTS: &str = "http_requests_total";
/// Time to answer a request, with the same labels.
pub const HTTP_REQUEST_DURATION: &str = "http_request_duration_seconds";

/// Latencies and ages: a millisecond to five minutes (an age after a broker outage).
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];
/// Counts of events (batch sizes): one to the largest configurable batch.
const EVENTS_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];
/// Histograms hold samples until upkeep folds them in; the exporter's own listener does this
/// every 5 s, and so does this.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);
static PROCESS: OnceLock<metrics_process::Collector> = OnceLock::new();
/// Set by `METRICS_ENABLED=false`: no recorder, so every `counter!`, `gauge!` and `histogram!`
/// goes to the facade's no-op recorder. Only for measuring what metrics cost (the benchmark's
/// observability phase) or for a deployment that collects none.
static DISABLED: AtomicBool = AtomicBool::new(false);

#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    #[error("cannot build the Prometheus recorder")]
    Build(#[source] BuildError),
    #[error(
        "another metrics recorder is installed in this process; hand this service its handle \
         (metrics::share) before starting it"
    )]
    OtherRecorderInstalled,
    #[error("metrics are turned off in this process (METRICS_ENABLED=false)")]
    Disabled,
}

/// Turns metrics off for the whole process, before anything installed the recorder: nothing is
/// recorded and `/metrics` answers 404.
pub fn disable() {
    DISABLED.store(true, Ordering::Relaxed);
}

/// Whether this process records metrics.
pub fn enabled() -> bool {
    !DISABLED.load(Ordering::Relaxed)
}

/// The process's recorder: installed by the first call, the same handle after.
pub fn install() -> Result<PrometheusHandle, RecorderError> {
    if !enabled() {
        return Err(RecorderError::Disabled);
    }
    let mut installed = HANDLE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(handle) = installed.as_ref() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
        .and_then(|builder| {
            builder.set_buckets_for_metric(Matcher::Suffix("_events".to_owned()), EVENTS_BUCKETS)
        })
        .map_err(RecorderError::Build)?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| RecorderError::OtherRecorderInstalled)?;
    start_upkeep(handle.clone());
    describe_shared();
    *installed = Some(handle.clone());
    Ok(handle)
}

/// Uses `handle`, the recorder another service of this process installed.
pub fn share(handle: PrometheusHandle) {
    let mut installed = HANDLE.lock().unwrap_or_else(PoisonError::into_inner);
    installed.get_or_insert(handle);
    describe_shared();
}

/// This service's series in the Prometheus text format: families whose name starts with one of
/// `prefixes`, `process_*`, and `http_*` series labelled with this service.
pub fn render(handle: &PrometheusHandle, prefixes: &[&str]) -> String {
    if let Some(process) = PROCESS.get() {
        process.collect();
    }
    let service_label = format!("service=\"{}\"", env!("CARGO_PKG_NAME"));
    let mut text = String::new();
    for line in handle.render().lines() {
        let name = family_of(line);
        let kept = name.starts_with("process_")
            || prefixes.iter().any(|prefix| name.starts_with(prefix))
            || (name.starts_with("http_")
                && (line.starts_with('#') || line.contains(&service_label)));
        if kept {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

/// The metric a line of the text format is about: a sample's name, or a comment's subject.
fn family_of(line: &str) -> &str {
    if let Some(comment) = line.strip_prefix("# ") {
        return comment.split_whitespace().nth(1).unwrap_or_default();
    }
    line.split(['{', ' ']).next().unwrap_or_default()
}

/// The families both services have: HTTP and the process.
fn describe_shared() {
    describe_counter!(
        HTTP_REQUESTS,
        Unit::Count,
        "HTTP requests answered, by service, method, route template and status"
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request, to its headers (a stream's body is not timed)"
    );
    PROCESS
        .get_or_init(|| {
            let collector = metrics_process::Collector::default();
            collector.describe();
            collector
        })
        .collect();
}

/// Folds histogram samples in even when nobody scrapes, so that they do not pile up.
fn start_upkeep(handle: PrometheusHandle) {
    let started = std::thread::Builder::new()
        .name("metrics-upkeep".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        });
    if let Err(error) = started {
        tracing::warn!(%error, "cannot start the metrics upkeep thread; histograms fold in at each scrape");
    }
}
