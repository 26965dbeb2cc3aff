//! Tasks: one per closed window (a shard's cursor range), with status, attempts and the retry
//! schedule.

use serde::{Deserialize, Serialize};

/// A task's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    /// Created and not finished (waiting for its first run, or being run).
    Running,
    Success,
    /// The last attempt failed (`error_code` says why); it may be retried.
    Fail,
}

impl TaskStatus {
    /// The SLS name (`running`, `success`, `fail`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Success => "success",
            Self::Fail => "fail",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "running" => Some(Self::Running),
            "success" => Some(Self::Success),
            "fail" | "failed" => Some(Self::Fail),
            _ => None,
        }
    }
}

/// Why a task failed (SLS error codes).
pub mod codes {
    pub const UNAUTHORIZED: &str = "Unauthorized";
    pub const CONFIG_NOT_EXIST: &str = "ConfigNotExist";
    pub const INVALID_BUCKET: &str = "InvalidOssBucket";
    pub const INTERNAL: &str = "InternalServerError";
}

/// One task, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub id: String,
    pub shard: u32,
    /// The rule generation that created it: a rule deleted (and maybe created again) since makes
    /// the task `ConfigNotExist`.
    pub generation: String,
    /// The cursor range `[start, end)` in positions.
    pub start_position: u64,
    pub end_position: u64,
    /// Uncompressed bytes of the range (by the segment index).
    pub raw_bytes: u64,
    pub create_time: i64,
    /// Receive time of the last log group in the range.
    pub last_data_receive_time: i64,
    pub status: TaskStatus,
    pub attempts: u32,
    /// Start of the last attempt (0: none yet).
    pub start_time: i64,
    /// End of the last attempt (0: none yet).
    pub finish_time: i64,
    /// When the scheduler should run it next (`None`: nothing to do).
    pub next_attempt: Option<i64>,
    pub error_code: String,
    pub error_message: String,
    /// Logs written by the successful attempt.
    pub lines: u64,
    /// Object written by the last successful attempt.
    pub object_key: String,
    pub object_bytes: u64,
}

/// How long automatic retries go on: while the task is younger than this.
pub const RETRY_WINDOW_SECS: i64 = 2 * 86_400;
/// How long a claimed attempt may run before another runner may take the task over.
pub const ATTEMPT_LEASE_SECS: i64 = 600;

/// The delay before automatic retry number `failures` (1 = after the first failure): 15, 30,
/// then 60 minutes.
pub fn retry_delay(failures: u32) -> i64 {
    match failures {
        0 | 1 => 15 * 60,
        2 => 30 * 60,
        _ => 60 * 60,
    }
}

/// When a task created at `created` that failed for the `failures`-th time at `failed_at` is
/// retried automatically, or `None` once the retry would come when the task is 2 days old.
pub fn next_retry(created: i64, failed_at: i64, failures: u32) -> Option<i64> {
    let at = failed_at + retry_delay(failures);
    (at - created < RETRY_WINDOW_SECS).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_after_15_30_60_60_minutes_while_under_two_days_old() {
        let created = 1_000_000;
        let mut now = created;
        let mut delays = Vec::new();
        let mut failures = 0;
        while let Some(at) = next_retry(created, now, failures + 1) {
            failures += 1;
            delays.push((at - now) / 60);
            now = at;
        }
        assert_eq!(&delays[..5], &[15, 30, 60, 60, 60]);
        assert!(delays[3..].iter().all(|minutes| *minutes == 60));
        // Every retry happens before the task is 2 days old; the next would not.
        assert!(now - created < RETRY_WINDOW_SECS);
        assert!(now + 3600 - created >= RETRY_WINDOW_SECS);
        // Retries at 0:15, 0:45, then hourly 1:45 ... 47:45 of the task's age.
        assert_eq!(delays.len(), 2 + 47);
        assert_eq!(next_retry(created, created + RETRY_WINDOW_SECS - 60, 9), None);
        assert_eq!(TaskStatus::parse("fail"), Some(TaskStatus::Fail));
    }
}
