//! Command-line options, and the plan they resolve to (`--quick` picks smaller defaults).

use std::{path::PathBuf, time::Duration};

use clap::Parser;

#[derive(Clone, Debug, Parser)]
#[command(
    name = "bench",
    about = "How fast a member deletion becomes cancelled reservations, against this machine's raw commit rate"
)]
pub struct Options {
    /// A run that finishes in under a minute on 2 cores (CI): fewer members, short phases.
    #[arg(long)]
    pub quick: bool,

    /// PostgreSQL server to run on (`postgres://user:password@host/database`, used to create one
    /// fresh database per service and the raw-commit scratch table). SQLite files when absent.
    #[arg(long, env = "BENCH_DATABASE_URL")]
    pub database_url: Option<String>,

    /// An external Kafka (`host:port`); an embedded broker in this process when absent.
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    pub kafka_bootstrap_servers: Option<String>,

    /// Concurrent HTTP clients in the maximum-rate phase, and connections in the raw baseline.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,

    /// Reservations made for each member before it is deleted.
    #[arg(long, default_value_t = 2)]
    pub reservations_per_member: usize,

    /// Members deleted as fast as possible (default 5000, quick 1000).
    #[arg(long)]
    pub max_rate_deletions: Option<usize>,

    /// Target rate of the paced phase, deletions per second (default: half the maximum rate).
    #[arg(long)]
    pub rate: Option<f64>,

    /// Length of the paced phase (default 20 s, quick 3 s).
    #[arg(long)]
    pub paced_seconds: Option<f64>,

    /// reservation-service is stopped this long while deletions continue at the paced rate
    /// (default 60 s, quick 3 s; 0 skips the outage phase).
    #[arg(long)]
    pub outage_seconds: Option<f64>,

    /// Members deleted in the last phase, which counts the rows and statements each deletion
    /// writes (default 1000, quick 200; 0 skips it).
    #[arg(long)]
    pub counted_deletions: Option<usize>,

    /// Members deleted in each of the six rounds that measure the cost of metrics and tracing
    /// (default 10000, quick 400; 0 skips them).
    #[arg(long)]
    pub observability_deletions: Option<usize>,

    /// Length of the raw single-row commit baseline (default 10 s, quick 3 s).
    #[arg(long)]
    pub baseline_seconds: Option<f64>,

    /// Where the CSV files, the plots and (for SQLite) the database files go.
    #[arg(long, default_value = "target/bench")]
    pub output: PathBuf,
}

/// The options with every default resolved.
#[derive(Clone, Debug)]
pub struct Plan {
    pub concurrency: usize,
    pub reservations_per_member: usize,
    pub max_rate_deletions: usize,
    pub rate: Option<f64>,
    pub paced: Duration,
    pub outage: Duration,
    pub baseline: Duration,
    pub counted_deletions: usize,
    pub observability_deletions: usize,
}

impl Options {
    pub fn plan(&self) -> Plan {
        let (deletions, paced, outage, baseline, counted, observability) = if self.quick {
            (1000, 3.0, 3.0, 3.0, 200, 400)
        } else {
            (5000, 20.0, 60.0, 10.0, 1000, 10000)
        };
        Plan {
            concurrency: self.concurrency.max(1),
            reservations_per_member: self.reservations_per_member,
            max_rate_deletions: self.max_rate_deletions.unwrap_or(deletions).max(1),
            rate: self.rate.filter(|rate| rate.is_finite() && *rate > 0.0),
            paced: seconds(self.paced_seconds.unwrap_or(paced)),
            outage: seconds(self.outage_seconds.unwrap_or(outage)),
            baseline: seconds(self.baseline_seconds.unwrap_or(baseline)),
            counted_deletions: self.counted_deletions.unwrap_or(counted),
            observability_deletions: self.observability_deletions.unwrap_or(observability),
        }
    }
}

/// A duration from seconds given on the command line; negative or malformed means none.
fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or_default()
}
