//! `logport-store-local` is Logport's embedded storage backend, the one `logport up` runs on: it
//! implements the storage ports of `logport-core` on one machine's disk, objects as files under a
//! directory ([`FileObjectStore`]) and metadata items in a SQLite database ([`SqliteMetaStore`]),
//! both durable when a call returns and both checked by the core's conformance suites.
//!
//! It must not know about logs, projects, logstores, shards, cursors, SLS or HTTP: it stores the
//! keys and bytes it is given under the ports' contracts and nothing else. Every blocking file or
//! database call runs on tokio's blocking pool, never on an async worker thread.

mod blocking;
mod files;
mod sqlite;

use std::path::Path;
use std::sync::Arc;

pub use files::FileObjectStore;
use logport_core::store::{Result, StoreError};
pub use sqlite::SqliteMetaStore;

/// Both stores of one data directory: objects under `<data_dir>/objects`, metadata in
/// `<data_dir>/meta.sqlite`.
#[derive(Debug, Clone)]
pub struct LocalStore {
    pub objects: Arc<FileObjectStore>,
    pub meta: Arc<SqliteMetaStore>,
}

impl LocalStore {
    /// The directory under the data directory that holds the objects.
    pub const OBJECTS_DIR: &str = "objects";
    /// The SQLite database file under the data directory.
    pub const META_FILE: &str = "meta.sqlite";

    /// Opens (creating as needed) the stores of `data_dir`. This does blocking I/O: call it at
    /// startup, or from `spawn_blocking`.
    pub fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::Backend(format!("creating data directory {}: {e}", data_dir.display())))?;
        let objects = FileObjectStore::open(data_dir.join(Self::OBJECTS_DIR))?;
        let meta = SqliteMetaStore::open(&data_dir.join(Self::META_FILE))?;
        Ok(Self { objects: Arc::new(objects), meta: Arc::new(meta) })
    }
}
