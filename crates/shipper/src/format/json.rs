//! JSON: one object per line, `__time__` (a number), `__topic__`, `__source__`, the tags as
//! `__tag__:<key>` when enabled, then every content key in the log's order.

use std::io::Write;

use logport_core::model::TAG_PREFIX;

use logport_core::view::GroupView;

pub(super) fn write(groups: &[GroupView<'_>], enable_tag: bool) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    let mut lines = 0u64;
    for group in groups {
        // The group-level part of every line, written once per group.
        let mut shared = Vec::new();
        shared.extend_from_slice(b",\"__topic__\":");
        string(&mut shared, group.topic);
        shared.extend_from_slice(b",\"__source__\":");
        string(&mut shared, group.source);
        if enable_tag {
            for (key, value) in &group.tags {
                shared.push(b',');
                string(&mut shared, &format!("{TAG_PREFIX}{key}"));
                shared.push(b':');
                string(&mut shared, value);
            }
        }
        for log in &group.logs {
            let _ = write!(out, "{{\"__time__\":{}", log.time);
            out.extend_from_slice(&shared);
            for (key, value) in group.contents(log) {
                out.push(b',');
                string(&mut out, key);
                out.push(b':');
                string(&mut out, value);
            }
            out.extend_from_slice(b"}\n");
            lines += 1;
        }
    }
    (out, lines)
}

/// A JSON string literal.
fn string(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(&mut *out, text).expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use logport_core::model::{Content, Log, LogGroup, LogTag};

    use super::super::lists_of;
    use super::*;

    #[test]
    fn one_object_per_line() {
        let group = LogGroup {
            logs: vec![Log {
                time: 1_700_000_000,
                contents: vec![
                    Content { key: "msg".into(), value: "say \"hi\"\n".into() },
                    Content { key: "n".into(), value: "1".into() },
                ],
                time_ns: None,
            }],
            topic: Some("t".into()),
            source: Some("10.0.0.1".into()),
            log_tags: vec![LogTag { key: "host".into(), value: "web-1".into() }],
            ..Default::default()
        };
        let lists = lists_of(std::slice::from_ref(&group));
        let views = logport_core::view::groups(&lists).unwrap();
        let (bytes, lines) = write(&views, true);
        assert_eq!(lines, 1);
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text.lines().count(), 1);
        let value: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"__time__": 1_700_000_000, "__topic__": "t", "__source__": "10.0.0.1",
                "__tag__:host": "web-1", "msg": "say \"hi\"\n", "n": "1"})
        );
        let (without_tags, _) = write(&views, false);
        assert!(!String::from_utf8(without_tags).unwrap().contains("__tag__"));
    }
}
