//! tansu's SlateDB storage, guarded where the broker relies on what its SQL storages do.
//!
//! - Creating a group. tansu's group coordinator keeps each group in memory and writes it back
//!   with the version it last saw; with no version it means "create". The SQL storages answer a
//!   create with the stored group when there is one (`UpdateError::Outdated`), and the coordinator
//!   carries on from it; the SlateDB storage overwrites it. The coordinator takes a group out of
//!   its map while a request works on it, so another member's request meanwhile (a heartbeat
//!   while a join waits) would replace the group with an empty one, and the members would rebalance
//!   for nothing. Here a create writes only where no group is stored.
//! - Producing. Each produce is a SlateDB transaction that reads and writes the partition's
//!   high watermark, so two batches for one partition at once would fail one commit (an error to
//!   its producer). Here they queue, per partition.
//! - The earliest offset. The SlateDB storage looks it up in a map from batch timestamps to
//!   offsets, where a second batch in the same millisecond replaces the first: a consumer starting
//!   from the earliest offset would skip the first batch. Here it is the log's start.
//! - Fetching from inside a batch (a consumer resuming from an offset it committed halfway
//!   through a producer's batch). The SlateDB storage stores whole batches and answers with those
//!   that start at or after the offset, so the rest of the batch holding the offset would be
//!   skipped, and a fetch inside the last batch would find nothing for good. Here that batch is
//!   found and cut to start at the offset (see `batches`).
//!
//! Every other call goes to the storage as it is.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use async_trait::async_trait;
use tansu_sans_io::{
    ConfigResource, ErrorCode, IsolationLevel, ListOffset, ScramMechanism,
    create_topics_request::CreatableTopic, delete_groups_response::DeletableGroupResult,
    delete_records_request::DeleteRecordsTopic, delete_records_response::DeleteRecordsTopicResult,
    describe_cluster_response::DescribeClusterBroker,
    describe_configs_response::DescribeConfigsResult,
    describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic,
    incremental_alter_configs_request::AlterConfigsResource,
    incremental_alter_configs_response::AlterConfigsResourceResponse,
    list_groups_response::ListedGroup, record::deflated,
    txn_offset_commit_response::TxnOffsetCommitResponseTopic,
};
use tansu_storage::{
    BrokerRegistrationRequest, GroupDetail, ListOffsetResponse, MetadataResponse, NamedGroupDetail,
    OffsetCommitRequest, OffsetStage, ProducerIdResponse, Result, ScramCredential, Storage,
    TopicId, Topition, TxnAddPartitionsRequest, TxnAddPartitionsResponse, TxnOffsetCommitRequest,
    UpdateError, Version,
};
use url::Url;
use uuid::Uuid;

use super::batches;

/// One queue per partition for its produces.
type PartitionQueues = HashMap<Topition, Arc<tokio::sync::Mutex<()>>>;

#[derive(Clone, Debug)]
pub struct GuardedStorage<S> {
    storage: S,
    partition_queues: Arc<Mutex<PartitionQueues>>,
}

impl<S> GuardedStorage<S> {
    pub fn new(storage: S) -> Self {
        Self {
            storage,
            partition_queues: Arc::default(),
        }
    }

    fn partition_queue(&self, topition: &Topition) -> Arc<tokio::sync::Mutex<()>> {
        let mut queues = self
            .partition_queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        queues.entry(topition.clone()).or_default().clone()
    }
}

#[async_trait]
impl<S: Storage> Storage for GuardedStorage<S> {
    async fn update_group(
        &self,
        group_id: &str,
        detail: GroupDetail,
        version: Option<Version>,
    ) -> Result<Version, UpdateError<GroupDetail>> {
        // The SlateDB storage reads a group that is not stored as an empty one with the empty
        // version: writing on the empty version writes only where nothing is stored, and answers
        // `Outdated` with the stored group otherwise.
        let version = version.unwrap_or_default();
        self.storage
            .update_group(group_id, detail, Some(version))
            .await
    }

    async fn register_broker(&self, registration: BrokerRegistrationRequest) -> Result<()> {
        self.storage.register_broker(registration).await
    }

    async fn create_topic(&self, topic: CreatableTopic, validate_only: bool) -> Result<Uuid> {
        self.storage.create_topic(topic, validate_only).await
    }

    async fn incremental_alter_resource(
        &self,
        resource: AlterConfigsResource,
    ) -> Result<AlterConfigsResourceResponse> {
        self.storage.incremental_alter_resource(resource).await
    }

    async fn delete_records(
        &self,
        topics: &[DeleteRecordsTopic],
    ) -> Result<Vec<DeleteRecordsTopicResult>> {
        self.storage.delete_records(topics).await
    }

    async fn delete_topic(&self, topic: &TopicId) -> Result<ErrorCode> {
        self.storage.delete_topic(topic).await
    }

    async fn brokers(&self) -> Result<Vec<DescribeClusterBroker>> {
        self.storage.brokers().await
    }

    async fn produce(
        &self,
        transaction_id: Option<&str>,
        topition: &Topition,
        batch: deflated::Batch,
    ) -> Result<i64> {
        let queue = self.partition_queue(topition);
        let _turn = queue.lock().await;
        self.storage.produce(transaction_id, topition, batch).await
    }

