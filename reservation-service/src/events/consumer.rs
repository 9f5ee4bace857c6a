//! The member-event consumer loop.
//!
//! Offsets: this loop commits them itself (librdkafka's auto-commit is off, so closing the
//! consumer never commits on its own), on a timer and at shutdown, and only offsets it stored,
//! which it stores only after the transaction that applied (or parked) those events committed.
//! A crash at any point redelivers, never skips; redelivery is harmless because applied event
//! ids are recorded.
//!
//! Backpressure: at most `max_in_flight` events are taken from the client and applied at once,
//! in one transaction. While they are applied the loop takes nothing, and the client stops
//! fetching once its own queue holds `fetch_queue_kbytes` (or 8 batches of messages), so a fast
//! producer fills the topic, not this process's memory.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use chrono::{SubsecRound, Utc};
use futures::FutureExt;
use rand::Rng;
use rdkafka::{
    ClientConfig,
    consumer::{CommitMode, Consumer, StreamConsumer},
    error::{KafkaError, KafkaResult, RDKafkaErrorCode},
};
use sqlx::AnyPool;
use tokio_util::sync::CancellationToken;

use super::{
    ConsumerProbe, ConsumerStats, DeadLetterQueue, Delivery,
    apply::{Failure, Outcome},
    batch::{HandleError, handle_batch},
};

#[derive(Clone, Debug)]
pub struct ConsumerSettings {
    pub bootstrap_servers: String,
    pub group: String,
    pub topic: String,
    pub fetch_wait_max_ms: u64,
    pub commit_interval_ms: u64,
    /// Most events taken from the client and applied at once (one transaction).
    pub max_in_flight: usize,
    /// Attempts at an event whose handling fails (not for lack of a database) before it is parked.
    pub max_attempts: u32,
    /// What the client may hold fetched ahead of the loop, per partition.
    pub fetch_queue_kbytes: u32,
    pub session_timeout_ms: u32,
    /// Static membership: a restarted replica with the same id takes its partitions back.
    pub group_instance_id: Option<String>,
}

pub struct MemberEventConsumer {
    consumer: ClosedOnItsOwnThread,
    settings: ConsumerSettings,
    pool: AnyPool,
    dead_letters: DeadLetterQueue,
    stats: Arc<ConsumerStats>,
}

