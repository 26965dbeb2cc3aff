//! JSON: one object per line, `__time__` (a number), `__topic__`, `__source__`, the tags as
//! `__tag__:<key>` when enabled, then every content key the log has, in the order of the
//! segment's keys (JSON objects are unordered; a key a log repeats gives its first value).

use std::io::Write;

use logport_core::columns::Column;
use logport_core::model::TAG_PREFIX;

use super::Slice;

/// How one content column is written: per dictionary code its whole `,"key":"value"` member
/// (escaped once per distinct value, back to back in one buffer: `ends[code]` closes member
/// `code`, and code 0, no value, is empty), or for a plain column the `,"key":` prefix.
enum Member<'s> {
    Dict { codes: &'s [u16], text: Vec<u8>, ends: Vec<usize> },
    Plain { ends: &'s [u32], present: &'s [u8], text: &'s str, prefix: Vec<u8> },
}

pub(super) fn write(slices: &[Slice], enable_tag: bool) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    let mut lines = 0u64;
    let total_rows: usize = slices.iter().map(|slice| slice.rows.len()).sum();
    // `{"__time__":<time>`, formatted once per run of equal times.
    let (mut time_text, mut last_time) = (Vec::new(), None);
    let mut reserved = false;
    for slice in slices {
        // The group-level part of every line, written once per group.
        let shared: Vec<Vec<u8>> = slice
            .section
            .groups
            .iter()
            .map(|group| {
                let mut shared = Vec::new();
                shared.extend_from_slice(b",\"__topic__\":");
                string(&mut shared, &group.topic);
                shared.extend_from_slice(b",\"__source__\":");
                string(&mut shared, &group.source);
                if enable_tag {
                    for (key, value) in &group.tags {
                        shared.push(b',');
                        string(&mut shared, &format!("{TAG_PREFIX}{key}"));
                        shared.push(b':');
                        string(&mut shared, value);
                    }
                }
                shared
            })
            .collect();
        let members: Vec<Member<'_>> = slice
            .keys
            .iter()
            .filter_map(|key| {
                let mut prefix = vec![b','];
                string(&mut prefix, key);
                prefix.push(b':');
                match slice.section.columns.get(key)? {
                    Column::Dict { values, codes } => {
                        let mut text =
                            Vec::with_capacity(values.iter().map(|value| prefix.len() + value.len() + 2).sum());
                        let mut ends = Vec::with_capacity(values.len() + 1);
                        ends.push(0);
                        for value in values {
                            text.extend_from_slice(&prefix);
                            string(&mut text, value);
                            ends.push(text.len());
                        }
                        Some(Member::Dict { codes, text, ends })
                    }
                    Column::Plain { ends, present, text } => Some(Member::Plain { ends, present, text, prefix }),
                    Column::Counts { .. } | Column::Absent => None,
                }
            })
            .collect();
        for row in slice.rows.clone() {
            let index = row as usize;
            let time = slice.section.times[index];
            if last_time != Some(time) {
                time_text.clear();
                let _ = write!(time_text, "{{\"__time__\":{time}");
                last_time = Some(time);
            }
            out.extend_from_slice(&time_text);
            out.extend_from_slice(&shared[slice.section.group_of[index] as usize]);
            for member in &members {
                match member {
                    Member::Dict { codes, text, ends } => {
                        let code = usize::from(codes[index]);
                        if code > 0 {
                            out.extend_from_slice(&text[ends[code - 1]..ends[code]]);
                        }
                    }
                    Member::Plain { ends, present, text, prefix } => {
                        if present[index] != 0 {
                            // Offsets and UTF-8 were checked when the column was decoded.
                            let start = if index == 0 { 0 } else { ends[index - 1] as usize };
                            out.extend_from_slice(prefix);
                            bytes(&mut out, &text.as_bytes()[start..ends[index] as usize]);
                        }
                    }
                }
            }
            out.extend_from_slice(b"}\n");
            lines += 1;
        }
        if !reserved && lines > 0 {
            // After the first lines: room for the rest at their size so far, so that the buffer
            // of a whole task is not copied again and again as it grows.
            let per_line = out.len().div_ceil(lines as usize);
            out.reserve((total_rows - lines as usize) * per_line * 11 / 10);
            reserved = true;
        }
    }
    (out, lines)
}

