//! An embedded Kafka-compatible broker (tansu) with SQLite storage.
//!
//! tansu has no stop API, so stopping aborts its task; its storage is a SQLite file, so a broker
//! started again on the same file has every topic, message and committed offset.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use tansu_broker::{broker::Broker, coordinator::group::administrator::Controller};
use tansu_storage::StorageContainer;
use tokio::{net::TcpStream, task::JoinHandle, time::Instant};
use url::Url;

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
    #[error("broker did not accept connections on {0} within 30 s")]
    NotListening(SocketAddr),
}

pub struct EmbeddedBroker {
    address: SocketAddr,
    storage: PathBuf,
    task: Option<JoinHandle<()>>,
}

impl EmbeddedBroker {
    /// Starts a broker on `address` (pick the port beforehand: clients must know it) storing in
    /// `storage` (a SQLite file, created if missing). Returns once it accepts connections.
    pub async fn start(address: SocketAddr, storage: &Path) -> Result<Self, BrokerError> {
        let mut broker = Self {
            address,
            storage: absolute(storage)?,
            task: None,
        };
        broker.restart().await?;
        Ok(broker)
    }

    /// `host:port`, for `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> String {
        self.address.to_string()
    }

    /// Stops the broker: connections drop, clients see it as down.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Starts it again on the same address and storage (after [`stop`](Self::stop)).
    pub async fn restart(&mut self) -> Result<(), BrokerError> {
        self.stop().await;
        let listener = Url::parse(&format!("tcp://{}", self.address))?;
        // tansu resolves the path against the working directory; an absolute path ("sqlite:////…")
        // keeps the storage where it was asked for.
        let storage = Url::parse(&format!("sqlite:///{}", self.storage.display()))?;
        let mut broker = Broker::<Controller<StorageContainer>, StorageContainer>::builder()
            .node_id(111)
            .cluster_id("event-driven-local")
            .incarnation_id(uuid::Uuid::now_v7())
            .advertised_listener(listener.clone())
            .storage(storage)
            .listener(listener)
            .silent(true)
            .build()
            .await
            .map_err(|error| BrokerError::Start(error.to_string()))?;
        self.task = Some(tokio::spawn(async move {
            if let Err(error) = broker.serve(Instant::now()).await {
                tracing::error!(error = ?error, "embedded broker stopped");
            }
        }));
        self.wait_until_listening().await
    }

    async fn wait_until_listening(&self) -> Result<(), BrokerError> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if TcpStream::connect(self.address).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(BrokerError::NotListening(self.address))
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn absolute(storage: &Path) -> Result<PathBuf, BrokerError> {
    let error = |source| BrokerError::Storage {
        path: storage.to_owned(),
        source,
    };
    if let Some(parent) = storage.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(error)?;
    }
    std::path::absolute(storage).map_err(error)
}
