//! Queries on reservations and the resource locks that keep them from overlapping.

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use uuid::Uuid;

use super::{parse_uuid, time};
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
    sqlx::query_scalar::<_, String>(
        "SELECT id FROM reservations WHERE resource = $1 AND status = 'active' \
         AND starts_at < $2 AND ends_at > $3 ORDER BY starts_at LIMIT 1",
    )
    .bind(resource)
    .bind(time::format(ends_at))
    .bind(time::format(starts_at))
    .fetch_optional(connection)
    .await?
    .map(|id| parse_uuid(&id))
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
    .bind(time::format(reservation.starts_at))
    .bind(time::format(reservation.ends_at))
    .bind(time::format(created_at))
    .execute(connection)
    .await?;
    Ok(reservation)
}

const COLUMNS: &str = "id, member_id, resource, starts_at, ends_at, status, cancellation_reason, created_at, cancelled_at";

pub async fn find(
    connection: &mut AnyConnection,
    id: Uuid,
) -> Result<Option<Reservation>, sqlx::Error> {
    sqlx::query_as::<_, ReservationRow>(&format!(
        "SELECT {COLUMNS} FROM reservations WHERE id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(connection)
    .await?
    .map(Reservation::try_from)
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
    sqlx::query_as::<_, ReservationRow>(&format!(
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
    .into_iter()
    .map(Reservation::try_from)
    .collect()
}

/// Cancels one active reservation; `None` when it is not active (or does not exist).
pub async fn cancel(
    connection: &mut AnyConnection,
    id: Uuid,
    reason: CancellationReason,
    cancelled_at: DateTime<Utc>,
) -> Result<Option<Reservation>, sqlx::Error> {
    sqlx::query_as::<_, ReservationRow>(&format!(
        "UPDATE reservations SET status = 'cancelled', cancellation_reason = $2, cancelled_at = $3 \
         WHERE id = $1 AND status = 'active' RETURNING {COLUMNS}"
    ))
    .bind(id.to_string())
    .bind(reason.as_str())
    .bind(time::format(cancelled_at))
    .fetch_optional(connection)
    .await?
    .map(Reservation::try_from)
    .transpose()
}

/// Cancels the active reservations of members in one statement; the reservations it cancelled.
pub async fn cancel_all_of_members(
    connection: &mut AnyConnection,
    member_ids: &[String],
    reason: CancellationReason,
    cancelled_at: DateTime<Utc>,
) -> Result<Vec<Reservation>, sqlx::Error> {
    if member_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "UPDATE reservations SET status = 'cancelled', cancellation_reason = $1, cancelled_at = $2 \
         WHERE status = 'active' AND member_id IN ({}) RETURNING {COLUMNS}",
        super::placeholders::list(3, super::placeholders::padded_count(member_ids.len()))
    );
    let mut query = sqlx::query_as::<_, ReservationRow>(&sql)
        .bind(reason.as_str())
        .bind(time::format(cancelled_at));
    for member_id in super::placeholders::padded(member_ids) {
        query = query.bind(member_id.as_str());
    }
    let mut cancelled = query
        .fetch_all(connection)
        .await?
        .into_iter()
        .map(Reservation::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    // RETURNING promises no order; the change log gets them in creation order.
    cancelled.sort_by_key(|reservation| reservation.id);
    Ok(cancelled)
}

/// A row of the reservations table, as the `Any` driver reads it.
#[derive(sqlx::FromRow)]
struct ReservationRow {
    id: String,
    member_id: String,
    resource: String,
    starts_at: String,
    ends_at: String,
    status: String,
    cancellation_reason: Option<String>,
    created_at: String,
    cancelled_at: Option<String>,
}

impl TryFrom<ReservationRow> for Reservation {
    type Error = sqlx::Error;

    fn try_from(row: ReservationRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: parse_uuid(&row.id)?,
            member_id: parse_uuid(&row.member_id)?,
            resource: row.resource,
            starts_at: time::parse(&row.starts_at)?,
            ends_at: time::parse(&row.ends_at)?,
            status: ReservationStatus::parse(&row.status)
                .ok_or_else(|| unknown_value("status", &row.status))?,
            cancellation_reason: row
                .cancellation_reason
                .map(|reason| {
                    CancellationReason::parse(&reason)
                        .ok_or_else(|| unknown_value("cancellation_reason", &reason))
                })
                .transpose()?,
            created_at: time::parse(&row.created_at)?,
            cancelled_at: row.cancelled_at.as_deref().map(time::parse).transpose()?,
        })
    }
}

fn unknown_value(column: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unknown {column} {value:?}").into())
}
