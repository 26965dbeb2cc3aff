//! What a scan selects (time range, topic, search) and how one log is seen by the search. The
//! scan itself is [`crate::columnar::scan_columns`].

use logport_core::model::LogGroup;

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

/// How many segments are read and evaluated at once.
pub(crate) fn parallelism() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from) * 2
}
