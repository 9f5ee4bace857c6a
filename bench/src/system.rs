//! The system under test, started in this process by the system-tests harness, so that the
//! benchmark can stop and restart reservation-service for the outage phase.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
};

use secrecy::ExposeSecret;
use sqlx::{AnyPool, Connection, Executor, PgConnection, Row};
use system_tests::{
    TestSystem,
    backends::{TestBroker, TestDatabases},
};
use url::Url;

use crate::{error::BenchError, options::Options};

/// Where the raw single-row commits of the baseline go: the same database server as the
/// services, set up the way member-service sets up its own database.
#[derive(Clone, Debug)]
pub enum ScratchDatabase {
    /// The member database itself (a scratch table in it).
    Postgres { url: String },
    /// A file beside the services' SQLite files, same pragmas.
    Sqlite { path: PathBuf },
}

/// The base URL of reservation-service, which changes when it restarts (port 0).
pub type ReservationAddress = Arc<Mutex<Option<String>>>;

pub struct BenchSystem {
    system: TestSystem,
    pub member_url: String,
    pub member_pool: AnyPool,
    /// Kept open across reservation-service restarts: it reads that service's database.
    pub reservation_pool: AnyPool,
    pub reservation_address: ReservationAddress,
    postgres_admin_url: Option<Url>,
}

impl BenchSystem {
    /// Starts the broker, the databases and both services. The harness panics when a backend
    /// cannot start, which is the right outcome for a benchmark that has nothing to measure.
    pub async fn start(options: &Options) -> Result<Self, BenchError> {
        let broker = match &options.kafka_bootstrap_servers {
            Some(servers) => TestBroker::external(servers.clone()),
            None => TestBroker::start().await,
        };
        let (databases, postgres_admin_url) = match &options.database_url {
            Some(url) => {
                let admin_url = Url::parse(url).map_err(BenchError::DatabaseUrl)?;
                (
                    TestDatabases::Postgres {
                        admin_url: admin_url.clone(),
                    },
                    Some(admin_url),
                )
            }
            None => {
                std::fs::create_dir_all(&options.output).map_err(|source| BenchError::Output {
                    path: options.output.display().to_string(),
                    source,
                })?;
                // On the same disk as the results, not in a temporary directory that may be
                // memory-backed: fsync must cost what it costs.
                let directory = tempfile::TempDir::new_in(&options.output).map_err(|source| {
                    BenchError::Output {
                        path: options.output.display().to_string(),
                        source,
                    }
                })?;
                (TestDatabases::Sqlite(directory), None)
            }
        };
        let system = TestSystem::start_with(broker, databases).await;
        let reservation_pool = system.reservation_pool();
        let reservation_address = Arc::new(Mutex::new(Some(system.reservation_url(""))));
        Ok(Self {
            member_url: system.member_url(""),
            member_pool: system.member.pool.clone(),
            reservation_pool,
            reservation_address,
            postgres_admin_url,
            system,
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "{} databases, {}",
            self.system.databases.describe(),
            self.system.broker.describe()
        )
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.system.http
    }

    pub fn reservation_url(&self) -> Option<String> {
        self.reservation_address
            .lock()
            .ok()
            .and_then(|address| address.clone())
    }

    pub fn scratch_database(&self) -> ScratchDatabase {
        match &self.system.databases {
            TestDatabases::Postgres { .. } => ScratchDatabase::Postgres {
                url: self
                    .system
                    .member_config()
                    .database_url
                    .expose_secret()
                    .to_owned(),
            },
            TestDatabases::Sqlite(directory) => ScratchDatabase::Sqlite {
                path: directory.path().join("raw-commits.db"),
            },
        }
    }

    /// Stops reservation-service gracefully (it commits its offsets), as a deployment would.
    pub async fn stop_consumer(&mut self) {
        self.set_reservation_address(None);
        self.system.stop_reservation_service().await;
    }

    /// Starts reservation-service again: same database, same consumer group.
    pub async fn start_consumer(&mut self) {
        self.system.start_reservation_service().await;
        let url = self.system.reservation_url("");
        self.set_reservation_address(Some(url));
    }

    fn set_reservation_address(&self, url: Option<String>) {
        if let Ok(mut address) = self.reservation_address.lock() {
            *address = url;
        }
    }

    /// Stops both services and, on PostgreSQL, drops the two databases the run created.
    pub async fn shut_down(self) -> Result<(), BenchError> {
        let names = match &self.postgres_admin_url {
            Some(_) => vec![
                database_name(&self.member_pool).await?,
                database_name(&self.reservation_pool).await?,
            ],
            None => Vec::new(),
        };
        self.member_pool.close().await;
        self.reservation_pool.close().await;
        // The broker and the database files go last: the services still talk to them while
        // they stop.
        let TestSystem {
            member,
            reservation,
            broker,
            databases,
            ..
        } = self.system;
        if let Some(reservation) = reservation {
            reservation.stop().await;
        }
        member.stop().await;
        broker.shutdown().await;
        drop(databases);
        if let Some(admin_url) = &self.postgres_admin_url {
            drop_databases(admin_url, &names).await?;
        }
        Ok(())
    }
}

async fn database_name(pool: &AnyPool) -> Result<String, BenchError> {
    sqlx::query("SELECT CAST(current_database() AS TEXT) AS name")
        .fetch_one(pool)
        .await
        .and_then(|row| row.try_get("name"))
        .map_err(BenchError::database("the database name"))
}

async fn drop_databases(admin_url: &Url, names: &[String]) -> Result<(), BenchError> {
    let mut admin = PgConnection::connect(admin_url.as_str())
        .await
        .map_err(BenchError::database("the admin connection"))?;
    for name in names {
        let statement = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        admin
            .execute(statement.as_str())
            .await
            .map_err(BenchError::database("dropping a benchmark database"))?;
    }
    Ok(())
}
