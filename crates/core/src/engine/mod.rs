//! The logstore engine: projects, logstores, shards, PutLogs, cursors, PullLogs and retention,
//! over the two storage ports. It is the only code that knows the storage layout
//! ([`keys`]); adapters (HTTP API, Lambda, wasm) call it and map [`EngineError`] to their own
//! error forms.
//!
//! # Commit protocol
//! A PutLogs batch is written first as an immutable segment object under a unique key, then
//! committed by one metadata transaction that (1) moves the shard head from version `v` to
//! `v + 1`, claiming the next sequence number and positions, (2) creates the segment's index
//! item, (3) creates its time-index item and (4) creates the idempotency item when the request
//! carries a key. A lost race re-reads the head and tries again; a crash before the commit
//! leaves an orphan object that [`Engine::collect_orphans`] deletes later. So positions have no
//! gaps and no duplicates, with any number of writers in any number of processes.

mod admin;
mod collection;
mod consumer;
mod ingest;
pub mod keys;
mod pull;
pub mod records;
mod retention;
pub mod scan;
pub mod segment;

use std::sync::Arc;
use std::sync::atomic::AtomicU32;

pub use admin::{LogstoreSettings, ProjectSettings};
pub use collection::{AgentPoll, AgentStatus, CollectionConfig, MachineGroup, MachineRecord, PollAnswer};
pub use consumer::{Assignment, CheckpointEntry, ConsumerGroupSettings, MAX_CONSUMER_GROUPS};
pub use ingest::{Batch, PutOutcome, ShardTarget};
pub use pull::{CursorFrom, PullOutcome};
pub use retention::SweepReport;

use crate::codec::CodecError;
use crate::cursor::CursorError;
use crate::model::ModelError;
use crate::names::NameError;
use crate::store::{MetaStore, ObjectStore, StoreError};

/// What an engine call can fail with. Each variant maps to one SLS error code at the edge.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    #[error("project '{0}' does not exist")]
    ProjectNotExist(String),
    #[error("project '{0}' already exists")]
    ProjectAlreadyExist(String),
    #[error("logstore '{0}' does not exist")]
    LogStoreNotExist(String),
    #[error("logstore '{0}' already exists")]
    LogStoreAlreadyExist(String),
    #[error("shard {0} does not exist")]
    ShardNotExist(u32),
    #[error(transparent)]
    InvalidCursor(#[from] CursorError),
    #[error("{0}")]
    CursorOutOfRange(String),
    #[error(transparent)]
    InvalidName(#[from] NameError),
    #[error("{0}")]
    ParameterInvalid(String),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("the body is not a valid LogGroup: {0}")]
    Decode(String),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("{0}")]
    TooLarge(String),
    #[error(transparent)]
    Storage(#[from] StoreError),
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    #[error("consumer group '{0}' does not exist")]
    ConsumerGroupNotExist(String),
    #[error("consumer group '{0}' already exists")]
    ConsumerGroupAlreadyExist(String),
    #[error("{0}")]
    ConsumerGroupQuotaExceed(String),
    /// A checkpoint from a consumer that does not hold the shard's lease (or holds an older one).
    #[error("{0}")]
    ConsumerNotMatch(String),
    #[error("machine group '{0}' does not exist")]
    MachineGroupNotExist(String),
    #[error("machine group '{0}' already exists")]
    MachineGroupAlreadyExist(String),
    #[error("config '{0}' does not exist")]
    ConfigNotExist(String),
    #[error("config '{0}' already exists")]
    ConfigAlreadyExist(String),
}

/// Result of engine calls.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// The time source, so that tests can move time (TTL) without waiting.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in unix seconds.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs() as i64)
    }
}

/// Limits the engine enforces on requests.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest uncompressed PutLogs body.
    pub max_batch_bytes: usize,
    /// Most uncompressed bytes one PullLogs response carries (at least one log group is returned).
    pub max_pull_bytes: usize,
    /// Most log groups one PullLogs call may ask for.
    pub max_pull_count: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_batch_bytes: 32 << 20, max_pull_bytes: 16 << 20, max_pull_count: 1000 }
    }
}

/// The logstore engine. Cheap to share (`Arc`) between request handlers.
#[derive(Debug)]
pub struct Engine {
    objects: Arc<dyn ObjectStore>,
    meta: Arc<dyn MetaStore>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    /// The next shard of a batch without a hash key, round robin from a random start: an engine
    /// that lives for one request (a WASM component instance, a cold Lambda) would otherwise put
    /// every such batch into shard 0, and concurrent writers would all contend for its head.
    balance: AtomicU32,
    /// Columnar directories of segments read so far (objects never change once written).
    directories: scan::DirectoryCache,
}

impl Engine {
    /// An engine over the given ports, with the system clock and default limits.
    pub fn new(objects: Arc<dyn ObjectStore>, meta: Arc<dyn MetaStore>) -> Self {
        Self {
            objects,
            meta,
            clock: Arc::new(SystemClock),
            limits: Limits::default(),
            balance: AtomicU32::new(uuid::Uuid::new_v4().as_u128() as u32),
            directories: scan::DirectoryCache::default(),
        }
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Replaces the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Now, by the engine's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}

#[cfg(test)]
mod tests;
