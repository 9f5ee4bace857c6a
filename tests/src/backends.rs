//! The broker and databases a test runs against, embedded/SQLite by default, external when the
//! environment names them.

use std::{net::SocketAddr, path::PathBuf, process::Command};

use sqlx::{Connection, Executor, PgConnection};
use stack::EmbeddedBroker;

use crate::kafka_access::KafkaAccess;
use tempfile::TempDir;
use url::Url;
use uuid::Uuid;

pub enum TestBroker {
    Embedded {
        broker: EmbeddedBroker,
        _storage: TempDir,
    },
    External {
        bootstrap_servers: String,
        /// Boxed: large, and read once per test.
        access: Box<KafkaAccess>,
        control_script: Option<PathBuf>,
        stopped: bool,
    },
}

impl TestBroker {
    pub async fn start() -> Self {
        if let Ok(bootstrap_servers) = std::env::var("KAFKA_BOOTSTRAP_SERVERS") {
            return Self::External {
                bootstrap_servers,
                access: Box::new(KafkaAccess::from_environment()),
                control_script: std::env::var_os("KAFKA_CONTROL_SCRIPT").map(PathBuf::from),
                stopped: false,
            };
        }
        let storage = TempDir::new().expect("temporary directory");
        let broker = EmbeddedBroker::start_gated(
            free_address(),
            free_address(),
            &storage.path().join("broker"),
        )
        .await
        .expect("embedded broker starts");
        Self::Embedded {
            broker,
            _storage: storage,
        }
    }

    /// Stops an embedded broker, its storage closed before its directory is deleted; an external
    /// broker is left running.
    pub async fn shutdown(mut self) {
        if let Self::Embedded { broker, .. } = &mut self {
            broker.close().await;
        }
    }

    /// A broker someone else runs, which tests cannot stop.
    pub fn external(bootstrap_servers: String) -> Self {
        Self::External {
            bootstrap_servers,
            access: Box::default(),
            control_script: None,
            stopped: false,
        }
    }

    /// Who the tests and the services are to the broker: plain text, nobody, for the embedded
    /// one.
    pub fn access(&self) -> KafkaAccess {
        match self {
            Self::Embedded { .. } => KafkaAccess::default(),
            Self::External { access, .. } => access.as_ref().clone(),
        }
    }

    /// A configuration for the harness's own clients of this broker.
    pub fn client_config(&self) -> rdkafka::ClientConfig {
        self.access().harness_client(&self.bootstrap_servers())
    }

    pub fn bootstrap_servers(&self) -> String {
        match self {
            Self::Embedded { broker, .. } => broker.bootstrap_servers(),
            Self::External {
                bootstrap_servers, ..
            } => bootstrap_servers.clone(),
        }
    }

    /// The embedded broker answers fetches only when the wait runs out, so it needs a short one.
    pub fn fetch_wait_max_ms(&self) -> u64 {
        match self {
            Self::Embedded { .. } => 5,
            Self::External { .. } => 100,
        }
    }

    /// tansu 0.6's idempotent-producer check fails after reconnects (a storage panic), so
    /// producers against the embedded broker run without idempotence, one request in flight.
    pub fn supports_idempotence(&self) -> bool {
        matches!(self, Self::External { .. })
    }

    /// Static group membership (`group.instance.id`) as Kafka does it: a member that comes back
    /// under its instance id takes its old place at once. tansu 0.6 pauses every such join 3 s.
    pub fn supports_static_membership(&self) -> bool {
        matches!(self, Self::External { .. })
    }

    /// Whether the broker answers DescribeGroups: the embedded one closes the connection.
    pub fn describes_groups(&self) -> bool {
        matches!(self, Self::External { .. })
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Embedded { broker, .. } => {
                format!("embedded broker at {}", broker.bootstrap_servers())
            }
            Self::External {
                bootstrap_servers,
                access,
                ..
            } => format!("Kafka at {bootstrap_servers} ({})", access.describe()),
        }
    }

    pub async fn stop(&mut self) {
        match self {
            Self::Embedded { broker, .. } => broker.stop().await.expect("embedded broker stops"),
            Self::External {
                control_script,
                stopped,
                ..
            } => {
                // Marked before the script runs: a stop that fails half-way still gets a start.
                *stopped = true;
                run_control_script(control_script.as_ref(), "stop");
            }
        }
    }

    pub async fn restart(&mut self) {
        match self {
            Self::Embedded { broker, .. } => {
                broker.restart().await.expect("embedded broker restarts")
            }
            Self::External {
                control_script,
                stopped,
                ..
            } => {
                run_control_script(control_script.as_ref(), "start");
                // Cleared only once it is up again: a failed start is retried on drop.
                *stopped = false;
            }
        }
    }
}

