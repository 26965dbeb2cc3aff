//! `logport-query` answers SLS queries: `search | SQL`. The search syntax selects logs (parsed
//! and evaluated here, pruned by time and by per-segment term filters); the optional SQL after
//! the bar aggregates the hits with DataFusion over Arrow batches. It also builds histograms and
//! context views.
//!
//! It reads logs only through the engine's scan API; it must not know storage backends or HTTP.

mod columnar;
mod error;
mod execute;
pub mod preaggregate;
pub mod rows;
mod scan;
pub mod search;
pub mod sql;

pub use error::{QueryError, Result};
pub use execute::{
    Bucket, ContextRequest, ContextResponse, GetLogsRequest, GetLogsResponse, HistogramRequest, MAX_LINE, Meta,
    QueryOptions, context, explain, get_logs, get_logs_with, histogram, split_query,
};

/// How many partitions SQL scans are split into (one per core).
///
/// One in a WASI component: it runs on one thread with no tokio runtime, and DataFusion spawns
/// tokio tasks only to run several partitions at once.
fn scan_partitions() -> usize {
    if cfg!(target_arch = "wasm32") {
        return 1;
    }
    scan::cores()
}
