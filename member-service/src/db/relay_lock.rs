//! Which replica's relay publishes. Several member-service replicas may share one PostgreSQL
//! database; if each published the outbox, events would go out twice and, worse, a member's
//! events could overtake each other. So one relay leads, holding a session-level advisory lock
//! on a connection of its own, and the others stand by. If the leader dies, its connection
//! closes, PostgreSQL releases the lock, and a standby takes over within a second.
//!
//! SQLite needs no election: a SQLite database belongs to one process.

use sqlx::{AnyConnection, AnyPool, pool::PoolConnection};

use super::{
    Backend,
    outbox::{self, PendingEvent},
};

/// Arbitrary, fixed: the advisory lock key of the outbox relay ("outbox" in ASCII).
const RELAY_LOCK_KEY: i64 = 0x6f75_7462_6f78;

/// The relay's access to the outbox: through the pool (SQLite) or as elected leader (PostgreSQL).
pub enum OutboxAccess {
    Shared(AnyPool),
    Elected {
        pool: AnyPool,
        leader: Option<AnyConnection>,
    },
}

impl OutboxAccess {
    pub fn new(pool: AnyPool, backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::Shared(pool),
            Backend::Postgres => Self::Elected { pool, leader: None },
        }
    }

    pub fn is_leader(&self) -> bool {
        match self {
            Self::Shared(_) => true,
            Self::Elected { leader, .. } => leader.is_some(),
        }
    }

    /// The oldest unpublished events, or `None` while another replica leads.
    pub async fn pending(&mut self, limit: u32) -> Result<Option<Vec<PendingEvent>>, sqlx::Error> {
        match self {
            Self::Shared(pool) => {
                let mut connection: PoolConnection<sqlx::Any> = pool.acquire().await?;
                outbox::pending(&mut connection, limit).await.map(Some)
            }
            Self::Elected { pool, leader } => {
                if leader.is_none() {
                    *leader = elect(pool).await?;
                }
                let Some(connection) = leader.as_mut() else {
                    return Ok(None);
                };
                let pending = outbox::pending(connection, limit).await;
                // A failed query may mean a lost connection, and with it the lock: stand down.
                if pending.is_err() {
                    *leader = None;
                }
                pending.map(Some)
            }
        }
    }

    /// The pool, for work that needs no leadership: stamping rows the broker acknowledged is
    /// right whichever replica leads, so it runs beside the leader's next read.
    pub fn pool(&self) -> &AnyPool {
        match self {
            Self::Shared(pool) | Self::Elected { pool, .. } => pool,
        }
    }
}

/// Tries to take the relay lock on a connection of its own; `None` when another replica holds it.
async fn elect(pool: &AnyPool) -> Result<Option<AnyConnection>, sqlx::Error> {
    // Detached: the lock lives as long as this connection, which must never go back to the pool.
    let mut connection = pool.acquire().await?.detach();
    let acquired: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(RELAY_LOCK_KEY)
        .fetch_one(&mut connection)
        .await?;
    if acquired {
        tracing::info!("this replica's outbox relay is now the leader");
        Ok(Some(connection))
    } else {
        Ok(None)
    }
}
