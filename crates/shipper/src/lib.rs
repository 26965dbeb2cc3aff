//! `logport-shipper` ships a logstore's data to object storage on a schedule, as SLS's
//! LogShipper does: a **rule** (SLS's CreateShipper JSON: bucket, prefix, partition format,
//! size/interval, JSON, CSV or Parquet, snappy) per logstore; per shard, a **window** over the
//! shard's positions that closes when it holds `bufferSize` of data or is `bufferInterval` old;
//! each closed window becomes a **task** (a cursor range) whose object key derives from its id,
//! so a rerun overwrites instead of duplicating; failed tasks retry after 15, 30, then every 60
//! minutes while they are less than 2 days old.
//!
//! It reads data through the engine's pull API, keeps rules, windows and tasks in the same
//! [`MetaStore`](logport_core::store::MetaStore) as the engine (SQLite or DynamoDB alike) and
//! writes through the [`ObjectStore`](logport_core::store::ObjectStore) port, resolved per bucket
//! by a [`Buckets`]. It knows nothing of HTTP, the CLI or Lambda: a runtime calls
//! [`Shipper::run_due`] on its schedule (or [`Shipper::spawn`] for an in-process loop).

mod config;
pub mod format;
pub mod keys;
pub mod partition;
mod shipper;
pub mod target;
pub mod task;

#[cfg(test)]
mod tests;

pub use config::{
    Column, ColumnType, Compress, CsvSettings, DEFAULT_PATH_FORMAT, ShipperConfig, Storage, validate_bucket,
    validate_name,
};
pub use shipper::{RetryWhich, RuleRecord, RunReport, Shipper, TaskFilter, TaskPage};
#[cfg(feature = "local")]
pub use target::DirectoryBuckets;
#[cfg(feature = "aws")]
pub use target::S3Buckets;
pub use target::{BucketError, Buckets};
pub use task::{TaskRecord, TaskStatus};

use logport_core::engine::EngineError;
use logport_core::store::StoreError;

/// What a shipper call can fail with; the API maps each to an SLS error code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShipperError {
    #[error("{0}")]
    InvalidConfig(String),
    #[error("shipper '{0}' does not exist")]
    ShipperNotExist(String),
    #[error("shipper '{0}' already exists")]
    ShipperAlreadyExist(String),
    #[error("task '{0}' does not exist")]
    TaskNotExist(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Storage(#[from] StoreError),
    #[error("corrupt shipper record: {0}")]
    Corrupt(String),
}

/// Result of shipper calls.
pub type Result<T, E = ShipperError> = std::result::Result<T, E>;
