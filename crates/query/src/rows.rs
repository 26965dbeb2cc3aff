//! GetLogs result rows: a flat JSON object per log, values as strings, as SLS returns them.

use logport_core::cursor;
use logport_core::model::{LogGroup, TAG_PREFIX};
use serde_json::{Map, Value};

/// Where a log is: shard, position of its group, index in the group. Encoded as SLS's
/// `__pack_meta__` (`shard|cursor|index|0`) so that a context query can find it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogAddress {
    pub shard: u32,
    pub position: u64,
    pub index: usize,
}

impl LogAddress {
    pub fn pack_meta(&self) -> String {
        format!("{}|{}|{}|0", self.shard, cursor::encode(self.position), self.index)
    }

    pub fn pack_id(&self) -> String {
        format!("{:X}-{:X}", self.shard, self.position)
    }

    /// Reads a `__pack_meta__` value.
    pub fn parse(pack_meta: &str) -> Option<Self> {
        let mut parts = pack_meta.split('|');
        let shard = parts.next()?.parse().ok()?;
        let position = cursor::decode(parts.next()?).ok()?;
        let index = parts.next()?.parse().ok()?;
        Some(Self { shard, position, index })
    }
}

/// The row of log `index` of `group`.
pub fn row(group: &LogGroup, index: usize, address: LogAddress) -> Map<String, Value> {
    let log = &group.logs[index];
    let mut row = Map::new();
    row.insert("__time__".into(), Value::String(log.time.to_string()));
    if let Some(nanos) = log.time_ns {
        row.insert("__time_ns_part__".into(), Value::String(nanos.to_string()));
    }
    row.insert("__topic__".into(), Value::String(group.topic.clone().unwrap_or_default()));
    row.insert("__source__".into(), Value::String(group.source.clone().unwrap_or_default()));
    for tag in &group.log_tags {
        row.insert(format!("{TAG_PREFIX}{}", tag.key), Value::String(tag.value.clone()));
    }
    row.insert("__tag__:__pack_id__".into(), Value::String(address.pack_id()));
    row.insert("__pack_meta__".into(), Value::String(address.pack_meta()));
    for content in &log.contents {
        row.insert(content.key.clone(), Value::String(content.value.clone()));
    }
    row
}

/// Sort key of a hit: time, then place in the shard.
pub type HitKey = (u32, LogAddress);

#[cfg(test)]
mod tests {
    use super::LogAddress;

    #[test]
    fn pack_meta_round_trips() {
        let address = LogAddress { shard: 3, position: 12345, index: 7 };
        assert_eq!(LogAddress::parse(&address.pack_meta()), Some(address));
        assert_eq!(LogAddress::parse("x|y"), None);
    }
}