/// A JSON string literal.
fn string(out: &mut Vec<u8>, text: &str) {
    bytes(out, text.as_bytes());
}

/// A JSON string literal of UTF-8 bytes.
fn bytes(out: &mut Vec<u8>, text: &[u8]) {
    // Most values need no escape (no quote, backslash or control character): copied whole.
    if text.iter().all(|byte| *byte >= 0x20 && *byte != b'"' && *byte != b'\\') {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text);
        out.push(b'"');
        return;
    }
    let text = std::str::from_utf8(text).expect("column values are checked UTF-8");
    serde_json::to_writer(&mut *out, text).expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use logport_core::model::{Content, Log, LogGroup, LogTag};

    use super::super::slices_of;
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_does() {
        for text in ["plain", "", "é ünï 日本", "q\"uote", "back\\slash", "tab\there", "nl\n", "\u{1}", "\u{7f}"] {
            let mut out = Vec::new();
            string(&mut out, text);
            assert_eq!(out, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn each_line_has_its_own_time_group_and_values() {
        let log = |time: u32, value: &str| Log {
            time,
            contents: vec![Content { key: "v".into(), value: value.into() }],
            time_ns: None,
        };
        let group = |topic: &str, logs: Vec<Log>| LogGroup { logs, topic: Some(topic.into()), ..Default::default() };
        let groups =
            [group("a", vec![log(5, "x"), log(5, "y"), log(6, "x")]), group("b", vec![log(6, "z"), log(4, "x")])];
        let (bytes, lines) = write(&slices_of(&groups, &["v"]), false);
        assert_eq!(lines, 5);
        let seen: Vec<(u64, String, String)> = String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                let text = |key: &str| value[key].as_str().unwrap().to_owned();
                (value["__time__"].as_u64().unwrap(), text("__topic__"), text("v"))
            })
            .collect();
        let expected = [(5, "a", "x"), (5, "a", "y"), (6, "a", "x"), (6, "b", "z"), (4, "b", "x")];
        let expected: Vec<(u64, String, String)> =
            expected.iter().map(|(time, topic, v)| (*time, (*topic).to_owned(), (*v).to_owned())).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn plain_columns_write_each_value_and_skip_missing_ones() {
        // Over 4096 distinct values (4666): a plain column; every third log lacks the key.
        let values: Vec<String> = (0..7000).map(|i| format!("v{i} \"q\" é\t")).collect();
        let logs = (0..7000u32)
            .map(|i| Log {
                time: 7,
                contents: if i % 3 == 0 {
                    vec![]
                } else {
                    vec![Content { key: "p".into(), value: values[i as usize].clone() }]
                },
                time_ns: None,
            })
            .collect();
        let slices = slices_of(&[LogGroup { logs, ..Default::default() }], &["p"]);
        assert!(matches!(slices[0].section.columns["p"], Column::Plain { .. }));
        let (bytes, lines) = write(&slices, false);
        assert_eq!(lines, 7000);
        for (i, line) in String::from_utf8(bytes).unwrap().lines().enumerate() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let expected = (i % 3 != 0).then(|| values[i].as_str());
            assert_eq!(value.get("p").map(|p| p.as_str().unwrap()), expected, "line {i}");
        }
    }

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
        let slices = slices_of(std::slice::from_ref(&group), &["msg", "n"]);
        let (bytes, lines) = write(&slices, true);
        assert_eq!(lines, 1);
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text.lines().count(), 1);
        let value: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"__time__": 1_700_000_000, "__topic__": "t", "__source__": "10.0.0.1",
                "__tag__:host": "web-1", "msg": "say \"hi\"\n", "n": "1"})
        );
        let (without_tags, _) = write(&slices, false);
        assert!(!String::from_utf8(without_tags).unwrap().contains("__tag__"));
    }
}
