//! Read-only access to the running consumer, for `/ready` and `/consumer`: broker reachability,
//! assigned partitions, and lag.

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use rdkafka::{
    Offset, TopicPartitionList,
    consumer::{Consumer, StreamConsumer},
};
use serde::Serialize;

use super::ConsumerStats;

/// How far one partition's consumer is behind its producers.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct PartitionLag {
    pub partition: i32,
    /// The next offset to apply: this instance's own position, or the group's committed offset.
    pub position: Option<i64>,
    pub high_watermark: i64,
    pub lag: i64,
}

/// Read-only access to the running consumer. It holds the consumer weakly: when the loop ends,
/// the consumer is closed (and leaves its group) even while HTTP connections hold a probe.
#[derive(Clone)]
pub struct ConsumerProbe {
    consumer: Weak<StreamConsumer>,
    topic: String,
    stats: Arc<ConsumerStats>,
}

impl ConsumerProbe {
    pub(super) fn new(
        consumer: Weak<StreamConsumer>,
        topic: String,
        stats: Arc<ConsumerStats>,
    ) -> Self {
        Self {
            consumer,
            topic,
            stats,
        }
    }

    /// Whether the broker answers this consumer, and how many partitions its topic has.
    pub async fn check(&self) -> Result<usize, String> {
        let probe = self.clone();
        // fetch_metadata blocks the calling thread.
        tokio::task::spawn_blocking(move || {
            let metadata = probe
                .with_consumer(|consumer| {
                    consumer.fetch_metadata(Some(&probe.topic), Duration::from_secs(2))
                })?
                .map_err(|error| error.to_string())?;
            Ok(metadata
                .topics()
                .iter()
                .map(|topic| topic.partitions().len())
                .sum())
        })
        .await
        .map_err(|error| error.to_string())?
    }

    /// Partitions currently assigned to this consumer. librdkafka answers this from its group
    /// thread, which can be busy for seconds while the broker is away, so it is asked on a
    /// blocking thread: on a runtime thread it held up every request served there.
    pub async fn assigned_partitions(&self) -> Vec<i32> {
        let probe = self.clone();
        tokio::task::spawn_blocking(move || {
            probe
                .with_consumer(|consumer| consumer.assignment())
                .ok()
                .and_then(Result::ok)
                .map(|list: TopicPartitionList| {
                    list.elements()
                        .iter()
                        .map(|element| element.partition())
                        .collect()
                })
                .unwrap_or_default()
        })
        .await
        .unwrap_or_default()
    }

    /// Lag of each assigned partition: the high watermark minus the next offset to apply.
    pub async fn lag(&self) -> Result<Vec<PartitionLag>, String> {
        let probe = self.clone();
        // Watermarks and committed offsets are broker round trips that block the thread.
        tokio::task::spawn_blocking(move || {
            probe.with_consumer(|consumer| probe.lag_blocking(consumer))?
        })
        .await
        .map_err(|error| error.to_string())?
    }

    fn lag_blocking(&self, consumer: &StreamConsumer) -> Result<Vec<PartitionLag>, String> {
        let timeout = Duration::from_secs(2);
        let committed = consumer
            .committed(timeout)
            .map_err(|error| error.to_string())?;
        committed
            .elements()
            .iter()
            .map(|element| {
                let partition = element.partition();
                let (low, high) = consumer
                    .fetch_watermarks(&self.topic, partition, timeout)
                    .map_err(|error| error.to_string())?;
                let committed = match element.offset() {
                    Offset::Offset(offset) => Some(offset),
                    _ => None,
                };
                let position = self.stats.next_offset(partition).or(committed);
                Ok(PartitionLag {
                    partition,
                    position,
                    high_watermark: high,
                    lag: high.saturating_sub(position.unwrap_or(low)).max(0),
                })
            })
            .collect()
    }

    /// Runs `use_it` with the consumer while it runs. If the loop ended meanwhile, this call
    /// may hold the last reference: dropping that closes the consumer, which waits without
    /// limit for the group to confirm the leave, so it is dropped on a thread of its own (on
    /// this blocking-pool thread it would keep the runtime from ever shutting down).
    fn with_consumer<T>(&self, use_it: impl FnOnce(&StreamConsumer) -> T) -> Result<T, String> {
        let consumer = self
            .consumer
            .upgrade()
            .ok_or_else(|| "the consumer has stopped".to_owned())?;
        let result = use_it(&consumer);
        if let Some(last) = Arc::into_inner(consumer) {
            super::consumer::close_on_its_own_thread(last);
        }
        Ok(result)
    }
}
