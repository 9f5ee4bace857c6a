//! CPU time and resident memory per component, read from `/proc` while a phase runs: the two
//! services and the embedded broker (child processes), the Kafka broker (the process listening
//! on the bootstrap port), the PostgreSQL backends serving the two databases, and this process
//! (the load generator and its samplers).

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use sqlx::{Connection, PgConnection, Row};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::processes::Role;

const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// PostgreSQL backends come and go with the pools; their list is read again this often.
const BACKENDS_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    PostgresBackends,
    Broker,
    MemberService,
    ReservationService,
    LoadGenerator,
}

impl Component {
    pub const ALL: [Self; 5] = [
        Self::PostgresBackends,
        Self::Broker,
        Self::MemberService,
        Self::ReservationService,
        Self::LoadGenerator,
    ];

    pub fn of_role(role: Role) -> Self {
        match role {
            Role::MemberService => Self::MemberService,
            Role::ReservationService => Self::ReservationService,
            Role::EmbeddedBroker => Self::Broker,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::PostgresBackends => "postgres backends",
            Self::Broker => "broker",
            Self::MemberService => "member-service",
            Self::ReservationService => "reservation-service",
            Self::LoadGenerator => "load generator",
        }
    }

    /// Column-safe name for the CSV.
    pub fn key(self) -> &'static str {
        match self {
            Self::PostgresBackends => "postgres",
            Self::Broker => "broker",
            Self::MemberService => "member_service",
            Self::ReservationService => "reservation_service",
            Self::LoadGenerator => "load_generator",
        }
    }
}

/// What one phase cost each component.
#[derive(Clone, Debug, Default)]
pub struct PhaseResources {
    pub elapsed: Duration,
    pub cpu_seconds: BTreeMap<Component, f64>,
    /// Highest resident set seen (sampled every 100 ms). Not given for PostgreSQL, whose
    /// backends share their buffers: a sum of their RSS counts the same pages many times.
    pub peak_rss_bytes: BTreeMap<Component, u64>,
}

/// The processes to watch, kept current by the system as children stop and start.
pub type Watched = Arc<Mutex<Vec<(Component, u32)>>>;

/// Samples from `start` until `finish`.
pub struct Meter {
    started: Instant,
    stop: CancellationToken,
    task: JoinHandle<Accounts>,
}

#[derive(Default)]
struct Accounts {
    /// Per process: its component, CPU ticks when first seen, CPU ticks when last seen.
    cpu: HashMap<u32, (Component, u64, u64)>,
    peak_rss: BTreeMap<Component, u64>,
}

impl Meter {
    /// `postgres`: the admin URL and the two databases whose backends count.
    pub fn start(watched: Watched, postgres: Option<(String, Vec<String>)>) -> Self {
        let stop = CancellationToken::new();
        let task = tokio::spawn(sample(watched, postgres, stop.clone()));
        Self {
            started: Instant::now(),
            stop,
            task,
        }
    }

    pub async fn finish(self) -> PhaseResources {
        self.stop.cancel();
        let accounts = self.task.await.unwrap_or_default();
        let ticks_per_second = clock_ticks_per_second();
        let mut cpu_seconds = BTreeMap::new();
        for (component, first, last) in accounts.cpu.values() {
            *cpu_seconds.entry(*component).or_insert(0.0) +=
                last.saturating_sub(*first) as f64 / ticks_per_second;
        }
        PhaseResources {
            elapsed: self.started.elapsed(),
            cpu_seconds,
            peak_rss_bytes: accounts.peak_rss,
        }
    }
}