impl MemberEventConsumer {
    pub fn new(
        settings: &ConsumerSettings,
        pool: AnyPool,
        dead_letters: DeadLetterQueue,
        stats: Arc<ConsumerStats>,
    ) -> KafkaResult<Self> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &settings.bootstrap_servers)
            .set("group.id", &settings.group)
            .set("client.id", "reservation-service")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", settings.fetch_wait_max_ms.to_string())
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
            .set("session.timeout.ms", settings.session_timeout_ms.to_string())
            .set(
                "heartbeat.interval.ms",
                (settings.session_timeout_ms / 3).max(1).to_string(),
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

    /// Consumes until `shutdown` is cancelled, then commits what was applied.
    pub async fn run(self, shutdown: CancellationToken) {
        let topic = &self.settings.topic;
        if let Err(error) = self.consumer.subscribe(&[topic]) {
            tracing::error!(%error, %topic, "cannot subscribe to member events");
            return;
        }
        tracing::info!(%topic, max_in_flight = self.settings.max_in_flight, "consuming member events");
        let mut commit_timer = tokio::time::interval(Duration::from_millis(
            self.settings.commit_interval_ms.max(1),
        ));
        loop {
            let received = tokio::select! {
                received = self.consumer.recv() => received.map(|message| Delivery::from_message(&message)),
                _ = commit_timer.tick() => {
                    self.commit(CommitMode::Async);
                    continue;
                }
                () = shutdown.cancelled() => break,
            };
            let first = match received {
                Ok(delivery) => delivery,
                Err(error) => {
                    tracing::warn!(%error, "cannot receive from the broker");
                    if !pause(Duration::from_millis(200), &shutdown).await {
                        break;
                    }
                    continue;
                }
            };
            let batch = self.take_ready(first);
            self.stats.begin_batch(batch.len());
            if !self.process(&batch, &shutdown).await {
                break;
            }
            self.store_offsets(&batch);
        }
        self.commit(CommitMode::Sync);
        tracing::info!("member-event consumer stopped");
    }

    /// `first` and whatever else the client already holds, up to `max_in_flight`.
    fn take_ready(&self, first: Delivery) -> Vec<Delivery> {
        let mut batch = vec![first];
        while batch.len() < self.settings.max_in_flight {
            match self.consumer.recv().now_or_never() {
                Some(Ok(message)) => batch.push(Delivery::from_message(&message)),
                Some(Err(_)) | None => break,
            }
        }
        batch
    }

    /// Applies or parks every delivery, retrying until done; `false` when stopped first.
    async fn process(&self, batch: &[Delivery], shutdown: &CancellationToken) -> bool {
        let items: Vec<_> = batch.iter().map(|delivery| (delivery, None)).collect();
        let mut failures = 0u32;
        loop {
            match handle_batch(&self.pool, &items).await {
                Ok(outcomes) => return self.finish(batch, outcomes, shutdown).await,
                Err(HandleError::Transient(error)) => {
                    // Nothing was changed; the same events are retried, never skipped.
                    failures = failures.saturating_add(1);
                    self.stats.record_retry();
                    tracing::warn!(%error, attempt = failures, "database unavailable, retrying member events");
                    if !pause(backoff(failures), shutdown).await {
                        return false;
                    }
                }
                // Some event in the batch fails: find which, one at a time.
                Err(HandleError::Permanent(_)) => break,
            }
        }
        for delivery in batch {
            if !self.process_alone(delivery, shutdown).await {
                return false;
            }
        }
        true
    }

    /// Handles one delivery; after `max_attempts` failures of its own it is parked.
    async fn process_alone(&self, delivery: &Delivery, shutdown: &CancellationToken) -> bool {
        let mut failure: Option<Failure> = None;
        let mut transient_failures = 0u32;
        loop {
            let parking = failure
                .as_ref()
                .filter(|failure| failure.attempts >= self.settings.max_attempts);
            // How many times this has failed in a row, for the back-off.
            let failures = match handle_batch(&self.pool, &[(delivery, parking)]).await {
                Ok(outcomes) => {
                    return self
                        .finish(std::slice::from_ref(delivery), outcomes, shutdown)
                        .await;
                }
                Err(HandleError::Transient(error)) => {
                    transient_failures = transient_failures.saturating_add(1);
                    tracing::warn!(%error, "database unavailable, retrying member event");
                    transient_failures
                }
                Err(HandleError::Permanent(error)) => {
                    let failure = failure.get_or_insert_with(|| Failure {
                        reason: String::new(),
                        attempts: 0,
                        first_failed_at: Utc::now().trunc_subsecs(6),
                    });
                    failure.attempts = failure.attempts.saturating_add(1);
                    failure.reason = format!(
                        "handler failed {} times; last error: {error}",
                        failure.attempts
                    );
                    tracing::warn!(%error, attempt = failure.attempts, partition = delivery.partition, offset = delivery.offset, "cannot apply member event");
                    failure.attempts
                }
            };
            self.stats.record_retry();
            if !pause(backoff(failures), shutdown).await {
                return false;
            }
        }
    }

    /// Counts what the batch did and publishes copies of what was parked.
    async fn finish(
        &self,
        batch: &[Delivery],
        outcomes: Vec<Outcome>,
        shutdown: &CancellationToken,
    ) -> bool {
        for (delivery, outcome) in batch.iter().zip(outcomes) {
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
                    if !self.publish_parked(delivery, &failure, shutdown).await {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// The database holds the parked event already; the topic copy is retried until acknowledged
    /// (a crash first redelivers the event, which finds it parked and publishes again).
    async fn publish_parked(
        &self,
        delivery: &Delivery,
        failure: &Failure,
        shutdown: &CancellationToken,
    ) -> bool {
        let mut failures = 0u32;
        loop {
            match self.dead_letters.publish(delivery, failure).await {
                Ok(()) => {
                    self.stats.record_dead_letter();
                    tracing::warn!(
                        reason = failure.reason,
                        partition = delivery.partition,
                        offset = delivery.offset,
                        dead_letter_topic = self.dead_letters.topic(),
                        "member event parked"
                    );
                    return true;
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, "cannot publish parked member event, retrying");
                    if !pause(backoff(failures), shutdown).await {
                        return false;
                    }
                }
            }
        }
    }

    /// The batch is applied (or parked): only now may its offsets be committed.
    fn store_offsets(&self, batch: &[Delivery]) {
        let mut next_offsets = BTreeMap::new();
        for delivery in batch {
            next_offsets.insert(delivery.partition, delivery.offset.saturating_add(1));
            if let Err(error) =
                self.consumer
                    .store_offset(&delivery.topic, delivery.partition, delivery.offset)
            {
                // The partition moved to another consumer, which will see the event again and
                // recognise its id.
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

impl Drop for ClosedOnItsOwnThread {
    fn drop(&mut self) {
        if let Some(consumer) = self.0.take() {
            let _ = std::thread::Builder::new()
                .name("consumer-close".to_owned())
                .spawn(move || drop(consumer));
        }
    }
}

/// Sleeps unless stopped first; `false` when stopped.
async fn pause(duration: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = tokio::time::sleep(duration) => true,
        () = shutdown.cancelled() => false,
    }
}

/// Exponential back-off with jitter, 50 ms doubling to at most 5 s.
fn backoff(failures: u32) -> Duration {
    let ceiling_ms = 50u64.saturating_mul(1 << failures.min(7)).min(5_000);
    Duration::from_millis(rand::rng().random_range(ceiling_ms / 2..=ceiling_ms))
}
