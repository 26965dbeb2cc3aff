//! PutLogs: validate a batch, write its segment, commit it (see the module docs of the engine).

use std::sync::atomic::Ordering;

use bytes::Bytes;
use prost::Message;

use crate::bloom::Bloom;
use crate::columns::ColumnsBuilder;
use crate::model::LogGroup;
use crate::shard::shard_for_key;
use crate::store::{Condition, PutMode, StoreError, WriteOp};
use crate::tokens::for_each_token_hash;

use super::records::{self, IDEMPOTENCY_WINDOW_SECS, IdempotencyRecord, LogstoreRecord, SegmentRecord, ShardHead};
use super::{Engine, EngineError, Result, keys, segment};

/// Which shard a batch goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardTarget {
    /// The server picks (`/shards/lb`): round robin.
    Balanced,
    /// The shard whose hash range holds this key (`/shards/route?key=`).
    HashKey(String),
    /// This shard.
    Shard(u32),
}

/// Validated log groups ready to be committed, kept in their serialized form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    raw: Vec<u8>,
    group_sizes: Vec<u32>,
    log_count: u64,
    min_time: u32,
    max_time: u32,
    /// Hashes of the tokens of every value, topic, source and tag value (for the term filter).
    token_hashes: Vec<u64>,
    /// Distinct content keys and `__tag__:` keys, in first-seen order.
    keys: Vec<String>,
    /// The columnar index of the logs (see [`crate::columns`]).
    columns: ColumnsBuilder,
}

impl Batch {
    /// Takes one serialized `LogGroup` (a PutLogs body), checking that it decodes and follows the
    /// data model. The bytes are kept as sent, so a pull returns them field for field.
    pub fn from_protobuf(bytes: Vec<u8>) -> Result<Self> {
        let group = LogGroup::decode(bytes.as_slice()).map_err(|error| EngineError::Decode(error.to_string()))?;
        let mut batch = Self::empty();
        batch.add(&group, bytes)?;
        Ok(batch)
    }

    /// Takes log groups (from the JSON form or a library caller).
    pub fn from_groups(groups: &[LogGroup]) -> Result<Self> {
        let mut batch = Self::empty();
        for group in groups {
            batch.add(group, group.encode_to_vec())?;
        }
        if batch.group_sizes.is_empty() {
            return Err(EngineError::Decode("the batch holds no log group".into()));
        }
        Ok(batch)
    }

    fn empty() -> Self {
        Self {
            raw: Vec::new(),
            group_sizes: Vec::new(),
            log_count: 0,
            min_time: u32::MAX,
            max_time: 0,
            token_hashes: Vec::new(),
            keys: Vec::new(),
            columns: ColumnsBuilder::default(),
        }
    }

    fn add(&mut self, group: &LogGroup, bytes: Vec<u8>) -> Result<()> {
        group.validate()?;
        let (min_time, max_time) =
            group.time_range().ok_or_else(|| EngineError::Decode("a log group holds no logs".into()))?;
        self.min_time = self.min_time.min(min_time);
        self.max_time = self.max_time.max(max_time);
        self.log_count += group.logs.len() as u64;
        let hashes = &mut self.token_hashes;
        let mut push = |hash| hashes.push(hash);
        for text in [group.topic.as_deref(), group.source.as_deref()].into_iter().flatten() {
            for_each_token_hash(text, &mut push);
        }
        for tag in &group.log_tags {
            for_each_token_hash(&tag.value, &mut push);
        }
        let mut seen: std::collections::HashSet<&str> = self.keys.iter().map(String::as_str).collect();
        let mut new_keys = Vec::new();
        for tag in &group.log_tags {
            let key = format!("{}{}", crate::model::TAG_PREFIX, tag.key);
            if !self.keys.contains(&key) && !new_keys.contains(&key) {
                new_keys.push(key);
            }
        }
        for log in &group.logs {
            for content in &log.contents {
                for_each_token_hash(&content.value, &mut push);
                if seen.insert(&content.key) {
                    new_keys.push(content.key.clone());
                }
            }
        }
        drop(seen);
        self.keys.extend(new_keys);
        self.columns.add_group(group);
        self.group_sizes
            .push(u32::try_from(bytes.len()).map_err(|_| EngineError::TooLarge("log group over 4 GiB".into()))?);
        if self.raw.is_empty() {
            self.raw = bytes;
        } else {
            self.raw.extend_from_slice(&bytes);
        }
        Ok(())
    }

