//! In-memory backends for unit tests and examples. They follow the port contracts exactly (the
//! conformance suites run on them) but keep nothing across restarts.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;

use super::{
    Condition, Item, MetaStore, ObjectMeta, ObjectStore, PutMode, Query, Result, StoreError, WriteOp, condition_holds,
    validate_key, validate_key_pair, validate_prefix, validate_transaction, validate_value,
};

/// Objects in a map.
#[derive(Debug, Default)]
pub struct MemoryObjectStore {
    objects: Mutex<BTreeMap<String, Bytes>>,
}

#[async_trait]
impl ObjectStore for MemoryObjectStore {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        validate_key(key)?;
        let mut objects = self.objects.lock().unwrap();
        if mode == PutMode::Create && objects.contains_key(key) {
            return Err(StoreError::Conflict { index: None });
        }
        objects.insert(key.to_owned(), data);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        validate_key(key)?;
        self.objects.lock().unwrap().get(key).cloned().ok_or_else(|| StoreError::NotFound(key.to_owned()))
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        let data = self.get(key).await?;
        slice_range(key, &data, range)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        validate_prefix(prefix)?;
        let objects = self.objects.lock().unwrap();
        Ok(objects
            .range(prefix.to_owned()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, data)| ObjectMeta { key: key.clone(), size: data.len() as u64 })
            .collect())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        self.objects.lock().unwrap().remove(key);
        Ok(())
    }

    fn reads_locally(&self) -> bool {
        true
    }
}

/// Applies the [`ObjectStore::get_range`] contract to a whole object.
pub fn slice_range(key: &str, data: &Bytes, range: Range<u64>) -> Result<Bytes> {
    let len = data.len() as u64;
    if range.start > range.end || (range.start >= len && !(range.start == 0 && len == 0)) {
        return Err(StoreError::Invalid(format!("range {range:?} of '{key}' ({len} bytes)")));
    }
    Ok(data.slice(range.start as usize..range.end.min(len) as usize))
}

type Partition = BTreeMap<String, Item>;

/// Items in nested maps, one lock for all (so transactions are trivially serializable).
#[derive(Debug, Default)]
pub struct MemoryMetaStore {
    partitions: Mutex<BTreeMap<String, Partition>>,
}

fn current_version(partitions: &BTreeMap<String, Partition>, pk: &str, sk: &str) -> Option<u64> {
    partitions.get(pk).and_then(|partition| partition.get(sk)).map(|item| item.version)
}

fn apply_put(
    partitions: &mut BTreeMap<String, Partition>,
    pk: &str,
    sk: &str,
    value: Vec<u8>,
    expires_at: Option<i64>,
) -> u64 {
    let partition = partitions.entry(pk.to_owned()).or_default();
    let version = partition.get(sk).map_or(1, |item| item.version + 1);
    partition.insert(sk.to_owned(), Item { pk: pk.to_owned(), sk: sk.to_owned(), value, version, expires_at });
    version
}

fn apply_delete(partitions: &mut BTreeMap<String, Partition>, pk: &str, sk: &str) {
    if let Some(partition) = partitions.get_mut(pk) {
        partition.remove(sk);
        if partition.is_empty() {
            partitions.remove(pk);
        }
    }
}

#[async_trait]
impl MetaStore for MemoryMetaStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>> {
        validate_key_pair(pk, sk)?;
        let partitions = self.partitions.lock().unwrap();
        Ok(partitions.get(pk).and_then(|partition| partition.get(sk)).cloned())
    }

    async fn put(
        &self,
        pk: &str,
        sk: &str,
        value: Vec<u8>,
        expires_at: Option<i64>,
        condition: Condition,
    ) -> Result<u64> {
        validate_key_pair(pk, sk)?;
        validate_value(&value)?;
        let mut partitions = self.partitions.lock().unwrap();
        if !condition_holds(condition, current_version(&partitions, pk, sk)) {
            return Err(StoreError::Conflict { index: None });
        }
        Ok(apply_put(&mut partitions, pk, sk, value, expires_at))
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<()> {
        validate_key_pair(pk, sk)?;
        let mut partitions = self.partitions.lock().unwrap();
        if !condition_holds(condition, current_version(&partitions, pk, sk)) {
            return Err(StoreError::Conflict { index: None });
        }
        apply_delete(&mut partitions, pk, sk);
        Ok(())
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<()> {
        validate_transaction(&ops)?;
        let mut partitions = self.partitions.lock().unwrap();
        for (index, op) in ops.iter().enumerate() {
            let (pk, sk) = op.key();
            let condition = match op {
                WriteOp::Put { condition, .. }
                | WriteOp::Delete { condition, .. }
                | WriteOp::Check { condition, .. } => *condition,
            };
            if !condition_holds(condition, current_version(&partitions, pk, sk)) {
                return Err(StoreError::Conflict { index: Some(index) });
            }
        }
        for op in ops {
            match op {
                WriteOp::Put { pk, sk, value, expires_at, .. } => {
                    apply_put(&mut partitions, &pk, &sk, value, expires_at);
                }
                WriteOp::Delete { pk, sk, .. } => apply_delete(&mut partitions, &pk, &sk),
                WriteOp::Check { .. } => {}
            }
        }
        Ok(())
    }

    async fn query(&self, query: Query) -> Result<Vec<Item>> {
        validate_key_pair(&query.pk, "-")?;
        let partitions = self.partitions.lock().unwrap();
        let Some(partition) = partitions.get(&query.pk) else {
            return Ok(Vec::new());
        };
        let matching = partition.values().filter(|item| query.contains(&item.sk));
        let limit = query.limit.unwrap_or(usize::MAX);
        Ok(if query.reverse {
            matching.rev().take(limit).cloned().collect()
        } else {
            matching.take(limit).cloned().collect()
        })
    }
}
