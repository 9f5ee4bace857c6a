//! Queries on parked events: what the consumer could not process, and what operators did with it.

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row, any::AnyRow};
use uuid::Uuid;

use super::{format_time, parse_time, parse_uuid};
use crate::domain::{ParkedEvent, ParkedStatus};

/// What is written when an event is parked.
pub struct NewParkedEvent<'a> {
    pub member_id: Option<&'a str>,
    pub event_id: Option<Uuid>,
    pub source_topic: &'a str,
    pub source_partition: i32,
    pub source_offset: i64,
    pub message_key: Option<&'a [u8]>,
    pub payload: Option<&'a [u8]>,
    pub reason: &'a str,
    pub attempts: u32,
    pub first_failed_at: DateTime<Utc>,
    pub parked_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, member_id, event_id, source_topic, source_partition, source_offset, \
     message_key, payload, reason, attempts, first_failed_at, parked_at, status, resolved_at, \
     resolution";

/// Parks an event. Parking the same position twice (a redelivery) keeps the first record.
pub async fn insert(
    connection: &mut AnyConnection,
    parked: &NewParkedEvent<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO parked_events (id, member_id, event_id, source_topic, source_partition, \
         source_offset, message_key, payload, reason, attempts, first_failed_at, parked_at, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'parked') \
         ON CONFLICT (source_topic, source_partition, source_offset) DO NOTHING",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(parked.member_id)
    .bind(parked.event_id.map(|id| id.to_string()))
    .bind(parked.source_topic)
    .bind(i64::from(parked.source_partition))
    .bind(parked.source_offset)
    .bind(parked.message_key.map(<[u8]>::to_vec))
    .bind(parked.payload.map(<[u8]>::to_vec))
    .bind(parked.reason)
    .bind(i64::from(parked.attempts))
    .bind(format_time(parked.first_failed_at))
    .bind(format_time(parked.parked_at))
    .execute(connection)
    .await
    .map(|_| ())
}

/// In one query: the event parked from this position (whatever became of it since), and the
/// member's events still parked, which a new event of the member must wait behind. Usually none.
pub async fn at_position_or_parked_of_member(
    connection: &mut AnyConnection,
    topic: &str,
    partition: i32,
    offset: i64,
    member_id: Option<&str>,
) -> Result<Vec<ParkedEvent>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM parked_events \
         WHERE (source_topic = $1 AND source_partition = $2 AND source_offset = $3) \
         OR (member_id = $4 AND status = 'parked') \
         ORDER BY source_partition, source_offset"
    ))
    .bind(topic)
    .bind(i64::from(partition))
    .bind(offset)
    .bind(member_id)
    .fetch_all(connection)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

pub async fn find(
    connection: &mut AnyConnection,
    id: Uuid,
) -> Result<Option<ParkedEvent>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM parked_events WHERE id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(connection)
    .await?
    .map(|row| from_row(&row))
    .transpose()
}

/// The member's events still parked, in the order they arrived.
pub async fn parked_of_member(
    connection: &mut AnyConnection,
    member_id: &str,
) -> Result<Vec<ParkedEvent>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM parked_events WHERE member_id = $1 AND status = 'parked' \
         ORDER BY source_partition, source_offset"
    ))
    .bind(member_id)
    .fetch_all(connection)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// Parked events, oldest first; only those with `status` when given.
pub async fn list(
    connection: &mut AnyConnection,
    status: Option<ParkedStatus>,
    limit: i64,
) -> Result<Vec<ParkedEvent>, sqlx::Error> {
    let order = "ORDER BY parked_at, source_partition, source_offset";
    let query = match status {
        Some(_) => {
            format!("SELECT {COLUMNS} FROM parked_events WHERE status = $2 {order} LIMIT $1")
        }
        None => format!("SELECT {COLUMNS} FROM parked_events {order} LIMIT $1"),
    };
    let mut query = sqlx::query(&query).bind(limit);
    if let Some(status) = status {
        query = query.bind(status.as_str());
    }
    query
        .fetch_all(connection)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Marks a parked event replayed or discarded; `false` when it was no longer parked.
pub async fn resolve(
    connection: &mut AnyConnection,
    id: Uuid,
    status: ParkedStatus,
    resolution: &str,
    resolved_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "UPDATE parked_events SET status = $2, resolution = $3, resolved_at = $4 \
         WHERE id = $1 AND status = 'parked'",
    )
    .bind(id.to_string())
    .bind(status.as_str())
    .bind(resolution)
    .bind(format_time(resolved_at))
    .execute(connection)
    .await
    .map(|result| result.rows_affected() == 1)
}

fn from_row(row: &AnyRow) -> Result<ParkedEvent, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let resolved_at: Option<String> = row.try_get("resolved_at")?;
    Ok(ParkedEvent {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        member_id: row.try_get("member_id")?,
        event_id: row.try_get("event_id")?,
        source_topic: row.try_get("source_topic")?,
        source_partition: i32::try_from(row.try_get::<i64, _>("source_partition")?)
            .map_err(|error| sqlx::Error::Decode(Box::new(error)))?,
        source_offset: row.try_get("source_offset")?,
        message_key: row.try_get("message_key")?,
        payload: row.try_get("payload")?,
        reason: row.try_get("reason")?,
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
        first_failed_at: parse_time(&row.try_get::<String, _>("first_failed_at")?)?,
        parked_at: parse_time(&row.try_get::<String, _>("parked_at")?)?,
        status: ParkedStatus::parse(&status).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown parked event status {status:?}").into())
        })?,
        resolved_at: resolved_at.as_deref().map(parse_time).transpose()?,
        resolution: row.try_get("resolution")?,
    })
}

/// Whether any of these members has an event still parked, or anything was parked from one
/// partition's offsets `from..=to`: when not, none of a batch's events needs parking logic.
pub async fn any_parked_of_members_or_positions(
    connection: &mut AnyConnection,
    member_ids: &[String],
    topic: &str,
    offsets_by_partition: &[(i32, i64, i64)],
) -> Result<bool, sqlx::Error> {
    let mut conditions = Vec::new();
    if !member_ids.is_empty() {
        conditions.push(format!(
            "(status = 'parked' AND member_id IN ({}))",
            super::placeholders(2, member_ids.len())
        ));
    }
    let mut next = 2 + member_ids.len();
    for _ in offsets_by_partition {
        conditions.push(format!(
            "(source_topic = $1 AND source_partition = ${next} AND source_offset BETWEEN ${} AND ${})",
            next + 1,
            next + 2
        ));
        next += 3;
    }
    if conditions.is_empty() {
        return Ok(false);
    }
    let sql = format!(
        "SELECT 1 FROM parked_events WHERE {} LIMIT 1",
        conditions.join(" OR ")
    );
    let mut query = sqlx::query(&sql).bind(topic);
    for member_id in member_ids {
        query = query.bind(member_id.as_str());
    }
    for (partition, from, to) in offsets_by_partition {
        query = query.bind(i64::from(*partition)).bind(*from).bind(*to);
    }
    Ok(query.fetch_optional(connection).await?.is_some())
}
