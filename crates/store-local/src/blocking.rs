//! Running blocking storage work off the async worker threads.

use logport_core::store::{Result, StoreError};

/// Runs `work` on tokio's blocking pool and returns its result, or right here when the caller
/// is a blocking thread that asked for it ([`logport_core::store::with_inline_blocking`]). A
/// panic in `work` on the pool becomes a [`StoreError::Backend`] (the stores recover their locks
/// from poisoning: a panicked SQLite transaction rolls back, and the file store holds no lock).
pub(crate) async fn run<T, F>(work: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    if logport_core::store::inline_blocking() {
        return work();
    }
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Backend(format!("blocking storage task failed: {e}")))?
}
