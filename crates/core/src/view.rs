//! A borrowing reader of serialized `LogGroupList`s (sls-api.md §5): readers of pulled data (the
//! shipper's writers, the consumer's sinks) see keys and values as `&str` slices of the pulled
//! bytes instead of decoding every string into its own allocation (prost's owned decode of
//! [`crate::model::LogGroupList`] was most of the shipping time). Strings are checked to be
//! UTF-8, as prost checks them; unknown fields are skipped, as prost skips them.

/// One log group, borrowed. An absent topic or source is `""`.
#[derive(Debug, Clone, Default)]
pub struct GroupView<'a> {
    pub topic: &'a str,
    pub source: &'a str,
    /// `LogTag`s: `(key, value)` without the `__tag__:` prefix.
    pub tags: Vec<(&'a str, &'a str)>,
    pub logs: Vec<LogView>,
    /// Every log's contents, back to back (a log holds a range of them).
    contents: Vec<(&'a str, &'a str)>,
}

impl<'a> GroupView<'a> {
    /// A log's contents `(key, value)`, in order.
    pub fn contents(&self, log: &LogView) -> &[(&'a str, &'a str)] {
        &self.contents[log.contents.clone()]
    }
}

/// One log: its time and where its contents are in its group.
#[derive(Debug, Clone)]
pub struct LogView {
    pub time: u32,
    /// The nanosecond part of the time (`Log.time_ns`), when the writer sent one.
    pub time_ns: Option<u32>,
    contents: std::ops::Range<usize>,
}

/// Why bytes are not a `LogGroupList`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt LogGroupList: {0}")]
pub struct ViewError(String);

fn corrupt(what: &str) -> ViewError {
    ViewError(format!("bad {what}"))
}

enum Value<'a> {
    Varint(u64),
    Fixed32(u32),
    Fixed64,
    Bytes(&'a [u8]),
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    #[inline]
    fn varint(&mut self) -> Result<u64, ViewError> {
        // Keys and short lengths take one byte.
        if let Some((&byte, rest)) = self.0.split_first()
            && byte < 0x80
        {
            self.0 = rest;
            return Ok(u64::from(byte));
        }
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.0.split_first().ok_or_else(|| corrupt("varint"))?;
            self.0 = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(corrupt("varint"))
    }

    #[inline]
    fn take(&mut self, len: usize) -> Result<&'a [u8], ViewError> {
        if self.0.len() < len {
            return Err(corrupt("length"));
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(head)
    }

    /// The next `(field number, value)`, or `None` at the end.
    #[inline]
    fn field(&mut self) -> Result<Option<(u64, Value<'a>)>, ViewError> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed64
            }
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| corrupt("length"))?;
                Value::Bytes(self.take(len)?)
            }
            5 => {
                let bytes = self.take(4)?;
                Value::Fixed32(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
            }
            _ => return Err(corrupt("wire type")),
        };
        Ok(Some((key >> 3, value)))
    }
}

fn text(bytes: &[u8]) -> Result<&str, ViewError> {
    std::str::from_utf8(bytes).map_err(|_| corrupt("string (not UTF-8)"))
}

/// A `Content` or `LogTag` message: `(key, value)`.
fn pair(bytes: &[u8]) -> Result<(&str, &str), ViewError> {
    let mut reader = Reader(bytes);
    let (mut key, mut value) = ("", "");
    while let Some((field, item)) = reader.field()? {
        match (field, item) {
            (1, Value::Bytes(bytes)) => key = text(bytes)?,
            (2, Value::Bytes(bytes)) => value = text(bytes)?,
            _ => {}
        }
    }
    Ok((key, value))
}

