//! The system under test: each service (and the embedded broker) a process of its own, so
//! that its CPU time and memory can be read apart from the load generator's; reservation-service
//! is stopped and started again for the outage phase.

use std::{path::PathBuf, time::Duration};

use event_schema::Topic;
use sqlx::{AnyPool, Connection, Executor, PgConnection};
use system_tests::{auth, backends::TestDatabases, process::reservation_service_arguments};
use tempfile::TempDir;
use url::Url;
use uuid::Uuid;

use crate::{
    error::BenchError,
    options::Options,
    processes::{
        Role, ServiceProcess, free_address, read_pool, start_embedded_broker, wait_until_healthy,
    },
    resources::{self, Component, Watched},
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

/// How long services restarted between the observability rounds may take to be ready.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// The base URL of reservation-service, which changes when it restarts (a new port).
pub type ReservationAddress = std::sync::Arc<std::sync::Mutex<Option<String>>>;

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
        let (member, member_url) = start_member(&http, &logs, &member_arguments, &[]).await?;
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

    /// Brings the list of watched processes up to date after a child stopped or started.
    fn refresh_watched(&self) {
        let mut pids = vec![(Component::LoadGenerator, std::process::id())];
        for process in [
            self.member.as_ref(),
            self.reservation.as_ref(),
            self.broker.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(pid) = process.pid() {
                pids.push((Component::of_role(process.role()), pid));
            }
        }
        if self.broker.is_none()
            && let Some(pid) = self
                .bootstrap_servers
                .rsplit(':')
                .next()
                .and_then(|port| port.parse().ok())
                .and_then(resources::listening_pid)
        {
            pids.push((Component::Broker, pid));
        }
        if let Ok(mut watched) = self.watched.lock() {
            *watched = pids;
        }
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

    /// Stops reservation-service gracefully (it commits its offsets), as a deployment would.
    pub async fn stop_consumer(&mut self) -> Result<(), BenchError> {
        self.set_reservation_address(None);
        let stopped = match self.reservation.take() {
            Some(process) => process.terminate().await,
            None => Ok(()),
        };
        self.refresh_watched();
        stopped
    }

    /// Starts reservation-service: same database, same consumer group, a new port.
    pub async fn start_consumer(&mut self) -> Result<(), BenchError> {
        let address = free_address()?;
        let mut process = ServiceProcess::spawn(
            Role::ReservationService,
            &reservation_service_arguments(&self.reservation_config, address),
            &self.service_environment,
            &self
                .logs
                .join(format!("reservation-service-{}.log", address.port())),
        )?;
        let url = format!("http://{address}");
        wait_until_healthy(&self.http, &url, &mut process).await?;
        self.reservation = Some(process);
        self.set_reservation_address(Some(url));
        self.refresh_watched();
        Ok(())
    }

    /// Stops both services gracefully and starts them again with `environment` added to their
    /// own: same databases, topic and consumer group, new ports.
    pub async fn restart_services(
        &mut self,
        environment: Vec<(String, String)>,
    ) -> Result<(), BenchError> {
        self.stop_consumer().await?;
        if let Some(member) = self.member.take() {
            member.terminate().await?;
        }
        self.service_environment = environment;
        let (member, url) = start_member(
            &self.http,
            &self.logs,
            &self.member_arguments,
            &self.service_environment,
        )
        .await?;
        self.member = Some(member);
        self.member_url = url;
        self.start_consumer().await
    }

    /// Waits until both services answer `/ready`: reservation-service's consumer holds its
    /// partitions (a group join can take seconds), member-service's relay reaches the broker.
    pub async fn wait_until_ready(&self) -> Result<(), BenchError> {
        let urls = [Some(self.member_url.clone()), self.reservation_url()];
        let give_up = tokio::time::Instant::now() + READY_DEADLINE;
        for url in urls.into_iter().flatten() {
            loop {
                let ready = self.http.get(format!("{url}/ready")).send().await;
                if ready.is_ok_and(|response| response.status().is_success()) {
                    break;
                }
                if tokio::time::Instant::now() >= give_up {
                    return Err(BenchError::Timeout {
                        what: "both services to answer /ready",
                        after: READY_DEADLINE,
                    });
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// Fails when a child has died: a figure measured without it would mean nothing.
    pub fn check_running(&mut self) -> Result<(), BenchError> {
        for process in [
            self.member.as_mut(),
            self.reservation.as_mut(),
            self.broker.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            process.check_running()?;
        }
        Ok(())
    }

    fn set_reservation_address(&self, url: Option<String>) {
        if let Ok(mut address) = self.reservation_address.lock() {
            *address = url;
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

/// Starts member-service on a new port; its process and base URL once it answers.
async fn start_member(
    http: &reqwest::Client,
    logs: &std::path::Path,
    arguments: &[String],
    environment: &[(String, String)],
) -> Result<(ServiceProcess, String), BenchError> {
    let address = free_address()?;
    let mut all_arguments = vec![format!("--listen-address={address}")];
    all_arguments.extend(arguments.iter().cloned());
    let mut process = ServiceProcess::spawn(
        Role::MemberService,
        &all_arguments,
        environment,
        &logs.join(format!("member-service-{}.log", address.port())),
    )?;
    let url = format!("http://{address}");
    wait_until_healthy(http, &url, &mut process).await?;
    Ok((process, url))
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
