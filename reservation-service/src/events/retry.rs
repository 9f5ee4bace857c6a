//! When to try a batch again, and how long to wait: a failure that will pass (the database is
//! unavailable) retries the same events for as long as it takes; a failure of the events
//! themselves retries a few times, then parks.

use std::time::Duration;

use rand::Rng;
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

/// Sorts a database error into one that will pass (the database is away, busy or restarting:
/// retry the same events, without limit) and one that will not (the database refused what was
/// written: a constraint, a type, a value out of range, a statement it cannot run; the event is
/// retried a few times, then parked). Anything not known to pass is permanent: an error wrongly
/// taken for transient retries for ever, while one wrongly taken for permanent only parks an
/// event, which an operator can replay.
pub fn classify(error: sqlx::Error) -> AttemptError {
    if is_transient(&error) {
        AttemptError::Transient(error)
    } else {
        AttemptError::Permanent(error)
    }
}

fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        // sqlx refuses, before sending anything, a statement with more bind parameters than
        // PostgreSQL's 65535, as a protocol error; no retry will shorten it. The consumer splits
        // its batches below that limit (`domain::bounds`): this is the guard should one not be.
        sqlx::Error::Protocol(message) => !message.contains("too many arguments"),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database_error) => database_error
            .code()
            .is_some_and(|code| is_transient_code(&code)),
        _ => false,
    }
}

/// Whether a database's error code (a PostgreSQL SQLSTATE, or an SQLite result code) says the
/// failure will pass.
pub fn is_transient_code(code: &str) -> bool {
    // A SQLSTATE has five characters, an SQLite code at most four digits. Without telling them
    // apart, PostgreSQL's 22021 (a NUL in text) read as SQLite's 0x5605, whose low byte is BUSY:
    // a refused value retried for ever.
    if code.len() == 5 {
        return is_transient_sqlstate(code);
    }
    // SQLite result codes (extended codes keep the primary code in the low byte): BUSY, LOCKED,
    // IOERR, FULL, CANTOPEN. CONSTRAINT (19), TOOBIG (18), MISMATCH (20), RANGE (25) and the
    // generic ERROR (1, "too many SQL variables") are not.
    code.parse::<u32>()
        .is_ok_and(|code| matches!(code & 0xff, 5 | 6 | 10 | 13 | 14))
}

fn is_transient_sqlstate(code: &str) -> bool {
    // PostgreSQL SQLSTATE: connection exceptions, serialization failures and deadlocks,
    // insufficient resources (disk full, out of memory, too many connections), operator
    // intervention (shutdown, statement timeout, a cancelled query), lock not available.
    // Integrity (23), data exceptions (22), syntax and access (42), program limits (54) are not.
    const POSTGRES: [&str; 7] = ["08", "40001", "40P01", "53", "57P", "57014", "55P03"];
    POSTGRES.iter().any(|prefix| code.starts_with(prefix))
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
    fn a_statement_over_the_parameter_limit_is_permanent_and_a_broken_stream_is_not() {
        let too_long = "PgConnection::run(): too many arguments for query: 70000";
        assert!(matches!(
            classify(sqlx::Error::Protocol(too_long.to_owned())),
            AttemptError::Permanent(_)
        ));
        assert!(matches!(
            classify(sqlx::Error::Protocol("unexpected message".to_owned())),
            AttemptError::Transient(_)
        ));
    }

    #[test]
    fn refused_values_are_permanent_and_an_unavailable_database_is_transient() {
        // PostgreSQL: unique and not-null violations, a string with NUL, a value out of range,
        // an index row too large; SQLite: constraint (primary and extended), too big, mismatch.
        for permanent in [
            "23505", "23502", "22021", "22003", "54000", "42P01", "19", "2067", "18", "20", "1",
        ] {
            assert!(!is_transient_code(permanent), "{permanent}");
        }
        // PostgreSQL: connection failure, serialization failure, deadlock, too many connections,
        // disk full, admin shutdown, statement timeout; SQLite: busy, locked, busy snapshot.
        for transient in [
            "08006", "40001", "40P01", "53300", "53100", "57P01", "57014", "5", "6", "517",
        ] {
            assert!(is_transient_code(transient), "{transient}");
        }
    }

    #[test]
    fn back_off_grows_to_five_seconds_at_most() {
        assert!(backoff(1) <= Duration::from_millis(100));
        assert!(backoff(30) <= Duration::from_secs(5));
        assert!(backoff(30) >= Duration::from_millis(2_500));
    }
}