fn log<'a>(bytes: &'a [u8], contents: &mut Vec<(&'a str, &'a str)>) -> Result<LogView, ViewError> {
    let mut reader = Reader(bytes);
    let mut time = 0u32;
    let mut time_ns = None;
    let start = contents.len();
    while let Some((field, value)) = reader.field()? {
        match (field, value) {
            (1, Value::Varint(value)) => time = value as u32,
            (2, Value::Bytes(content)) => contents.push(pair(content)?),
            (4, Value::Fixed32(nanos)) => time_ns = Some(nanos),
            _ => {}
        }
    }
    Ok(LogView { time, time_ns, contents: start..contents.len() })
}

fn group(bytes: &[u8]) -> Result<GroupView<'_>, ViewError> {
    let mut reader = Reader(bytes);
    let mut group = GroupView::default();
    while let Some((field, value)) = reader.field()? {
        match (field, value) {
            (1, Value::Bytes(bytes)) => {
                let log = log(bytes, &mut group.contents)?;
                group.logs.push(log);
            }
            (3, Value::Bytes(bytes)) => group.topic = text(bytes)?,
            (4, Value::Bytes(bytes)) => group.source = text(bytes)?,
            (6, Value::Bytes(bytes)) => group.tags.push(pair(bytes)?),
            _ => {}
        }
    }
    Ok(group)
}

/// The log groups of serialized `LogGroupList`s, in order.
pub fn groups(lists: &[Vec<u8>]) -> Result<Vec<GroupView<'_>>, ViewError> {
    let mut out = Vec::new();
    for list in lists {
        list_groups_into(list, &mut out)?;
    }
    Ok(out)
}

/// The log groups of one serialized `LogGroupList`, in order.
pub fn list_groups(list: &[u8]) -> Result<Vec<GroupView<'_>>, ViewError> {
    let mut out = Vec::new();
    list_groups_into(list, &mut out)?;
    Ok(out)
}

fn list_groups_into<'a>(list: &'a [u8], out: &mut Vec<GroupView<'a>>) -> Result<(), ViewError> {
    let mut reader = Reader(list);
    while let Some((field, value)) = reader.field()? {
        if let (1, Value::Bytes(bytes)) = (field, value) {
            out.push(group(bytes)?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::model::{Content, Log, LogGroup, LogGroupList, LogTag};
    use prost::Message;

    use super::*;

    #[test]
    fn reads_what_prost_writes() {
        let group = LogGroup {
            logs: vec![
                Log {
                    time: 1_700_000_000,
                    contents: vec![
                        Content { key: "a".into(), value: "ünï".into() },
                        Content { key: "b".into(), value: String::new() },
                    ],
                    time_ns: Some(7),
                },
                Log { time: 5, contents: vec![], time_ns: None },
            ],
            topic: Some("t".into()),
            source: Some("s".into()),
            machine_uuid: Some("m".into()),
            log_tags: vec![LogTag { key: "host".into(), value: "h".into() }],
            ..Default::default()
        };
        let lists = [LogGroupList { log_groups: vec![group.clone(), LogGroup::default()] }.encode_to_vec()];
        let views = groups(&lists).unwrap();
        assert_eq!(views.len(), 2);
        let view = &views[0];
        assert_eq!((view.topic, view.source, view.tags.clone()), ("t", "s", vec![("host", "h")]));
        assert_eq!((view.logs[0].time, view.logs[0].time_ns), (1_700_000_000, Some(7)));
        assert_eq!(view.logs[1].time_ns, None);
        assert_eq!(view.contents(&view.logs[0]), [("a", "ünï"), ("b", "")]);
        assert_eq!((view.logs[1].time, view.contents(&view.logs[1]).len()), (5, 0));
        assert!(groups(&[vec![0x0a, 0x05, 0x01]]).is_err(), "truncated");
        assert_eq!(list_groups(&lists[0]).unwrap().len(), 2);
        // Not UTF-8, as prost refuses it.
        let bad = LogGroupList { log_groups: vec![LogGroup { topic: Some("\u{0}".into()), ..Default::default() }] }
            .encode_to_vec()
            .iter()
            .map(|&byte| if byte == 0 { 0xff } else { byte })
            .collect::<Vec<u8>>();
        assert!(list_groups(&bad).is_err());
    }
}
