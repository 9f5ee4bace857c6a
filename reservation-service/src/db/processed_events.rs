//! The record of applied events that makes redelivery harmless.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use event_schema::MemberEvent;
use sqlx::AnyConnection;
use uuid::Uuid;

use super::{format_time, parse_uuid};

/// Which of these event ids were processed before.
pub async fn processed_among(
    connection: &mut AnyConnection,
    event_ids: &[Uuid],
) -> Result<HashSet<Uuid>, sqlx::Error> {
    if event_ids.is_empty() {
        return Ok(HashSet::new());
    }
    let sql = format!(
        "SELECT event_id FROM processed_events WHERE event_id IN ({})",
        super::placeholders::list(1, event_ids.len())
    );
    let mut query = sqlx::query_scalar::<_, String>(&sql);
    for event_id in event_ids {
        query = query.bind(event_id.to_string());
    }
    query
        .fetch_all(connection)
        .await?
        .into_iter()
        .map(|event_id| parse_uuid(&event_id))
        .collect()
}

/// Records events as processed, in the transaction that applies them, under their members'
/// stream locks (so the check of [`processed_among`] still holds).
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
        super::placeholders::rows(events.len(), 7)
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