impl Drop for TestBroker {
    /// A test that failed while the shared external broker was down must not leave it down for
    /// the tests after it.
    fn drop(&mut self) {
        if let Self::External {
            control_script: Some(script),
            stopped: true,
            ..
        } = self
        {
            let _ = Command::new("bash").arg(&*script).arg("start").status();
        }
    }
}

fn run_control_script(script: Option<&PathBuf>, action: &str) {
    let script = script.expect(
        "KAFKA_CONTROL_SCRIPT must name a script taking stop/start when KAFKA_BOOTSTRAP_SERVERS is set: \
         the outage tests stop the real broker",
    );
    let status = Command::new("bash")
        .arg(script)
        .arg(action)
        .status()
        .expect("control script runs");
    assert!(
        status.success(),
        "{} {action} failed: {status}",
        script.display()
    );
}

fn free_address() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address")
}

pub enum TestDatabases {
    Sqlite(TempDir),
    Postgres { admin_url: Url },
}

impl TestDatabases {
    pub fn from_environment() -> Self {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if url.starts_with("postgres") => Self::Postgres {
                admin_url: Url::parse(&url).expect("TEST_DATABASE_URL is a URL"),
            },
            Ok(url) => panic!("TEST_DATABASE_URL must be a postgres:// URL, got {url:?}"),
            Err(_) => Self::Sqlite(TempDir::new().expect("temporary directory")),
        }
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "SQLite",
            Self::Postgres { .. } => "PostgreSQL",
        }
    }

    /// The URL of a new, empty database for one service.
    pub async fn create(&self, service: &str) -> String {
        match self {
            Self::Sqlite(directory) => format!(
                "sqlite://{}",
                directory.path().join(format!("{service}.db")).display()
            ),
            Self::Postgres { admin_url } => {
                let name = format!("test_{service}_{}", Uuid::now_v7().simple());
                let mut admin = PgConnection::connect(admin_url.as_str())
                    .await
                    .expect("TEST_DATABASE_URL accepts connections");
                admin
                    .execute(format!("CREATE DATABASE \"{name}\"").as_str())
                    .await
                    .expect("create test database");
                let mut url = admin_url.clone();
                url.set_path(&name);
                url.to_string()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An external broker whose control script only writes down what it was asked to do.
    fn recording_broker(directory: &TempDir) -> (TestBroker, PathBuf) {
        let log = directory.path().join("actions");
        let script = directory.path().join("control.sh");
        std::fs::write(&script, format!("echo $1 >> '{}'\n", log.display())).expect("script");
        let broker = TestBroker::External {
            bootstrap_servers: "127.0.0.1:9092".to_owned(),
            access: Box::default(),
            control_script: Some(script),
            stopped: false,
        };
        (broker, log)
    }

    fn actions(log: &PathBuf) -> String {
        std::fs::read_to_string(log).unwrap_or_default()
    }

    #[tokio::test]
    async fn a_shared_broker_left_stopped_by_a_test_is_started_again_on_drop() {
        let directory = TempDir::new().expect("temporary directory");
        let (mut broker, log) = recording_broker(&directory);
        broker.stop().await;
        drop(broker);
        assert_eq!(actions(&log), "stop\nstart\n");
    }

    #[tokio::test]
    async fn a_shared_broker_restarted_by_its_test_is_not_started_twice() {
        let directory = TempDir::new().expect("temporary directory");
        let (mut broker, log) = recording_broker(&directory);
        broker.stop().await;
        broker.restart().await;
        drop(broker);
        assert_eq!(actions(&log), "stop\nstart\n");
    }
}
