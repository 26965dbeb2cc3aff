//! The scan: pick segments by time, drop those whose term filter rules the search out, then
//! read and evaluate the rest in parallel (one task per segment, a bounded number at a time).

use std::sync::Arc;

use futures::StreamExt;
use logport_core::engine::Engine;
use logport_core::engine::scan::SegmentRef;
use logport_core::model::LogGroup;

use crate::error::Result;
use crate::search::{Expr, LogView, matches, required_hashes};

/// What to select: a time range `[from, to)`, an optional topic, and a search.
#[derive(Debug, Clone)]
pub struct Selection {
    pub from: i64,
    pub to: i64,
    pub topic: Option<String>,
    pub expr: Expr,
    required: Vec<u64>,
}

impl Selection {
    pub fn new(from: i64, to: i64, topic: Option<String>, expr: Expr) -> Self {
        let required = required_hashes(&expr);
        Self { from, to, topic, expr, required }
    }

    /// Token hashes every selected log contains (for term-filter pruning).
    pub fn required(&self) -> Vec<u64> {
        self.required.clone()
    }

    /// Whether a log of a group is selected.
    pub fn selects(&self, log: &LogView<'_>) -> bool {
        let time = i64::from(log.time);
        time >= self.from
            && time < self.to
            && self.topic.as_deref().is_none_or(|topic| topic == log.topic)
            && matches(&self.expr, log)
    }
}

/// The logs of one segment that a selection picked, as (group, log) indexes.
#[derive(Debug)]
pub struct SegmentHits {
    pub segment: SegmentRef,
    pub groups: Vec<LogGroup>,
    pub hits: Vec<(usize, usize)>,
    /// Logs of the segment inside the time range (evaluated).
    pub processed: u64,
}

/// A view of log `index` of `group`.
pub fn view(group: &LogGroup, index: usize) -> LogView<'_> {
    let log = &group.logs[index];
    LogView {
        time: log.time,
        topic: group.topic.as_deref().unwrap_or(""),
        source: group.source.as_deref().unwrap_or(""),
        tags: &group.log_tags,
        contents: &log.contents,
    }
}

fn evaluate(segment: SegmentRef, groups: Vec<LogGroup>, selection: &Selection) -> SegmentHits {
    let mut hits = Vec::new();
    let mut processed = 0;
    for (group_index, group) in groups.iter().enumerate() {
        for log_index in 0..group.logs.len() {
            let log = view(group, log_index);
            let time = i64::from(log.time);
            if time < selection.from || time >= selection.to {
                continue;
            }
            processed += 1;
            if selection.selects(&log) {
                hits.push((group_index, log_index));
            }
        }
    }
    SegmentHits { segment, groups, hits, processed }
}

/// How many segments are read and evaluated at once.
pub(crate) fn parallelism() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from) * 2
}

/// Scans `segments` (in order), mapping each segment's hits with `finish` on the worker that
/// evaluated it. Segments whose term filter excludes the search are skipped unread.
pub async fn scan<T, F>(
    engine: &Arc<Engine>,
    segments: Vec<SegmentRef>,
    selection: Arc<Selection>,
    finish: F,
) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(SegmentHits) -> T + Send + Sync + 'static,
{
    let finish = Arc::new(finish);
    let tasks = segments.into_iter().map(|segment| {
        let (engine, selection, finish) = (engine.clone(), selection.clone(), finish.clone());
        async move {
            if !engine.may_contain_all(&segment, &selection.required).await? {
                return Ok(None);
            }
            let groups = engine.read_groups(&segment).await?;
            let work = move || finish(evaluate(segment, groups, &selection));
            let output = match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    handle.spawn_blocking(work).await.map_err(|error| crate::QueryError::Internal(error.to_string()))?
                }
                Err(_) => work(),
            };
            Ok(Some(output))
        }
    });
    let outputs: Vec<Result<Option<T>>> = futures::stream::iter(tasks).buffered(parallelism()).collect().await;
    let mut kept = Vec::new();
    for output in outputs {
        if let Some(value) = output? {
            kept.push(value);
        }
    }
    Ok(kept)
}
