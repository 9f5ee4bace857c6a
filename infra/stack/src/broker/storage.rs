//! The broker's storage: tansu's SlateDB engine on a directory of the local filesystem.
//!
//! SlateDB is a pure-Rust key-value store over an object store; here the object store is a
//! directory. tansu's SQLite storage bundles its own C SQLite (libSQL), which cannot be linked
//! beside the one sqlx bundles for the services, so the broker stores through SlateDB instead.
//! Every write the broker acknowledges is in SlateDB's write-ahead log on disk first (its writes
//! await durability), so a `kill -9` loses nothing acknowledged.

use std::{path::Path, sync::Arc, time::Duration};

use slatedb::{
    Db,
    config::{GarbageCollectorDirectoryOptions, GarbageCollectorOptions, Settings},
    object_store::local::LocalFileSystem,
};
use tansu_storage::{StorageContainer, slate};
use url::Url;

use super::BrokerError;

/// The broker's storage, and the database under it, which must be closed on a clean stop.
pub struct BrokerStorage {
    pub container: StorageContainer,
    pub db: Arc<Db>,
}

/// Opens (or creates) the storage in `directory`.
pub async fn open(
    directory: &Path,
    cluster_id: &str,
    node_id: i32,
    advertised_listener: Url,
) -> Result<BrokerStorage, BrokerError> {
    let start = |error: &dyn std::fmt::Display| BrokerError::Start(error.to_string());
    std::fs::create_dir_all(directory).map_err(|source| BrokerError::Storage {
        path: directory.to_owned(),
        source,
    })?;
    let object_store =
        LocalFileSystem::new_with_prefix(directory).map_err(|error| start(&error))?;
    let db = Db::builder("tansu", Arc::new(object_store))
        .with_settings(settings())
        .build()
        .await
        .map(Arc::new)
        .map_err(|error| start(&error))?;
    let engine = slate::Engine::new(cluster_id, node_id, advertised_listener, db.clone());
    Ok(BrokerStorage {
        container: StorageContainer::Slate(engine),
        db,
    })
}

fn settings() -> Settings {
    let collect = Some(GarbageCollectorDirectoryOptions::default());
    Settings {
        // Each produce and offset commit waits for its write-ahead log flush: SlateDB's default
        // of 100 ms would be the floor of every event's latency.
        flush_interval: Some(Duration::from_millis(5)),
        // Small in-memory tables reach disk sooner, so the write-ahead log files they replace
        // can be collected (after half an hour) on a stack that runs for long.
        l0_sst_size_bytes: 4 * 1024 * 1024,
        garbage_collector_options: Some(GarbageCollectorOptions {
            manifest_options: collect,
            wal_options: collect,
            compacted_options: collect,
            compactions_options: collect,
        }),
        ..Settings::default()
    }
}
