//! The metadata records the engine stores, as JSON values of [`crate::store::Item`]s.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{EngineError, Result};

/// A project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRecord {
    pub name: String,
    pub description: String,
    pub create_time: i64,
    pub last_modify_time: i64,
}

/// A logstore. Shards are `0..shard_count`, each owning an equal slice of the hash space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogstoreRecord {
    pub name: String,
    /// Random id of this incarnation of the name; part of every storage key below it.
    pub incarnation: String,
    /// Retention in days.
    pub ttl: u32,
    pub shard_count: u32,
    pub create_time: i64,
    pub last_modify_time: i64,
    #[serde(default)]
    pub enable_tracking: bool,
    #[serde(default)]
    pub auto_split: bool,
    #[serde(default)]
    pub max_split_shard: u32,
    #[serde(default)]
    pub append_meta: bool,
    #[serde(default)]
    pub telemetry_type: String,
}

impl LogstoreRecord {
    /// Segments received before this time are expired; `None` when data never expires
    /// (SLS's ttl 3650 means permanent).
    pub fn expiry_cutoff(&self, now: i64) -> Option<i64> {
        (self.ttl < PERMANENT_TTL_DAYS).then(|| now - i64::from(self.ttl) * 86_400)
    }
}

/// The ttl SLS treats as "keep forever".
pub const PERMANENT_TTL_DAYS: u32 = 3650;

/// The head of a shard: what the next commit claims.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardHead {
    /// Sequence number of the next segment.
    pub next_seq: u64,
    /// Position (log-group count) the next segment starts at; also the `end` cursor.
    pub next_position: u64,
    /// Receive time of the last commit; receive times never go backwards within a shard.
    pub last_receive_time: i64,
}

/// One committed segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentRecord {
    pub seq: u64,
    /// Position of its first log group.
    pub position: u64,
    /// Serialized size of each log group, in order.
    pub group_sizes: Vec<u32>,
    pub object_key: String,
    pub receive_time: i64,
    pub log_count: u64,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    pub min_time: u32,
    pub max_time: u32,
    /// Where the term filter sits in the object (`filter_len` 0: no filter, always scan).
    #[serde(default)]
    pub filter_offset: u64,
    #[serde(default)]
    pub filter_len: u64,
    /// The distinct content keys and tag keys (`__tag__:k`) of its logs, for query schemas.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Where the columnar index sits in the object (`columns_len` 0: none; read the groups),
    /// and the length of its header + directory.
    #[serde(default)]
    pub columns_offset: u64,
    #[serde(default)]
    pub columns_len: u64,
    #[serde(default)]
    pub columns_dir_len: u64,
}

impl SegmentRecord {
    /// The position after its last log group.
    pub fn end_position(&self) -> u64 {
        self.position + self.group_sizes.len() as u64
    }
}

/// What an idempotency key remembers: where its batch landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub shard: u32,
    pub position: u64,
}

/// How long an idempotency key is remembered, in seconds.
pub const IDEMPOTENCY_WINDOW_SECS: i64 = 24 * 3600;

/// Serializes a record.
pub fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    serde_json::to_vec(record).expect("records serialize")
}

/// Deserializes a record, reporting corruption with the item's key.
pub fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|error| EngineError::Corrupt(format!("{what}: {error}")))
}

/// A consumer group: its settings and its whole lease state, in one item, so that a heartbeat
/// reads and writes the assignment atomically (one conditional put on the item's version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerGroupRecord {
    pub name: String,
    /// Random id of this incarnation of the name; part of its checkpoints' partition key.
    pub incarnation: String,
    /// Seconds without a heartbeat after which a consumer loses its shards.
    pub timeout: u32,
    /// SLS's `order` flag (consume a split shard's parent before its children). Stored and
    /// returned; Logport has no shard split, so it changes nothing.
    pub order: bool,
    pub create_time: i64,
    /// Live consumers: name → unix time of the last heartbeat.
    #[serde(default)]
    pub consumers: std::collections::BTreeMap<String, i64>,
    /// One lease per shard.
    #[serde(default)]
    pub leases: std::collections::BTreeMap<u32, Lease>,
}

/// The lease of one shard inside a consumer group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The consumer holding the shard, if any.
    pub owner: Option<String>,
    /// Fencing counter: +1 every time the shard is granted, so a grant is named by (shard,
    /// counter) and a holder of an older grant can be told apart from the current one.
    pub counter: u64,
    /// The shard is being taken from its owner to balance the group: it is no longer in the
    /// owner's heartbeat answers, and moves once the owner stops listing it (or times out).
    #[serde(default)]
    pub revoking: bool,
    /// The grant was returned to the owner in a heartbeat answer. Until then the owner cannot
    /// list the shard, so its absence from the owner's heartbeat does not release it.
    #[serde(default)]
    pub delivered: bool,
}

/// The last checkpoint of one shard of a consumer group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointRecord {
    pub cursor: String,
    /// Microseconds since the epoch.
    pub update_time_us: i64,
    pub consumer: String,
}
