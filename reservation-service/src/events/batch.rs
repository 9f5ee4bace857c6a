//! Handling a batch of deliveries in one transaction, and telling failures that will pass
//! (retry the same events) from failures of the events themselves (retry a few times, then park).

use chrono::{SubsecRound, Utc};
use sqlx::{AnyPool, error::DatabaseError};

use super::{
    Delivery,
    apply::{Failure, Outcome, handle},
    bulk::apply_all,
};

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The database could not be reached or was busy: nothing was changed, and the same events
    /// are retried for as long as it takes.
    #[error("database unavailable: {0}")]
    Transient(#[source] sqlx::Error),
    /// Handling failed in a way retrying soon will not fix (a constraint, a trigger, a bug).
    #[error("handler failed: {0}")]
    Permanent(#[source] sqlx::Error),
}

/// Handles every delivery in one transaction: all of them take effect, or none.
pub async fn handle_batch(
    pool: &AnyPool,
    items: &[(&Delivery, Option<&Failure>)],
) -> Result<Vec<Outcome>, HandleError> {
    let now = Utc::now().trunc_subsecs(6);
    // Failing to get a connection or to begin is never the events' fault.
    let mut transaction = pool.begin().await.map_err(HandleError::Transient)?;
    if items.iter().all(|(_, failure)| failure.is_none()) {
        let deliveries: Vec<&Delivery> = items.iter().map(|(delivery, _)| *delivery).collect();
        if let Some(outcomes) = apply_all(&mut transaction, &deliveries, now)
            .await
            .map_err(classify)?
        {
            transaction.commit().await.map_err(classify)?;
            return Ok(outcomes);
        }
    }
    let mut outcomes = Vec::with_capacity(items.len());
    for (delivery, failure) in items {
        let outcome = handle(&mut transaction, delivery, *failure, now)
            .await
            .map_err(classify)?;
        outcomes.push(outcome);
    }
    transaction.commit().await.map_err(classify)?;
    Ok(outcomes)
}

/// Sorts a database error into one that will pass and one that will not.
pub fn classify(error: sqlx::Error) -> HandleError {
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
        HandleError::Transient(error)
    } else {
        HandleError::Permanent(error)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_trouble_is_transient_and_bad_data_is_not() {
        assert!(matches!(
            classify(sqlx::Error::PoolTimedOut),
            HandleError::Transient(_)
        ));
        assert!(matches!(
            classify(sqlx::Error::Io(std::io::Error::other("reset"))),
            HandleError::Transient(_)
        ));
        assert!(matches!(
            classify(sqlx::Error::RowNotFound),
            HandleError::Permanent(_)
        ));
    }
}
