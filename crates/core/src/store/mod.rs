//! The storage ports: everything the engine needs from a backend, and nothing more.
//!
//! - [`ObjectStore`]: immutable blobs by key (segments, later shipped files). S3 or files.
//! - [`MetaStore`]: small versioned items by partition key + sort key, with conditional writes,
//!   all-or-nothing transactions and sort-key range queries. DynamoDB or SQLite.
//!
//! Each trait's rustdoc is its contract; the suites in `conformance` (feature `conformance`)
//! check it, and every backend runs them. [`memory`] is a reference backend for unit tests.

pub mod memory;
mod meta;
mod object;

pub use meta::{
    Condition, Item, MAX_TRANSACTION_OPS, MAX_VALUE_BYTES, MetaStore, Query, WriteOp, condition_holds,
    validate_key_pair, validate_transaction, validate_value,
};
pub use object::{ObjectMeta, ObjectStore, PutMode, validate_key, validate_prefix};

/// What a storage call can fail with. Backends map their own errors onto these; only
/// [`StoreError::Backend`] and [`StoreError::Unavailable`] carry backend-specific detail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The object or item does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A conditional write's condition did not hold (for a transaction: `index` is the first
    /// operation whose condition failed, when the backend can tell). Not an error for the engine:
    /// it decides what a lost race means.
    #[error("condition failed{}", .index.map(|i| format!(" (operation {i})")).unwrap_or_default())]
    Conflict { index: Option<usize> },
    /// The request itself is invalid (bad key, range, too many operations).
    #[error("invalid storage request: {0}")]
    Invalid(String),
    /// The backend refused access (a file permission, S3 `403 AccessDenied`): retrying will not
    /// help until someone changes the permissions.
    #[error("access denied: {0}")]
    Forbidden(String),
    /// A transient failure the caller may retry (throttling, timeouts).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Any other backend failure.
    #[error("storage failure: {0}")]
    Backend(String),
}

/// Result of storage calls.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

thread_local! {
    static INLINE_BLOCKING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `work` with blocking storage calls made inline on this thread: a backend whose calls
/// block (file reads, SQLite) runs them on the caller's thread instead of handing each one to
/// tokio's blocking pool and back. Only for code already on a thread that may block (a
/// `spawn_blocking` task driving storage futures with `Handle::block_on`), where the two thread
/// hand-offs per call would cost more than the call (a query reading hundreds of segments from
/// the page cache).
pub fn with_inline_blocking<R>(work: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            INLINE_BLOCKING.with(|flag| flag.set(self.0));
        }
    }
    let _reset = Reset(INLINE_BLOCKING.with(|flag| flag.replace(true)));
    work()
}

/// Whether this thread is inside [`with_inline_blocking`] (for backends: run blocking work here).
pub fn inline_blocking() -> bool {
    INLINE_BLOCKING.with(std::cell::Cell::get)
}
