//! Retention: resolved parked events and the change log are deleted once older than the
//! configured retention. Nothing the consumer needs to recognise a redelivered event is pruned:
//! that is the member list's version per member, kept for good. A `/updates` client resuming
//! from an id older than the retention gets what is left.
//!
//! A sweep runs every minute (and once at start-up) and deletes in bounded batches until nothing
//! is left to prune, pausing between batches so that the consumer's transactions are not held up.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::AnyPool;
use tokio_util::sync::CancellationToken;

use crate::db::{
    self,
    retention::{self, Pruned},
};

/// Rows per delete statement.
pub const BATCH_SIZE: u32 = 1_000;
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);
const PAUSE_BETWEEN_BATCHES: Duration = Duration::from_millis(10);

pub struct Retention {
    pool: AnyPool,
    retention: Duration,
}

impl Retention {
    pub fn new(pool: AnyPool, retention: Duration) -> Self {
        Self { pool, retention }
    }

    /// Sweeps until `shutdown` is cancelled. A failed sweep is logged and tried again at the
    /// next interval: pruning late costs disk, not correctness.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut sweeps = tokio::time::interval(SWEEP_INTERVAL);
        sweeps.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = sweeps.tick() => {}
            }
            let cutoff = cutoff(db::time::now(), self.retention);
            for what in Pruned::ALL {
                match sweep(&self.pool, what, cutoff, BATCH_SIZE, &shutdown).await {
                    Ok(0) => {}
                    Ok(pruned) => tracing::info!(pruned, what = what.name(), "pruned"),
                    Err(error) => tracing::warn!(%error, what = what.name(), "cannot prune"),
                }
            }
        }
    }
}

/// A retention given in whole hours.
pub fn parse_hours(value: &str) -> Result<Duration, std::num::ParseIntError> {
    value
        .parse::<u64>()
        .map(|hours| Duration::from_secs(hours.saturating_mul(3_600)))
}

/// The time before which rows go: `now` less the retention (the distant past when the
/// retention is too long to subtract).
pub fn cutoff(now: DateTime<Utc>, retention: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(retention)
        .ok()
        .and_then(|retention| now.checked_sub_signed(retention))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Deletes rows of `what` older than `cutoff`, `batch_size` at a time, until none is left or
/// `shutdown` is cancelled; returns how many went.
pub async fn sweep(
    pool: &AnyPool,
    what: Pruned,
    cutoff: DateTime<Utc>,
    batch_size: u32,
    shutdown: &CancellationToken,
) -> Result<u64, sqlx::Error> {
    let mut pruned = 0;
    while !shutdown.is_cancelled() {
        let mut connection = pool.acquire().await?;
        let deleted = retention::prune(&mut connection, what, cutoff, batch_size).await?;
        drop(connection);
        pruned += deleted;
        if deleted < u64::from(batch_size) {
            break;
        }
        tokio::time::sleep(PAUSE_BETWEEN_BATCHES).await;
    }
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_the_retention_before_now() {
        let now = DateTime::parse_from_rfc3339("2030-01-15T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let cutoff = cutoff(now, parse_hours("336").expect("hours"));
        assert_eq!(cutoff.to_rfc3339(), "2030-01-01T00:00:00+00:00");
    }

    #[test]
    fn a_retention_beyond_the_calendar_keeps_everything() {
        assert_eq!(cutoff(Utc::now(), Duration::MAX), DateTime::<Utc>::MIN_UTC);
    }
}