    /// The serialized term filter over the batch's tokens.
    fn term_filter(&self) -> Vec<u8> {
        let mut hashes = self.token_hashes.clone();
        hashes.sort_unstable();
        hashes.dedup();
        let mut bloom = Bloom::with_capacity(hashes.len());
        for hash in hashes {
            bloom.insert(hash);
        }
        bloom.to_bytes()
    }

    /// Number of logs.
    pub fn log_count(&self) -> u64 {
        self.log_count
    }

    /// Number of log groups.
    pub fn group_count(&self) -> usize {
        self.group_sizes.len()
    }

    /// Serialized size of all groups.
    pub fn raw_bytes(&self) -> usize {
        self.raw.len()
    }
}

/// Where a written segment object is, for its index record.
#[derive(Debug)]
struct Placement<'a> {
    object_key: &'a str,
    stored_bytes: u64,
    filter_offset: u64,
    filter_len: u64,
    columns_offset: u64,
    columns_len: u64,
    columns_dir_len: u64,
}

/// Where a committed batch landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutOutcome {
    pub shard: u32,
    /// Position of the batch's first log group.
    pub position: u64,
    /// True when the idempotency key had already committed this batch and nothing new was written.
    pub duplicate: bool,
}

/// How often a commit re-reads the head after losing a race before giving up (as `Unavailable`).
const MAX_COMMIT_ATTEMPTS: usize = 1000;

fn validate_idempotency_key(key: &str) -> Result<()> {
    let ok =
        !key.is_empty() && key.len() <= 128 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(EngineError::ParameterInvalid(format!(
            "idempotency key '{key}' must be 1-128 characters of letters, digits and . _ : -"
        )))
    }
}

impl Engine {
    /// Commits a batch to a shard of a logstore. With an `idempotency_key`, a batch already
    /// committed under the same key (within 24 hours) is not written again: the first commit's
    /// outcome is returned with `duplicate: true`.
    pub async fn put_logs(
        &self,
        project: &str,
        logstore: &str,
        target: ShardTarget,
        batch: Batch,
        idempotency_key: Option<&str>,
    ) -> Result<PutOutcome> {
        if batch.raw.len() > self.limits.max_batch_bytes {
            return Err(EngineError::TooLarge(format!(
                "the batch is {} bytes uncompressed, the limit is {}",
                batch.raw.len(),
                self.limits.max_batch_bytes
            )));
        }
        if batch.group_sizes.is_empty() {
            return Err(EngineError::Decode("the batch holds no log group".into()));
        }
        if let Some(key) = idempotency_key {
            validate_idempotency_key(key)?;
        }
        let record = self.logstore(project, logstore).await?;
        let shard = match target {
            ShardTarget::Balanced => self.balance.fetch_add(1, Ordering::Relaxed) % record.shard_count,
            ShardTarget::HashKey(key) => shard_for_key(&key, record.shard_count),
            ShardTarget::Shard(shard) if shard < record.shard_count => shard,
            ShardTarget::Shard(shard) => return Err(EngineError::ShardNotExist(shard)),
        };
        let idempotency_pk = keys::idempotency(project, logstore, &record.incarnation);
        if let Some(key) = idempotency_key
            && let Some(earlier) = self.remembered(&idempotency_pk, key).await?
        {
            return Ok(earlier);
        }

        let written = self.now();
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let object_key = keys::segment_object(project, logstore, &record.incarnation, shard, written, &unique);
        let columns = batch.columns.clone().finish();
        let encoded = segment::encode(&batch.raw, &batch.term_filter(), &columns);
        let placement = Placement {
            object_key: &object_key,
            stored_bytes: encoded.object.len() as u64,
            filter_offset: encoded.filter_offset,
            filter_len: encoded.filter_len,
            columns_offset: encoded.columns_offset,
            columns_len: encoded.columns_len,
            columns_dir_len: crate::columns::directory_len(&columns).map_or(0, |len| len as u64),
        };
        self.objects.put(&object_key, Bytes::from(encoded.object), PutMode::Create).await?;

        let committed = self
            .commit(
                project,
                &record,
                shard,
                &batch,
                &placement,
                idempotency_key.map(|key| (idempotency_pk.as_str(), key)),
            )
            .await;
        match committed {
            Ok(Some(outcome)) => Ok(outcome),
            Ok(None) => {
                // The idempotency key won elsewhere: our object is not needed.
                self.objects.delete(&object_key).await?;
                let key = idempotency_key.expect("only keyed commits defer");
                self.remembered(&idempotency_pk, key)
                    .await?
                    .ok_or_else(|| EngineError::Corrupt(format!("idempotency key {key} vanished")))
            }
            Err(error) => {
                // Best effort: the orphan collector removes it otherwise.
                let _ = self.objects.delete(&object_key).await;
                Err(error)
            }
        }
    }

