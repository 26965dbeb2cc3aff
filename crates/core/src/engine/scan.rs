//! Reading committed segments for search: which segments may hold logs of a time range, whether
//! a segment's term filter admits a set of tokens, and the decoded log groups of a segment.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use prost::Message;

use crate::bloom::Bloom;
use crate::columns::{Columns, Directory, Entry};
use crate::model::LogGroup;
use crate::store::Query;

use super::records::{self, LogstoreRecord, SegmentRecord};
use super::{Engine, EngineError, Result, keys, segment};

/// A committed segment of a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRef {
    pub shard: u32,
    pub record: SegmentRecord,
}

impl Engine {
    /// Every retained segment of a logstore whose log times overlap `[from, to)`, shard by shard
    /// in commit order. (It reads each shard's whole segment index: a log-time index is a later
    /// optimisation.)
    pub async fn segments_between(
        &self,
        project: &str,
        logstore: &str,
        from: i64,
        to: i64,
    ) -> Result<(LogstoreRecord, Vec<SegmentRef>)> {
        let record = self.logstore(project, logstore).await?;
        let cutoff = record.expiry_cutoff(self.now());
        let mut segments = Vec::new();
        for shard in 0..record.shard_count {
            let pk = keys::segments(project, &record.name, &record.incarnation, shard);
            for item in self.meta.query(Query::partition(pk)).await? {
                let segment: SegmentRecord = records::decode("segment", &item.value)?;
                let expired = cutoff.is_some_and(|cutoff| segment.receive_time < cutoff);
                let overlaps = i64::from(segment.max_time) >= from && i64::from(segment.min_time) < to;
                if !expired && overlaps {
                    segments.push(SegmentRef { shard, record: segment });
                }
            }
        }
        Ok((record, segments))
    }

    /// The segments of one shard around a position: the one holding it and up to `around` on
    /// each side (for context queries).
    pub async fn segments_around(
        &self,
        project: &str,
        logstore: &str,
        shard: u32,
        position: u64,
        around: usize,
    ) -> Result<Vec<SegmentRef>> {
        let record = self.shard_of(project, logstore, shard).await?;
        let pk = keys::segments(project, &record.name, &record.incarnation, shard);
        let sk = keys::position_sk(position);
        let before =
            Query::partition(pk.clone()).to(std::ops::Bound::Included(sk.clone())).reversed().limit(around + 1);
        let after = Query::partition(pk).from(std::ops::Bound::Excluded(sk)).limit(around);
        let mut items = self.meta.query(before).await?;
        items.reverse();
        items.extend(self.meta.query(after).await?);
        items
            .iter()
            .map(|item| records::decode("segment", &item.value).map(|record| SegmentRef { shard, record }))
            .collect()
    }

    /// The retained segments of a shard holding log groups at positions `[start, end)`, in
    /// order (what a pull of that range reads; the shipper reads their columns instead).
    pub async fn segments_in_positions(
        &self,
        project: &str,
        logstore: &str,
        shard: u32,
        start: u64,
        end: u64,
    ) -> Result<Vec<SegmentRef>> {
        let record = self.shard_of(project, logstore, shard).await?;
        let cutoff = record.expiry_cutoff(self.now());
        let pk = keys::segments(project, &record.name, &record.incarnation, shard);
        let first =
            Query::partition(pk.clone()).to(std::ops::Bound::Included(keys::position_sk(start))).reversed().limit(1);
        let rest = Query::partition(pk)
            .from(std::ops::Bound::Excluded(keys::position_sk(start)))
            .to(std::ops::Bound::Excluded(keys::position_sk(end)));
        let mut items = self.meta.query(first).await?;
        items.extend(self.meta.query(rest).await?);
        let mut segments = Vec::with_capacity(items.len());
        for item in items {
            let segment: SegmentRecord = records::decode("segment", &item.value)?;
            let expired = cutoff.is_some_and(|cutoff| segment.receive_time < cutoff);
            if !expired && segment.end_position() > start && segment.position < end {
                segments.push(SegmentRef { shard, record: segment });
            }
        }
        Ok(segments)
    }

    /// Whether the object store reads locally (see [`crate::store::ObjectStore::reads_locally`]).
    pub fn reads_locally(&self) -> bool {
        self.objects.reads_locally()
    }

    /// False when the segment's term filter proves it holds none of the logs that contain every
    /// token hash in `required`; true otherwise (also when it has no filter).
    pub async fn may_contain_all(&self, segment: &SegmentRef, required: &[u64]) -> Result<bool> {
        let record = &segment.record;
        if required.is_empty() || record.filter_len == 0 {
            return Ok(true);
        }
        let range = record.filter_offset..record.filter_offset + record.filter_len;
        let bytes = self.objects.get_range(&record.object_key, range).await?;
        let bloom = Bloom::from_bytes(&bytes)
            .ok_or_else(|| EngineError::Corrupt(format!("segment {}: bad term filter", record.object_key)))?;
        Ok(required.iter().all(|hash| bloom.may_contain(*hash)))
    }

