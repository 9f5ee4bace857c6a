//! Command line, and the plan it resolves to (`--quick` picks shorter phases).

use std::{path::PathBuf, time::Duration};

use clap::Parser;

#[derive(Clone, Debug, Parser)]
#[command(
    name = "alternatives",
    about = "The same member deletion done with events, a direct call and polling, measured side by side"
)]
pub struct Options {
    /// Shorter phases (outage 10 s): under two minutes on 2 cores in a release build.
    #[arg(long)]
    pub quick: bool,

    /// PostgreSQL server (`postgres://user:password@host/database`): fresh databases per way.
    /// SQLite files when absent.
    #[arg(long, env = "BENCH_DATABASE_URL")]
    pub database_url: Option<String>,

    /// An external Kafka for the events way; an embedded broker in this process when absent.
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    pub kafka_bootstrap_servers: Option<String>,

    /// Deletions per second, the same in every phase and way.
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,

    /// How often the poller asks member-service for deletions, in milliseconds.
    #[arg(long, default_value_t = 1_000)]
    pub poll_interval_ms: u64,

    /// The direct call's timeout (connect and answer), in milliseconds.
    #[arg(long, default_value_t = 2_000)]
    pub call_timeout_ms: u64,

    /// How long reservation-service is stopped (default 60 s, quick 10 s).
    #[arg(long)]
    pub outage_seconds: Option<f64>,

    /// Delay injected before every member-service request in the slow phase (polling way).
    #[arg(long, default_value_t = 200)]
    pub slow_member_delay_ms: u64,

    /// Where the CSV files, the plot and (for SQLite) the database files go.
    #[arg(long, default_value = "target/alternatives")]
    pub output: PathBuf,
}

/// The options with every default resolved.
#[derive(Clone, Debug)]
pub struct Plan {
    pub database_url: Option<String>,
    pub kafka_bootstrap_servers: Option<String>,
    pub output: PathBuf,
    pub rate: f64,
    pub reservations_per_member: usize,
    pub setup_concurrency: usize,
    pub steady: Duration,
    /// Load before the stop and after the restart, around the outage.
    pub before_outage: Duration,
    pub outage: Duration,
    pub after_outage: Duration,
    pub slow: Duration,
    pub slow_member_delay: Duration,
    pub poll_interval: Duration,
    /// Twice the poll interval, at least 2 s: far longer than a deleting transaction takes.
    pub poll_look_back: Duration,
    pub call_timeout: Duration,
    /// How long after the load the run waits for cancellations before calling them lost.
    pub cancellation_deadline: Duration,
}

impl Options {
    pub fn plan(&self) -> Plan {
        let (steady, before, outage, after, deadline) = if self.quick {
            (4.0, 2.0, 10.0, 4.0, 20.0)
        } else {
            (20.0, 10.0, 60.0, 20.0, 120.0)
        };
        let poll_interval = Duration::from_millis(self.poll_interval_ms.max(1));
        Plan {
            database_url: self.database_url.clone(),
            kafka_bootstrap_servers: self.kafka_bootstrap_servers.clone(),
            output: self.output.clone(),
            rate: if self.rate.is_finite() && self.rate > 0.0 {
                self.rate
            } else {
                50.0
            },
            reservations_per_member: 2,
            setup_concurrency: 8,
            steady: seconds(steady),
            before_outage: seconds(before),
            outage: seconds(self.outage_seconds.unwrap_or(outage)),
            after_outage: seconds(after),
            slow: seconds(steady),
            slow_member_delay: Duration::from_millis(self.slow_member_delay_ms),
            poll_interval,
            poll_look_back: (poll_interval * 2).max(Duration::from_secs(2)),
            call_timeout: Duration::from_millis(self.call_timeout_ms.max(1)),
            cancellation_deadline: seconds(deadline),
        }
    }
}

impl Plan {
    /// Members a paced phase of `length` deletes.
    pub fn members_for(&self, length: Duration) -> usize {
        (self.rate * length.as_secs_f64()).ceil() as usize
    }
}

/// A duration from seconds given on the command line; negative or malformed means none.
fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or_default()
}
