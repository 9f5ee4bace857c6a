//! Pruning what is kept only for a while: outbox rows already published. Each call deletes at
//! most `limit` rows in one statement (its own short transaction), oldest first, so that pruning
//! a long backlog never holds locks or grows the WAL for long.

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::time;

/// Deletes up to `limit` outbox rows published before `published_before`; returns how many.
/// Unpublished rows are never touched, however old.
pub async fn prune_published_outbox(
    connection: &mut AnyConnection,
    published_before: DateTime<Utc>,
    limit: u32,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "DELETE FROM outbox WHERE sequence IN (SELECT sequence FROM outbox \
         WHERE published_at IS NOT NULL AND published_at < $1 ORDER BY sequence LIMIT $2)",
    )
    .bind(time::format(published_before))
    .bind(i64::from(limit))
    .execute(connection)
    .await
    .map(|result| result.rows_affected())
}
