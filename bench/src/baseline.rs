//! The physical limit of the write path: single-row insert transactions, `concurrency` clients,
//! on the same database server as the services and through the same driver (sqlx `Any`).

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use sqlx::{
    AnyPool, Executor,
    any::{AnyPoolOptions, install_default_drivers},
};
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

async fn connect(database: &ScratchDatabase, concurrency: usize) -> Result<AnyPool, BenchError> {
    install_default_drivers();
    match database {
        ScratchDatabase::Postgres { url } => AnyPoolOptions::new()
            .max_connections(concurrency as u32)
            .connect(url)
            .await
            .map_err(BenchError::database("the PostgreSQL scratch database")),
        // One connection, as member-service uses for SQLite: concurrent clients queue for it.
        ScratchDatabase::Sqlite { path } => AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(|connection, _| {
                Box::pin(async move {
                    connection
                        .execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA busy_timeout = 5000;",
                        )
                        .await?;
                    Ok(())
                })
            })
            .connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .map_err(BenchError::database("the SQLite scratch database")),
    }
}
