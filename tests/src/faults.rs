//! The faults the failure-injection suite and the chaos run inject, and the set-up and settling
//! around them. Each fault is real: a stopped broker, a killed process, a database that refuses
//! connections or a handler that fails, bytes no producer should have sent.

use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use reqwest::StatusCode;
use sqlx::{Any, AnyPool, Connection, Executor, PgConnection, Row, pool::PoolConnection};
use uuid::Uuid;

use crate::{TestSystem, audit::Audit, backends::TestDatabases};

/// How many requests the set-up sends at once.
const CONCURRENCY: usize = 8;

/// Registers `count` members, waits until reservation-service knows them, and gives each
/// `reservations_each` reservations.
pub async fn populate(system: &TestSystem, count: usize, reservations_each: usize) -> Vec<Uuid> {
    let members: Vec<Uuid> = stream::iter(0..count)
        .map(|_| system.register_member())
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for member in &members {
        system.wait_until_known(*member).await;
    }
    stream::iter(
        members
            .iter()
            .flat_map(|member| std::iter::repeat_n(*member, reservations_each)),
    )
    .map(|member| system.reserve(member))
    .buffer_unordered(CONCURRENCY)
    .collect::<Vec<_>>()
    .await;
    members
}

/// Deletes each member, one request at a time, and returns how long each DELETE took.
pub async fn delete_all(system: &TestSystem, members: &[Uuid]) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(members.len());
    for member in members {
        let started = Instant::now();
        assert_eq!(system.delete_member(*member).await, StatusCode::NO_CONTENT);
        latencies.push(started.elapsed());
    }
    latencies
}

