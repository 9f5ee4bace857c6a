//! Queries on reservations and the resource locks that keep them from overlapping.

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row, any::AnyRow};
use uuid::Uuid;

use super::{format_time, parse_time, parse_uuid};
use crate::domain::{CancellationReason, NewReservation, Reservation, ReservationStatus};

/// Serialises reservation requests for one resource until the transaction ends, so the overlap
/// check and the insert are one step. A row lock works the same on PostgreSQL (row lock) and
/// SQLite (the database write lock).
pub async fn lock_resource(
    connection: &mut AnyConnection,
    resource: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO resources (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
        .bind(resource)
        .execute(&mut *connection)
        .await?;
    sqlx::query("UPDATE resources SET name = name WHERE name = $1")
        .bind(resource)
        .execute(connection)
        .await
        .map(|_| ())
}

/// The first active reservation of `resource` that overlaps `[starts_at, ends_at)`.
pub async fn find_overlapping(
    connection: &mut AnyConnection,
    resource: &str,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> Result<Option<Uuid>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id FROM reservations WHERE resource = $1 AND status = 'active' \
         AND starts_at < $2 AND ends_at > $3 ORDER BY starts_at LIMIT 1",
    )
    .bind(resource)
    .bind(format_time(ends_at))
    .bind(format_time(starts_at))
    .fetch_optional(connection)
    .await?;
    row.map(|row| parse_uuid(&row.try_get::<String, _>("id")?))
        .transpose()
}

pub async fn insert(
    connection: &mut AnyConnection,
    new_reservation: &NewReservation,
    created_at: DateTime<Utc>,
) -> Result<Reservation, sqlx::Error> {
    let reservation = Reservation {
        id: Uuid::now_v7(),
        member_id: new_reservation.member_id,
        resource: new_reservation.resource.clone(),
        starts_at: new_reservation.starts_at,
        ends_at: new_reservation.ends_at,
        status: ReservationStatus::Active,
        cancellation_reason: None,
        created_at,
        cancelled_at: None,
    };
    sqlx::query(
        "INSERT INTO reservations (id, member_id, resource, starts_at, ends_at, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'active', $6)",
    )
    .bind(reservation.id.to_string())
    .bind(reservation.member_id.to_string())
    .bind(&reservation.resource)
    .bind(format_time(reservation.starts_at))
    .bind(format_time(reservation.ends_at))
    .bind(format_time(created_at))
    .execute(connection)
    .await?;
    Ok(reservation)
}

const COLUMNS: &str = "id, member_id, resource, starts_at, ends_at, status, cancellation_reason, created_at, cancelled_at";

pub async fn find(
    connection: &mut AnyConnection,
    id: Uuid,
) -> Result<Option<Reservation>, sqlx::Error> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM reservations WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(connection)
        .await?
        .map(|row| reservation_from_row(&row))
        .transpose()
}

/// Reservations in id (creation) order after `after`, optionally of one member and one status.
pub async fn list(
    connection: &mut AnyConnection,
    member_id: Option<Uuid>,
    status: Option<ReservationStatus>,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<Reservation>, sqlx::Error> {
    // NULL parameters switch a filter off, so one statement serves every combination.
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM reservations \
         WHERE ($1 IS NULL OR member_id = $1) AND ($2 IS NULL OR status = $2) AND id > $3 \
         ORDER BY id LIMIT $4"
    ))
    .bind(member_id.map(|id| id.to_string()))
    .bind(status.map(|status| status.as_str()))
    .bind(after.map(|id| id.to_string()).unwrap_or_default())
    .bind(i64::from(limit))
    .fetch_all(connection)
    .await?
    .iter()
    .map(reservation_from_row)
    .collect()
}

/// Cancels one active reservation; `None` when it is not active (or does not exist).
pub async fn cancel(
    connection: &mut AnyConnection,
    id: Uuid,
    reason: CancellationReason,
    cancelled_at: DateTime<Utc>,
) -> Result<Option<Reservation>, sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE reservations SET status = 'cancelled', cancellation_reason = $2, cancelled_at = $3 \
         WHERE id = $1 AND status = 'active' RETURNING {COLUMNS}"
    ))
    .bind(id.to_string())
    .bind(reason.as_str())
    .bind(format_time(cancelled_at))
    .fetch_optional(connection)
    .await?
    .map(|row| reservation_from_row(&row))
    .transpose()
}

/// Cancels the active reservations of members in one statement; how many each lost.
pub async fn cancel_all_of_members(
    connection: &mut AnyConnection,
    member_ids: &[String],
    reason: CancellationReason,
    cancelled_at: DateTime<Utc>,
) -> Result<std::collections::HashMap<String, u64>, sqlx::Error> {
    let mut cancelled = std::collections::HashMap::new();
    if member_ids.is_empty() {
        return Ok(cancelled);
    }
    let sql = format!(
        "UPDATE reservations SET status = 'cancelled', cancellation_reason = $1, cancelled_at = $2 \
         WHERE status = 'active' AND member_id IN ({}) RETURNING member_id",
        super::placeholders(3, member_ids.len())
    );
    let mut query = sqlx::query(&sql)
        .bind(reason.as_str())
        .bind(format_time(cancelled_at));
    for member_id in member_ids {
        query = query.bind(member_id.as_str());
    }
    for row in query.fetch_all(connection).await? {
        *cancelled.entry(row.try_get("member_id")?).or_insert(0) += 1;
    }
    Ok(cancelled)
}

fn reservation_from_row(row: &AnyRow) -> Result<Reservation, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let reason: Option<String> = row.try_get("cancellation_reason")?;
    let cancelled_at: Option<String> = row.try_get("cancelled_at")?;
    Ok(Reservation {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        member_id: parse_uuid(&row.try_get::<String, _>("member_id")?)?,
        resource: row.try_get("resource")?,
        starts_at: parse_time(&row.try_get::<String, _>("starts_at")?)?,
        ends_at: parse_time(&row.try_get::<String, _>("ends_at")?)?,
        status: ReservationStatus::parse(&status)
            .ok_or_else(|| unknown_value("status", &status))?,
        cancellation_reason: reason
            .map(|reason| {
                CancellationReason::parse(&reason)
                    .ok_or_else(|| unknown_value("cancellation_reason", &reason))
            })
            .transpose()?,
        created_at: parse_time(&row.try_get::<String, _>("created_at")?)?,
        cancelled_at: cancelled_at.map(|time| parse_time(&time)).transpose()?,
    })
}

fn unknown_value(column: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unknown {column} {value:?}").into())
}
