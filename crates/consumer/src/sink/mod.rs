//! Where a consumer forwards logs: SIEM receivers. A sink's `send` returns `Ok` only when the
//! receiver accepted every log of the batch, so the worker checkpoints only what was delivered.

pub mod hec;
pub mod syslog;

use logport_core::model::{Log, LogGroup};
use serde_json::{Map, Value};

/// Why a batch was not delivered. The worker keeps the batch and tries again later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// A receiver of logs.
pub trait Sink: Send {
    /// Delivers every log of `groups`, in order; `Ok` only if all were accepted.
    fn send(&mut self, groups: &[LogGroup]) -> Result<(), SinkError>;

    /// Releases connections (TLS `close_notify`, ...). Called once when the worker stops.
    fn close(&mut self) {}
}

/// How a log's fields become a message body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `key=value||key=value`: the contents in order, then `__topic__`, `__source__` and
    /// `__tag__:<key>` when present (the classic SLS-to-SIEM form).
    #[default]
    Kv,
    /// One JSON object with the same fields.
    Json,
}

/// The fields of a log as forwarded: contents in order, then topic, source and tags.
pub fn fields<'a>(group: &'a LogGroup, log: &'a Log) -> Vec<(std::borrow::Cow<'a, str>, &'a str)> {
    use std::borrow::Cow;
    let mut out: Vec<(Cow<'a, str>, &'a str)> =
        log.contents.iter().map(|content| (Cow::Borrowed(content.key.as_str()), content.value.as_str())).collect();
    if let Some(topic) = group.topic.as_deref().filter(|topic| !topic.is_empty()) {
        out.push((Cow::Borrowed("__topic__"), topic));
    }
    if let Some(source) = group.source.as_deref().filter(|source| !source.is_empty()) {
        out.push((Cow::Borrowed("__source__"), source));
    }
    for tag in &group.log_tags {
        out.push((Cow::Owned(format!("__tag__:{}", tag.key)), tag.value.as_str()));
    }
    out
}

/// The message body of a log in `format`.
pub fn render(group: &LogGroup, log: &Log, format: Format) -> String {
    match format {
        Format::Kv => {
            let mut text = String::new();
            for (index, (key, value)) in fields(group, log).iter().enumerate() {
                if index > 0 {
                    text.push_str("||");
                }
                text.push_str(key);
                text.push('=');
                text.push_str(value);
            }
            text
        }
        Format::Json => Value::Object(json_fields(group, log)).to_string(),
    }
}

/// The fields of a log as a JSON object (keys in forwarding order).
pub fn json_fields(group: &LogGroup, log: &Log) -> Map<String, Value> {
    fields(group, log).into_iter().map(|(key, value)| (key.into_owned(), Value::String(value.to_owned()))).collect()
}

/// Sleeps for `attempt`'s backoff: 100 ms doubling up to `max`.
pub(crate) fn backoff(attempt: u32, max: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_millis(100u64.saturating_mul(1 << attempt.min(16))).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use logport_core::model::{Content, LogTag};

    pub(crate) fn sample() -> LogGroup {
        LogGroup {
            logs: vec![Log {
                time: 1_700_000_000,
                contents: vec![
                    Content { key: "status".into(), value: "500".into() },
                    Content { key: "path".into(), value: "/a b".into() },
                ],
                time_ns: Some(123_000_000),
            }],
            reserved: None,
            topic: Some("nginx".into()),
            source: Some("10.0.0.1".into()),
            machine_uuid: None,
            log_tags: vec![LogTag { key: "host".into(), value: "web-1".into() }],
        }
    }

    #[test]
    fn renders_kv_and_json() {
        let group = sample();
        assert_eq!(
            render(&group, &group.logs[0], Format::Kv),
            "status=500||path=/a b||__topic__=nginx||__source__=10.0.0.1||__tag__:host=web-1"
        );
        assert_eq!(
            render(&group, &group.logs[0], Format::Json),
            r#"{"status":"500","path":"/a b","__topic__":"nginx","__source__":"10.0.0.1","__tag__:host":"web-1"}"#
        );
    }
}
