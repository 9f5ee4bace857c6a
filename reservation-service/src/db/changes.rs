//! The change log: what changed on this service's side, written in the transaction that made
//! the change, read by `/updates` after the last id a client saw.
//!
//! Ids are handed out in commit order, so a reader that resumes after id N can never miss a
//! lower id committed later (what a PostgreSQL sequence allows: two transactions take ids 7 and
//! 8, 8 commits first, a reader sees 8 and moves past 7 before it commits). A writer takes its
//! ids by updating the single `change_log_head` row, which it holds locked until it commits (a
//! row lock on PostgreSQL, the write lock on SQLite): ids are taken and committed one writer at
//! a time, and a rolled-back writer gives its ids back. Writers take it last, after all their
//! other writes, so it is held only for the inserts and the commit, and a transaction holding
//! it waits for no other lock (no deadlock).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::AnyConnection;
use tokio::sync::watch;
use uuid::Uuid;

use super::{placeholders, time};
use crate::domain::{Change, Reservation};

/// Rows per insert statement: well under SQLite's limit on bound values.
const ROWS_PER_STATEMENT: usize = 500;

/// Records `changes` in this order; the caller commits (or rolls back) with its other writes.
pub async fn record(
    connection: &mut AnyConnection,
    changes: &[Change],
    recorded_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if changes.is_empty() {
        return Ok(());
    }
    let count = i64::try_from(changes.len()).unwrap_or(i64::MAX);
    let last_id: i64 = sqlx::query_scalar(
        "UPDATE change_log_head SET last_id = last_id + $1 WHERE singleton = 1 RETURNING last_id",
    )
    .bind(count)
    .fetch_one(&mut *connection)
    .await?;
    let recorded_at = time::format(recorded_at);
    let mut id = last_id - count;
    for chunk in changes.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO change_log (id, kind, member_id, data, recorded_at) VALUES {}",
            placeholders::rows(chunk.len(), 5)
        );
        let mut query = sqlx::query(&sql);
        for change in chunk {
            id += 1;
            query = query
                .bind(id)
                .bind(change.kind())
                .bind(change.member_id().to_string())
                .bind(data(id, change).to_string())
                .bind(recorded_at.clone());
        }
        query.execute(&mut *connection).await?;
    }
    Ok(())
}

/// A recorded change: its id, its kind and the update as JSON text.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LoggedChange {
    pub id: i64,
    pub kind: String,
    pub data: String,
}

/// Up to `limit` changes after `after_id` in id order, optionally of one member only.
pub async fn after(
    connection: &mut AnyConnection,
    after_id: i64,
    member_id: Option<Uuid>,
    limit: i64,
) -> Result<Vec<LoggedChange>, sqlx::Error> {
    sqlx::query_as::<_, LoggedChange>(
        "SELECT id, kind, data FROM change_log \
         WHERE id > $1 AND ($2 IS NULL OR member_id = $2) ORDER BY id LIMIT $3",
    )
    .bind(after_id)
    .bind(member_id.map(|id| id.to_string()))
    .bind(limit)
    .fetch_all(connection)
    .await
}

/// The update as the stream sends it.
fn data(id: i64, change: &Change) -> Value {
    let mut data = match change {
        Change::ReservationCreated(reservation) => {
            json!({ "reservation": reservation_json(reservation) })
        }
        Change::ReservationCancelled {
            reservation,
            member_deleted_at,
        } => json!({
            "reservation": reservation_json(reservation),
            "member_deleted_at": member_deleted_at.map(time::format),
        }),
        Change::MemberLearned {
            member_id,
            version,
            at,
        }
        | Change::MemberDeleted {
            member_id,
            version,
            at,
        } => json!({ "member_id": member_id, "version": version, "at": time::format(*at) }),
    };
    data["id"] = json!(id);
    data["type"] = json!(change.kind());
    data["member_id"] = json!(change.member_id());
    data
}

/// A reservation as the REST API shows it.
fn reservation_json(reservation: &Reservation) -> Value {
    json!({
        "id": reservation.id,
        "member_id": reservation.member_id,
        "resource": reservation.resource,
        "starts_at": time::format(reservation.starts_at),
        "ends_at": time::format(reservation.ends_at),
        "status": reservation.status.as_str(),
        "cancellation_reason": reservation.cancellation_reason.map(|reason| reason.as_str()),
        "created_at": time::format(reservation.created_at),
        "cancelled_at": reservation.cancelled_at.map(time::format),
    })
}

/// Raised after a transaction that recorded changes commits, never before: streams waiting for
/// changes then read them from the log. It carries no changes, only the news that there are
/// some; a stream that misses it (or a change committed by another process, such as
/// `reservation-service dlq replay`) still finds them on its next poll.
#[derive(Clone, Debug)]
pub struct ChangeSignal {
    sender: std::sync::Arc<watch::Sender<u64>>,
}

impl Default for ChangeSignal {
    fn default() -> Self {
        Self {
            sender: std::sync::Arc::new(watch::channel(0).0),
        }
    }
}

impl ChangeSignal {
    /// Call after the commit.
    pub fn committed(&self) {
        self.sender
            .send_modify(|commits| *commits = commits.wrapping_add(1));
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.sender.subscribe()
    }
}
