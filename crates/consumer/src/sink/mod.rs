//! Where a consumer forwards logs: SIEM receivers. A sink's `send` returns `Ok` only when the
//! receiver accepted every log of the batch, so the worker checkpoints only what was delivered.

pub mod hec;
pub mod syslog;

use logport_core::view::{GroupView, LogView};
use serde_json::{Map, Value};

/// Why a batch was not delivered. The worker keeps the batch and tries again later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// A receiver of logs.
pub trait Sink: Send {
    /// Delivers every log of `groups`, in order; `Ok` only if all were accepted.
    fn send(&mut self, groups: &[GroupView<'_>]) -> Result<(), SinkError>;

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
pub fn fields<'a>(group: &GroupView<'a>, log: &LogView) -> Vec<(std::borrow::Cow<'a, str>, &'a str)> {
    use std::borrow::Cow;
    let mut out: Vec<(Cow<'a, str>, &'a str)> =
        group.contents(log).iter().map(|&(key, value)| (Cow::Borrowed(key), value)).collect();
    if !group.topic.is_empty() {
        out.push((Cow::Borrowed("__topic__"), group.topic));
    }
    if !group.source.is_empty() {
        out.push((Cow::Borrowed("__source__"), group.source));
    }
    for &(key, value) in &group.tags {
        out.push((Cow::Owned(format!("__tag__:{key}")), value));
    }
    out
}

/// The message body of a log in `format`.
pub fn render(group: &GroupView<'_>, log: &LogView, format: Format) -> String {
    let mut out = Vec::new();
    render_into(&mut out, group, log, format);
    String::from_utf8(out).expect("keys and values are UTF-8")
}

/// Appends the message body of a log in `format` to `out` (no allocation per field).
pub fn render_into(out: &mut Vec<u8>, group: &GroupView<'_>, log: &LogView, format: Format) {
    let mut first = true;
    let mut field = |out: &mut Vec<u8>, prefix: &str, key: &str, value: &str| {
        match format {
            Format::Kv => {
                if !first {
                    out.extend_from_slice(b"||");
                }
                out.extend_from_slice(prefix.as_bytes());
                out.extend_from_slice(key.as_bytes());
                out.push(b'=');
                out.extend_from_slice(value.as_bytes());
            }
            Format::Json => {
                out.push(if first { b'{' } else { b',' });
                json_string(out, prefix, key);
                out.push(b':');
                json_string(out, "", value);
            }
        }
        first = false;
    };
    for &(key, value) in group.contents(log) {
        field(out, "", key, value);
    }
    if !group.topic.is_empty() {
        field(out, "", "__topic__", group.topic);
    }
    if !group.source.is_empty() {
        field(out, "", "__source__", group.source);
    }
    for &(key, value) in &group.tags {
        field(out, "__tag__:", key, value);
    }
    if format == Format::Json {
        if first {
            out.push(b'{');
        }
        out.push(b'}');
    }
}

/// `prefix + text` as a JSON string.
fn json_string(out: &mut Vec<u8>, prefix: &str, text: &str) {
    out.push(b'"');
    for part in [prefix, text] {
        let bytes = part.as_bytes();
        let mut start = 0;
        for (index, &byte) in bytes.iter().enumerate() {
            let escape: Option<&[u8]> = match byte {
                b'"' => Some(b"\\\""),
                b'\\' => Some(b"\\\\"),
                b'\n' => Some(b"\\n"),
                b'\r' => Some(b"\\r"),
                b'\t' => Some(b"\\t"),
                0..=0x1f => None,
                _ => continue,
            };
            out.extend_from_slice(&bytes[start..index]);
            match escape {
                Some(escaped) => out.extend_from_slice(escaped),
                None => out.extend_from_slice(format!("\\u{byte:04x}").as_bytes()),
            }
            start = index + 1;
        }
        out.extend_from_slice(&bytes[start..]);
    }
    out.push(b'"');
}

/// The fields of a log as a JSON object (keys in forwarding order).
pub fn json_fields(group: &GroupView<'_>, log: &LogView) -> Map<String, Value> {
    fields(group, log).into_iter().map(|(key, value)| (key.into_owned(), Value::String(value.to_owned()))).collect()
}

/// Sleeps for `attempt`'s backoff: 100 ms doubling up to `max`.
pub(crate) fn backoff(attempt: u32, max: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_millis(100u64.saturating_mul(1 << attempt.min(16))).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use logport_core::model::{Content, Log, LogGroup, LogGroupList, LogTag};
    use prost::Message;

    /// `groups` serialized as a PullLogs answer carries them, for reading with views.
    pub(crate) fn encoded(groups: &[LogGroup]) -> Vec<u8> {
        LogGroupList { log_groups: groups.to_vec() }.encode_to_vec()
    }

    /// The views of `bytes` (from [`encoded`]).
    pub(crate) fn views(bytes: &[u8]) -> Vec<GroupView<'_>> {
        logport_core::view::list_groups(bytes).unwrap()
    }

    /// [`sample`], serialized.
    pub(crate) fn sample_bytes() -> Vec<u8> {
        encoded(&[sample()])
    }

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
        let bytes = sample_bytes();
        let group = &views(&bytes)[0];
        assert_eq!(
            render(group, &group.logs[0], Format::Kv),
            "status=500||path=/a b||__topic__=nginx||__source__=10.0.0.1||__tag__:host=web-1"
        );
        assert_eq!(
            render(group, &group.logs[0], Format::Json),
            r#"{"status":"500","path":"/a b","__topic__":"nginx","__source__":"10.0.0.1","__tag__:host":"web-1"}"#
        );
        // The hand-written JSON is what serde_json reads back, with every escape.
        let mut odd = sample();
        let value = "quote \" backslash \\ newline \n tab \t bell \u{7} é ☃";
        odd.logs[0].contents[1].value = value.into();
        let bytes = encoded(&[odd]);
        let odd = &views(&bytes)[0];
        let text = render(odd, &odd.logs[0], Format::Json);
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["path"], value);
        assert_eq!(serde_json::Value::Object(json_fields(odd, &odd.logs[0])), parsed);
    }
}