    async fn remembered(&self, pk: &str, key: &str) -> Result<Option<PutOutcome>> {
        let Some(item) = self.meta.get(pk, key).await? else {
            return Ok(None);
        };
        if item.expires_at.is_some_and(|expires| expires <= self.now()) {
            // Forget an expired key now, so a new commit under it can claim it.
            match self.meta.delete(pk, key, Condition::Version(item.version)).await {
                Ok(()) | Err(StoreError::Conflict { .. }) => return Ok(None),
                Err(error) => return Err(error.into()),
            }
        }
        let record: IdempotencyRecord = records::decode("idempotency", &item.value)?;
        Ok(Some(PutOutcome { shard: record.shard, position: record.position, duplicate: true }))
    }

    /// Claims the shard's next sequence number in one transaction. `Ok(None)`: the idempotency
    /// key was committed by someone else meanwhile.
    async fn commit(
        &self,
        project: &str,
        record: &LogstoreRecord,
        shard: u32,
        batch: &Batch,
        placement: &Placement<'_>,
        idempotency: Option<(&str, &str)>,
    ) -> Result<Option<PutOutcome>> {
        let incarnation = &record.incarnation;
        let heads_pk = keys::heads(project, &record.name, incarnation);
        let shard_sk = keys::shard_sk(shard);
        for _ in 0..MAX_COMMIT_ATTEMPTS {
            let current = self.meta.get(&heads_pk, &shard_sk).await?;
            let (head, condition) = match &current {
                Some(item) => {
                    (records::decode::<ShardHead>("shard head", &item.value)?, Condition::Version(item.version))
                }
                None => (ShardHead::default(), Condition::Absent),
            };
            let receive_time = self.now().max(head.last_receive_time);
            let segment = SegmentRecord {
                seq: head.next_seq,
                position: head.next_position,
                group_sizes: batch.group_sizes.clone(),
                object_key: placement.object_key.to_owned(),
                receive_time,
                log_count: batch.log_count,
                raw_bytes: batch.raw.len() as u64,
                stored_bytes: placement.stored_bytes,
                min_time: batch.min_time,
                max_time: batch.max_time,
                filter_offset: placement.filter_offset,
                filter_len: placement.filter_len,
                keys: batch.keys.clone(),
                columns_offset: placement.columns_offset,
                columns_len: placement.columns_len,
                columns_dir_len: placement.columns_dir_len,
            };
            let next = ShardHead {
                next_seq: head.next_seq + 1,
                next_position: segment.end_position(),
                last_receive_time: receive_time,
            };
            let mut ops = vec![
                WriteOp::Put {
                    pk: heads_pk.clone(),
                    sk: shard_sk.clone(),
                    value: records::encode(&next),
                    expires_at: None,
                    condition,
                },
                WriteOp::Put {
                    pk: keys::segments(project, &record.name, incarnation, shard),
                    sk: keys::position_sk(segment.position),
                    value: records::encode(&segment),
                    expires_at: None,
                    condition: Condition::Absent,
                },
                WriteOp::Put {
                    pk: keys::segment_times(project, &record.name, incarnation, shard),
                    sk: keys::time_sk(receive_time, segment.position),
                    value: records::encode(&segment.position),
                    expires_at: None,
                    condition: Condition::Absent,
                },
            ];
            if let Some((pk, key)) = idempotency {
                let remembered = IdempotencyRecord { shard, position: segment.position };
                ops.push(WriteOp::Put {
                    pk: pk.to_owned(),
                    sk: key.to_owned(),
                    value: records::encode(&remembered),
                    expires_at: Some(receive_time + IDEMPOTENCY_WINDOW_SECS),
                    condition: Condition::Absent,
                });
            }
            match self.meta.transact(ops).await {
                Ok(()) => return Ok(Some(PutOutcome { shard, position: segment.position, duplicate: false })),
                Err(StoreError::Conflict { index }) => {
                    if let Some((pk, key)) = idempotency
                        && index.is_none_or(|index| index == 3)
                        && self.meta.get(pk, key).await?.is_some()
                    {
                        return Ok(None);
                    }
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::Unavailable(format!("shard {shard} is too contended to commit; retry")).into())
    }
}
