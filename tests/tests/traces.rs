//! One deletion, one trace across both services: the HTTP request, the outbox insert, the
//! relay's publish, and the consumer's handling of the event that cancelled the reservations,
//! each the parent of the next; the batch the event was written in links to it. Also when the
//! relay that could first publish the row was restarted: the context comes from the outbox row.
//!
//! The services run as tasks of this process, so this binary installs the one global
//! subscriber, with an in-memory exporter (`telemetry::init`, which exports with OTLP, is only
//! called by the services' `main`). Both tests share it and find their spans by member id.

use std::{sync::OnceLock, time::Duration};

use opentelemetry::{
    Value,
    trace::{SpanContext, SpanId, SpanKind, Status, TraceId, TracerProvider as _},
};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use reqwest::StatusCode;
use system_tests::{TestSystem, eventually, process::free_address, system::DEADLINE};
use tracing::Level;
use tracing_subscriber::{
    EnvFilter, Layer, filter::Targets, layer::SubscriberExt, util::SubscriberInitExt,
};
use uuid::Uuid;

const DELETED: &str = "members.member_deleted.v1";

#[tokio::test(flavor = "multi_thread")]
async fn one_deletion_is_one_trace_from_the_request_to_the_cancellations() {
    let exporter = exporter();
    let system = TestSystem::start().await;
    let member = system.register_known_member().await;
    let reservations = [system.reserve(member).await, system.reserve(member).await];

    assert_eq!(system.delete_member(member).await, StatusCode::NO_CONTENT);
    for reservation in reservations {
        system.wait_until_cancelled(reservation).await;
    }

    let trace = deletion_trace(exporter, member).await;
    let checked = check_deletion_trace(exporter, &trace, 2);
    assert_eq!(checked.failed_publishes, 0, "the broker was up: {trace:#?}");
    assert_eq!(
        trace.len(),
        4,
        "request, insert, publish, apply: {trace:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_trace_survives_a_relay_restart_between_commit_and_publish() {
    let exporter = exporter();
    let mut system = TestSystem::start().await;
    let member = system.register_known_member().await;
    let reservations = [system.reserve(member).await, system.reserve(member).await];

    // A member-service whose relay cannot reach any broker: the deletion commits, the event
    // stays in the outbox.
    let working = system.member_config().clone();
    let unreachable = system.member_config_mut();
    unreachable.kafka_bootstrap_servers = free_address().to_string();
    unreachable.kafka_message_timeout = Duration::from_secs(1);
    system.restart_member_service().await;
    assert_eq!(system.delete_member(member).await, StatusCode::NO_CONTENT);
    eventually("the relay's publish to fail", DEADLINE, || async {
        publishes_of(exporter, member)
            .iter()
            .any(|publish| matches!(publish.status, Status::Error { .. }))
            .then_some(())
    })
    .await;

    // Restarted with a broker: this relay knows of the request only from the outbox row.
    *system.member_config_mut() = working;
    system.restart_member_service().await;
    for reservation in reservations {
        system.wait_until_cancelled(reservation).await;
    }

    let trace = deletion_trace(exporter, member).await;
    let checked = check_deletion_trace(exporter, &trace, 2);
    assert!(checked.failed_publishes >= 1, "{trace:#?}");
    assert_eq!(trace.len(), 4 + checked.failed_publishes, "{trace:#?}");
    let stored: String = sqlx::query_scalar(
        "SELECT traceparent FROM outbox WHERE member_id = $1 AND event_type = $2",
    )
    .bind(member.to_string())
    .bind(DELETED)
    .fetch_one(&system.member.pool)
    .await
    .expect("the deletion's outbox row");
    assert_eq!(
        stored,
        format!("00-{}-{}-01", checked.trace_id, checked.outbox_insert),
        "the outbox row keeps the insert span's context"
    );
}

/// What [`check_deletion_trace`] found.
struct Checked {
    trace_id: TraceId,
    outbox_insert: SpanId,
    failed_publishes: usize,
}

/// Asserts the shape of a deletion's trace: request → outbox insert → publish (failed attempts
/// and one acknowledged) → applied event with its cancellations; and one batch span linking it.
fn check_deletion_trace(
    exporter: &InMemorySpanExporter,
    trace: &[SpanData],
    cancelled: i64,
) -> Checked {
    let request = only(trace, "DELETE /members/{id}");
    assert_eq!(request.span_kind, SpanKind::Server);
    assert_eq!(
        request.parent_span_id,
        SpanId::INVALID,
        "the request starts the trace"
    );
    assert_eq!(
        attribute(request, "http.response.status_code"),
        Some(Value::I64(204))
    );

    let insert = only(trace, "outbox insert");
    assert_eq!(insert.parent_span_id, request.span_context.span_id());
    assert_eq!(text(insert, "event.type").as_deref(), Some(DELETED));

    let publishes = named(trace, "publish member event");
    assert!(
        publishes
            .iter()
            .all(|publish| publish.span_kind == SpanKind::Producer)
    );
    assert!(
        publishes
            .iter()
            .all(|publish| publish.parent_span_id == insert.span_context.span_id()),
        "every publish attempt continues the insert"
    );
    let (failed, acknowledged): (Vec<&SpanData>, Vec<&SpanData>) = publishes
        .into_iter()
        .partition(|publish| matches!(publish.status, Status::Error { .. }));
    let [acknowledged] = acknowledged[..] else {
        panic!(
            "one acknowledged publish, not {}: {trace:#?}",
            acknowledged.len()
        );
    };

    let apply = only(trace, "apply member event");
    assert_eq!(apply.span_kind, SpanKind::Consumer);
    assert_eq!(apply.parent_span_id, acknowledged.span_context.span_id());
    assert!(
        apply.parent_span_is_remote,
        "the parent came in the message's headers"
    );
    assert_eq!(text(apply, "event.outcome").as_deref(), Some("deleted"));
    assert_eq!(
        attribute(apply, "reservations.cancelled"),
        Some(Value::I64(cancelled))
    );
    assert!(
        apply
            .events
            .events
            .iter()
            .any(|event| event.name == "reservations cancelled"),
        "{apply:#?}"
    );

    let batches: Vec<SpanData> = finished(exporter)
        .into_iter()
        .filter(|span| span.name == "apply member events batch")
        .filter(|span| {
            span.links
                .links
                .iter()
                .any(|link| same_span(&link.span_context, &acknowledged.span_context))
        })
        .collect();
    let [batch] = &batches[..] else {
        panic!("one batch span links the event, not {}", batches.len());
    };
    assert_eq!(
        batch.parent_span_id,
        SpanId::INVALID,
        "a batch has many parents: links"
    );
    assert_ne!(
        batch.span_context.trace_id(),
        request.span_context.trace_id()
    );

    Checked {
        trace_id: request.span_context.trace_id(),
        outbox_insert: insert.span_context.span_id(),
        failed_publishes: failed.len(),
    }
}

/// Every span of the trace the deletion of `member` was published in, once the consumer's span
/// for it has ended.
async fn deletion_trace(exporter: &InMemorySpanExporter, member: Uuid) -> Vec<SpanData> {
    eventually(
        "the deletion's trace to reach the consumer",
        DEADLINE,
        || async {
            let trace_id = publishes_of(exporter, member)
                .into_iter()
                .find(|publish| !matches!(publish.status, Status::Error { .. }))?
                .span_context
                .trace_id();
            let trace: Vec<SpanData> = finished(exporter)
                .into_iter()
                .filter(|span| span.span_context.trace_id() == trace_id)
                .collect();
            trace
                .iter()
                .any(|span| span.name == "apply member event")
                .then_some(trace)
        },
    )
    .await
}

/// The relay's attempts at publishing `member`'s deletion.
fn publishes_of(exporter: &InMemorySpanExporter, member: Uuid) -> Vec<SpanData> {
    finished(exporter)
        .into_iter()
        .filter(|span| span.name == "publish member event")
        .filter(|span| text(span, "messaging.kafka.message.key") == Some(member.to_string()))
        .filter(|span| text(span, "event.type").as_deref() == Some(DELETED))
        .collect()
}

/// The link holds the context as the message carried it: remote, so not equal as a whole.
fn same_span(linked: &SpanContext, span: &SpanContext) -> bool {
    (linked.trace_id(), linked.span_id()) == (span.trace_id(), span.span_id())
}

fn finished(exporter: &InMemorySpanExporter) -> Vec<SpanData> {
    exporter.get_finished_spans().expect("finished spans")
}

fn named<'a>(trace: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    trace.iter().filter(|span| span.name == name).collect()
}

