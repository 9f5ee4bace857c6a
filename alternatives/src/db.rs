//! The alternatives' SQL, on the product's own schemas: the "deleted since" query and its index
//! on member-service's database, and applying deletions (with the poller's cursor) on
//! reservation-service's, through reservation-service's own queries where it has them.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use reservation_service::{
    db::{changes, member_list, reservations},
    domain::{CancellationReason, Change, KnownMember, MemberStatus},
};
use sqlx::{AnyConnection, AnyPool, Executor};
use uuid::Uuid;

use crate::domain::{self, DeletedMember, PollCursor};

/// What "deleted since" reads: `(deleted_at, id)` in order, deleted members only. A partial index,
/// so it holds deletions only and costs registrations nothing.
const DELETED_AT_INDEX: &str = "CREATE INDEX IF NOT EXISTS alternatives_members_deleted_at \
     ON members (deleted_at, id) WHERE deleted_at IS NOT NULL";

/// The poller's cursor, one row, written in the transaction that applies what it read.
const CURSOR_TABLE: &str = "CREATE TABLE IF NOT EXISTS alternatives_poll_cursor \
     (singleton BIGINT PRIMARY KEY NOT NULL CHECK (singleton = 1), \
      deleted_at TEXT NOT NULL, member_id TEXT NOT NULL)";

pub async fn prepare_member_database(pool: &AnyPool) -> Result<(), sqlx::Error> {
    pool.execute(DELETED_AT_INDEX).await.map(|_| ())
}

pub async fn prepare_reservation_database(pool: &AnyPool) -> Result<(), sqlx::Error> {
    pool.execute(CURSOR_TABLE).await.map(|_| ())
}

#[derive(sqlx::FromRow)]
struct DeletedRow {
    id: String,
    version: i64,
    deleted_at: String,
}

/// Up to `limit` deletions after `after`, in `(deleted_at, id)` order.
pub async fn deleted_since(
    connection: &mut AnyConnection,
    after: Option<PollCursor>,
    limit: u32,
) -> Result<Vec<DeletedMember>, sqlx::Error> {
    // Every stored time and id sorts after the empty text: no cursor reads from the start.
    let (time, id) = after.map_or((String::new(), String::new()), |cursor| {
        (
            member_service::db::time::format(cursor.deleted_at),
            cursor.member_id.to_string(),
        )
    });
    sqlx::query_as::<_, DeletedRow>(
        "SELECT id, version, deleted_at FROM members \
         WHERE deleted_at IS NOT NULL AND (deleted_at, id) > ($1, $2) \
         ORDER BY deleted_at, id LIMIT $3",
    )
    .bind(time)
    .bind(id)
    .bind(i64::from(limit))
    .fetch_all(connection)
    .await?
    .into_iter()
    .map(|row| {
        Ok(DeletedMember {
            member_id: reservation_service::db::parse_uuid(&row.id)?,
            version: row.version,
            deleted_at: reservation_service::db::parse_time(&row.deleted_at)?,
        })
    })
    .collect()
}

/// In one transaction: marks the members deleted (the lock new reservations wait on, as the
/// product's consumer does), cancels their active reservations, records both in the change log,
/// and, for the poller, moves its cursor past `page`. Returns the reservations cancelled.
pub async fn apply_deletions(
    pool: &AnyPool,
    page: &[DeletedMember],
    move_cursor: bool,
) -> Result<usize, sqlx::Error> {
    let mut transaction = pool.begin().await?;
    let member_ids: Vec<String> = page
        .iter()
        .map(|deletion| deletion.member_id.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let known = member_list::find_all(&mut transaction, &member_ids).await?;
    let to_apply = domain::deletions_to_apply(page, &known);
    let now = reservation_service::db::time::now();
    let members: Vec<(String, KnownMember)> = to_apply
        .iter()
        .map(|deletion| {
            let status = MemberStatus::Deleted;
            let version = deletion.version;
            (
                deletion.member_id.to_string(),
                KnownMember { status, version },
            )
        })
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect();
    member_list::upsert_all(&mut transaction, &members, now).await?;
    let deleted: Vec<String> = members.iter().map(|(id, _)| id.clone()).collect();
    let cancelled = reservations::cancel_all_of_members(
        &mut transaction,
        &deleted,
        CancellationReason::MemberDeleted,
        now,
    )
    .await?;
    let cancelled_count = cancelled.len();
    let mut log: Vec<Change> = to_apply
        .iter()
        .map(|deletion| Change::MemberDeleted {
            member_id: deletion.member_id,
            version: deletion.version,
            at: deletion.deleted_at,
        })
        .collect();
    log.extend(cancelled.into_iter().map(|reservation| {
        let member_deleted_at = to_apply
            .iter()
            .find(|deletion| deletion.member_id == reservation.member_id)
            .map(|deletion| deletion.deleted_at);
        Change::ReservationCancelled {
            reservation,
            member_deleted_at,
        }
    }));
    changes::record(&mut transaction, &log, now).await?;
    if move_cursor {
        let stored = load_cursor(&mut transaction).await?;
        if let Some(cursor) = domain::advance(stored, page).filter(|cursor| Some(*cursor) != stored)
        {
            save_cursor(&mut transaction, cursor).await?;
        }
    }
    transaction.commit().await?;
    Ok(cancelled_count)
}

#[derive(sqlx::FromRow)]
struct CursorRow {
    deleted_at: String,
    member_id: String,
}

pub async fn load_cursor(
    connection: &mut AnyConnection,
) -> Result<Option<PollCursor>, sqlx::Error> {
    sqlx::query_as::<_, CursorRow>(
        "SELECT deleted_at, member_id FROM alternatives_poll_cursor WHERE singleton = 1",
    )
    .fetch_optional(connection)
    .await?
    .map(|row| {
        Ok(PollCursor {
            deleted_at: reservation_service::db::parse_time(&row.deleted_at)?,
            member_id: reservation_service::db::parse_uuid(&row.member_id)?,
        })
    })
    .transpose()
}

async fn save_cursor(
    connection: &mut AnyConnection,
    cursor: PollCursor,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO alternatives_poll_cursor (singleton, deleted_at, member_id) \
         VALUES (1, $1, $2) ON CONFLICT (singleton) DO UPDATE \
         SET deleted_at = excluded.deleted_at, member_id = excluded.member_id",
    )
    .bind(reservation_service::db::format_time(cursor.deleted_at))
    .bind(cursor.member_id.to_string())
    .execute(connection)
    .await
    .map(|_| ())
}

/// When each of the members whose reservations were cancelled by a deletion had its last one
/// cancelled, for members of `since` or later (the same query for all three ways).
pub async fn cancellation_times(
    pool: &AnyPool,
    since: DateTime<Utc>,
) -> Result<std::collections::HashMap<Uuid, DateTime<Utc>>, sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT member_id, MAX(cancelled_at) FROM reservations \
         WHERE cancellation_reason = 'member_deleted' AND cancelled_at >= $1 GROUP BY member_id",
    )
    .bind(reservation_service::db::format_time(since))
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(member_id, at)| {
            Ok((
                reservation_service::db::parse_uuid(&member_id)?,
                reservation_service::db::parse_time(&at)?,
            ))
        })
        .collect()
}
