//! The running system and the calls tests make on it.

use std::time::Duration;

use event_schema::Topic;
use rdkafka::{
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};
use reqwest::StatusCode;
use reservation_service::events::StatsSnapshot;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sqlx::AnyPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    auth,
    backends::{TestBroker, TestDatabases},
    eventually,
    kafka_access::security_pairs,
    process::{ChildProcess, free_address, reservation_service_arguments, wait_until_answering},
};

/// How long an eventually consistent outcome may take before a test fails. Generous: it bounds
/// a failure, it is not a performance target.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A service on a free port: a task in this process, or a process of its own.
pub struct RunningService {
    pub base_url: String,
    pub pool: AnyPool,
    runner: Runner,
}

enum Runner {
    Task {
        shutdown: CancellationToken,
        task: JoinHandle<anyhow::Result<()>>,
    },
    Process(Box<ChildProcess>),
}

impl RunningService {
    /// Kills the instance without a graceful stop, as a crash or `kill -9` would: a task is
    /// aborted, a process gets SIGKILL.
    pub async fn kill(self) {
        match self.runner {
            Runner::Task { task, .. } => {
                task.abort();
                let _ = task.await;
            }
            Runner::Process(process) => process.kill().await,
        }
    }

    /// Graceful stop: in-flight work finishes, the consumer commits its offsets.
    pub async fn stop(self) {
        match self.runner {
            Runner::Task { shutdown, task } => {
                shutdown.cancel();
                task.await
                    .expect("service task")
                    .expect("service stops cleanly");
            }
            Runner::Process(process) => process.terminate().await,
        }
    }
}

pub struct TestSystem {
    pub broker: TestBroker,
    pub databases: TestDatabases,
    /// Sends a staff token (every scope, any member) on every request: see [`auth`] for others.
    pub http: reqwest::Client,
    pub member: RunningService,
    pub reservation: Option<RunningService>,
    pub topic: String,
    pub dead_letter_topic: String,
    member_config: member_service::Config,
    reservation_config: reservation_service::Config,
}

impl TestSystem {
    /// Backends chosen by the environment (see the crate documentation).
    pub async fn start() -> Self {
        Self::start_with(TestBroker::start().await, TestDatabases::from_environment()).await
    }

    pub async fn start_with(broker: TestBroker, databases: TestDatabases) -> Self {
        init_logging();
        let unique = Uuid::now_v7().simple().to_string();
        let topic = format!("{}-{unique}", Topic::MemberEvents.name());
        let dead_letter_topic = format!("{}-{unique}", Topic::MemberEventsDeadLetter.name());
        let access = broker.access();
        stack::create_topics_as(
            &broker.bootstrap_servers(),
            &access.harness,
            &[
                (topic.as_str(), Topic::MemberEvents.partitions()),
                (
                    dead_letter_topic.as_str(),
                    Topic::MemberEventsDeadLetter.partitions(),
                ),
            ],
        )
        .await
        .expect("topics are created");
        let member_config = member_service::Config::from_pairs(
            [
                ("listen-address", "127.0.0.1:0".to_owned()),
                ("database-url", databases.create("members").await),
                ("kafka-bootstrap-servers", broker.bootstrap_servers()),
                ("member-events-topic", topic.clone()),
                ("kafka-message-timeout-ms", "5000".to_owned()),
                (
                    "kafka-idempotence",
                    broker.supports_idempotence().to_string(),
                ),
            ]
            .into_iter()
            .chain(auth::service_settings())
            .chain(security_pairs(&access.member_service)),
        )
        .expect("member-service config");
        let reservation_config = reservation_service::Config::from_pairs(
            [
                ("listen-address", "127.0.0.1:0".to_owned()),
                ("database-url", databases.create("reservations").await),
                ("kafka-bootstrap-servers", broker.bootstrap_servers()),
                ("member-events-topic", topic.clone()),
                ("dead-letter-topic", dead_letter_topic.clone()),
                ("consumer-group", format!("reservation-service-{unique}")),
                (
                    "kafka-fetch-wait-max-ms",
                    broker.fetch_wait_max_ms().to_string(),
                ),
                ("kafka-commit-interval-ms", "200".to_owned()),
                (
                    "kafka-idempotence",
                    broker.supports_idempotence().to_string(),
                ),
            ]
            .into_iter()
            .chain(auth::service_settings())
            .chain(security_pairs(&access.reservation_service)),
        )
        .expect("reservation-service config");
        eprintln!(
            "test system: {} databases, {}",
            databases.describe(),
            broker.describe()
        );
        let member = start_member_service(member_config.clone()).await;
        let mut system = Self {
            broker,
            databases,
            // A staff token on every request; a request that hangs fails the test.
            http: auth::staff_client(),
            member,
            reservation: None,
            topic,
            dead_letter_topic,
            member_config,
            reservation_config,
        };
        system.start_reservation_service().await;
        system
    }

