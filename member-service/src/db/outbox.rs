//! The transactional outbox: events written with the change they describe, read by the relay.

use chrono::{DateTime, Utc};
use event_schema::MemberEvent;
use sqlx::AnyConnection;

use super::{placeholders, time};
use crate::trace_context::TraceHeaders;

/// An event waiting to be published: already plain text and numbers, so it is its own row.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct PendingEvent {
    pub sequence: i64,
    pub event_id: String,
    pub member_id: String,
    pub event_type: String,
    pub payload: String,
    /// When the event was made, in the transaction that committed it (RFC 3339).
    pub created_at: String,
    /// The W3C trace context of the request that made the change, if it was traced.
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

/// Appends an event; call inside the transaction that makes the change. The row keeps the
/// context of this insert's span, so that the relay's publish continues the request's trace.
#[tracing::instrument(
    name = "outbox insert",
    skip_all,
    fields(event.id = %event.id, event.type = event.payload.type_name())
)]
pub async fn append(
    connection: &mut AnyConnection,
    event: &MemberEvent,
) -> Result<(), sqlx::Error> {
    let trace = TraceHeaders::of_span(&tracing::Span::current());
    sqlx::query(
        "INSERT INTO outbox \
         (event_id, member_id, event_type, payload, created_at, traceparent, tracestate) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(event.id.to_string())
    .bind(event.member_id().to_string())
    .bind(event.payload.type_name())
    .bind(event.to_json())
    .bind(time::format(event.time))
    .bind(trace.as_ref().map(|trace| trace.traceparent.clone()))
    .bind(trace.and_then(|trace| trace.tracestate))
    .execute(connection)
    .await
    .map(|_| ())
}

/// The oldest unpublished events, in the order they were written.
pub async fn pending(
    connection: &mut AnyConnection,
    limit: u32,
) -> Result<Vec<PendingEvent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT sequence, event_id, member_id, event_type, payload, created_at, traceparent, \
         tracestate FROM outbox WHERE published_at IS NULL ORDER BY sequence LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(connection)
    .await
}

/// Stamps exactly these rows as published. An explicit list, not a range: a row with a lower
/// sequence may still be in an uncommitted transaction and must not be skipped.
pub async fn mark_published(
    connection: &mut AnyConnection,
    sequences: &[i64],
    published_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if sequences.is_empty() {
        return Ok(());
    }
    let statement = format!(
        "UPDATE outbox SET published_at = $1 WHERE sequence IN ({})",
        placeholders::list(2, placeholders::padded_count(sequences.len()))
    );
    let mut query = sqlx::query(&statement).bind(time::format(published_at));
    for sequence in placeholders::padded(sequences) {
        query = query.bind(*sequence);
    }
    query.execute(connection).await.map(|_| ())
}

/// When the oldest waiting event was made; `None` when none waits. Reads one row through the
/// partial index on unpublished rows, however long the backlog.
pub async fn oldest_waiting(
    connection: &mut AnyConnection,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let created_at: Option<String> = sqlx::query_scalar(
        "SELECT created_at FROM outbox WHERE published_at IS NULL ORDER BY sequence LIMIT 1",
    )
    .fetch_optional(connection)
    .await?;
    created_at.as_deref().map(time::parse).transpose()
}

/// How many events wait to be published.
pub async fn backlog(connection: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")
        .fetch_one(connection)
        .await
}
