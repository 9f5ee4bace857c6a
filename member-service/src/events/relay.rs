//! The outbox relay: publishes committed outbox rows to Kafka in sequence order, keyed by member
//! id, then stamps them published.
//!
//! A row is stamped only after the broker acknowledged it, so a crash between the two publishes
//! the row again (at-least-once); consumers recognise it by its member version. The relay wakes
//! when a
//! request commits an event, and sweeps on a slow timer in case a wake-up was missed (e.g. a row
//! written by another process).
//!
//! A round's stamp is written while the next round reads and publishes, not before it: the
//! stamp's commit (an fsync) is off the path of every event waiting behind it. Until it commits,
//! the rows it stamps are left out of what the next round sends.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use rand::Rng;
use rdkafka::{
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord, Producer},
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::publish_trace;

use crate::db::{
    outbox::{self, PendingEvent},
    relay_lock::OutboxAccess,
    time,
};

/// Tells the relay that an event was committed. Cheap to clone; a signal sent while the relay is
/// busy is remembered, so none is lost.
#[derive(Clone, Default)]
pub struct OutboxSignal(Arc<Notify>);

impl OutboxSignal {
    pub fn event_committed(&self) {
        self.0.notify_one();
    }

    async fn wait(&self) {
        self.0.notified().await;
    }
}

#[derive(Clone, Debug)]
pub struct RelaySettings {
    pub topic: String,
    pub batch_size: u32,
    pub sweep_interval: Duration,
}

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("outbox query failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("broker did not acknowledge event {event_id}: {reason}")]
    Publish { event_id: String, reason: String },
}

/// How often a standby relay tries to become the leader.
const STANDBY_RETRY: Duration = Duration::from_secs(1);

/// Whether this replica's relay currently publishes (it leads, or needs no election).
#[derive(Clone, Default)]
pub struct RelayLeadership(Arc<AtomicBool>);

impl RelayLeadership {
    pub fn is_leader(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

pub struct Relay {
    outbox: OutboxAccess,
    leadership: RelayLeadership,
    producer: FutureProducer,
    signal: OutboxSignal,
    settings: RelaySettings,
    /// Sequences the broker acknowledged whose stamp is not yet written.
    unstamped: Vec<i64>,
}

impl Relay {
    pub fn new(
        outbox: OutboxAccess,
        producer: FutureProducer,
        signal: OutboxSignal,
        settings: RelaySettings,
    ) -> Self {
        Self {
            outbox,
            leadership: RelayLeadership::default(),
            producer,
            signal,
            settings,
            unstamped: Vec::new(),
        }
    }

    pub fn leadership(&self) -> RelayLeadership {
        self.leadership.clone()
    }

    /// Publishes until `shutdown` is cancelled.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut failures = 0u32;
        loop {
            let outcome = tokio::select! {
                outcome = self.publish_batch() => outcome,
                () = shutdown.cancelled() => break,
            };
            let leads = self.outbox.is_leader();
            self.leadership.0.store(leads, Ordering::Relaxed);
            crate::metrics::relay_leads(leads);
            let pause = match outcome {
                // A full batch, or rows still to stamp: go again at once.
                Ok(Some(published))
                    if published == self.settings.batch_size as usize
                        || !self.unstamped.is_empty() =>
                {
                    failures = 0;
                    continue;
                }
                Ok(Some(_)) => {
                    failures = 0;
                    None
                }
                // Another replica leads; wake-ups are for the leader.
                Ok(None) => Some(STANDBY_RETRY),
                Err(error) => {
                    if matches!(error, RelayError::Publish { .. }) {
                        crate::metrics::publish_failed();
                    }
                    failures = failures.saturating_add(1);
                    let pause = backoff(failures);
                    tracing::warn!(%error, retry_in_ms = pause.as_millis() as u64, "outbox relay could not publish");
                    Some(pause)
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.signal.wait(), if pause.is_none() => {}
                () = tokio::time::sleep(pause.unwrap_or(self.settings.sweep_interval)) => {}
            }
        }
        // Hand over what is in flight; anything unacknowledged stays in the outbox for next time.
        let producer = self.producer.clone();
        let _ = tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(5))).await;
        if let Err(error) = stamp(self.outbox.pool(), &self.unstamped).await {
            tracing::warn!(%error, "acknowledged outbox rows left unstamped; they are published again at the next start");
        }
        tracing::info!("outbox relay stopped");
    }

