//! The consumer's health, checked in the background about once a second, so that `/ready`
//! answers from memory at once, also while the broker or the database hangs (a probe with a
//! 1 s timeout must get its 503, not a timeout).
//!
//! Besides the database and the broker it watches for the silent failures: a consumer that
//! holds no partitions while its topic has some, or has lag and applies nothing. Either one,
//! past the grace period, makes the service not ready and is logged as a warning.

use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use sqlx::AnyPool;
use tokio_util::sync::CancellationToken;

use super::{ConsumerProbe, ConsumerStats, PartitionLag, StatsSnapshot};
use crate::{
    db,
    domain::{ConsumerObservation, NotReady, assess},
};

/// What the last check found, shared with the HTTP handlers.
#[derive(Clone, Debug, Default)]
pub struct HealthReport {
    pub observation: ConsumerObservation,
    /// Empty when ready.
    pub not_ready: Vec<NotReady>,
    pub assigned_partitions: Vec<i32>,
    pub topic_partitions: Option<usize>,
    pub total_lag: Option<i64>,
}

/// The latest [`HealthReport`]; starts out "starting" (not ready) until the first check.
#[derive(Debug)]
pub struct ConsumerHealth {
    report: RwLock<HealthReport>,
}

impl Default for ConsumerHealth {
    fn default() -> Self {
        Self {
            report: RwLock::new(HealthReport {
                not_ready: vec![NotReady::Starting],
                ..HealthReport::default()
            }),
        }
    }
}

impl ConsumerHealth {
    pub fn report(&self) -> HealthReport {
        self.report
            .read()
            .map(|report| report.clone())
            .unwrap_or_default()
    }

    /// The consumer stopped for good: not ready from now on, without waiting for the next check.
    pub fn consumer_stopped(&self) {
        if let Ok(mut report) = self.report.write() {
            report.observation.stopped = true;
            if !report.not_ready.contains(&NotReady::ConsumerStopped) {
                report.not_ready.push(NotReady::ConsumerStopped);
            }
        }
    }

    fn publish(&self, report: HealthReport) {
        if let Ok(mut current) = self.report.write() {
            *current = report;
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct HealthSettings {
    /// How long the consumer may hold no partitions, or have lag without progress, before the
    /// service is not ready: longer than a rebalance and the broker's session timeout.
    pub stall_grace: Duration,
    pub check_interval: Duration,
}

pub struct HealthMonitor {
    pub probe: ConsumerProbe,
    pub pool: AnyPool,
    pub stats: Arc<ConsumerStats>,
    pub health: Arc<ConsumerHealth>,
    pub settings: HealthSettings,
}

/// When each bad condition began, carried from one check to the next.
#[derive(Default)]
struct Onsets {
    without_partitions: Option<Instant>,
    stalled: Option<Instant>,
    batches_seen: u64,
    /// Partitions whose lag the metrics last showed.
    lag_reported: Vec<i32>,
}

impl HealthMonitor {
    /// Checks until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut interval = tokio::time::interval(self.settings.check_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut onsets = Onsets::default();
        let mut reported: Vec<NotReady> = Vec::new();
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                () = shutdown.cancelled() => break,
            }
            let report = self.check(&mut onsets).await;
            log_change(&reported, &report);
            reported.clone_from(&report.not_ready);
            self.health.publish(report);
        }
    }

