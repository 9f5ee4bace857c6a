//! Whether the database and the broker answer, and how many events wait, checked in the
//! background about once a second, so that `/ready` answers from memory at once, also while the
//! broker is down (its metadata round trip alone then takes 2 s) or the database hangs.

use std::{
    sync::{Arc, PoisonError, RwLock},
    time::{Duration, Instant},
};

use sqlx::AnyPool;
use tokio_util::sync::CancellationToken;

use super::BrokerProbe;
use crate::{db, metrics};

const CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// The broker check gives up after 2 s; the database gets as long.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

/// What one check found. An error holds the driver's text, for the log; `/ready` names the
/// failure without quoting it.
#[derive(Clone, Debug)]
pub struct HealthReport {
    pub database: Result<(), String>,
    pub broker: Result<(), String>,
    /// Events waiting to be published; `None` when the database did not answer.
    pub outbox_backlog: Option<i64>,
    pub checked_at: Instant,
}

impl HealthReport {
    /// A report older than this is not believed: the checks themselves are stuck.
    pub const STALE_AFTER: Duration = Duration::from_secs(10);

    pub fn is_healthy(&self) -> bool {
        self.database.is_ok() && self.broker.is_ok()
    }

    pub fn is_stale(&self) -> bool {
        self.checked_at.elapsed() > Self::STALE_AFTER
    }
}

/// The latest [`HealthReport`], shared by the monitor and the HTTP handlers; empty until the
/// first check completes.
#[derive(Clone, Debug, Default)]
pub struct Health(Arc<RwLock<Option<HealthReport>>>);

impl Health {
    pub fn latest(&self) -> Option<HealthReport> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the report: the monitor's way in, and a test's.
    pub fn publish(&self, report: HealthReport) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(report);
    }
}

pub struct HealthMonitor {
    pool: AnyPool,
    broker: BrokerProbe,
    health: Health,
}

impl HealthMonitor {
    pub fn new(pool: AnyPool, broker: BrokerProbe, health: Health) -> Self {
        Self {
            pool,
            broker,
            health,
        }
    }

    /// Checks until `shutdown` is cancelled, the first time at once.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut interval = tokio::time::interval(CHECK_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut previous: Option<HealthReport> = None;
        loop {
            let report = tokio::select! {
                report = async {
                    interval.tick().await;
                    self.check().await
                } => report,
                () = shutdown.cancelled() => break,
            };
            log_change(previous.as_ref(), &report);
            self.health.publish(report.clone());
            previous = Some(report);
        }
    }

    async fn check(&self) -> HealthReport {
        let (database, broker) = tokio::join!(self.outbox_backlog(), self.broker.check());
        let (database, outbox_backlog) = match database {
            Ok(backlog) => (Ok(()), Some(backlog)),
            Err(error) => (Err(error), None),
        };
        HealthReport {
            database,
            broker,
            outbox_backlog,
            checked_at: Instant::now(),
        }
    }

    /// Counting the backlog is the database check too: readiness needs nothing simpler. The
    /// metrics of the backlog are set here, from the same connection.
    async fn outbox_backlog(&self) -> Result<i64, String> {
        let count = async {
            let mut connection = self.pool.acquire().await?;
            let backlog = db::outbox::backlog(&mut connection).await?;
            let oldest = db::outbox::oldest_waiting(&mut connection).await?;
            metrics::outbox_observed(backlog, oldest, db::time::now());
            Ok::<_, sqlx::Error>(backlog)
        };
        match tokio::time::timeout(DATABASE_TIMEOUT, count).await {
            Ok(counted) => counted.map_err(|error| error.to_string()),
            Err(_) => Err(format!("no answer within {DATABASE_TIMEOUT:?}")),
        }
    }
}

/// A warning when a dependency stops answering, with the errors the HTTP answer leaves out; a
/// line when all answer again.
fn log_change(before: Option<&HealthReport>, now: &HealthReport) {
    let answering = |report: &HealthReport| (report.database.is_ok(), report.broker.is_ok());
    if before.map(answering) == Some(answering(now)) {
        return;
    }
    if now.is_healthy() {
        tracing::info!("member-service is ready");
        return;
    }
    let error = |result: &Result<(), String>| result.clone().err().unwrap_or_default();
    tracing::warn!(
        database_error = error(&now.database),
        broker_error = error(&now.broker),
        "member-service is not ready"
    );
}
