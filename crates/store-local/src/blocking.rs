//! Running blocking storage work off the async worker threads.

use logport_core::store::{Result, StoreError};

/// Runs `work` on tokio's blocking pool and returns its result. A panic in `work` becomes a
/// [`StoreError::Backend`] (the stores recover their locks from poisoning: a panicked SQLite
/// transaction rolls back, and the file store holds no lock).
pub(crate) async fn run<T, F>(work: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Backend(format!("blocking storage task failed: {e}")))?
}
