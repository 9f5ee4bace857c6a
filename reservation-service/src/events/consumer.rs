//! The member-event consumer loop: poll a batch, decide and write it (`batch.rs`), report what
//! it did, commit its offsets.
//!
//! Offsets: this loop commits them itself (librdkafka's auto-commit is off, so closing the
//! consumer never commits on its own), on a timer and at shutdown, and only offsets it stored,
//! which it stores only after the transaction that applied (or parked) those events committed.
//! A crash at any point redelivers, never skips; redelivery is harmless because the member list
//! holds each member's last applied version, and an event at or below it has no effect.
//!
//! Backpressure: at most `max_in_flight` events are taken from the client and written at once,
//! in one transaction. While they are written the loop takes nothing, and the client stops
//! fetching once its own queue holds `fetch_queue_kbytes` (or 8 batches of messages), so a fast
//! producer fills the topic, not this process's memory.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use futures::FutureExt;
use rdkafka::{
    Message,
    consumer::{CommitMode, Consumer, StreamConsumer},
    error::{KafkaError, KafkaResult, RDKafkaErrorCode},
};
use sqlx::AnyPool;
use tokio::time::Interval;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{
    ConsumerProbe, ConsumerStats, DeadLetterQueue,
    batch::{self, Halt},
    event_trace::{self, EventSpan},
    park,
};
use crate::{
    config::KafkaSecurity,
    db::changes::ChangeSignal,
    domain::{Arrival, Delivery, Outcome},
};

#[derive(Clone, Debug)]
pub struct ConsumerSettings {
    pub bootstrap_servers: String,
    /// How the consumer authenticates and encrypts; the service's one setting for all clients.
    pub security: KafkaSecurity,
    pub group: String,
    pub topic: String,
    pub fetch_wait_max: Duration,
    pub commit_interval: Duration,
    /// Most events taken from the client and applied at once (one transaction).
    pub max_in_flight: usize,
    /// Attempts at an event whose handling fails (not for lack of a database) before it is parked.
    pub max_attempts: u32,
    /// What the client may hold fetched ahead of the loop, per partition.
    pub fetch_queue_kbytes: u32,
    pub session_timeout: Duration,
    /// Static membership: a restarted replica with the same id takes its partitions back.
    pub group_instance_id: Option<String>,
}

/// Why the consumer stopped on its own, for good. Going on would skip events, so it stops, and
/// the process with it, for an orchestrator to restart (`/ready` says so meanwhile).
#[derive(Debug, thiserror::Error)]
pub enum ConsumerFailure {
    #[error("cannot subscribe to {topic}: {source}")]
    Subscribe {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("the Kafka client failed for good: {0}")]
    Fatal(RDKafkaErrorCode),
    #[error("cannot park the member event at partition {partition}, offset {offset}: {source}")]
    CannotPark {
        partition: i32,
        offset: i64,
        #[source]
        source: sqlx::Error,
    },
}

pub struct MemberEventConsumer {
    consumer: ClosedOnItsOwnThread,
    settings: ConsumerSettings,
    pool: AnyPool,
    dead_letters: DeadLetterQueue,
    stats: Arc<ConsumerStats>,
    /// Raised after each batch commits, for the streams of changes.
    changes: ChangeSignal,
}

impl MemberEventConsumer {
    pub fn new(
        settings: &ConsumerSettings,
        pool: AnyPool,
        dead_letters: DeadLetterQueue,
        stats: Arc<ConsumerStats>,
        changes: ChangeSignal,
    ) -> KafkaResult<Self> {
        let mut config = settings.security.client_config(&settings.bootstrap_servers);
        config
            .set("group.id", &settings.group)
            .set("client.id", "reservation-service")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set(
                "fetch.wait.max.ms",
                settings.fetch_wait_max.as_millis().to_string(),
            )
            // The client's prefetch queue: bounded by size, and by count at a few batches.
            .set(
                "queued.min.messages",
                (settings.max_in_flight.max(1) * 8).to_string(),
            )
            .set(
                "queued.max.messages.kbytes",
                settings.fetch_queue_kbytes.max(1).to_string(),
            )
            // Once the queue is over those bounds, librdkafka (2.x) waits this long before it
            // fetches again; its 1 s default showed as 1 s stalls with events waiting.
            .set("fetch.queue.backoff.ms", "10")
            .set(
                "session.timeout.ms",
                settings.session_timeout.as_millis().to_string(),
            )
            .set(
                "heartbeat.interval.ms",
                (settings.session_timeout.as_millis() / 3)
                    .max(1)
                    .to_string(),
            )
            // librdkafka backs off reconnects up to 10 s by default: after a broker outage the
            // consumer would come back up to 10 s after the broker did.
            .set("reconnect.backoff.ms", "100")
            .set("reconnect.backoff.max.ms", "1000");
        if let Some(instance) = &settings.group_instance_id {
            config.set("group.instance.id", instance);
        }
        let consumer: StreamConsumer = config.create()?;
        Ok(Self {
            consumer: ClosedOnItsOwnThread(Some(Arc::new(consumer))),
            settings: settings.clone(),
            pool,
            dead_letters,
            stats,
            changes,
        })
    }

