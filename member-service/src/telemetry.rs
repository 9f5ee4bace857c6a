//! Structured logs, traces and the process's stop signal.
//!
//! Traces are exported with OTLP over HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, and are off otherwise; the OpenTelemetry SDK
//! reads its other standard variables itself (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`, `OTEL_EXPORTER_OTLP_HEADERS`, ...). While a traced span
//! is current, log lines carry its trace id (`trace_id=` in text, `openTelemetry.traceId` in
//! JSON).
//!
//! Both services have this file, kept identical by `tests/tests/plumbing_copies.rs` (see
//! `docs/decisions/0001-shared-plumbing.md`).

use std::fmt;

use opentelemetry::trace::{TraceId, TracerProvider as _};
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
use tokio_util::sync::CancellationToken;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::{
    EnvFilter, Layer, Registry,
    filter::Targets,
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    layer::SubscriberExt,
    registry::LookupSpan,
    util::SubscriberInitExt,
};

use crate::config::LogFormat;

/// This crate's spans are the ones exported; the SDK's and its HTTP client's own logs are not,
/// or exporting would make more to export.
const TRACED_CRATE: &str = env!("CARGO_CRATE_NAME");

/// Keeps the trace exporter; dropping it (or [`Telemetry::shutdown`]) exports what is buffered.
#[must_use = "dropping it stops exporting traces"]
pub struct Telemetry {
    tracer_provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports the spans still buffered, waiting for the collector at most the exporter's
    /// timeout. Blocks: call it when the service has stopped.
    pub fn shutdown(mut self) {
        self.flush();
    }

    fn flush(&mut self) {
        if let Some(provider) = self.tracer_provider.take()
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(%error, "traces could not all be exported at shutdown");
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Installs the global subscriber: logs filtered by `RUST_LOG` (default `info`), and this
/// crate's spans exported when an OTLP endpoint is configured. Safe to call twice.
pub fn init(format: LogFormat) -> anyhow::Result<Telemetry> {
    let tracer_provider = tracer_provider_from_environment()?;
    let traces = tracer_provider.as_ref().map(|provider| {
        trace_layer(provider.tracer(TRACED_CRATE))
            .with_filter(Targets::new().with_target(TRACED_CRATE, Level::INFO))
    });
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .event_format(WithTraceId(tracing_subscriber::fmt::format()))
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => json_subscriber::layer()
            .with_current_span(true)
            .with_opentelemetry_ids(true)
            .with_filter(filter)
            .boxed(),
    };
    let _ = Registry::default().with(traces).with(logs).try_init();
    Ok(Telemetry { tracer_provider })
}

/// The layer that turns this crate's spans into OpenTelemetry spans, as the service configures
/// it (the system tests' in-memory traces use it too). Source location, thread, target and
/// busy/idle times would be attributes on every span that nobody reading these traces needs;
/// leaving them out costs less per span (the benchmark's cost-of-observability phase measures
/// what tracing costs). Nothing here reads the current OpenTelemetry context (a traceparent is
/// taken from the tracing span), so spans need not activate one at each poll of the future they
/// instrument.
pub fn trace_layer<S, T>(tracer: T) -> tracing_opentelemetry::OpenTelemetryLayer<S, T>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    T: opentelemetry::trace::Tracer + 'static,
    T::Span: Send + Sync,
{
    tracing_opentelemetry::layer()
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        .with_context_activation(false)
        .with_tracer(tracer)
}

/// `None` unless an OTLP endpoint is configured: no endpoint, no traces, no warning.
fn tracer_provider_from_environment() -> anyhow::Result<Option<SdkTracerProvider>> {
    let configured = |name: &str| std::env::var(name).is_ok_and(|value| !value.trim().is_empty());
    if !configured("OTEL_EXPORTER_OTLP_ENDPOINT")
        && !configured("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()?;
    // The SDK names the service from OTEL_SERVICE_NAME; without it, "unknown_service".
    let mut resource = Resource::builder();
    if !configured("OTEL_SERVICE_NAME") {
        resource = resource.with_service_name(env!("CARGO_PKG_NAME"));
    }
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build(),
    ))
}

/// Text log lines, prefixed with `trace_id=<32 hex digits>` while a traced span is current.
struct WithTraceId<F>(F);

impl<S, N, F> FormatEvent<S, N> for WithTraceId<F>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    N: for<'writer> FormatFields<'writer> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if let Some(trace_id) = trace_id_of(context) {
            write!(writer, "trace_id={trace_id} ")?;
        }
        self.0.format_event(context, writer, event)
    }
}

/// The trace id of the innermost span around the event that takes part in a trace.
fn trace_id_of<S, N>(context: &FmtContext<'_, S, N>) -> Option<TraceId>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    N: for<'writer> FormatFields<'writer> + 'static,
{
    context.event_scope()?.find_map(|span| {
        span.extensions()
            .get::<tracing_opentelemetry::OtelData>()
            .and_then(tracing_opentelemetry::OtelData::trace_id)
            .filter(|trace_id| *trace_id != TraceId::INVALID)
    })
}

/// Logging for the command-line tools: warnings and errors, to stderr, so that stdout holds only
/// what the tool prints.
pub fn init_for_tools() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Cancels `token` on Ctrl-C or SIGTERM, which starts a graceful shutdown.
pub async fn cancel_on_signal(token: CancellationToken) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!("stop signal received, shutting down");
    token.cancel();
}
