//! Writing a batch of arrivals: one transaction that locks the members' streams, reads what the
//! database knows, decides every arrival ([`decide_batch`]) and writes the decisions. Batches
//! with nothing to park take the same path as any other: the parked events the rules need to
//! know of come back from the same query, usually empty. A batch larger than one transaction's
//! statements can bind is written in slices ([`transactions`]), each its own transaction.
//!
//! A batch is retried until it is written: as a whole while the database is unavailable (nothing
//! was changed), and one arrival at a time once one of them fails of its own accord, each parked
//! after `max_attempts` such failures. Should parking it fail of its own accord too, the writer
//! stops for good ([`Halt::CannotPark`]) rather than skip the event or retry it for ever.

use sqlx::AnyPool;
use tokio_util::sync::CancellationToken;

use super::{
    ConsumerStats,
    retry::{AttemptError, backoff, classify, pause},
};
use crate::{
    db::{self, changes::ChangeSignal},
    domain::{Arrival, Failure, Outcome, decide_batch, member_ids, transactions},
};

/// Why a batch was not written.
#[derive(Debug, thiserror::Error)]
pub enum Halt {
    /// Shutdown came first.
    #[error("stopped before the batch was written")]
    Stopped,
    /// The database refused even the parked record: the event can be neither applied nor set
    /// aside, and moving on would lose it.
    #[error("cannot park the member event at partition {partition}, offset {offset}: {error}")]
    CannotPark {
        partition: i32,
        offset: i64,
        #[source]
        error: sqlx::Error,
    },
}

/// Writes `batch`, retrying until done; one outcome per arrival.
pub async fn write(
    pool: &AnyPool,
    batch: &[Arrival],
    max_attempts: u32,
    stats: &ConsumerStats,
    signal: &ChangeSignal,
    shutdown: &CancellationToken,
) -> Result<Vec<Outcome>, Halt> {
    let mut outcomes = Vec::with_capacity(batch.len());
    for slice in transactions(batch) {
        outcomes.extend(write_slice(pool, slice, max_attempts, stats, signal, shutdown).await?);
    }
    Ok(outcomes)
}

/// Writes a slice that fits one transaction, as a whole or, once it fails, one by one.
async fn write_slice(
    pool: &AnyPool,
    batch: &[Arrival],
    max_attempts: u32,
    stats: &ConsumerStats,
    signal: &ChangeSignal,
    shutdown: &CancellationToken,
) -> Result<Vec<Outcome>, Halt> {
    let mut failures = 0u32;
    loop {
        match attempt(pool, batch, None, signal).await {
            Ok(outcomes) => return Ok(outcomes),
            Err(AttemptError::Transient(error)) => {
                // Nothing was changed; the same events are retried, never skipped.
                failures = failures.saturating_add(1);
                stats.record_retry();
                tracing::warn!(%error, attempt = failures, "database unavailable, retrying member events");
                if !pause(backoff(failures), shutdown).await {
                    return Err(Halt::Stopped);
                }
            }
            // Some arrival in the batch fails: find which, one at a time.
            Err(AttemptError::Permanent(_)) => break,
        }
    }
    let mut outcomes = Vec::with_capacity(batch.len());
    for arrival in batch {
        outcomes.extend(write_alone(pool, arrival, max_attempts, stats, signal, shutdown).await?);
    }
    Ok(outcomes)
}

/// Writes one arrival on its own; after `max_attempts` failures of its own it is parked.
async fn write_alone(
    pool: &AnyPool,
    arrival: &Arrival,
    max_attempts: u32,
    stats: &ConsumerStats,
    signal: &ChangeSignal,
    shutdown: &CancellationToken,
) -> Result<Vec<Outcome>, Halt> {
    let mut failure: Option<Failure> = None;
    let mut transient_failures = 0u32;
    loop {
        let given_up = failure
            .as_ref()
            .filter(|failure| failure.attempts >= max_attempts);
        // How many times this has failed in a row, for the back-off.
        let failures = match attempt(pool, std::slice::from_ref(arrival), given_up, signal).await {
            Ok(outcomes) => return Ok(outcomes),
            Err(AttemptError::Permanent(error)) if given_up.is_some() => {
                return Err(Halt::CannotPark {
                    partition: arrival.delivery.partition,
                    offset: arrival.delivery.offset,
                    error,
                });
            }
            Err(AttemptError::Transient(error)) => {
                transient_failures = transient_failures.saturating_add(1);
                tracing::warn!(%error, "database unavailable, retrying member event");
                transient_failures
            }
            Err(AttemptError::Permanent(error)) => {
                let again = Failure::again(failure.take(), &error, db::time::now());
                tracing::warn!(
                    %error,
                    attempt = again.attempts,
                    partition = arrival.delivery.partition,
                    offset = arrival.delivery.offset,
                    "cannot apply member event"
                );
                failure.insert(again).attempts
            }
        };
        stats.record_retry();
        if !pause(backoff(failures), shutdown).await {
            return Err(Halt::Stopped);
        }
    }
}

/// One transaction: all of the arrivals take effect, or none. `failed_too_often` parks them.
/// Streams of changes hear of it once it is committed.
async fn attempt(
    pool: &AnyPool,
    arrivals: &[Arrival],
    failed_too_often: Option<&Failure>,
    signal: &ChangeSignal,
) -> Result<Vec<Outcome>, AttemptError> {
    let now = db::time::now();
    // Failing to get a connection or to begin is never the events' fault.
    let mut transaction = pool.begin().await.map_err(AttemptError::Transient)?;
    let member_ids = member_ids(arrivals);
    db::member_streams::lock_all(&mut transaction, &member_ids)
        .await
        .map_err(classify)?;
    let knowledge = db::batch::knowledge(&mut transaction, arrivals, &member_ids)
        .await
        .map_err(classify)?;
    let decisions = decide_batch(&knowledge, arrivals, failed_too_often, now);
    let outcomes = db::batch::write(&mut transaction, arrivals, &decisions, now)
        .await
        .map_err(classify)?;
    transaction.commit().await.map_err(classify)?;
    signal.committed();
    Ok(outcomes)
}

#[cfg(test)]
mod tests;
