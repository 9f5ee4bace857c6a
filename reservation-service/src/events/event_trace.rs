//! Traces across the event hop, consumer side. Each event is handled in a span of its own that
//! continues the trace its message carries (W3C `traceparent` / `tracestate` headers, written by
//! member-service's relay), so one trace runs from the request that made the change to its
//! effect here. A batch is written in one transaction, in one span that links every event's
//! trace: the OpenTelemetry messaging conventions for a batch, which has many parents.

use opentelemetry::{
    KeyValue,
    trace::{SpanContext, TraceContextExt},
};
use rdkafka::message::{Headers, Message};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::{
    domain::{Applied, Outcome},
    trace_context::{TRACEPARENT, TRACESTATE, TraceHeaders},
};

/// One event's span, open from its arrival until its outcome is known.
pub struct EventSpan {
    span: Span,
    /// The publish span that sent it, when the message carried one.
    producer: Option<SpanContext>,
}

/// The span of the event in `message`, in the trace of the request that made it.
pub fn event_span(message: &impl Message) -> EventSpan {
    let span = tracing::info_span!(
        parent: None,
        "apply member event",
        otel.kind = "consumer",
        otel.status_code = tracing::field::Empty,
        messaging.system = "kafka",
        messaging.operation.type = "process",
        messaging.destination.name = message.topic(),
        messaging.destination.partition.id = message.partition(),
        messaging.kafka.offset = message.offset(),
        event.outcome = tracing::field::Empty,
        reservations.cancelled = tracing::field::Empty,
        error.message = tracing::field::Empty,
    );
    let producer = carried_trace(message).map(|trace| trace.context());
    let producer = producer.filter(|context| context.span().span_context().is_valid());
    let linked = producer
        .as_ref()
        .map(|context| context.span().span_context().clone());
    if let Some(context) = producer {
        // Fails only when tracing is off, and then there is no trace to continue.
        let _ = span.set_parent(context);
    }
    EventSpan {
        span,
        producer: linked,
    }
}

/// The span the batch is written in, linked to the trace of each of its events.
pub fn batch_span(events: &[EventSpan]) -> Span {
    let span = tracing::info_span!(
        parent: None,
        "apply member events batch",
        otel.kind = "consumer",
        messaging.system = "kafka",
        messaging.operation.type = "process",
        messaging.batch.message_count = events.len(),
    );
    for producer in events.iter().filter_map(|event| event.producer.clone()) {
        span.add_link(producer);
    }
    span
}

/// Records what became of the event; its span ends when `event` is dropped.
pub fn record_outcome(event: &EventSpan, outcome: &Outcome) {
    let span = &event.span;
    match outcome {
        Outcome::Applied(applied) => {
            span.record("event.outcome", applied.as_str());
            if let Applied::Deleted {
                reservations_cancelled,
            } = applied
            {
                let cancelled = i64::try_from(*reservations_cancelled).unwrap_or(i64::MAX);
                span.record("reservations.cancelled", cancelled);
                span.add_event(
                    "reservations cancelled",
                    vec![KeyValue::new("reservations.cancelled", cancelled)],
                );
            }
        }
        Outcome::Parked(failure) => {
            span.record("event.outcome", "parked");
            span.record("otel.status_code", "ERROR");
            span.record("error.message", failure.reason.as_str());
        }
    }
}

fn carried_trace(message: &impl Message) -> Option<TraceHeaders> {
    let headers = message.headers()?;
    let value = |name: &str| {
        headers
            .iter()
            .find(|header| header.key == name)
            .and_then(|header| header.value)
            .and_then(|value| std::str::from_utf8(value).ok())
    };
    TraceHeaders::from_values(value(TRACEPARENT), value(TRACESTATE))
}
