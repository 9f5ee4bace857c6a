//! Backlogs sampled over time while the load runs: the outbox backlog (member-service `/ready`),
//! the consumer lag (reservation-service `/consumer`, when it reports one), and the deletions
//! not yet applied, counted in the two databases (readable while reservation-service is down).

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::Value;
use sqlx::AnyPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{
    propagation,
    system::{BenchSystem, ReservationAddress},
};

#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    /// Seconds since the run started.
    pub seconds: f64,
    pub outbox_backlog: Option<i64>,
    pub consumer_lag: Option<i64>,
    pub pending_deletions: Option<i64>,
}

/// A named moment of the run (a phase starting), drawn on the timeline plot.
#[derive(Clone, Debug)]
pub struct Mark {
    pub seconds: f64,
    pub label: String,
}

/// Samples until stopped; shared so the run can mark phases while it samples.
pub struct Timeline {
    started: Instant,
    samples: Arc<Mutex<Vec<Sample>>>,
    marks: Vec<Mark>,
    stop: CancellationToken,
    sampler: JoinHandle<()>,
}

struct Sources {
    http: reqwest::Client,
    member_url: String,
    reservation_address: ReservationAddress,
    member_pool: AnyPool,
    reservation_pool: AnyPool,
}

impl Timeline {
    pub fn start(system: &BenchSystem, every: Duration) -> Self {
        let started = Instant::now();
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let sources = Sources {
            http: system.http().clone(),
            member_url: system.member_url.clone(),
            reservation_address: system.reservation_address.clone(),
            member_pool: system.member_pool.clone(),
            reservation_pool: system.reservation_pool.clone(),
        };
        let sampler = tokio::spawn(sample_until(
            sources,
            started,
            every,
            samples.clone(),
            stop.clone(),
        ));
        Self {
            started,
            samples,
            marks: Vec::new(),
            stop,
            sampler,
        }
    }

    pub fn mark(&mut self, label: &str) {
        self.marks.push(Mark {
            seconds: self.started.elapsed().as_secs_f64(),
            label: label.to_owned(),
        });
    }

    pub async fn finish(self) -> (Vec<Sample>, Vec<Mark>) {
        self.stop.cancel();
        let _ = self.sampler.await;
        let samples = self
            .samples
            .lock()
            .map(|samples| samples.clone())
            .unwrap_or_default();
        (samples, self.marks)
    }
}

async fn sample_until(
    sources: Sources,
    started: Instant,
    every: Duration,
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let sample = sources.sample(started).await;
        if let Ok(mut samples) = samples.lock() {
            samples.push(sample);
        }
    }
}

impl Sources {
    /// A failed source leaves its field empty: a gap in the plot, not a failed run.
    async fn sample(&self, started: Instant) -> Sample {
        let reservation_url = self
            .reservation_address
            .lock()
            .ok()
            .and_then(|address| address.clone());
        let (ready, consumer, pending) = tokio::join!(
            self.get_json(format!("{}/ready", self.member_url)),
            async {
                match reservation_url {
                    Some(url) => self.get_json(format!("{url}/consumer")).await,
                    None => None,
                }
            },
            propagation::pending_deletions(&self.member_pool, &self.reservation_pool),
        );
        Sample {
            seconds: started.elapsed().as_secs_f64(),
            outbox_backlog: ready.and_then(|body| body["outbox_backlog"].as_i64()),
            consumer_lag: consumer.and_then(|body| body["total_lag"].as_i64()),
            pending_deletions: pending.ok(),
        }
    }

    async fn get_json(&self, url: String) -> Option<Value> {
        let response = self
            .http
            .get(url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    }
}