async fn sample(
    watched: Watched,
    postgres: Option<(String, Vec<String>)>,
    stop: CancellationToken,
) -> Accounts {
    let mut accounts = Accounts::default();
    let mut admin = match &postgres {
        Some((url, _)) => PgConnection::connect(url).await.ok(),
        None => None,
    };
    let mut backends: Vec<u32> = Vec::new();
    let mut backends_read: Option<Instant> = None;
    let mut first_round = true;
    let mut ticks = tokio::time::interval(SAMPLE_EVERY);
    loop {
        let stopping = tokio::select! {
            () = stop.cancelled() => true,
            _ = ticks.tick() => false,
        };
        if let (Some(connection), Some((_, databases))) = (admin.as_mut(), &postgres)
            && backends_read.is_none_or(|read| read.elapsed() >= BACKENDS_EVERY)
        {
            backends = backend_pids(connection, databases).await;
            backends_read = Some(Instant::now());
        }
        let mut processes = watched.lock().map(|list| list.clone()).unwrap_or_default();
        processes.extend(
            backends
                .iter()
                .map(|pid| (Component::PostgresBackends, *pid)),
        );
        let mut rss: BTreeMap<Component, u64> = BTreeMap::new();
        for (component, pid) in processes {
            let Some(ticks) = cpu_ticks(pid) else {
                continue;
            };
            // A process already running when the phase began counts from then; one born during
            // the phase (a restarted service, a new backend) counts from its start.
            let first = if first_round { ticks } else { 0 };
            accounts
                .cpu
                .entry(pid)
                .and_modify(|entry| entry.2 = ticks)
                .or_insert((component, first, ticks));
            if component != Component::PostgresBackends
                && let Some(bytes) = resident_bytes(pid)
            {
                *rss.entry(component).or_insert(0) += bytes;
            }
        }
        for (component, bytes) in rss {
            let peak = accounts.peak_rss.entry(component).or_insert(0);
            *peak = (*peak).max(bytes);
        }
        first_round = false;
        if stopping {
            break;
        }
    }
    if let Some(connection) = admin {
        let _ = connection.close().await;
    }
    accounts
}

async fn backend_pids(connection: &mut PgConnection, databases: &[String]) -> Vec<u32> {
    sqlx::query("/* bench */ SELECT pid FROM pg_stat_activity WHERE datname = ANY($1)")
        .bind(databases)
        .fetch_all(connection)
        .await
        .map(|rows| {
            rows.iter()
                .filter_map(|row| row.try_get::<i32, _>("pid").ok())
                .filter_map(|pid| u32::try_from(pid).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// utime + stime of a process, in clock ticks (fields 14 and 15 of `/proc/<pid>/stat`, counted
/// after the command name, which may hold spaces and ends at the last `)`).
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state): utime is field 14, stime field 15.
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(user + system)
}

fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kibibytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kibibytes * 1024)
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The process listening on `port` (the external Kafka broker): the socket's inode from
/// `/proc/net/tcp*`, then the process holding it.
pub fn listening_pid(port: u16) -> Option<u32> {
    let wanted = format!(":{port:04X}");
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local address, state 0A (LISTEN), inode.
            if fields.get(1).is_some_and(|local| local.ends_with(&wanted))
                && fields.get(3) == Some(&"0A")
                && let Some(inode) = fields.get(9)
            {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    let processes = std::fs::read_dir("/proc").ok()?;
    for process in processes.flatten() {
        let Some(pid) = process
            .file_name()
            .to_str()
            .and_then(|name| name.parse().ok())
        else {
            continue;
        };
        let Ok(descriptors) = std::fs::read_dir(process.path().join("fd")) else {
            continue;
        };
        for descriptor in descriptors.flatten() {
            if let Ok(target) = std::fs::read_link(descriptor.path())
                && inodes
                    .iter()
                    .any(|inode| target.as_os_str() == inode.as_str())
            {
                return Some(pid);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let pid = std::process::id();
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_millis(50) {
            std::hint::black_box(0u64);
        }
        assert!(cpu_ticks(pid).is_some_and(|ticks| ticks > 0));
        assert!(resident_bytes(pid).is_some_and(|bytes| bytes > 1024 * 1024));
    }

    #[test]
    fn the_listener_of_a_port_is_this_process() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
        let port = listener.local_addr().expect("address").port();
        assert_eq!(listening_pid(port), Some(std::process::id()));
    }
}
