//! What a scan selects: a time range, a topic, a search. The scan itself is
//! [`crate::columnar::scan_columns`].

use crate::search::{Expr, required_hashes};

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
}

/// How many segments are read and evaluated at once.
pub(crate) fn parallelism() -> usize {
    cores() * 2
}

/// The cores this process may use, asked once (`available_parallelism` reads cgroup files).
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(2, usize::from))
}
