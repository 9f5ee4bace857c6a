//! Rewinding the consumer group: its committed offsets are set back, and the service re-applies
//! from there when it starts. Re-applying is harmless for events it applied before (the member
//! list holds each member's version: they come back duplicate or stale), and rebuilds what it
//! lost, e.g. after restoring an older database backup (events newer than its versions apply).

use std::time::Duration;

use chrono::{DateTime, Utc};
use rdkafka::{
    Offset, TopicPartitionList,
    consumer::{BaseConsumer, CommitMode, Consumer},
    error::KafkaError,
};
use serde::Serialize;

use crate::config::{KafkaSecurity, KafkaSecurityError};

/// Where to rewind to.
#[derive(Clone, Copy, Debug)]
pub enum RewindTarget {
    /// This offset in every partition (clamped to what the topic still holds).
    Offset(i64),
    /// The first event at or after this time, per partition.
    Time(DateTime<Utc>),
}

#[derive(Debug, thiserror::Error)]
pub enum RewindError {
    #[error("topic {0} has no partitions (does it exist?)")]
    NoPartitions(String),
    #[error(
        "cannot commit the group's offsets: {0}. Stop every instance of the consumer group first: \
         the broker takes offsets only from a group's members while it has any"
    )]
    CommitRefused(#[source] KafkaError),
    /// A running consumer would carry on from its own position, and commit over the rewind.
    #[error(
        "consumer group {group} has {members} running member(s): stop every instance of the group \
         first, then rewind, then start them again"
    )]
    GroupActive { group: String, members: usize },
    #[error(transparent)]
    Security(#[from] KafkaSecurityError),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RewoundPartition {
    pub partition: i32,
    pub offset: i64,
}

/// Sets the group's committed offsets of `topic` back to `target`. Blocks; run it while the
/// group's consumers are stopped.
pub fn rewind(
    bootstrap_servers: &str,
    security: &KafkaSecurity,
    group: &str,
    topic: &str,
    target: RewindTarget,
) -> Result<Vec<RewoundPartition>, RewindError> {
    let timeout = Duration::from_secs(10);
    security.check()?;
    let consumer: BaseConsumer = security
        .client_config(bootstrap_servers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()?;
    match consumer.fetch_group_list(Some(group), timeout) {
        Ok(groups) => {
            if let Some(active) = groups.groups().iter().find(|found| found.name() == group)
                && !active.members().is_empty()
            {
                return Err(RewindError::GroupActive {
                    group: group.to_owned(),
                    members: active.members().len(),
                });
            }
        }
        // Kafka itself refuses the commit below while the group has members; a broker that can
        // neither describe groups nor refuse (the embedded one) relies on the operator.
        Err(error) => tracing::warn!(
            %error,
            %group,
            "cannot tell whether the group is running; make sure every instance is stopped"
        ),
    }
    let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .flat_map(|found| found.partitions().iter().map(|partition| partition.id()))
        .collect();
    if partitions.is_empty() {
        return Err(RewindError::NoPartitions(topic.to_owned()));
    }
    let mut rewound = Vec::new();
    let mut offsets = TopicPartitionList::new();
    for partition in partitions {
        let (low, high) = consumer.fetch_watermarks(topic, partition, timeout)?;
        let offset = match target {
            RewindTarget::Offset(offset) => offset.clamp(low, high),
            RewindTarget::Time(time) => offset_at(&consumer, topic, partition, time, timeout)?
                .unwrap_or(high)
                .clamp(low, high),
        };
        offsets.add_partition_offset(topic, partition, Offset::Offset(offset))?;
        rewound.push(RewoundPartition { partition, offset });
    }
    consumer
        .commit(&offsets, CommitMode::Sync)
        .map_err(RewindError::CommitRefused)?;
    Ok(rewound)
}

/// The first offset at or after `time` in one partition; `None` when every event is older.
fn offset_at(
    consumer: &BaseConsumer,
    topic: &str,
    partition: i32,
    time: DateTime<Utc>,
    timeout: Duration,
) -> Result<Option<i64>, KafkaError> {
    let mut query = TopicPartitionList::new();
    query.add_partition_offset(topic, partition, Offset::Offset(time.timestamp_millis()))?;
    let found = consumer.offsets_for_times(query, timeout)?;
    Ok(found
        .elements()
        .first()
        .and_then(|element| match element.offset() {
            Offset::Offset(offset) => Some(offset),
            _ => None,
        }))
}
