//! The system under test: each service (and the embedded broker) a process of its own, so
//! that its CPU time and memory can be read apart from the load generator's; reservation-service
//! is stopped and started again for the outage phase.

use std::{path::PathBuf, time::Duration};

use event_schema::Topic;
use sqlx::{AnyPool, Connection, Executor, PgConnection};
use system_tests::{auth, backends::TestDatabases};
use tempfile::TempDir;
use url::Url;
use uuid::Uuid;

use crate::{
    error::BenchError,
    options::Options,
    processes::{ServiceProcess, read_pool, start_embedded_broker},
    resources::Watched,
};

/// Where the raw single-row commits of the baseline go: the same database server as the
/// services, set up the way member-service sets up its own database.
#[derive(Clone, Debug)]
pub enum ScratchDatabase {
    /// The member database itself (a scratch table in it).
    Postgres { url: String },
    /// A file beside the services' SQLite files, same pragmas.
    Sqlite { path: PathBuf },
}

/// The base URL of reservation-service, which changes when it restarts (a new port).
pub type ReservationAddress = std::sync::Arc<std::sync::Mutex<Option<String>>>;

mod lifecycle;

pub struct BenchSystem {
    pub http: reqwest::Client,
    pub member_url: String,
    pub member_database_url: String,
    pub reservation_database_url: String,
    /// The bench's own read-only pools; they outlive reservation-service restarts.
    pub member_pool: AnyPool,
    pub reservation_pool: AnyPool,
    pub reservation_address: ReservationAddress,
    pub postgres_admin_url: Option<Url>,
    pub bootstrap_servers: String,
    /// The processes whose CPU and memory are read, by component.
    pub watched: Watched,
    member: Option<ServiceProcess>,
    /// member-service's arguments but its listen address (a new port at each start).
    member_arguments: Vec<String>,
    reservation: Option<ServiceProcess>,
    broker: Option<ServiceProcess>,
    reservation_config: reservation_service::Config,
    /// Variables added to both services' environment when they start (the observability phase
    /// turns metrics and tracing on and off with them).
    service_environment: Vec<(String, String)>,
    logs: PathBuf,
    /// The SQLite files' directory, deleted when the run ends.
    databases: TestDatabases,
}

impl BenchSystem {
    pub async fn start(options: &Options) -> Result<Self, BenchError> {
        let logs = options.output.join("logs");
        std::fs::create_dir_all(&logs).map_err(|source| BenchError::Output {
            path: logs.display().to_string(),
            source,
        })?;
        // The services verify the test harness's tokens; every request sends a staff one.
        let http = reqwest::Client::builder()
            .default_headers(auth::authorization(&auth::staff_token()))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(BenchError::http("the HTTP client"))?;
        let (broker, bootstrap_servers) = match &options.kafka_bootstrap_servers {
            Some(servers) => (None, servers.clone()),
            None => {
                let (process, address) = start_embedded_broker(&options.output, &logs).await?;
                (Some(process), address.to_string())
            }
        };
        let external_kafka = broker.is_none();
        let (databases, postgres_admin_url) = match &options.database_url {
            Some(url) => {
                let admin_url = Url::parse(url).map_err(BenchError::DatabaseUrl)?;
                let databases = TestDatabases::Postgres {
                    admin_url: admin_url.clone(),
                };
                (databases, Some(admin_url))
            }
            // On the same disk as the results, not in a temporary directory that may be
            // memory-backed: fsync must cost what it costs.
            None => (
                TestDatabases::Sqlite(TempDir::new_in(&options.output).map_err(|source| {
                    BenchError::Output {
                        path: options.output.display().to_string(),
                        source,
                    }
                })?),
                None,
            ),
        };
        let unique = Uuid::now_v7().simple().to_string();
        let topic = format!("{}-{unique}", Topic::MemberEvents.name());
        let dead_letter_topic = format!("{}-{unique}", Topic::MemberEventsDeadLetter.name());
        stack::create_topics(
            &bootstrap_servers,
            &[
                (topic.as_str(), Topic::MemberEvents.partitions()),
                (
                    dead_letter_topic.as_str(),
                    Topic::MemberEventsDeadLetter.partitions(),
                ),
            ],
        )
        .await
        .map_err(|source| BenchError::Kafka(source.to_string()))?;
        let member_database_url = databases.create("members").await;
        let reservation_database_url = databases.create("reservations").await;
        // The settings the system-tests harness gives its services.
        let mut member_arguments = vec![
            format!("--database-url={member_database_url}"),
            format!("--kafka-bootstrap-servers={bootstrap_servers}"),
            format!("--member-events-topic={topic}"),
            "--kafka-message-timeout-ms=5000".to_owned(),
            format!("--kafka-idempotence={external_kafka}"),
        ];
        member_arguments.extend(
            auth::service_settings()
                .into_iter()
                .map(|(setting, value)| format!("--{setting}={value}")),
        );
        let reservation_config = reservation_service::Config::from_pairs([
            ("database-url", reservation_database_url.clone()),
            ("kafka-bootstrap-servers", bootstrap_servers.clone()),
            ("member-events-topic", topic.clone()),
            ("dead-letter-topic", dead_letter_topic.clone()),
            ("consumer-group", format!("reservation-service-{unique}")),
            // The embedded broker answers fetches only when the wait runs out.
            (
                "kafka-fetch-wait-max-ms",
                if external_kafka { "100" } else { "5" }.to_owned(),
            ),
            ("kafka-commit-interval-ms", "200".to_owned()),
            ("kafka-idempotence", external_kafka.to_string()),
        ])
        .map_err(|error| BenchError::Settings(error.to_string()))?;
        let (member, member_url) =
            lifecycle::start_member(&http, &logs, &member_arguments, &[]).await?;
        let member_pool = read_pool(&member_database_url).await?;
        let mut system = Self {
            http,
            member_url,
            member_pool: member_pool.clone(),
            // Replaced once reservation-service has created its database.
            reservation_pool: member_pool,
            member_database_url,
            reservation_database_url,
            reservation_address: Default::default(),
            postgres_admin_url,
            bootstrap_servers,
            watched: Watched::default(),
            member: Some(member),
            member_arguments,
            reservation: None,
            broker,
            reservation_config,
            service_environment: Vec::new(),
            logs,
            databases,
        };
        system.refresh_watched();
        system.start_consumer().await?;
        system.reservation_pool = read_pool(&system.reservation_database_url).await?;
        Ok(system)
    }