    /// A handle for `/ready` and `/consumer`, usable while the loop runs.
    pub fn probe(&self) -> ConsumerProbe {
        ConsumerProbe::new(
            Arc::downgrade(&self.consumer),
            self.settings.topic.clone(),
            self.stats.clone(),
        )
    }

    /// Consumes until `shutdown` is cancelled, then commits what was written. An error when it
    /// stopped on its own, for good: what it wrote is committed all the same.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), ConsumerFailure> {
        let topic = self.settings.topic.clone();
        if let Err(source) = self.consumer.subscribe(&[&topic]) {
            return Err(ConsumerFailure::Subscribe { topic, source });
        }
        tracing::info!(%topic, max_in_flight = self.settings.max_in_flight, "consuming member events");
        let mut commit_timer =
            tokio::time::interval(self.settings.commit_interval.max(Duration::from_millis(1)));
        let mut ended = Ok(());
        loop {
            let (batch, event_spans): (Vec<Arrival>, Vec<EventSpan>) =
                match self.poll(&mut commit_timer, &shutdown).await {
                    Ok(Some(polled)) => polled.into_iter().unzip(),
                    Ok(None) => break,
                    Err(failure) => {
                        ended = Err(failure);
                        break;
                    }
                };
            self.stats.begin_batch(batch.len());
            crate::metrics::batch_taken(batch.len());
            let taken_at = std::time::Instant::now();
            let batch_span = event_trace::batch_span(&event_spans);
            let written = self.write(&batch, &shutdown).instrument(batch_span).await;
            let outcomes = match written {
                Ok(outcomes) => outcomes,
                Err(Halt::Stopped) => break,
                Err(Halt::CannotPark {
                    partition,
                    offset,
                    error,
                }) => {
                    ended = Err(ConsumerFailure::CannotPark {
                        partition,
                        offset,
                        source: error,
                    });
                    break;
                }
            };
            let committed_at = crate::db::time::now();
            crate::metrics::batch_written(&batch, &outcomes, taken_at.elapsed(), committed_at);
            for (event_span, outcome) in event_spans.iter().zip(&outcomes) {
                event_trace::record_outcome(event_span, outcome);
            }
            if !self.report(&batch, outcomes, &shutdown).await {
                break;
            }
            self.store_offsets(&batch);
        }
        self.commit(CommitMode::Sync);
        self.consumer.close(Duration::from_secs(5)).await;
        match &ended {
            Ok(()) => tracing::info!("member-event consumer stopped"),
            Err(failure) => tracing::error!(%failure, "member-event consumer stopped for good"),
        }
        ended
    }

    /// Waits for the next batch, committing on the timer meanwhile; `None` once stopped, an
    /// error when the client cannot go on.
    async fn poll(
        &self,
        commit_timer: &mut Interval,
        shutdown: &CancellationToken,
    ) -> Result<Option<Vec<(Arrival, EventSpan)>>, ConsumerFailure> {
        loop {
            let received = tokio::select! {
                received = self.consumer.recv() => received.map(|message| arrived(&message)),
                _ = commit_timer.tick() => {
                    self.commit(CommitMode::Async);
                    continue;
                }
                () = shutdown.cancelled() => return Ok(None),
            };
            match received {
                Ok(first) => return Ok(Some(self.take_ready(first))),
                // librdkafka's fatal errors (a static member fenced by another with its id, say)
                // end the client: no later receive succeeds.
                Err(KafkaError::MessageConsumptionFatal(code)) => {
                    return Err(ConsumerFailure::Fatal(code));
                }
                // librdkafka queues an error event for every failed connection attempt while the
                // broker is away, and reconnects by itself. They are reports, not a reason to
                // wait: a pause for each left a 15 s outage's errors still being read 10 s after
                // the broker was back, with events waiting behind them.
                Err(error) => {
                    let message = error.to_string();
                    if self.stats.record_receive_error(&message) {
                        tracing::warn!(error = message, "cannot receive from the broker");
                    }
                    tokio::task::yield_now().await;
                }
            }
        }
    }

    /// `first` and whatever else the client already holds, up to `max_in_flight`; each decoded
    /// here, once.
    fn take_ready(&self, first: (Delivery, EventSpan)) -> Vec<(Arrival, EventSpan)> {
        let mut batch = vec![(Arrival::new(first.0), first.1)];
        while batch.len() < self.settings.max_in_flight {
            match self.consumer.recv().now_or_never() {
                Some(Ok(message)) => {
                    let (delivery, span) = arrived(&message);
                    batch.push((Arrival::new(delivery), span));
                }
                Some(Err(_)) | None => break,
            }
        }
        batch
    }

    /// Decides and writes the batch, retrying until done.
    async fn write(
        &self,
        arrivals: &[Arrival],
        shutdown: &CancellationToken,
    ) -> Result<Vec<Outcome>, Halt> {
        let max_attempts = self.settings.max_attempts;
        let (stats, changes) = (&self.stats, &self.changes);
        batch::write(&self.pool, arrivals, max_attempts, stats, changes, shutdown).await
    }

    /// Counts what the batch did, and publishes dead-letter copies of what was parked; `false`
    /// when stopped first.
    async fn report(
        &self,
        batch: &[Arrival],
        outcomes: Vec<Outcome>,
        shutdown: &CancellationToken,
    ) -> bool {
        for (arrival, outcome) in batch.iter().zip(outcomes) {
            let delivery = &arrival.delivery;
            match outcome {
                Outcome::Applied(applied) => {
                    self.stats.record(applied);
                    tracing::debug!(
                        partition = delivery.partition,
                        offset = delivery.offset,
                        ?applied,
                        "member event applied"
                    );
                }
                Outcome::Parked(failure) => {
                    let (dead_letters, stats) = (&self.dead_letters, &self.stats);
                    if !park::publish_copy(dead_letters, stats, delivery, &failure, shutdown).await
                    {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// The batch is written: only now may its offsets be committed.
    fn store_offsets(&self, batch: &[Arrival]) {
        let mut next_offsets = BTreeMap::new();
        for Arrival { delivery, .. } in batch {
            next_offsets.insert(delivery.partition, delivery.offset.saturating_add(1));
            if let Err(error) =
                self.consumer
                    .store_offset(&delivery.topic, delivery.partition, delivery.offset)
            {
                // The partition moved to another consumer, which will see the event again and
                // recognise it by its member version.
                tracing::warn!(%error, "cannot store offset");
            }
        }
        self.stats.end_batch(next_offsets);
    }

    fn commit(&self, mode: CommitMode) {
        match self.consumer.commit_consumer_state(mode) {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(error) => {
                tracing::warn!(%error, "offset commit failed; applied events will be redelivered and recognised")
            }
        }
    }
}

/// Owns the consumer and, when dropped, closes it on a thread of its own. rdkafka's drop waits
/// without limit for the group to confirm that the consumer left; with the broker unreachable
/// that is forever, and it must not hold a runtime thread, or a shutdown, hostage.
struct ClosedOnItsOwnThread(Option<Arc<StreamConsumer>>);

impl std::ops::Deref for ClosedOnItsOwnThread {
    type Target = Arc<StreamConsumer>;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref().expect("present until dropped")
    }
}

impl ClosedOnItsOwnThread {
    /// Closes the consumer (it leaves its group) and waits up to `limit` for that, so that a
    /// clean stop is over before whoever stopped it takes the broker down: the local stack
    /// stops its embedded broker next, and a client still closing logs its loss as an error.
    async fn close(&mut self, limit: Duration) {
        let Some(closed) = self.0.take().and_then(close_on_its_own_thread) else {
            return;
        };
        if tokio::time::timeout(limit, closed).await.is_err() {
            tracing::warn!("the consumer did not leave its group in time; it goes on closing");
        }
    }
}

impl Drop for ClosedOnItsOwnThread {
    fn drop(&mut self) {
        if let Some(consumer) = self.0.take() {
            close_on_its_own_thread(consumer);
        }
    }
}

/// Drops `consumer` (its last reference closes it) on a thread of its own, never on a runtime
/// or blocking-pool thread; the answer tells when it is done, if the thread could start.
pub(super) fn close_on_its_own_thread<T: Send + 'static>(
    consumer: T,
) -> Option<tokio::sync::oneshot::Receiver<()>> {
    let (closed, waiting) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("consumer-close".to_owned())
        .spawn(move || {
            drop(consumer);
            let _ = closed.send(());
        })
        .ok()
        .map(|_| waiting)
}

/// The message copied out of the client's buffer, and the span its handling is traced in.
fn arrived(message: &impl Message) -> (Delivery, EventSpan) {
    (delivery_of(message), event_trace::event_span(message))
}

/// The message's bytes and position, copied out of the client's buffer.
fn delivery_of(message: &impl Message) -> Delivery {
    Delivery {
        topic: message.topic().to_owned(),
        partition: message.partition(),
        offset: message.offset(),
        key: message.key().map(<[u8]>::to_vec),
        payload: message.payload().map(<[u8]>::to_vec),
    }
}
