//! The log data model: the SLS protobuf messages (sls-api.md §5) and the rules every layer
//! enforces on them.
//!
//! A [`Log`] is a time (unix seconds, optional nanoseconds) and ordered key-value contents. A
//! [`LogGroup`] is logs sharing a topic, a source and tags. [`LogGroup::validate`] checks the data
//! model and returns one distinct [`ModelError`] per rule, naming the offending log and key.

use prost::Message;

/// Longest topic and source, in bytes.
pub const MAX_TOPIC_BYTES: usize = 128;
/// Longest source, in bytes.
pub const MAX_SOURCE_BYTES: usize = 128;
/// Longest content key or tag key, in bytes.
pub const MAX_KEY_BYTES: usize = 128;
/// Largest content or tag value, in bytes (1 MiB).
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// Content keys the service reserves for itself.
pub const RESERVED_KEYS: [&str; 6] =
    ["__time__", "__source__", "__topic__", "__partition_time__", "_extract_others_", "__extract_others__"];
/// How tags are named in flat views of a log (`__tag__:hostname`).
pub const TAG_PREFIX: &str = "__tag__:";

/// One key-value pair of a log.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct Content {
    #[prost(string, required, tag = "1")]
    pub key: String,
    #[prost(string, required, tag = "2")]
    pub value: String,
}

/// One log: a time and ordered contents.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Log {
    /// Unix seconds.
    #[prost(uint32, required, tag = "1")]
    pub time: u32,
    #[prost(message, repeated, tag = "2")]
    pub contents: Vec<Content>,
    /// Nanoseconds within `time`, when the producer knows them.
    #[prost(fixed32, optional, tag = "4")]
    pub time_ns: Option<u32>,
}

/// A tag of a log group, shown as `__tag__:<key>`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct LogTag {
    #[prost(string, required, tag = "1")]
    pub key: String,
    #[prost(string, required, tag = "2")]
    pub value: String,
}

/// Logs sharing a topic, a source and tags: the unit of PutLogs and PullLogs.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LogGroup {
    #[prost(message, repeated, tag = "1")]
    pub logs: Vec<Log>,
    #[prost(string, optional, tag = "2")]
    pub reserved: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub topic: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub source: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub machine_uuid: Option<String>,
    #[prost(message, repeated, tag = "6")]
    pub log_tags: Vec<LogTag>,
}

/// What PullLogs returns: log groups in commit order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LogGroupList {
    #[prost(message, repeated, tag = "1")]
    pub log_groups: Vec<LogGroup>,
}

/// A data-model rule a log group broke. Each rule has its own variant so that callers (and
/// tests) can tell them apart; the message names the log index and key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    #[error("topic is {0} bytes, the limit is {MAX_TOPIC_BYTES}")]
    TopicTooLong(usize),
    #[error("source is {0} bytes, the limit is {MAX_SOURCE_BYTES}")]
    SourceTooLong(usize),
    #[error("log {log}: a content key is empty")]
    KeyEmpty { log: usize },
    #[error("log {log}: key '{key}' is {len} bytes, the limit is {MAX_KEY_BYTES}", len = key.len())]
    KeyTooLong { log: usize, key: String },
    #[error("log {log}: key '{key}' may hold only letters, digits and '_'")]
    KeyInvalidChar { log: usize, key: String },
    #[error("log {log}: key '{key}' must not start with a digit")]
    KeyStartsWithDigit { log: usize, key: String },
    #[error("log {log}: key '{key}' is reserved")]
    KeyReserved { log: usize, key: String },
    #[error("log {log}: the value of '{key}' is {len} bytes, the limit is {MAX_VALUE_BYTES}")]
    ValueTooLarge { log: usize, key: String, len: usize },
    #[error("tag key '{0}' must be 1-{MAX_KEY_BYTES} bytes without ':'")]
    TagKeyInvalid(String),
    #[error("the value of tag '{key}' is {len} bytes, the limit is {MAX_VALUE_BYTES}")]
    TagValueTooLarge { key: String, len: usize },
}

/// Checks one content key against the data model.
pub fn validate_key(log: usize, key: &str) -> Result<(), ModelError> {
    let bytes = key.as_bytes();
    let Some(first) = bytes.first() else {
        return Err(ModelError::KeyEmpty { log });
    };
    if bytes.len() > MAX_KEY_BYTES {
        return Err(ModelError::KeyTooLong { log, key: key.to_owned() });
    }
    if !bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_') {
        return Err(ModelError::KeyInvalidChar { log, key: key.to_owned() });
    }
    if first.is_ascii_digit() {
        return Err(ModelError::KeyStartsWithDigit { log, key: key.to_owned() });
    }
    if first == &b'_' && RESERVED_KEYS.contains(&key) {
        return Err(ModelError::KeyReserved { log, key: key.to_owned() });
    }
    Ok(())
}

/// Checks a tag key: the part after `__tag__:`.
pub fn validate_tag(key: &str, value: &str) -> Result<(), ModelError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES || key.contains(':') {
        return Err(ModelError::TagKeyInvalid(key.to_owned()));
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(ModelError::TagValueTooLarge { key: key.to_owned(), len: value.len() });
    }
    Ok(())
}

