//! The record of applied events that makes redelivery harmless.

use chrono::{DateTime, Utc};
use event_schema::MemberEvent;
use sqlx::AnyConnection;

use super::format_time;

/// Records the event as processed; `false` when it was recorded before, which means this is a
/// redelivery and must have no effect. Call first in the transaction that applies the event.
pub async fn record(
    connection: &mut AnyConnection,
    event: &MemberEvent,
    outcome: &str,
    processed_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "INSERT INTO processed_events (event_id, member_id, event_type, event_time, outcome, processed_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(event.id.to_string())
    .bind(event.member_id().to_string())
    .bind(event.payload.type_name())
    .bind(format_time(event.time))
    .bind(outcome)
    .bind(format_time(processed_at))
    .execute(connection)
    .await
    .map(|result| result.rows_affected() == 1)
}
