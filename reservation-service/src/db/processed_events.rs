//! The record of applied events that makes redelivery harmless.

use chrono::{DateTime, Utc};
use event_schema::MemberEvent;
use sqlx::AnyConnection;

use super::format_time;

/// Records the event as processed, in the transaction that applies it, before its effect;
/// `false` when it was recorded before: a redelivery, which must have no effect. Call it under
/// the member's stream lock, so that the answer holds until the transaction ends.
pub async fn record(
    connection: &mut AnyConnection,
    event: &MemberEvent,
    outcome: &str,
    processed_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "INSERT INTO processed_events \
         (event_id, member_id, event_type, event_time, outcome, processed_at, member_version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(event.id.to_string())
    .bind(event.member_id().to_string())
    .bind(event.payload.type_name())
    .bind(format_time(event.time))
    .bind(outcome)
    .bind(format_time(processed_at))
    .bind(i64::try_from(event.payload.member_version()).unwrap_or(i64::MAX))
    .execute(connection)
    .await
    .map(|result| result.rows_affected() == 1)
}

/// Which of these event ids were processed before.
pub async fn recorded_among(
    connection: &mut AnyConnection,
    event_ids: &[String],
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    if event_ids.is_empty() {
        return Ok(Default::default());
    }
    let sql = format!(
        "SELECT event_id FROM processed_events WHERE event_id IN ({})",
        super::placeholders(1, event_ids.len())
    );
    let mut query = sqlx::query(&sql);
    for event_id in event_ids {
        query = query.bind(event_id.as_str());
    }
    query
        .fetch_all(connection)
        .await?
        .iter()
        .map(|row| sqlx::Row::try_get::<String, _>(row, "event_id"))
        .collect()
}

/// Records many events as processed in one statement (see [`record`]).
pub async fn record_all(
    connection: &mut AnyConnection,
    events: &[(&MemberEvent, &str)],
    processed_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO processed_events \
         (event_id, member_id, event_type, event_time, outcome, processed_at, member_version) \
         VALUES {} ON CONFLICT (event_id) DO NOTHING",
        super::row_placeholders(events.len(), 7)
    );
    let processed_at = format_time(processed_at);
    let mut query = sqlx::query(&sql);
    for (event, outcome) in events {
        query = query
            .bind(event.id.to_string())
            .bind(event.member_id().to_string())
            .bind(event.payload.type_name())
            .bind(format_time(event.time))
            .bind(*outcome)
            .bind(processed_at.clone())
            .bind(i64::try_from(event.payload.member_version()).unwrap_or(i64::MAX));
    }
    query.execute(connection).await.map(|_| ())
}