    pub fn describe(&self) -> String {
        let database = if self.postgres_admin_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        };
        let broker = if self.broker.is_some() {
            format!("embedded broker at {}", self.bootstrap_servers)
        } else {
            format!("Kafka at {}", self.bootstrap_servers)
        };
        format!("{database} databases, {broker}; services in their own processes")
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn reservation_url(&self) -> Option<String> {
        self.reservation_address
            .lock()
            .ok()
            .and_then(|address| address.clone())
    }

    /// The PostgreSQL admin URL and the two databases, whose backends' CPU is counted.
    pub fn postgres_databases(&self) -> Option<(String, Vec<String>)> {
        let admin_url = self.postgres_admin_url.as_ref()?;
        let names = [&self.member_database_url, &self.reservation_database_url]
            .into_iter()
            .filter_map(|url| database_name(url))
            .collect();
        Some((admin_url.to_string(), names))
    }

    pub fn embedded_broker(&self) -> bool {
        self.broker.is_some()
    }

    pub fn scratch_database(&self) -> ScratchDatabase {
        match &self.databases {
            TestDatabases::Postgres { .. } => ScratchDatabase::Postgres {
                url: self.member_database_url.clone(),
            },
            TestDatabases::Sqlite(directory) => ScratchDatabase::Sqlite {
                path: directory.path().join("raw-commits.db"),
            },
        }
    }

    /// Stops the services, then the broker; on PostgreSQL drops the two databases the run made.
    pub async fn shut_down(mut self) -> Result<(), BenchError> {
        self.member_pool.close().await;
        self.reservation_pool.close().await;
        self.stop_consumer().await?;
        if let Some(member) = self.member.take() {
            member.terminate().await?;
        }
        if let Some(broker) = self.broker.take() {
            broker.terminate().await?;
        }
        if let Some(admin_url) = &self.postgres_admin_url {
            let names = [&self.member_database_url, &self.reservation_database_url]
                .into_iter()
                .filter_map(|url| database_name(url))
                .collect::<Vec<_>>();
            drop_databases(admin_url, &names).await?;
        }
        Ok(())
    }
}

pub fn database_name(url: &str) -> Option<String> {
    Url::parse(url)
        .ok()
        .map(|url| url.path().trim_start_matches('/').to_owned())
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