    async fn fetch(
        &self,
        topition: &'_ Topition,
        offset: i64,
        min_bytes: u32,
        max_bytes: u32,
        isolation: IsolationLevel,
    ) -> Result<Vec<deflated::Batch>> {
        let batches = self
            .storage
            .fetch(topition, offset, min_bytes, max_bytes, isolation)
            .await?;
        if batches
            .first()
            .is_some_and(|batch| batch.base_offset == offset)
        {
            return Ok(batches);
        }
        match batches::batch_holding(&self.storage, topition, offset, isolation).await? {
            Some(batch) => Ok(vec![batches::starting_at(batch, offset)?]),
            None => Ok(batches),
        }
    }

    async fn offset_stage(&self, topition: &Topition) -> Result<OffsetStage> {
        self.storage.offset_stage(topition).await
    }

    async fn list_offsets(
        &self,
        isolation_level: IsolationLevel,
        offsets: &[(Topition, ListOffset)],
    ) -> Result<Vec<(Topition, ListOffsetResponse)>> {
        let mut listed = self.storage.list_offsets(isolation_level, offsets).await?;
        for ((topition, asked), (_, answer)) in offsets.iter().zip(listed.iter_mut()) {
            if matches!(asked, ListOffset::Earliest) && answer.error_code == ErrorCode::None {
                answer.offset = Some(self.storage.offset_stage(topition).await?.log_start());
                answer.timestamp = None;
            }
        }
        Ok(listed)
    }

    async fn offset_commit(
        &self,
        group_id: &str,
        retention_time_ms: Option<Duration>,
        offsets: &[(Topition, OffsetCommitRequest)],
    ) -> Result<Vec<(Topition, ErrorCode)>> {
        self.storage
            .offset_commit(group_id, retention_time_ms, offsets)
            .await
    }

    async fn offset_fetch(
        &self,
        group_id: Option<&str>,
        topics: &[Topition],
        require_stable: Option<bool>,
    ) -> Result<BTreeMap<Topition, i64>> {
        self.storage
            .offset_fetch(group_id, topics, require_stable)
            .await
    }

    async fn committed_offset_topitions(&self, group_id: &str) -> Result<BTreeMap<Topition, i64>> {
        self.storage.committed_offset_topitions(group_id).await
    }

    async fn metadata(&self, topics: Option<&[TopicId]>) -> Result<MetadataResponse> {
        self.storage.metadata(topics).await
    }

    async fn upsert_user_scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
        credential: ScramCredential,
    ) -> Result<()> {
        self.storage
            .upsert_user_scram_credential(user, mechanism, credential)
            .await
    }

    async fn delete_user_scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
    ) -> Result<()> {
        self.storage
            .delete_user_scram_credential(user, mechanism)
            .await
    }

    async fn user_scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
    ) -> Result<Option<ScramCredential>> {
        self.storage.user_scram_credential(user, mechanism).await
    }

    async fn describe_config(
        &self,
        name: &str,
        resource: ConfigResource,
        keys: Option<&[String]>,
    ) -> Result<DescribeConfigsResult> {
        self.storage.describe_config(name, resource, keys).await
    }

    async fn list_groups(&self, states_filter: Option<&[String]>) -> Result<Vec<ListedGroup>> {
        self.storage.list_groups(states_filter).await
    }

    async fn delete_groups(
        &self,
        group_ids: Option<&[String]>,
    ) -> Result<Vec<DeletableGroupResult>> {
        self.storage.delete_groups(group_ids).await
    }

    async fn describe_groups(
        &self,
        group_ids: Option<&[String]>,
        include_authorized_operations: bool,
    ) -> Result<Vec<NamedGroupDetail>> {
        self.storage
            .describe_groups(group_ids, include_authorized_operations)
            .await
    }

    async fn describe_topic_partitions(
        &self,
        topics: Option<&[TopicId]>,
        partition_limit: i32,
        cursor: Option<Topition>,
    ) -> Result<Vec<DescribeTopicPartitionsResponseTopic>> {
        self.storage
            .describe_topic_partitions(topics, partition_limit, cursor)
            .await
    }

    async fn init_producer(
        &self,
        transaction_id: Option<&str>,
        transaction_timeout_ms: i32,
        producer_id: Option<i64>,
        producer_epoch: Option<i16>,
    ) -> Result<ProducerIdResponse> {
        self.storage
            .init_producer(
                transaction_id,
                transaction_timeout_ms,
                producer_id,
                producer_epoch,
            )
            .await
    }

    async fn txn_add_offsets(
        &self,
        transaction_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        group_id: &str,
    ) -> Result<ErrorCode> {
        self.storage
            .txn_add_offsets(transaction_id, producer_id, producer_epoch, group_id)
            .await
    }

    async fn txn_add_partitions(
        &self,
        partitions: TxnAddPartitionsRequest,
    ) -> Result<TxnAddPartitionsResponse> {
        self.storage.txn_add_partitions(partitions).await
    }

    async fn txn_offset_commit(
        &self,
        offsets: TxnOffsetCommitRequest,
    ) -> Result<Vec<TxnOffsetCommitResponseTopic>> {
        self.storage.txn_offset_commit(offsets).await
    }

    async fn txn_end(
        &self,
        transaction_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        committed: bool,
    ) -> Result<ErrorCode> {
        self.storage
            .txn_end(transaction_id, producer_id, producer_epoch, committed)
            .await
    }

    async fn maintain(&self, now: SystemTime) -> Result<()> {
        self.storage.maintain(now).await
    }

    async fn cluster_id(&self) -> Result<String> {
        self.storage.cluster_id().await
    }

    async fn node(&self) -> Result<i32> {
        self.storage.node().await
    }

    async fn advertised_listener(&self) -> Result<Url> {
        self.storage.advertised_listener().await
    }

    async fn ping(&self) -> Result<()> {
        self.storage.ping().await
    }
}