    async fn check(&self, onsets: &mut Onsets) -> HealthReport {
        let timeout = Duration::from_secs(2);
        let database = match tokio::time::timeout(timeout, db::ping(&self.pool)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("no answer within 2 s".to_owned()),
        };
        let topic = self.probe.check().await;
        let assigned_partitions = self.probe.assigned_partitions().await;
        let lags = match (&topic, assigned_partitions.is_empty()) {
            (Ok(_), false) => self.probe.lag().await.ok(),
            _ => None,
        };
        let total_lag = lags
            .as_ref()
            .map(|lag| lag.iter().map(|partition| partition.lag).sum::<i64>());
        let stats = self.stats.snapshot();
        let lags = lags.unwrap_or_default();
        let reported = &mut onsets.lag_reported;
        self.observe(&lags, &assigned_partitions, &stats, reported)
            .await;
        let now = Instant::now();

        let topic_partitions = topic.as_ref().ok().copied();
        let holds_none = topic_partitions.is_some_and(|count| count > 0)
            && assigned_partitions.is_empty()
            && !stats.stopped;
        let without_partitions_for = lasted(&mut onsets.without_partitions, holds_none, now);
        let stalled = total_lag.is_some_and(|lag| lag > 0) && stats.batches == onsets.batches_seen;
        onsets.batches_seen = stats.batches;
        let stalled_for = lasted(&mut onsets.stalled, stalled, now);

        let observation = ConsumerObservation {
            database: Some(database),
            broker: Some(topic.map(|_| ())),
            retrying: stats.failing,
            stopped: stats.stopped,
            without_partitions_for,
            stalled_for,
        };
        HealthReport {
            not_ready: assess(&observation, self.settings.stall_grace),
            observation,
            assigned_partitions,
            topic_partitions,
            total_lag,
        }
    }
}

impl HealthMonitor {
    /// Sets the consumer's gauges from this check: lag per partition held (0 for one no longer
    /// held: its new holder reports it; the last figure while the broker does not answer), the
    /// state, and the parked events waiting (a bounded count, here once a second rather than
    /// at each scrape, so that a scrape costs no database round trip).
    async fn observe(
        &self,
        lags: &[PartitionLag],
        assigned: &[i32],
        stats: &StatsSnapshot,
        reported: &mut Vec<i32>,
    ) {
        let lags: Vec<(i32, i64)> = lags.iter().map(|lag| (lag.partition, lag.lag)).collect();
        let released: Vec<i32> = reported
            .iter()
            .copied()
            .filter(|partition| !assigned.contains(partition))
            .collect();
        reported.retain(|partition| assigned.contains(partition));
        for (partition, _) in &lags {
            if !reported.contains(partition) {
                reported.push(*partition);
            }
        }
        let state = match (stats.stopped, stats.failing) {
            (true, _) => "stopped",
            (false, true) => "retrying",
            (false, false) => "running",
        };
        let count = async {
            let mut connection = self.pool.acquire().await?;
            db::parked_events::count_waiting(&mut connection).await
        };
        let parked = tokio::time::timeout(Duration::from_secs(2), count)
            .await
            .ok()
            .and_then(Result::ok);
        crate::metrics::consumer_observed(&lags, &released, state, parked);
    }
}

/// How long `condition` has held, remembering when it began.
fn lasted(onset: &mut Option<Instant>, condition: bool, now: Instant) -> Option<Duration> {
    if condition {
        Some(now.duration_since(*onset.get_or_insert(now)))
    } else {
        *onset = None;
        None
    }
}

/// A warning when the service stops being ready (with the underlying errors, which the HTTP
/// answer does not carry), a line when it is ready again.
fn log_change(before: &[NotReady], report: &HealthReport) {
    let now = &report.not_ready;
    let kinds = |reasons: &[NotReady]| {
        reasons
            .iter()
            .map(std::mem::discriminant)
            .collect::<Vec<_>>()
    };
    if kinds(before) == kinds(now) {
        return;
    }
    if now.is_empty() {
        tracing::info!("reservation-service is ready");
        return;
    }
    let reasons: Vec<String> = now.iter().map(ToString::to_string).collect();
    let errors = |result: &Option<Result<(), String>>| match result {
        Some(Err(error)) => error.clone(),
        _ => String::new(),
    };
    tracing::warn!(
        reasons = reasons.join("; "),
        database_error = errors(&report.observation.database),
        broker_error = errors(&report.observation.broker),
        assigned_partitions = ?report.assigned_partitions,
        "reservation-service is not ready"
    );
}