    /// Publishes the oldest unpublished rows while stamping those the previous round published;
    /// returns how many the broker acknowledged, or `None` when this replica is not the leader.
    async fn publish_batch(&mut self) -> Result<Option<usize>, RelayError> {
        let to_stamp = std::mem::take(&mut self.unstamped);
        let pool = self.outbox.pool().clone();
        let stamping = stamp(&pool, &to_stamp);
        let outbox = &mut self.outbox;
        let (producer, settings) = (&self.producer, &self.settings);
        let publishing = async {
            let Some(pending) = outbox.pending(settings.batch_size).await? else {
                return Ok::<_, sqlx::Error>(None);
            };
            // Rows being stamped right now are published already: never send them twice.
            let being_stamped: HashSet<i64> = to_stamp.iter().copied().collect();
            let pending: Vec<PendingEvent> = pending
                .into_iter()
                .filter(|event| !being_stamped.contains(&event.sequence))
                .collect();
            Ok(Some(
                send_in_order(producer, &settings.topic, &pending).await,
            ))
        };
        let (stamped, sent) = tokio::join!(stamping, publishing);
        // A failed stamp is written again next round; its rows stay out of what is sent.
        self.unstamped = if stamped.is_ok() {
            Vec::new()
        } else {
            to_stamp
        };
        let (acknowledged, failure) = match sent {
            Ok(Some(sent)) => sent,
            Ok(None) => return stamped.map(|()| None).map_err(RelayError::from),
            Err(error) => return Err(error.into()),
        };
        let published = acknowledged.len();
        tracing::debug!(published, "outbox rows published");
        self.unstamped.extend(acknowledged);
        stamped?;
        match failure {
            Some(error) => Err(error),
            None => Ok(Some(published)),
        }
    }
}

/// Enqueues every row in order (the producer keeps per-partition order), then collects the
/// acknowledgements in order, stopping at the first failure so that rows after it are
/// retried after it too.
async fn send_in_order(
    producer: &FutureProducer,
    topic: &str,
    pending: &[PendingEvent],
) -> (Vec<i64>, Option<RelayError>) {
    let mut deliveries = Vec::with_capacity(pending.len());
    let mut failure = None;
    for event in pending {
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "content-type",
                value: Some(event_schema::envelope::CONTENT_TYPE),
            })
            .insert(Header {
                key: "ce_id",
                value: Some(&event.event_id),
            })
            .insert(Header {
                key: "ce_type",
                value: Some(&event.event_type),
            });
        let span = publish_trace::publish_span(topic, event);
        let headers = publish_trace::with_trace_headers(headers, &span, event);
        let record = FutureRecord::to(topic)
            .key(&event.member_id)
            .payload(&event.payload)
            .headers(headers);
        match producer.send_result(record) {
            Ok(delivery) => deliveries.push((event, delivery, span)),
            Err((error, _)) => {
                // Usually a full local queue: publish what was enqueued, the rest next round.
                publish_trace::record_failure(&span, &error.to_string());
                failure = Some(RelayError::Publish {
                    event_id: event.event_id.clone(),
                    reason: error.to_string(),
                });
                break;
            }
        }
    }
    let mut acknowledged = Vec::with_capacity(deliveries.len());
    for (event, delivery, span) in deliveries {
        let reason = match delivery.await {
            Ok(Ok(_)) => {
                let created_at = crate::db::time::parse(&event.created_at).ok();
                let now = crate::db::time::now();
                crate::metrics::event_published(&event.event_type, created_at, now);
                acknowledged.push(event.sequence);
                continue;
            }
            Ok(Err((error, _))) => error.to_string(),
            Err(_) => "producer dropped the delivery".to_owned(),
        };
        publish_trace::record_failure(&span, &reason);
        failure = Some(RelayError::Publish {
            event_id: event.event_id.clone(),
            reason,
        });
        break;
    }
    (acknowledged, failure)
}

/// Stamps `sequences` published, on a connection of the pool.
async fn stamp(pool: &sqlx::AnyPool, sequences: &[i64]) -> Result<(), sqlx::Error> {
    if sequences.is_empty() {
        return Ok(());
    }
    let mut connection = pool.acquire().await?;
    outbox::mark_published(&mut connection, sequences, time::now()).await
}

/// Exponential back-off with jitter, 100 ms doubling to at most 1 s. A failed round already
/// waited up to the message timeout; a longer pause would only delay the recovery after an
/// outage (publishing resumes within about a second of the broker's return).
fn backoff(failures: u32) -> Duration {
    let ceiling_ms = 100u64.saturating_mul(1 << failures.min(6)).min(1_000);
    Duration::from_millis(rand::rng().random_range(ceiling_ms / 2..=ceiling_ms))
}
