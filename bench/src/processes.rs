//! The services (and the embedded broker) as processes of their own, so that the benchmark can
//! read each one's CPU time and memory from `/proc` apart from its own load generator.
//!
//! The children are this binary started again with a hidden first argument (see
//! [`child`](crate::child)).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use sqlx::{AnyPool, any::AnyPoolOptions};
use tokio::process::{Child, Command};

use crate::error::BenchError;

use crate::child::{SERVE_BROKER, SERVE_MEMBER, SERVE_RESERVATION};

/// How long a child may take to answer after it starts.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// How long a child may take to stop after SIGTERM before it is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(60);

/// What a child process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    MemberService,
    ReservationService,
    EmbeddedBroker,
}

impl Role {
    fn argument(self) -> &'static str {
        match self {
            Self::MemberService => SERVE_MEMBER,
            Self::ReservationService => SERVE_RESERVATION,
            Self::EmbeddedBroker => SERVE_BROKER,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::MemberService => "member-service",
            Self::ReservationService => "reservation-service",
            Self::EmbeddedBroker => "broker",
        }
    }
}

/// A running child; killed if dropped while still running.
pub struct ServiceProcess {
    child: Child,
    role: Role,
    log: PathBuf,
}

impl ServiceProcess {
    /// Starts this binary again as `role` with `arguments`; its output goes to `log`.
    /// `environment` is added to this process's own.
    pub fn spawn(
        role: Role,
        arguments: &[String],
        environment: &[(String, String)],
        log: &Path,
    ) -> Result<Self, BenchError> {
        let program = std::env::current_exe().map_err(output_error(log))?;
        let output = std::fs::File::create(log).map_err(output_error(log))?;
        let error_output = output.try_clone().map_err(output_error(log))?;
        let child = Command::new(program)
            .arg(role.argument())
            .args(arguments)
            .env(
                "RUST_LOG",
                std::env::var("BENCH_CHILD_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .env("NO_COLOR", "1")
            .envs(environment.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(error_output)
            .kill_on_drop(true)
            .spawn()
            .map_err(output_error(log))?;
        Ok(Self {
            child,
            role,
            log: log.to_owned(),
        })
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// An error carrying the end of the log when the child has exited.
    pub fn check_running(&mut self) -> Result<(), BenchError> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(BenchError::ChildExited {
                name: self.role.name(),
                status: status.to_string(),
                log_tail: log_tail(&self.log),
            }),
            _ => Ok(()),
        }
    }

    /// SIGTERM (a graceful stop: the consumer commits its offsets), then waits for the exit.
    pub async fn terminate(mut self) -> Result<(), BenchError> {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        match tokio::time::timeout(STOP_DEADLINE, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(BenchError::ChildExited {
                name: self.role.name(),
                status: status.to_string(),
                log_tail: log_tail(&self.log),
            }),
            Ok(Err(_)) | Err(_) => {
                let _ = self.child.start_kill();
                Err(BenchError::Timeout {
                    what: "a child process to stop",
                    after: STOP_DEADLINE,
                })
            }
        }
    }
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(20).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

fn output_error(path: &Path) -> impl FnOnce(std::io::Error) -> BenchError + '_ {
    move |source| BenchError::Output {
        path: path.display().to_string(),
        source,
    }
}

pub async fn start_embedded_broker(
    output: &std::path::Path,
    logs: &std::path::Path,
) -> Result<(ServiceProcess, SocketAddr), BenchError> {
    let address = free_address()?;
    let storage = output.join(format!("broker-{}", address.port()));
    let mut process = ServiceProcess::spawn(
        Role::EmbeddedBroker,
        &[address.to_string(), storage.display().to_string()],
        &[],
        &logs.join("broker.log"),
    )?;
    let give_up = tokio::time::Instant::now() + START_DEADLINE;
    while tokio::net::TcpStream::connect(address).await.is_err() {
        process.check_running()?;
        if tokio::time::Instant::now() >= give_up {
            return Err(BenchError::Timeout {
                what: "the embedded broker to listen",
                after: START_DEADLINE,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((process, address))
}

pub async fn wait_until_healthy(
    http: &reqwest::Client,
    base_url: &str,
    process: &mut ServiceProcess,
) -> Result<(), BenchError> {
    let give_up = tokio::time::Instant::now() + START_DEADLINE;
    loop {
        process.check_running()?;
        if let Ok(response) = http.get(format!("{base_url}/health")).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() >= give_up {
            return Err(BenchError::Timeout {
                what: "a service to answer /health",
                after: START_DEADLINE,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A small pool of the bench's own for reading a service's database (no migrations: the
/// service owns its schema).
pub async fn read_pool(url: &str) -> Result<AnyPool, BenchError> {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new()
        .max_connections(4)
        .connect(url)
        .await
        .map_err(BenchError::database("a service database"))
}

pub fn free_address() -> Result<SocketAddr, BenchError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|source| BenchError::Output {
            path: "a free port".to_owned(),
            source,
        })
}