    pub fn member_url(&self, path: &str) -> String {
        format!("{}{path}", self.member.base_url)
    }

    pub fn reservation_url(&self, path: &str) -> String {
        let service = self
            .reservation
            .as_ref()
            .expect("reservation-service is running");
        format!("{}{path}", service.base_url)
    }

    pub fn reservation_pool(&self) -> AnyPool {
        self.reservation
            .as_ref()
            .expect("reservation-service is running")
            .pool
            .clone()
    }

    pub async fn start_reservation_service(&mut self) {
        assert!(
            self.reservation.is_none(),
            "reservation-service already running"
        );
        self.reservation = Some(start_reservation_service(self.reservation_config.clone()).await);
    }

    /// Starts reservation-service as a process of its own (`reservation-service-process`), with
    /// the settings an in-process start would use, and waits until it answers.
    pub async fn start_reservation_process(&mut self, program: &std::path::Path) {
        assert!(
            self.reservation.is_none(),
            "reservation-service already running"
        );
        let address = free_address();
        let log = std::env::temp_dir().join(format!("reservation-service-{}.log", address.port()));
        let mut process = ChildProcess::spawn(
            program,
            &reservation_service_arguments(&self.reservation_config, address),
            &log,
        );
        let base_url = format!("http://{address}");
        wait_until_answering(&self.http, &format!("{base_url}/health"), &mut process).await;
        self.reservation = Some(RunningService {
            base_url,
            pool: self.reservation_pool_while_stopped().await,
            runner: Runner::Process(Box::new(process)),
        });
    }

    /// Waits up to `limit` for reservation-service's process (`start_reservation_process`) to
    /// end by itself; its exit status and its log.
    pub async fn reservation_process_exit(
        &mut self,
        limit: Duration,
    ) -> (std::process::ExitStatus, String) {
        let service = self
            .reservation
            .take()
            .expect("reservation-service is running");
        match service.runner {
            Runner::Process(process) => process.exit_within(limit).await,
            Runner::Task { .. } => panic!("reservation-service runs as a task, not a process"),
        }
    }

    /// Kills reservation-service without a graceful stop (`kill -9` when it is a process).
    pub async fn kill_reservation_service(&mut self) {
        self.reservation
            .take()
            .expect("reservation-service is running")
            .kill()
            .await;
    }

    /// Another reservation-service instance: same database, same consumer group.
    pub async fn start_reservation_replica(&self) -> RunningService {
        start_reservation_service(self.reservation_config.clone()).await
    }

    /// Another member-service instance on the same database (its relay competes for leadership).
    pub async fn start_member_replica(&self) -> RunningService {
        start_member_service(self.member_config.clone()).await
    }

    pub fn uses_postgres(&self) -> bool {
        matches!(self.databases, TestDatabases::Postgres { .. })
    }

    pub async fn stop_reservation_service(&mut self) {
        self.reservation
            .take()
            .expect("reservation-service is running")
            .stop()
            .await;
    }

    /// Registers a member and waits until reservation-service has heard of it.
    pub async fn register_known_member(&self) -> Uuid {
        let member_id = self.register_member().await;
        self.wait_until_known(member_id).await;
        member_id
    }

