//! Queries on parked events: what the consumer could not process, and what operators did with it.

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use uuid::Uuid;

use super::{format_time, parse_time, parse_uuid};
use crate::domain::{ParkedEvent, ParkedStatus};

/// What is written when an event is parked.
pub struct NewParkedEvent<'a> {
    pub id: Uuid,
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
    .bind(parked.id.to_string())
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

pub async fn find(
    connection: &mut AnyConnection,
    id: Uuid,
) -> Result<Option<ParkedEvent>, sqlx::Error> {
    sqlx::query_as::<_, ParkedEventRow>(&format!(
        "SELECT {COLUMNS} FROM parked_events WHERE id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(connection)
    .await?
    .map(ParkedEvent::try_from)
    .transpose()
}

/// The member's events still parked, in the order they arrived.
pub async fn parked_of_member(
    connection: &mut AnyConnection,
    member_id: &str,
) -> Result<Vec<ParkedEvent>, sqlx::Error> {
    sqlx::query_as::<_, ParkedEventRow>(&format!(
        "SELECT {COLUMNS} FROM parked_events WHERE member_id = $1 AND status = 'parked' \
         ORDER BY source_partition, source_offset"
    ))
    .bind(member_id)
    .fetch_all(connection)
    .await?
    .into_iter()
    .map(ParkedEvent::try_from)
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
    let mut query = sqlx::query_as::<_, ParkedEventRow>(&query).bind(limit);
    if let Some(status) = status {
        query = query.bind(status.as_str());
    }
    query
        .fetch_all(connection)
        .await?
        .into_iter()
        .map(ParkedEvent::try_from)
        .collect()
}

/// How many parked events wait for an operator. Parked rows are few (each is an operator's
/// to-do), so counting them is cheap.
pub async fn count_waiting(connection: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM parked_events WHERE status = 'parked'")
        .fetch_one(connection)
        .await
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

/// A row of the parked_events table, as the `Any` driver reads it.
#[derive(sqlx::FromRow)]
struct ParkedEventRow {
    id: String,
    member_id: Option<String>,
    event_id: Option<String>,
    source_topic: String,
    source_partition: i64,
    source_offset: i64,
    message_key: Option<Vec<u8>>,
    payload: Option<Vec<u8>>,
    reason: String,
    attempts: i64,
    first_failed_at: String,
    parked_at: String,
    status: String,
    resolved_at: Option<String>,
    resolution: Option<String>,
}

impl TryFrom<ParkedEventRow> for ParkedEvent {
    type Error = sqlx::Error;

    fn try_from(row: ParkedEventRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: parse_uuid(&row.id)?,
            member_id: row.member_id,
            event_id: row.event_id,
            source_topic: row.source_topic,
            source_partition: i32::try_from(row.source_partition)
                .map_err(|error| sqlx::Error::Decode(Box::new(error)))?,
            source_offset: row.source_offset,
            message_key: row.message_key,
            payload: row.payload,
            reason: row.reason,
            attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
            first_failed_at: parse_time(&row.first_failed_at)?,
            parked_at: parse_time(&row.parked_at)?,
            status: ParkedStatus::parse(&row.status).ok_or_else(|| {
                sqlx::Error::Decode(format!("unknown parked event status {:?}", row.status).into())
            })?,
            resolved_at: row.resolved_at.as_deref().map(parse_time).transpose()?,
            resolution: row.resolution,
        })
    }
}

/// One partition's offsets `from..=to`.
pub struct OffsetRange<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub from: i64,
    pub to: i64,
}

/// In one query: these members' events still parked, and everything parked from these offsets
/// (whatever became of it since). What a batch's rules need to know; usually nothing.
pub async fn of_members_or_offsets(
    connection: &mut AnyConnection,
    member_ids: &[String],
    offsets: &[OffsetRange<'_>],
) -> Result<Vec<ParkedEvent>, sqlx::Error> {
    let mut conditions = Vec::new();
    if !member_ids.is_empty() {
        conditions.push(format!(
            "(status = 'parked' AND member_id IN ({}))",
            super::placeholders::list(1, super::placeholders::padded_count(member_ids.len()))
        ));
    }
    let members_bound = if member_ids.is_empty() {
        0
    } else {
        super::placeholders::padded_count(member_ids.len())
    };
    let mut next = 1 + members_bound;
    for _ in offsets {
        conditions.push(format!(
            "(source_topic = ${next} AND source_partition = ${} AND source_offset BETWEEN ${} AND ${})",
            next + 1,
            next + 2,
            next + 3
        ));
        next += 4;
    }
    if conditions.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM parked_events WHERE {} ORDER BY source_partition, source_offset",
        conditions.join(" OR ")
    );
    let mut query = sqlx::query_as::<_, ParkedEventRow>(&sql);
    for member_id in super::placeholders::padded(member_ids) {
        query = query.bind(member_id.as_str());
    }
    for range in offsets {
        query = query
            .bind(range.topic)
            .bind(i64::from(range.partition))
            .bind(range.from)
            .bind(range.to);
    }
    query
        .fetch_all(connection)
        .await?
        .into_iter()
        .map(ParkedEvent::try_from)
        .collect()
}
