//! Pruning what is kept only for a while: parked events an operator resolved (replayed or
//! discarded), and the change log behind `/updates`. Each call
//! deletes at most `limit` rows in one statement (its own short transaction), oldest first.

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::time;

/// What is pruned, each with the statement that deletes one batch older than `$1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pruned {
    ResolvedParkedEvents,
    ChangeLog,
}

impl Pruned {
    pub const ALL: [Self; 2] = [Self::ResolvedParkedEvents, Self::ChangeLog];

    pub fn name(self) -> &'static str {
        match self {
            Self::ResolvedParkedEvents => "resolved parked events",
            Self::ChangeLog => "change log rows",
        }
    }

    fn statement(self) -> &'static str {
        match self {
            // A parked event still waiting for the operator is never pruned, however old.
            Self::ResolvedParkedEvents => {
                "DELETE FROM parked_events WHERE id IN (SELECT id FROM parked_events \
                 WHERE status IN ('replayed', 'discarded') AND resolved_at < $1 LIMIT $2)"
            }
            // A row goes whole: its changes were recorded at the same time.
            Self::ChangeLog => {
                "DELETE FROM change_log WHERE first_id IN (SELECT first_id FROM change_log \
                 WHERE recorded_at < $1 ORDER BY first_id LIMIT $2)"
            }
        }
    }
}

/// Deletes up to `limit` rows of `what` older than `before`; returns how many.
pub async fn prune(
    connection: &mut AnyConnection,
    what: Pruned,
    before: DateTime<Utc>,
    limit: u32,
) -> Result<u64, sqlx::Error> {
    sqlx::query(what.statement())
        .bind(time::format(before))
        .bind(i64::from(limit))
        .execute(connection)
        .await
        .map(|result| result.rows_affected())
}