    pub async fn register_member(&self) -> Uuid {
        let response = self
            .http
            .post(self.member_url("/members"))
            .json(&json!({ "name": "Grace Hopper", "email": format!("grace-{}@example.com", Uuid::now_v7().simple()) }))
            .send()
            .await
            .expect("POST /members");
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("member json");
        body["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("member id")
    }

    pub async fn wait_until_known(&self, member_id: Uuid) {
        eventually(
            "reservation-service to learn of the member",
            DEADLINE,
            || async {
                let response = self
                    .http
                    .get(self.reservation_url(&format!("/known-members/{member_id}")))
                    .send()
                    .await
                    .ok()?;
                (response.status() == StatusCode::OK).then_some(())
            },
        )
        .await;
    }

    pub async fn delete_member(&self, member_id: Uuid) -> StatusCode {
        self.http
            .delete(self.member_url(&format!("/members/{member_id}")))
            .send()
            .await
            .expect("DELETE /members/{id}")
            .status()
    }

    /// Makes a reservation of a fresh resource and returns its id.
    pub async fn reserve(&self, member_id: Uuid) -> Uuid {
        let (status, body) = self
            .try_reserve(member_id, &format!("room-{}", Uuid::now_v7().simple()))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("reservation id")
    }

    pub async fn try_reserve(&self, member_id: Uuid, resource: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.reservation_url("/reservations"))
            .json(&json!({
                "member_id": member_id,
                "resource": resource,
                "starts_at": "2030-01-01T10:00:00Z",
                "ends_at": "2030-01-01T11:00:00Z",
            }))
            .send()
            .await
            .expect("POST /reservations");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn reservation(&self, id: Uuid) -> Value {
        let response = self
            .http
            .get(self.reservation_url(&format!("/reservations/{id}")))
            .send()
            .await
            .expect("GET /reservations/{id}");
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("reservation json")
    }

    /// Waits until the reservation is cancelled and returns it.
    pub async fn wait_until_cancelled(&self, id: Uuid) -> Value {
        eventually("the reservation to be cancelled", DEADLINE, || async {
            let reservation = self.reservation(id).await;
            (reservation["status"] == "cancelled").then_some(reservation)
        })
        .await
    }

    pub async fn consumer_stats(&self) -> StatsSnapshot {
        serde_json::from_value(self.consumer_view().await).expect("consumer stats json")
    }

    /// All of `GET /consumer`: stats, assigned partitions, lag.
    pub async fn consumer_view(&self) -> Value {
        self.http
            .get(self.reservation_url("/consumer"))
            .send()
            .await
            .expect("GET /consumer")
            .json()
            .await
            .expect("consumer json")
    }

    /// Publishes raw bytes to the member-events topic, as a faulty or replaying producer would.
    pub async fn publish_raw(&self, key: &str, payload: &[u8]) {
        let producer: FutureProducer = self.broker.client_config().create().expect("test producer");
        producer
            .send(
                FutureRecord::to(&self.topic).key(key).payload(payload),
                Timeout::After(DEADLINE),
            )
            .await
            .map_err(|(error, _)| error)
            .expect("raw publish");
    }

    /// The member-service database's outbox rows that still wait to be published.
    pub async fn outbox_backlog(&self) -> i64 {
        let mut connection = self.member.pool.acquire().await.expect("member database");
        member_service::db::outbox::backlog(&mut connection)
            .await
            .expect("backlog")
    }

    pub fn reservation_database_url(&self) -> String {
        self.reservation_config
            .database_url
            .expose_secret()
            .to_owned()
    }

    /// The PostgreSQL database's name (the last path segment of its URL).
    pub fn reservation_database_name(&self) -> String {
        let url = url::Url::parse(&self.reservation_database_url()).expect("database URL");
        url.path().trim_start_matches('/').to_owned()
    }

    /// A pool on reservation-service's database while the service is stopped.
    pub async fn reservation_pool_while_stopped(&self) -> AnyPool {
        AnyPool::connect(&self.reservation_database_url())
            .await
            .expect("reservation database")
    }

    /// Settings the next reservation-service start uses.
    pub fn reservation_config_mut(&mut self) -> &mut reservation_service::Config {
        &mut self.reservation_config
    }

    /// Stops member-service gracefully and starts it again on the same database.
    pub async fn restart_member_service(&mut self) {
        let replacement = start_member_service(self.member_config.clone()).await;
        std::mem::replace(&mut self.member, replacement)
            .stop()
            .await;
    }

    /// Settings the next member-service start uses.
    pub fn member_config_mut(&mut self) -> &mut member_service::Config {
        &mut self.member_config
    }

    pub fn member_config(&self) -> &member_service::Config {
        &self.member_config
    }
}

/// Both services run in this process, and a process has one metrics recorder: member-service
/// installs it and reservation-service records into the same one (`metrics/recorder.rs`).
fn share_the_metrics_recorder() {
    let handle = member_service::metrics::install().expect("the metrics recorder");
    reservation_service::metrics::share(handle);
}

async fn start_member_service(config: member_service::Config) -> RunningService {
    share_the_metrics_recorder();
    let application = member_service::Application::build(config)
        .await
        .expect("member-service builds");
    RunningService {
        base_url: format!("http://127.0.0.1:{}", application.port()),
        pool: application.pool(),
        runner: Runner::Task {
            shutdown: application.shutdown_token(),
            task: tokio::spawn(application.run_until_stopped()),
        },
    }
}

async fn start_reservation_service(config: reservation_service::Config) -> RunningService {
    share_the_metrics_recorder();
    let application = reservation_service::Application::build(config)
        .await
        .expect("reservation-service builds");
    RunningService {
        base_url: format!("http://127.0.0.1:{}", application.port()),
        pool: application.pool(),
        runner: Runner::Task {
            shutdown: application.shutdown_token(),
            task: tokio::spawn(application.run_until_stopped()),
        },
    }
}

/// Logs go through the test writer, so they show for failing tests only; `RUST_LOG` filters.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,tansu_storage=error,tansu_broker=error")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}