    /// Fetches what [`ColumnBytes::decode`] needs for columns `names` of a segment: the blocks
    /// of its columnar section (the directory comes from a cache, or one ranged read; the blocks
    /// from one multi-range read), or the whole object when it has no section.
    pub async fn column_bytes(&self, segment: &SegmentRef, names: &[&str]) -> Result<ColumnBytes> {
        let record = &segment.record;
        if record.columns_len == 0 || record.columns_dir_len == 0 {
            return Ok(ColumnBytes::Object(self.objects.get(&record.object_key).await?));
        }
        let start = record.columns_offset;
        let directory = match self.directories.get(&record.object_key) {
            Some(directory) => directory,
            None => {
                let head = self.objects.get_range(&record.object_key, start..start + record.columns_dir_len).await?;
                let directory = Arc::new(
                    Directory::parse(&head)
                        .map_err(|error| EngineError::Corrupt(format!("segment {}: {error}", record.object_key)))?,
                );
                self.directories.insert(&record.object_key, directory.clone());
                directory
            }
        };
        if directory.truncated && names.iter().any(|name| directory.entry(name).is_none()) {
            // A key left out of a truncated section: the columns are built from the groups.
            return Ok(ColumnBytes::Object(self.objects.get(&record.object_key).await?));
        }
        let wanted: Vec<&Entry> =
            directory.entries.iter().filter(|entry| entry.kind < 2 || names.contains(&entry.name.as_str())).collect();
        let mut ranges = Vec::with_capacity(wanted.len());
        for entry in &wanted {
            let (from, to) = (u64::from(entry.offset), u64::from(entry.offset) + u64::from(entry.len));
            if to > record.columns_len {
                return Err(EngineError::Corrupt(format!("segment {}: bad columnar directory", record.object_key)));
            }
            ranges.push(start + from..start + to);
        }
        let blocks = self.objects.get_ranges(&record.object_key, &ranges).await?;
        let blocks = wanted.iter().map(|entry| entry.offset).zip(blocks).collect();
        Ok(ColumnBytes::Section { directory, blocks })
    }

    /// A segment's whole object.
    pub async fn read_object(&self, segment: &SegmentRef) -> Result<Bytes> {
        Ok(self.objects.get(&segment.record.object_key).await?)
    }

    /// The log groups of a segment, decoded, in order.
    pub async fn read_groups(&self, segment: &SegmentRef) -> Result<Vec<LogGroup>> {
        let record = &segment.record;
        let object = self.objects.get(&record.object_key).await?;
        decode_groups(record, &object)
    }
}

/// Splits and decodes the groups of a segment object.
pub fn decode_groups(record: &SegmentRecord, object: &[u8]) -> Result<Vec<LogGroup>> {
    let raw = segment::decode(&record.object_key, object)?;
    let mut groups = Vec::with_capacity(record.group_sizes.len());
    let mut offset = 0usize;
    for size in &record.group_sizes {
        let bytes = raw
            .get(offset..offset + *size as usize)
            .ok_or_else(|| EngineError::Corrupt(format!("segment {} is shorter than its index", record.object_key)))?;
        groups.push(LogGroup::decode(bytes).map_err(|error| EngineError::Corrupt(error.to_string()))?);
        offset += *size as usize;
    }
    Ok(groups)
}

/// The bytes a segment's columns are decoded from (see [`Engine::column_bytes`]).
#[derive(Debug, Clone)]
pub enum ColumnBytes {
    /// The wanted blocks of the columnar section, by their section offset.
    Section { directory: Arc<Directory>, blocks: Vec<(u32, Bytes)> },
    /// The whole segment object (no columnar section).
    Object(Bytes),
}

impl ColumnBytes {
    /// Decodes columns `names` (plus times and groups). CPU work: run it off the async runtime.
    pub fn decode(&self, record: &SegmentRecord, names: &[&str]) -> Result<Columns> {
        self.decode_counted(record, names, &[])
    }

    /// As [`ColumnBytes::decode`], with the names in `counted` decoded as value counts where the
    /// section has them ([`crate::columns::Column::Counts`]; only for a caller that selects every
    /// row of the segment).
    pub fn decode_counted(&self, record: &SegmentRecord, names: &[&str], counted: &[&str]) -> Result<Columns> {
        let corrupt = |error: crate::columns::ColumnsError| {
            EngineError::Corrupt(format!("segment {}: {error}", record.object_key))
        };
        match self {
            ColumnBytes::Section { directory, blocks } => {
                let decoded = Columns::decode_with(directory, names, counted, |entry| {
                    blocks.iter().find(|(offset, _)| *offset == entry.offset).map(|(_, block)| &block[..])
                })
                .map_err(corrupt)?;
                decoded
                    .ok_or_else(|| EngineError::Corrupt(format!("segment {}: a column is missing", record.object_key)))
            }
            ColumnBytes::Object(object) => Ok(Columns::from_groups(&decode_groups(record, object)?, names)),
        }
    }
}

/// Directories of columnar sections by object key, bounded (cleared when full).
#[derive(Debug, Default)]
pub struct DirectoryCache {
    entries: Mutex<HashMap<String, Arc<Directory>>>,
}

const DIRECTORY_CACHE_ENTRIES: usize = 65_536;

impl DirectoryCache {
    fn get(&self, key: &str) -> Option<Arc<Directory>> {
        self.entries.lock().unwrap_or_else(|poison| poison.into_inner()).get(key).cloned()
    }

    fn insert(&self, key: &str, directory: Arc<Directory>) {
        let mut entries = self.entries.lock().unwrap_or_else(|poison| poison.into_inner());
        if entries.len() >= DIRECTORY_CACHE_ENTRIES {
            entries.clear();
        }
        entries.insert(key.to_owned(), directory);
    }
}
