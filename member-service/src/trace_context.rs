//! W3C Trace Context (`traceparent`, `tracestate`): how a trace crosses a process boundary,
//! in an HTTP request, a Kafka message or an outbox row, and the span every HTTP request runs
//! in.
//!
//! The W3C propagator is used directly rather than a global one: the context travels in the
//! outbox and in the event contract, whose format must not change with a process's settings.
//! When no trace layer is installed, spans have no context and nothing is propagated.
//!
//! Both services have this file, kept identical by `tests/tests/plumbing_copies.rs`.

use std::{collections::HashMap, time::Duration};

use axum::{
    extract::MatchedPath,
    http::{HeaderMap, Request, Response},
};
use opentelemetry::{
    Context,
    propagation::{Extractor, Injector, TextMapPropagator},
    trace::TraceContextExt,
};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";

/// A span's context as its two W3C headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceHeaders {
    pub traceparent: String,
    pub tracestate: Option<String>,
}

impl TraceHeaders {
    /// The context of `span`; `None` when it takes part in no trace (tracing off, or the span
    /// disabled by a filter).
    pub fn of_span(span: &Span) -> Option<Self> {
        let context = span.context();
        if !context.span().span_context().is_valid() {
            return None;
        }
        let mut carrier = HashMap::new();
        TraceContextPropagator::new().inject_context(&context, &mut Carrier(&mut carrier));
        Self::from_values(
            carrier.get(TRACEPARENT).map(String::as_str),
            carrier.get(TRACESTATE).map(String::as_str),
        )
    }

    /// The headers as received; `None` without a `traceparent`. An empty `tracestate` is none.
    pub fn from_values(traceparent: Option<&str>, tracestate: Option<&str>) -> Option<Self> {
        Some(Self {
            traceparent: traceparent?.to_owned(),
            tracestate: tracestate
                .filter(|state| !state.is_empty())
                .map(str::to_owned),
        })
    }

    /// The context a span continuing this trace takes as its parent: empty (the span starts a
    /// trace of its own) when the `traceparent` is malformed.
    pub fn context(&self) -> Context {
        TraceContextPropagator::new().extract(self)
    }
}

impl Extractor for TraceHeaders {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => Some(&self.traceparent),
            TRACESTATE => self.tracestate.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT, TRACESTATE]
    }
}

struct Carrier<'a>(&'a mut HashMap<String, String>);

impl Injector for Carrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct RequestHeaders<'a>(&'a HeaderMap);

impl Extractor for RequestHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// The span a request is served in, named after its route template (never the raw path, which
/// holds ids), continuing the caller's trace when the request carries a `traceparent`.
pub fn http_request_span<B>(request: &Request<B>) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched route", MatchedPath::as_str);
    let method = request.method().as_str();
    let span = tracing::info_span!(
        "HTTP request",
        otel.name = format!("{method} {route}"),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = method,
        http.route = route,
        http.response.status_code = tracing::field::Empty,
    );
    let caller = TraceContextPropagator::new().extract(&RequestHeaders(request.headers()));
    if caller.span().span_context().is_valid() {
        // Fails only when tracing is off, and then there is no trace to continue.
        let _ = span.set_parent(caller);
    }
    span
}

/// Records the status on the request's span; a server error marks the span failed.
pub fn record_response<B>(response: &Response<B>, _latency: Duration, span: &Span) {
    let status = response.status();
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
}
