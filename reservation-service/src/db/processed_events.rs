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