impl LogGroup {
    /// Checks every rule of the data model; the first broken one is returned.
    pub fn validate(&self) -> Result<(), ModelError> {
        let topic_len = self.topic.as_deref().map_or(0, str::len);
        if topic_len > MAX_TOPIC_BYTES {
            return Err(ModelError::TopicTooLong(topic_len));
        }
        let source_len = self.source.as_deref().map_or(0, str::len);
        if source_len > MAX_SOURCE_BYTES {
            return Err(ModelError::SourceTooLong(source_len));
        }
        for tag in &self.log_tags {
            validate_tag(&tag.key, &tag.value)?;
        }
        for (index, log) in self.logs.iter().enumerate() {
            for content in &log.contents {
                validate_key(index, &content.key)?;
                if content.value.len() > MAX_VALUE_BYTES {
                    return Err(ModelError::ValueTooLarge {
                        log: index,
                        key: content.key.clone(),
                        len: content.value.len(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The smallest and largest log time, or `None` for a group without logs.
    pub fn time_range(&self) -> Option<(u32, u32)> {
        let mut times = self.logs.iter().map(|log| log.time);
        let first = times.next()?;
        Some(times.fold((first, first), |(lo, hi), t| (lo.min(t), hi.max(t))))
    }

    /// Decodes one serialized `LogGroup`.
    pub fn decode_bytes(bytes: &[u8]) -> Result<Self, prost::DecodeError> {
        Self::decode(bytes)
    }
}

/// Appends one already-serialized `LogGroup` to a `LogGroupList` being built, without decoding
/// it: the list's field 1 is a length-delimited copy of the group's bytes.
pub fn append_raw_group(list: &mut Vec<u8>, group: &[u8]) {
    prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, list);
    prost::encoding::encode_varint(group.len() as u64, list);
    list.extend_from_slice(group);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group_with(key: &str, value: &str) -> LogGroup {
        LogGroup {
            logs: vec![Log {
                time: 1_700_000_000,
                contents: vec![Content { key: key.into(), value: value.into() }],
                time_ns: None,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn each_rule_has_its_own_error() {
        assert!(group_with("status", "200").validate().is_ok());
        assert!(group_with("_private_9", "x").validate().is_ok());
        assert!(matches!(group_with("", "x").validate(), Err(ModelError::KeyEmpty { log: 0 })));
        assert!(matches!(group_with(&"k".repeat(129), "x").validate(), Err(ModelError::KeyTooLong { .. })));
        assert!(group_with(&"k".repeat(128), "x").validate().is_ok());
        assert!(matches!(group_with("a-b", "x").validate(), Err(ModelError::KeyInvalidChar { .. })));
        assert!(matches!(group_with("tag:x", "x").validate(), Err(ModelError::KeyInvalidChar { .. })));
        assert!(matches!(group_with("1abc", "x").validate(), Err(ModelError::KeyStartsWithDigit { .. })));
        for reserved in RESERVED_KEYS {
            assert!(matches!(group_with(reserved, "x").validate(), Err(ModelError::KeyReserved { .. })));
        }
        assert!(group_with("k", &"v".repeat(MAX_VALUE_BYTES)).validate().is_ok());
        assert!(matches!(
            group_with("k", &"v".repeat(MAX_VALUE_BYTES + 1)).validate(),
            Err(ModelError::ValueTooLarge { .. })
        ));
        let mut group = group_with("k", "v");
        group.topic = Some("t".repeat(129));
        assert_eq!(group.validate(), Err(ModelError::TopicTooLong(129)));
        group.topic = Some("t".repeat(128));
        group.source = Some("s".repeat(129));
        assert_eq!(group.validate(), Err(ModelError::SourceTooLong(129)));
        group.source = None;
        group.log_tags.push(LogTag { key: String::new(), value: "v".into() });
        assert!(matches!(group.validate(), Err(ModelError::TagKeyInvalid(_))));
    }

    #[test]
    fn protobuf_round_trip_matches_field_numbers() {
        let group = LogGroup {
            logs: vec![Log {
                time: 1,
                contents: vec![Content { key: "a".into(), value: "b".into() }],
                time_ns: Some(7),
            }],
            topic: Some("t".into()),
            source: Some("s".into()),
            log_tags: vec![LogTag { key: "k".into(), value: "v".into() }],
            ..Default::default()
        };
        let bytes = group.encode_to_vec();
        // Log (field 1, len) { Time=1 (08 01), Content (12 06 {0a 01 'a' 12 01 'b'}), Time_ns (25 fixed32) }
        assert_eq!(&bytes[..4], &[0x0a, 0x0f, 0x08, 0x01]);
        assert_eq!(&bytes[4..12], &[0x12, 0x06, 0x0a, 0x01, b'a', 0x12, 0x01, b'b']);
        assert_eq!(&bytes[12..17], &[0x25, 7, 0, 0, 0]);
        assert_eq!(LogGroup::decode_bytes(&bytes).unwrap(), group);

        let mut list = Vec::new();
        append_raw_group(&mut list, &bytes);
        append_raw_group(&mut list, &bytes);
        let decoded = LogGroupList::decode(list.as_slice()).unwrap();
        assert_eq!(decoded.log_groups, vec![group.clone(), group]);
    }

    #[test]
    fn time_range_spans_all_logs() {
        let mut group = group_with("k", "v");
        group.logs.push(Log { time: 5, ..Default::default() });
        assert_eq!(group.time_range(), Some((5, 1_700_000_000)));
        assert_eq!(LogGroup::default().time_range(), None);
    }
}