/// Waits until the outbox is empty and no change is missing in reservation-service (or the
/// deadline passes), then returns what both databases say.
pub async fn settle(system: &TestSystem, deadline: Duration) -> Audit {
    let give_up = Instant::now() + deadline;
    loop {
        let audit = Audit::of(&system.member.pool, &system.reservation_pool()).await;
        if (audit.lost == 0 && system.outbox_backlog().await == 0) || Instant::now() > give_up {
            return audit;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Leaves the outbox as a relay killed after producing and before stamping its rows would: the
/// members' events are in the topic, their rows unstamped. Then restarts member-service, whose
/// relay publishes them again.
pub async fn crash_relay_after_produce(system: &mut TestSystem, members: &[Uuid]) {
    for member in members {
        sqlx::query("UPDATE outbox SET published_at = NULL WHERE member_id = $1")
            .bind(member.to_string())
            .execute(&system.member.pool)
            .await
            .expect("unstamp outbox rows");
    }
    system.restart_member_service().await;
}

/// Publishes every event of `members` again, straight from the outbox, newest first and twice:
/// duplicates, and old versions after new ones.
pub async fn inject_history_reversed_twice(system: &TestSystem, members: &[Uuid]) -> usize {
    let mut injected = 0;
    for member in members {
        let rows =
            sqlx::query("SELECT payload FROM outbox WHERE member_id = $1 ORDER BY sequence DESC")
                .bind(member.to_string())
                .fetch_all(&system.member.pool)
                .await
                .expect("outbox rows");
        for _ in 0..2 {
            for row in &rows {
                let payload: String = row.try_get("payload").expect("payload");
                system
                    .publish_raw(&member.to_string(), payload.as_bytes())
                    .await;
                injected += 1;
            }
        }
    }
    injected
}

/// Bytes that are no member event, under `member`'s key (so in its partition, before whatever
/// the member's next event is).
pub async fn inject_poison(system: &TestSystem, member: Uuid) {
    system
        .publish_raw(
            &member.to_string(),
            b"{\"specversion\":\"1.0\",\"type\":\"members.member_del",
        )
        .await;
}

/// Makes cancelling `member`'s reservations fail in reservation-service's database (a trigger):
/// the handler's own failure, which retrying does not fix.
pub async fn refuse_cancellations_of(system: &TestSystem, member: Uuid) {
    let pool = system.reservation_pool();
    if system.uses_postgres() {
        pool.execute(
            "CREATE OR REPLACE FUNCTION refuse_cancellation() RETURNS trigger AS $$ \
             BEGIN RAISE EXCEPTION 'injected failure: cancellation refused'; END; $$ LANGUAGE plpgsql",
        )
        .await
        .expect("trigger function");
        pool.execute(
            format!(
                "CREATE TRIGGER refuse_cancellation BEFORE UPDATE ON reservations FOR EACH ROW \
                 WHEN (NEW.member_id = '{member}' AND NEW.status = 'cancelled') \
                 EXECUTE FUNCTION refuse_cancellation()"
            )
            .as_str(),
        )
        .await
        .expect("trigger");
    } else {
        pool.execute(
            format!(
                "CREATE TRIGGER refuse_cancellation BEFORE UPDATE ON reservations \
                 WHEN NEW.member_id = '{member}' AND NEW.status = 'cancelled' \
                 BEGIN SELECT RAISE(ABORT, 'injected failure: cancellation refused'); END"
            )
            .as_str(),
        )
        .await
        .expect("trigger");
    }
}

/// Undoes [`refuse_cancellations_of`]: the operator's fix.
pub async fn allow_cancellations(system: &TestSystem) {
    let statement = if system.uses_postgres() {
        "DROP TRIGGER IF EXISTS refuse_cancellation ON reservations"
    } else {
        "DROP TRIGGER IF EXISTS refuse_cancellation"
    };
    system
        .reservation_pool()
        .execute(statement)
        .await
        .expect("drop trigger");
}

/// Makes reservation-service's database unavailable for `duration`; see
/// [`ReservationDatabaseOutage`].
pub async fn make_reservation_database_unavailable(system: &TestSystem, duration: Duration) {
    ReservationDatabaseOutage::begin(system)
        .await
        .end_after(duration)
        .await;
}

/// Reservation-service's database, unavailable from [`begin`](Self::begin) until
/// [`end_after`](Self::end_after): PostgreSQL refuses new connections and drops the open ones;
/// SQLite is held locked by another connection, so the service's transactions time out busy.
pub enum ReservationDatabaseOutage {
    Postgres {
        admin: PgConnection,
        database: String,
    },
    Sqlite {
        locker: AnyPool,
        connection: PoolConnection<Any>,
    },
}

impl ReservationDatabaseOutage {
    /// Returns once the database is unavailable.
    pub async fn begin(system: &TestSystem) -> Self {
        match &system.databases {
            TestDatabases::Postgres { admin_url } => {
                let database = system.reservation_database_name();
                let mut admin = PgConnection::connect(admin_url.as_str())
                    .await
                    .expect("admin connection");
                admin
                    .execute(
                        format!("ALTER DATABASE \"{database}\" WITH ALLOW_CONNECTIONS false")
                            .as_str(),
                    )
                    .await
                    .expect("refuse connections");
                admin
                    .execute(
                        format!(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                             WHERE datname = '{database}' AND pid <> pg_backend_pid()"
                        )
                        .as_str(),
                    )
                    .await
                    .expect("drop connections");
                Self::Postgres { admin, database }
            }
            TestDatabases::Sqlite(_) => {
                let locker = AnyPool::connect(&system.reservation_database_url())
                    .await
                    .expect("second connection");
                let mut connection = locker.acquire().await.expect("connection");
                connection
                    .execute("BEGIN EXCLUSIVE")
                    .await
                    .expect("exclusive lock");
                Self::Sqlite { locker, connection }
            }
        }
    }

    /// Keeps the database unavailable for `duration` more, then gives it back.
    pub async fn end_after(self, duration: Duration) {
        // The outage's length is the fault itself: a deliberate gap, not a wait for an outcome.
        tokio::time::sleep(duration).await;
        match self {
            Self::Postgres {
                mut admin,
                database,
            } => {
                admin
                    .execute(
                        format!("ALTER DATABASE \"{database}\" WITH ALLOW_CONNECTIONS true")
                            .as_str(),
                    )
                    .await
                    .expect("accept connections");
            }
            Self::Sqlite {
                locker,
                mut connection,
            } => {
                connection.execute("ROLLBACK").await.expect("release lock");
                drop(connection);
                locker.close().await;
            }
        }
    }
}

/// Percentile of `latencies` (nearest rank), in milliseconds.
pub fn percentile_ms(latencies: &[Duration], percentile: f64) -> f64 {
    if latencies.is_empty() {
        return 0.0;
    }
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    let rank = ((percentile / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}
