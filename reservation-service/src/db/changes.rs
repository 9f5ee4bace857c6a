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
//!
//! A transaction writes one row per member (one per change made through the API): the
//! contiguous ids `first_id..=last_id` it took for that member's changes, and the changes as a
//! JSON array ([`rows`]). Each change keeps its own id, the one the stream sends; rows only
//! save writes (a member's deletion with two reservations is one insert, not three).

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::AnyConnection;
use tokio::sync::watch;
use uuid::Uuid;

use super::{placeholders, time};
use crate::domain::Change;

mod rows;

pub use rows::{LoggedChange, RowError};

/// Rows per insert statement: well under SQLite's limit on bound values.
const ROWS_PER_STATEMENT: usize = 500;

/// Records `changes`, one row per member, each member's in this order; the caller commits (or
/// rolls back) with its other writes.
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
    let new_rows = rows::group(changes, last_id - count + 1);
    for chunk in new_rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO change_log (first_id, last_id, member_id, changes, recorded_at) VALUES {}",
            placeholders::rows(chunk.len(), 5)
        );
        let mut query = sqlx::query(&sql);
        for row in chunk {
            query = query
                .bind(row.first_id)
                .bind(row.last_id)
                .bind(row.member_id.to_string())
                .bind(row.changes.as_str())
                .bind(recorded_at.as_str());
        }
        query.execute(&mut *connection).await?;
    }
    Ok(())
}

/// The changes after `after_id` in id order, optionally of one member only: whole rows, read
/// until they hold `limit` changes or the log ends. A row is never split, so the last row read
/// may take the page past `limit` (by less than one row); a reader resuming inside a row, with
/// the id of a change in it, gets the rest of that row.
///
/// Ranges never overlap, so rows in `last_id` order are in `first_id` order too, and
/// `last_id > after_id` finds the row that holds `after_id + 1` as well as those after it.
pub async fn after(
    connection: &mut AnyConnection,
    after_id: i64,
    member_id: Option<Uuid>,
    limit: usize,
) -> Result<Vec<LoggedChange>, sqlx::Error> {
    // Each row found holds at least one change after `after_id`: `limit` rows are enough.
    let mut stored = sqlx::query_as::<_, rows::StoredRow>(
        "SELECT first_id, last_id, changes FROM change_log \
         WHERE last_id > $1 AND ($2 IS NULL OR member_id = $2) ORDER BY last_id LIMIT $3",
    )
    .bind(after_id)
    .bind(member_id.map(|id| id.to_string()))
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch(connection);
    let mut page = Vec::new();
    while page.len() < limit {
        let Some(row) = stored.try_next().await? else {
            break;
        };
        page.extend(
            rows::expand(&row, after_id).map_err(|error| sqlx::Error::Decode(Box::new(error)))?,
        );
    }
    Ok(page)
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
