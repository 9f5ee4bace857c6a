//! The member-event consumer loop.
//!
//! Offsets: auto-commit is on, but only for offsets this loop *stored*, and it stores an offset
//! only after the event's transaction committed (or the event was parked). So a crash at any
//! point redelivers, never skips; redelivery is harmless because applied event ids are recorded.
//! On shutdown the stored offsets are committed synchronously.

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use event_schema::MemberEvent;
use rand::Rng;
use rdkafka::{
    ClientConfig, Message, TopicPartitionList,
    consumer::{CommitMode, Consumer, StreamConsumer},
    error::{KafkaError, KafkaResult, RDKafkaErrorCode},
    message::BorrowedMessage,
};
use sqlx::AnyPool;
use tokio_util::sync::CancellationToken;

use super::{ConsumerStats, DeadLetterQueue, apply_member_event};

#[derive(Clone, Debug)]
pub struct ConsumerSettings {
    pub bootstrap_servers: String,
    pub group: String,
    pub topic: String,
    pub fetch_wait_max_ms: u64,
    pub commit_interval_ms: u64,
}

pub struct MemberEventConsumer {
    consumer: ClosedOnItsOwnThread,
    topic: String,
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
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &settings.bootstrap_servers)
            .set("group.id", &settings.group)
            .set("client.id", "reservation-service")
            .set("enable.auto.commit", "true")
            .set("enable.auto.offset.store", "false")
            .set(
                "auto.commit.interval.ms",
                settings.commit_interval_ms.to_string(),
            )
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", settings.fetch_wait_max_ms.to_string())
            .set("session.timeout.ms", "10000")
            .create()?;
        Ok(Self {
            consumer: ClosedOnItsOwnThread(Some(Arc::new(consumer))),
            topic: settings.topic.clone(),
            pool,
            dead_letters,
            stats,
        })
    }

    /// A handle for `/ready` and `/consumer`, usable while the loop runs.
    pub fn probe(&self) -> ConsumerProbe {
        ConsumerProbe {
            consumer: Arc::downgrade(&self.consumer),
            topic: self.topic.clone(),
        }
    }

    /// Consumes until `shutdown` is cancelled, then commits what was applied.
    pub async fn run(self, shutdown: CancellationToken) {
        if let Err(error) = self.consumer.subscribe(&[&self.topic]) {
            tracing::error!(%error, topic = %self.topic, "cannot subscribe to member events");
            return;
        }
        tracing::info!(topic = %self.topic, "consuming member events");
        loop {
            let received = tokio::select! {
                received = self.consumer.recv() => received,
                () = shutdown.cancelled() => break,
            };
            match received {
                Ok(message) => {
                    if !self.process(&message, &shutdown).await {
                        break;
                    }
                    // The event is applied (or parked): only now may its offset be committed.
                    if let Err(error) = self.consumer.store_offset_from_message(&message) {
                        // The partition moved to another consumer, which will see the event again
                        // and recognise its id.
                        tracing::warn!(%error, "cannot store offset");
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot receive from the broker");
                    if !pause(Duration::from_millis(200), &shutdown).await {
                        break;
                    }
                }
            }
        }
        match self.consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(error) => {
                tracing::warn!(%error, "final offset commit failed; events will be redelivered")
            }
        }
        tracing::info!("member-event consumer stopped");
    }

    /// Applies or parks one message, retrying until it is done; `false` when stopped first.
    async fn process(&self, message: &BorrowedMessage<'_>, shutdown: &CancellationToken) -> bool {
        let event = match MemberEvent::decode(message.payload().unwrap_or_default()) {
            Ok(event) => event,
            Err(error) => return self.park(message, &error.to_string(), shutdown).await,
        };
        let mut failures = 0u32;
        loop {
            match apply_member_event(&self.pool, &event).await {
                Ok(applied) => {
                    self.stats.record(applied);
                    tracing::info!(event_id = %event.id, member_id = %event.member_id(), ?applied, "member event applied");
                    return true;
                }
                Err(error) => {
                    // Nothing was changed; the same event is retried, never skipped.
                    failures = failures.saturating_add(1);
                    self.stats.record_retry();
                    tracing::warn!(%error, event_id = %event.id, attempt = failures, "cannot apply member event, retrying");
                    if !pause(backoff(failures), shutdown).await {
                        return false;
                    }
                }
            }
        }
    }

    async fn park(
        &self,
        message: &BorrowedMessage<'_>,
        reason: &str,
        shutdown: &CancellationToken,
    ) -> bool {
        let mut failures = 0u32;
        loop {
            match self.dead_letters.park(message, reason).await {
                Ok(()) => {
                    self.stats.record_dead_letter();
                    tracing::warn!(
                        reason,
                        partition = message.partition(),
                        offset = message.offset(),
                        dead_letter_topic = self.dead_letters.topic(),
                        "member event parked"
                    );
                    return true;
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, "cannot park member event, retrying");
                    if !pause(backoff(failures), shutdown).await {
                        return false;
                    }
                }
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

/// Read-only access to the running consumer. It holds the consumer weakly: when the loop ends,
/// the consumer is closed (and leaves its group) even while HTTP connections hold a probe.
#[derive(Clone)]
pub struct ConsumerProbe {
    consumer: Weak<StreamConsumer>,
    topic: String,
}

impl ConsumerProbe {
    /// Whether the broker answers this consumer.
    pub async fn check(&self) -> Result<(), String> {
        let probe = self.clone();
        // fetch_metadata blocks the calling thread.
        tokio::task::spawn_blocking(move || {
            probe
                .consumer
                .upgrade()
                .ok_or_else(|| "the consumer has stopped".to_owned())?
                .fetch_metadata(Some(&probe.topic), Duration::from_secs(2))
                .map(|_| ())
                .map_err(|error| error.to_string())
        })
        .await
        .map_err(|error| error.to_string())?
    }

    /// Partitions currently assigned to this consumer.
    pub fn assigned_partitions(&self) -> Vec<i32> {
        self.consumer
            .upgrade()
            .and_then(|consumer| consumer.assignment().ok())
            .map(|list: TopicPartitionList| {
                list.elements()
                    .iter()
                    .map(|element| element.partition())
                    .collect()
            })
            .unwrap_or_default()
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
