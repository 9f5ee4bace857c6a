//! When to try a batch again, and how long to wait: a failure that will pass (the database is
//! unavailable) retries the same events for as long as it takes; a failure of the events
//! themselves retries a few times, then parks.

use std::time::Duration;

use rand::Rng;
use sqlx::error::DatabaseError;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    /// The database could not be reached or was busy: nothing was changed, and the same events
    /// are retried for as long as it takes.
    #[error("database unavailable: {0}")]
    Transient(#[source] sqlx::Error),
    /// Writing failed in a way retrying soon will not fix (a constraint, a trigger, a bug).
    #[error("handler failed: {0}")]
    Permanent(#[source] sqlx::Error),
}

/// Sorts a database error into one that will pass and one that will not.
pub fn classify(error: sqlx::Error) -> AttemptError {
    let transient = match &error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database_error) => is_transient_code(database_error.as_ref()),
        _ => false,
    };
    if transient {
        AttemptError::Transient(error)
    } else {
        AttemptError::Permanent(error)
    }
}

fn is_transient_code(error: &dyn DatabaseError) -> bool {
    let Some(code) = error.code() else {
        return false;
    };
    // PostgreSQL SQLSTATE: connection exceptions, serialization failures and deadlocks,
    // insufficient resources, operator intervention (shutdown, statement timeout), lock not
    // available.
    const POSTGRES: [&str; 7] = ["08", "40001", "40P01", "53", "57P", "57014", "55P03"];
    if POSTGRES.iter().any(|prefix| code.starts_with(prefix)) {
        return true;
    }
    // SQLite result codes (extended codes keep the primary code in the low byte): BUSY, LOCKED,
    // IOERR, FULL, CANTOPEN.
    code.parse::<u32>()
        .is_ok_and(|code| matches!(code & 0xff, 5 | 6 | 10 | 13 | 14))
}

/// Sleeps unless stopped first; `false` when stopped.
pub async fn pause(duration: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = tokio::time::sleep(duration) => true,
        () = shutdown.cancelled() => false,
    }
}

/// Exponential back-off with jitter, 50 ms doubling to at most 5 s.
pub fn backoff(failures: u32) -> Duration {
    let ceiling_ms = 50u64.saturating_mul(1 << failures.min(7)).min(5_000);
    Duration::from_millis(rand::rng().random_range(ceiling_ms / 2..=ceiling_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_trouble_is_transient_and_bad_data_is_not() {
        assert!(matches!(
            classify(sqlx::Error::PoolTimedOut),
            AttemptError::Transient(_)
        ));
        assert!(matches!(
            classify(sqlx::Error::Io(std::io::Error::other("reset"))),
            AttemptError::Transient(_)
        ));
        assert!(matches!(
            classify(sqlx::Error::RowNotFound),
            AttemptError::Permanent(_)
        ));
    }

    #[test]
    fn back_off_grows_to_five_seconds_at_most() {
        assert!(backoff(1) <= Duration::from_millis(100));
        assert!(backoff(30) <= Duration::from_secs(5));
        assert!(backoff(30) >= Duration::from_millis(2_500));
    }
}
