//! The physical limit of the write path: single-row insert transactions, `concurrency` clients,
//! on the same database server as the services and through the same driver (sqlx `Any`).

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use secrecy::SecretString;
use sqlx::{AnyPool, Executor};
use uuid::Uuid;

use crate::{error::BenchError, statistics, system::ScratchDatabase};

const SCRATCH_TABLE: &str = "CREATE TABLE IF NOT EXISTS bench_raw_commits \
    (id TEXT PRIMARY KEY NOT NULL, payload TEXT NOT NULL, created_at TEXT NOT NULL)";

/// About the size of an outbox row, so the baseline writes what a deletion writes.
const PAYLOAD_BYTES: usize = 300;

#[derive(Clone, Copy, Debug)]
pub struct Baseline {
    pub commits: usize,
    pub elapsed: Duration,
    pub commits_per_second: f64,
}

pub async fn raw_commit_rate(
    database: &ScratchDatabase,
    concurrency: usize,
    duration: Duration,
) -> Result<Baseline, BenchError> {
    let pool = connect(database, concurrency).await?;
    pool.execute(SCRATCH_TABLE)
        .await
        .map_err(BenchError::database("the scratch table"))?;
    let commits = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let pool = pool.clone();
        let commits = commits.clone();
        clients.spawn(async move {
            while started.elapsed() < duration {
                insert_one(&pool).await?;
                commits.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, BenchError>(())
        });
    }
    for client in clients.join_all().await {
        client?;
    }
    let elapsed = started.elapsed();
    let _ = pool.execute("DROP TABLE bench_raw_commits").await;
    pool.close().await;
    let commits = commits.load(Ordering::Relaxed);
    Ok(Baseline {
        commits,
        elapsed,
        commits_per_second: statistics::rate(commits, elapsed),
    })
}

/// One row, one transaction (autocommit), as one deletion's HTTP transaction would be.
async fn insert_one(pool: &AnyPool) -> Result<(), BenchError> {
    sqlx::query("INSERT INTO bench_raw_commits (id, payload, created_at) VALUES ($1, $2, $3)")
        .bind(Uuid::now_v7().to_string())
        .bind("x".repeat(PAYLOAD_BYTES))
        .bind(chrono::Utc::now().to_rfc3339())
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(BenchError::database("a raw single-row commit"))
}

/// member-service's own pool on the scratch database: the same driver, pool size and (for
/// SQLite) pragmas and single connection as the write path it is compared with. On SQLite the
/// scratch file also gets member-service's (empty) tables; they are not written.
async fn connect(database: &ScratchDatabase, concurrency: usize) -> Result<AnyPool, BenchError> {
    let (url, what) = match database {
        ScratchDatabase::Postgres { url } => (url.clone(), "the PostgreSQL scratch database"),
        ScratchDatabase::Sqlite { path } => (
            format!("sqlite://{}", path.display()),
            "the SQLite scratch database",
        ),
    };
    let max_connections = u32::try_from(concurrency).unwrap_or(u32::MAX);
    member_service::db::connect(&SecretString::from(url), max_connections)
        .await
        .map_err(BenchError::database(what))
}