fn only<'a>(trace: &'a [SpanData], name: &str) -> &'a SpanData {
    match named(trace, name)[..] {
        [span] => span,
        ref spans => panic!("one {name:?} span, not {}: {trace:#?}", spans.len()),
    }
}

fn attribute(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|attribute| attribute.key.as_str() == key)
        .map(|attribute| attribute.value.clone())
}

fn text(span: &SpanData, key: &str) -> Option<String> {
    attribute(span, key).map(|value| value.as_str().into_owned())
}

/// The process's subscriber: the services' spans to the in-memory exporter, logs (warnings by
/// default, `RUST_LOG` otherwise) to the test writer.
fn exporter() -> &'static InMemorySpanExporter {
    static EXPORTER: OnceLock<InMemorySpanExporter> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let services = Targets::new()
            .with_target("member_service", Level::INFO)
            .with_target("reservation_service", Level::INFO);
        let logs = EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("warn,tansu_storage=error,tansu_broker=error"));
        tracing_subscriber::registry()
            .with(
                // The services' own layer settings, so that what they leave out is tested too.
                member_service::telemetry::trace_layer(provider.tracer("system-tests"))
                    .with_filter(services),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .with_test_writer()
                    .with_filter(logs),
            )
            .try_init()
            .expect("this test binary installs the only subscriber");
        exporter
    })
}
