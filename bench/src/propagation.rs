//! Propagation, read from the two databases (one clock): from the member's deletion, stamped
//! in the transaction that deleted it (`members.deleted_at`), to the transaction that cancelled
//! its reservations (`reservations.cancelled_at`). Statements are marked `/* bench */` so that
//! the statement counts leave them out.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use chrono::{DateTime, Utc};
use sqlx::{AnyPool, Row};
use uuid::Uuid;

use crate::error::BenchError;

#[derive(Clone, Copy, Debug)]
pub struct Propagation {
    pub member_id: Uuid,
    pub deleted_at: DateTime<Utc>,
    pub cancelled_at: DateTime<Utc>,
}

impl Propagation {
    pub fn milliseconds(&self) -> f64 {
        (self.cancelled_at - self.deleted_at)
            .num_microseconds()
            .unwrap_or(i64::MAX) as f64
            / 1_000.0
    }
}

/// Deletions committed by member-service and not yet applied by reservation-service: the
/// whole way, outbox, broker and consumer together. Readable while reservation-service is down.
pub async fn pending_deletions(
    member_pool: &AnyPool,
    reservation_pool: &AnyPool,
) -> Result<i64, BenchError> {
    let deleted = count(
        member_pool,
        "/* bench */ SELECT COUNT(*) AS total FROM members WHERE deleted_at IS NOT NULL",
    )
    .await?;
    Ok(deleted - applied_deletions(reservation_pool).await?)
}

async fn applied_deletions(reservation_pool: &AnyPool) -> Result<i64, BenchError> {
    count(
        reservation_pool,
        "/* bench */ SELECT COUNT(*) AS total FROM known_members WHERE status = 'deleted'",
    )
    .await
}

async fn count(pool: &AnyPool, statement: &'static str) -> Result<i64, BenchError> {
    sqlx::query(statement)
        .fetch_one(pool)
        .await
        .and_then(|row| row.try_get("total"))
        .map_err(BenchError::database("a deletion count"))
}

/// Waits until reservation-service has applied `total` deletions in all.
pub async fn wait_until_applied(
    reservation_pool: &AnyPool,
    total: usize,
    deadline: Duration,
) -> Result<(), BenchError> {
    let give_up = tokio::time::Instant::now() + deadline;
    while applied_deletions(reservation_pool).await? < total as i64 {
        if tokio::time::Instant::now() >= give_up {
            return Err(BenchError::Timeout {
                what: "reservation-service to apply every deletion",
                after: deadline,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The propagation of each of `members` that has been deleted and whose reservations were
/// cancelled.
pub async fn measure(
    member_pool: &AnyPool,
    reservation_pool: &AnyPool,
    members: &[Uuid],
) -> Result<Vec<Propagation>, BenchError> {
    let wanted: HashSet<String> = members.iter().map(Uuid::to_string).collect();
    let deleted = timestamps(
        member_pool,
        "/* bench */ SELECT id AS member_id, deleted_at AS at FROM members WHERE deleted_at IS NOT NULL",
        &wanted,
    )
    .await?;
    let cancelled = timestamps(
        reservation_pool,
        "/* bench */ SELECT member_id, MAX(cancelled_at) AS at FROM reservations \
         WHERE cancellation_reason = 'member_deleted' GROUP BY member_id",
        &wanted,
    )
    .await?;
    let mut propagations: Vec<Propagation> = deleted
        .into_iter()
        .filter_map(|(member_id, deleted_at)| {
            Some(Propagation {
                member_id: member_id.parse().ok()?,
                deleted_at,
                cancelled_at: *cancelled.get(&member_id)?,
            })
        })
        .collect();
    propagations.sort_by_key(|propagation| propagation.deleted_at);
    Ok(propagations)
}

async fn timestamps(
    pool: &AnyPool,
    statement: &'static str,
    wanted: &HashSet<String>,
) -> Result<HashMap<String, DateTime<Utc>>, BenchError> {
    let rows = sqlx::query(statement)
        .fetch_all(pool)
        .await
        .map_err(BenchError::database("deletion and cancellation times"))?;
    let mut times = HashMap::with_capacity(wanted.len());
    for row in rows {
        let member_id: String = row
            .try_get("member_id")
            .map_err(BenchError::database("a member id"))?;
        if !wanted.contains(&member_id) {
            continue;
        }
        let text: String = row
            .try_get("at")
            .map_err(BenchError::database("a stored time"))?;
        let at = DateTime::parse_from_rfc3339(&text)
            .map_err(|source| BenchError::StoredTime {
                text: text.clone(),
                source,
            })?
            .with_timezone(&Utc);
        times.insert(member_id, at);
    }
    Ok(times)
}
