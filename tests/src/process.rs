//! Services as child processes, for the faults only a whole process can show: `kill -9` of a
//! process leaves no destructor, no flush and no group leave behind, unlike a task aborted
//! inside the test's own process.
//!
//! The programs are this crate's `stack-process` and `reservation-service-process` binaries,
//! whose `main` is the same one line as the shipped `stack` and `reservation-service` binaries.

use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use secrecy::ExposeSecret;
use tokio::process::{Child, Command};

use crate::eventually;

/// A running child process; killed (SIGKILL) if dropped while still running.
pub struct ChildProcess {
    child: Child,
    name: String,
    log: PathBuf,
}

impl ChildProcess {
    /// Starts `program` with `arguments`; its output goes to `log`.
    pub fn spawn(program: &Path, arguments: &[String], log: &Path) -> Self {
        let output = std::fs::File::create(log).expect("child log file");
        let mut command = Command::new(program);
        // The arguments are the child's whole configuration: a `NAME_FILE` inherited from the
        // tests' environment (the harness's Kafka password) would be a second value for a
        // setting the arguments give.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().ends_with("_FILE") {
                command.env_remove(name);
            }
        }
        let child = command
            .args(arguments)
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("child log file"))
            .stderr(output)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", program.display()));
        Self {
            child,
            name: program
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
            log: log.to_owned(),
        }
    }

    /// `kill -9`: the process ends at once, in the middle of whatever it was doing.
    pub async fn kill(mut self) {
        self.child.start_kill().expect("SIGKILL");
        let _ = self.child.wait().await;
    }

    /// SIGTERM, then waits for a clean exit.
    pub async fn terminate(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not stop within 60 s", self.name))
            .expect("child status");
        assert!(status.success(), "{} exited with {status}", self.name);
    }

    /// Waits up to `limit` for the process to end by itself; its status and its log.
    pub async fn exit_within(mut self, limit: Duration) -> (std::process::ExitStatus, String) {
        let status = tokio::time::timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} still running after {limit:?}", self.name))
            .expect("child status");
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        (status, log)
    }

    /// Fails the test if the process has exited, showing the end of its log.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            panic!(
                "{} exited with {status}; last lines of its log:\n{}",
                self.name,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
}

/// A binary of this crate, next to the running test or tool (`target/<profile>/`).
pub fn sibling_binary(name: &str) -> PathBuf {
    let current = std::env::current_exe().expect("current executable");
    let mut directory = current.parent().expect("executable directory").to_owned();
    if directory.ends_with("deps") {
        directory.pop();
    }
    directory.join(name)
}

/// An address with a port free now, for a child that must listen where the test expects it.
pub fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
}

/// Waits until `url` answers 200.
pub async fn wait_until_answering(http: &reqwest::Client, url: &str, process: &mut ChildProcess) {
    eventually(&format!("{url} to answer"), crate::system::DEADLINE, || {
        process.assert_running();
        async move {
            let response = http.get(url).send().await.ok()?;
            response.status().is_success().then_some(())
        }
    })
    .await;
}

/// The command line that makes a reservation-service process run with `config`, listening on
/// `address`.
pub fn reservation_service_arguments(
    config: &reservation_service::Config,
    address: SocketAddr,
) -> Vec<String> {
    let mut arguments = vec![
        format!("--listen-address={address}"),
        format!("--database-url={}", config.database_url.expose_secret()),
        format!(
            "--kafka-bootstrap-servers={}",
            config.kafka_bootstrap_servers
        ),
        format!("--member-events-topic={}", config.member_events_topic),
        format!("--dead-letter-topic={}", config.dead_letter_topic),
        format!("--consumer-group={}", config.consumer_group),
        format!(
            "--kafka-fetch-wait-max-ms={}",
            config.kafka_fetch_wait_max.as_millis()
        ),
        format!(
            "--kafka-commit-interval-ms={}",
            config.kafka_commit_interval.as_millis()
        ),
        format!("--kafka-idempotence={}", config.kafka_idempotence),
        format!(
            "--kafka-session-timeout-ms={}",
            config.kafka_session_timeout.as_millis()
        ),
    ];
    for (setting, value) in crate::auth::service_settings() {
        arguments.push(format!("--{setting}={value}"));
    }
    arguments.extend(
        config
            .kafka_security
            .to_flags()
            .into_iter()
            .map(|(flag, value)| format!("--{flag}={value}")),
    );
    if let Some(instance) = &config.kafka_group_instance_id {
        arguments.push(format!("--kafka-group-instance-id={instance}"));
    }
    arguments
}
