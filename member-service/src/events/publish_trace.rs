//! Traces across the event hop: each event's publish span continues the trace of the request
//! that made the change (its context is stored with the outbox row, so a relay that restarted,
//! or another replica's, continues it too), and the message carries the publish span's context
//! as W3C `traceparent` / `tracestate` headers, which the consumer continues.

use rdkafka::message::{Header, OwnedHeaders};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::{
    db::outbox::PendingEvent,
    trace_context::{TRACEPARENT, TRACESTATE, TraceHeaders},
};

/// The span of one event's publication, from enqueueing to the broker's acknowledgement.
pub fn publish_span(topic: &str, event: &PendingEvent) -> Span {
    let span = tracing::info_span!(
        parent: None,
        "publish member event",
        otel.kind = "producer",
        otel.status_code = tracing::field::Empty,
        messaging.system = "kafka",
        messaging.operation.type = "send",
        messaging.destination.name = topic,
        messaging.message.id = %event.event_id,
        messaging.kafka.message.key = %event.member_id,
        event.type = %event.event_type,
        error.message = tracing::field::Empty,
    );
    if let Some(request) = stored_trace(event) {
        // Fails only when tracing is off here; the stored context is then forwarded as is.
        let _ = span.set_parent(request.context());
    }
    span
}

/// `headers` with the trace context the consumer continues: the publish span's, or, when this
/// process does not trace, the request's as stored.
pub fn with_trace_headers(
    headers: OwnedHeaders,
    span: &Span,
    event: &PendingEvent,
) -> OwnedHeaders {
    let Some(trace) = TraceHeaders::of_span(span).or_else(|| stored_trace(event)) else {
        return headers;
    };
    let headers = headers.insert(Header {
        key: TRACEPARENT,
        value: Some(&trace.traceparent),
    });
    match &trace.tracestate {
        Some(state) => headers.insert(Header {
            key: TRACESTATE,
            value: Some(state),
        }),
        None => headers,
    }
}

/// Marks the publish failed; the row stays in the outbox and a later round publishes it under
/// a span of its own, in the same trace.
pub fn record_failure(span: &Span, reason: &str) {
    span.record("otel.status_code", "ERROR");
    span.record("error.message", reason);
}

fn stored_trace(event: &PendingEvent) -> Option<TraceHeaders> {
    TraceHeaders::from_values(event.traceparent.as_deref(), event.tracestate.as_deref())
}
