//! An embedded Kafka-compatible broker (tansu) storing in a directory (SlateDB).
//!
//! tansu has no stop API, so [`EmbeddedBroker::shutdown`] aborts its task and closes its
//! storage. A new process on the same directory finds every topic, message and committed offset.
//! Outages are simulated with [`EmbeddedBroker::start_gated`]: a [`Gate`] in front of the broker
//! drops every connection and refuses new ones, which clients cannot tell from a broker that went
//! down.
//!
//! - `storage`: opening the storage.
//! - `guarded`: the storage as the broker uses it, with SQL's behaviour where tansu relies on it.
//! - `batches`: cutting a stored batch to start at an offset, for fetches from inside one.

mod batches;
mod guarded;
mod storage;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use slatedb::Db;
use tansu_broker::{broker::Broker, coordinator::group::administrator::Controller};
use tansu_storage::{GroupDetail, GroupState, Storage, UpdateError};
use tokio::{net::TcpStream, task::JoinHandle, time::Instant};
use url::Url;

use crate::gate::Gate;
use guarded::GuardedStorage;

const NODE_ID: i32 = 111;
const CLUSTER_ID: &str = "event-driven-local";

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot prepare broker storage at {path}")]
    Storage {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid broker URL")]
    Url(#[from] url::ParseError),
    #[error("broker failed to start: {0}")]
    Start(String),
    #[error("cannot open the gate in front of the broker")]
    Gate(#[source] std::io::Error),
    #[error("broker did not accept connections on {0} within 30 s")]
    NotListening(SocketAddr),
    #[error("this broker was started without a gate, so it cannot be taken down and back")]
    NotGated,
}

pub struct EmbeddedBroker {
    address: SocketAddr,
    db: Arc<Db>,
    task: Option<JoinHandle<()>>,
    gate: Option<Gate>,
}

impl EmbeddedBroker {
    /// Starts a broker on `address` (pick the port beforehand: clients must know it) storing in
    /// `storage` (a directory, created if missing). Returns once it accepts connections.
    pub async fn start(address: SocketAddr, storage: &Path) -> Result<Self, BrokerError> {
        Self::launch(address, address, storage, None).await
    }

    /// Like [`start`](Self::start), but clients reach the broker through a gate on `address`,
    /// so that [`stop`](Self::stop) and [`restart`](Self::restart) can simulate an outage.
    pub async fn start_gated(
        address: SocketAddr,
        internal: SocketAddr,
        storage: &Path,
    ) -> Result<Self, BrokerError> {
        let gate = Gate::open(address, internal)
            .await
            .map_err(BrokerError::Gate)?;
        Self::launch(address, internal, storage, Some(gate)).await
    }

    async fn launch(
        advertised: SocketAddr,
        bind: SocketAddr,
        directory: &Path,
        gate: Option<Gate>,
    ) -> Result<Self, BrokerError> {
        let advertised_listener = Url::parse(&format!("tcp://{advertised}"))?;
        let storage::BrokerStorage { container, db } =
            storage::open(directory, CLUSTER_ID, NODE_ID, advertised_listener.clone()).await?;
        let storage = GuardedStorage::new(container);
        forget_group_members(&storage).await?;
        let groups = Controller::with_storage(storage.clone())
            .map_err(|error| BrokerError::Start(error.to_string()))?;
        let mut broker = Broker::new(
            NODE_ID,
            CLUSTER_ID,
            Url::parse(&format!("tcp://{bind}"))?,
            advertised_listener,
            storage,
            groups,
            uuid::Uuid::now_v7(),
        );
        let task = tokio::spawn(async move {
            if let Err(error) = broker.serve(Instant::now()).await {
                tracing::error!(error = ?error, "embedded broker stopped");
            }
        });
        let broker = Self {
            address: advertised,
            db,
            task: Some(task),
            gate,
        };
        wait_until_listening(bind).await?;
        wait_until_listening(advertised).await?;
        Ok(broker)
    }

    /// `host:port`, for `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> String {
        self.address.to_string()
    }

    /// Takes a gated broker off the network: connections drop, new ones are refused.
    pub async fn stop(&mut self) -> Result<(), BrokerError> {
        self.gate
            .as_mut()
            .ok_or(BrokerError::NotGated)?
            .close()
            .await;
        Ok(())
    }

    /// Brings a gated broker back after [`stop`](Self::stop).
    pub async fn restart(&mut self) -> Result<(), BrokerError> {
        self.gate
            .as_mut()
            .ok_or(BrokerError::NotGated)?
            .reopen()
            .await
            .map_err(BrokerError::Gate)?;
        wait_until_listening(self.address).await
    }

    /// Stops the broker for good.
    pub async fn shutdown(mut self) {
        self.close().await;
    }

    /// Stops the broker for good and closes its storage, for an owner that cannot give the broker
    /// up (its storage directory must outlive the close). Dropping a broker only stops it: its
    /// storage's background tasks would then fail on a directory deleted right after.
    pub async fn close(&mut self) {
        self.gate = None;
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        if let Err(error) = self.db.close().await {
            tracing::warn!(%error, "embedded broker: storage did not close cleanly");
        }
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Works around tansu 0.6 keeping a dead process's group members across a restart.
///
/// tansu stores each consumer group's members, leader and generation with the group. After a
/// crash (`kill -9`), the restarted broker loads them as if they were alive: the new consumer
/// joins a group whose leader is the dead member, that leader is dropped after its session
/// timeout, and no new leader is ever chosen, so the group never assigns a partition (seen as
/// `assigned_partitions: []` for good). A clean stop does not leave this behind, because the
/// consumers leave the group first. Kafka itself treats loaded members as unconfirmed and
/// rebalances without the dead ones.
///
/// Before serving, every group's membership is therefore forgotten: members rejoin (a live
/// client of another process gets `UNKNOWN_MEMBER_ID` and rejoins at once). Committed offsets
/// are stored apart from the membership and are kept, so nothing is consumed twice or skipped.
async fn forget_group_members(storage: &impl Storage) -> Result<(), BrokerError> {
    let start = |error: &dyn std::fmt::Display| BrokerError::Start(error.to_string());
    let groups = storage
        .list_groups(None)
        .await
        .map_err(|error| start(&error))?;
    for group in groups {
        let group_id = group.group_id;
        // Asking to create the group answers with what is stored and its version.
        let (current, version) = match storage
            .update_group(&group_id, GroupDetail::default(), None)
            .await
        {
            Err(UpdateError::Outdated { current, version }) => (*current, version),
            // Nothing was stored for it: the default just written is already empty.
            Ok(_) => continue,
            Err(error) => return Err(start(&format!("group {group_id}: {error:?}"))),
        };
        if current.members.is_empty() {
            continue;
        }
        let forgotten = GroupDetail {
            members: Default::default(),
            state: GroupState::Forming {
                protocol_type: current.state.protocol_type(),
                protocol_name: None,
                leader: None,
            },
            ..current
        };
        storage
            .update_group(&group_id, forgotten, Some(version))
            .await
            .map_err(|error| start(&format!("group {group_id}: {error:?}")))?;
        tracing::info!(%group_id, "embedded broker: forgot the members of the previous run");
    }
    Ok(())
}

async fn wait_until_listening(address: SocketAddr) -> Result<(), BrokerError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect(address).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(BrokerError::NotListening(address))
}
