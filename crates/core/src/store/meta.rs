use std::ops::Bound;

use async_trait::async_trait;

use super::Result;

/// One metadata item: a value under a partition key and a sort key, with a version the store
/// maintains (1 on creation, +1 on every put) for optimistic concurrency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub pk: String,
    pub sk: String,
    pub value: Vec<u8>,
    pub version: u64,
    /// Unix seconds after which the backend may delete the item (DynamoDB TTL). Until then, and
    /// possibly for a while after, it is returned like any other item: readers filter.
    pub expires_at: Option<i64>,
}

/// The condition a write requires of the item's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// No condition.
    Always,
    /// The item must not exist.
    Absent,
    /// The item must exist.
    Exists,
    /// The item must exist with exactly this version.
    Version(u64),
}

/// One operation of [`MetaStore::transact`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    Put {
        pk: String,
        sk: String,
        value: Vec<u8>,
        expires_at: Option<i64>,
        condition: Condition,
    },
    Delete {
        pk: String,
        sk: String,
        condition: Condition,
    },
    /// Only checks a condition; writes nothing.
    Check {
        pk: String,
        sk: String,
        condition: Condition,
    },
}

impl WriteOp {
    /// The (pk, sk) this operation touches.
    pub fn key(&self) -> (&str, &str) {
        match self {
            Self::Put { pk, sk, .. } | Self::Delete { pk, sk, .. } | Self::Check { pk, sk, .. } => (pk, sk),
        }
    }
}

/// A range query over one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub pk: String,
    pub start: Bound<String>,
    pub end: Bound<String>,
    /// Descending sort-key order when true.
    pub reverse: bool,
    /// At most this many items (`None`: all).
    pub limit: Option<usize>,
}

impl Query {
    /// Every item of a partition, ascending.
    pub fn partition(pk: impl Into<String>) -> Self {
        Self { pk: pk.into(), start: Bound::Unbounded, end: Bound::Unbounded, reverse: false, limit: None }
    }

    /// Items whose sort key starts with `prefix`.
    pub fn prefix(pk: impl Into<String>, prefix: &str) -> Self {
        let mut end = prefix.to_owned();
        end.push(char::MAX);
        Self { start: Bound::Included(prefix.to_owned()), end: Bound::Excluded(end), ..Self::partition(pk) }
    }

    pub fn from(mut self, start: Bound<String>) -> Self {
        self.start = start;
        self
    }

    pub fn to(mut self, end: Bound<String>) -> Self {
        self.end = end;
        self
    }

    pub fn reversed(mut self) -> Self {
        self.reverse = true;
        self
    }

    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Whether `sk` falls inside this query's range.
    pub fn contains(&self, sk: &str) -> bool {
        let after_start = match &self.start {
            Bound::Included(start) => sk >= start.as_str(),
            Bound::Excluded(start) => sk > start.as_str(),
            Bound::Unbounded => true,
        };
        let before_end = match &self.end {
            Bound::Included(end) => sk <= end.as_str(),
            Bound::Excluded(end) => sk < end.as_str(),
            Bound::Unbounded => true,
        };
        after_start && before_end
    }
}

/// Versioned items by partition key + sort key.
///
/// # Contract
/// - Keys (`pk`, `sk`) are non-empty UTF-8 strings of at most 1024 bytes; values at most 350 KiB
///   (under DynamoDB's 400 KB item limit). Sort keys order by bytes (UTF-8), ascending.
/// - `put` writes the item if `condition` holds against the current state, else returns
///   [`super::StoreError::Conflict`] and changes nothing. It returns the new version: 1 for a new
///   item, the previous version + 1 otherwise.
/// - `delete` removes the item if `condition` holds; deleting a missing item under
///   [`Condition::Always`] succeeds.
/// - `transact` applies up to 25 operations, on distinct keys, all or nothing: if any condition
///   fails nothing is written and the result is `Conflict` (with the failing index when known).
///   Concurrent transactions are serializable: two writers racing on one version both see their
///   condition checked against the committed state, and at most one wins.
/// - `query` returns the partition's items in the range, ordered by sort key (descending when
///   `reverse`), at most `limit` of them, complete up to the limit (backends page internally).
/// - Reads after an acknowledged write see it (strongly consistent reads).
#[async_trait]
pub trait MetaStore: Send + Sync + std::fmt::Debug {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>>;
    async fn put(
        &self,
        pk: &str,
        sk: &str,
        value: Vec<u8>,
        expires_at: Option<i64>,
        condition: Condition,
    ) -> Result<u64>;
    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<()>;
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<()>;
    async fn query(&self, query: Query) -> Result<Vec<Item>>;
}

/// The most operations one [`MetaStore::transact`] call may hold (DynamoDB's limit is 100; 25
/// keeps every backend's transactions small).
pub const MAX_TRANSACTION_OPS: usize = 25;
/// The largest item value, in bytes.
pub const MAX_VALUE_BYTES: usize = 350 * 1024;

/// Checks the parts of a request every backend must refuse the same way.
pub fn validate_key_pair(pk: &str, sk: &str) -> Result<()> {
    for key in [pk, sk] {
        if key.is_empty() || key.len() > 1024 {
            return Err(super::StoreError::Invalid(format!("metadata key '{key}' must be 1-1024 bytes")));
        }
    }
    Ok(())
}

/// Checks a transaction against the contract before any backend work.
pub fn validate_transaction(ops: &[WriteOp]) -> Result<()> {
    if ops.is_empty() || ops.len() > MAX_TRANSACTION_OPS {
        return Err(super::StoreError::Invalid(format!(
            "a transaction holds 1-{MAX_TRANSACTION_OPS} operations, not {}",
            ops.len()
        )));
    }
    let mut keys = std::collections::HashSet::new();
    for op in ops {
        let (pk, sk) = op.key();
        validate_key_pair(pk, sk)?;
        if let WriteOp::Put { value, .. } = op {
            validate_value(value)?;
        }
        if !keys.insert((pk, sk)) {
            return Err(super::StoreError::Invalid(format!("a transaction touches ({pk}, {sk}) twice")));
        }
    }
    Ok(())
}

/// Checks a value's size.
pub fn validate_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(super::StoreError::Invalid(format!(
            "metadata value of {} bytes is over {MAX_VALUE_BYTES}",
            value.len()
        )));
    }
    Ok(())
}

/// Whether `condition` holds for an item whose current version is `current` (`None`: absent).
pub fn condition_holds(condition: Condition, current: Option<u64>) -> bool {
    match condition {
        Condition::Always => true,
        Condition::Absent => current.is_none(),
        Condition::Exists => current.is_some(),
        Condition::Version(version) => current == Some(version),
    }
}
