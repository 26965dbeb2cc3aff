//! The on-disk cache of batches that could not be sent: one file per batch, named by a sequence
//! number (sent in that order), written atomically (temporary file, fsync, rename) and checked by a
//! checksum when read back. Bounded by total bytes and by age; whatever is dropped at a limit, or
//! found corrupt, is counted.
//!
//! File layout: `LPB2`, u64 created (unix ms), u64 xxh3 of the rest, u32 length + logstore,
//! u32 length + the batch's idempotency key, then the `LogGroup` protobuf. `LPB1` files (no key,
//! written by earlier versions) are still read.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::xxh3_64;

const MAGIC: &[u8; 4] = b"LPB2";
const MAGIC_V1: &[u8; 4] = b"LPB1";

/// One cached batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    pub seq: u64,
    pub created_ms: u64,
    pub logstore: String,
    /// The idempotency key the batch was first sent with (empty for `LPB1` files): sent again
    /// with it, a batch the service already committed is not written twice.
    pub key: String,
    pub group: Vec<u8>,
}

/// Counters for status.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SpoolStats {
    pub batches: usize,
    pub bytes: u64,
    pub dropped_batches: u64,
    pub dropped_bytes: u64,
    pub corrupt: u64,
}

/// The cache directory.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    max_age_ms: u64,
    /// (seq, size) of the files, oldest first.
    entries: std::collections::VecDeque<(u64, u64)>,
    next_seq: u64,
    stats: SpoolStats,
}

fn name(seq: u64) -> String {
    format!("{seq:020}.batch")
}

fn encode(created_ms: u64, logstore: &str, key: &str, group: &[u8]) -> Vec<u8> {
    let mut rest = Vec::with_capacity(8 + logstore.len() + key.len() + group.len());
    for text in [logstore, key] {
        rest.extend_from_slice(&(text.len() as u32).to_le_bytes());
        rest.extend_from_slice(text.as_bytes());
    }
    rest.extend_from_slice(group);
    let mut out = Vec::with_capacity(20 + rest.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&created_ms.to_le_bytes());
    out.extend_from_slice(&xxh3_64(&rest).to_le_bytes());
    out.extend_from_slice(&rest);
    out
}

fn decode(seq: u64, bytes: &[u8]) -> Option<Cached> {
    if bytes.len() < 24 || (&bytes[..4] != MAGIC && &bytes[..4] != MAGIC_V1) {
        return None;
    }
    let with_key = &bytes[..4] == MAGIC;
    let created_ms = u64::from_le_bytes(bytes[4..12].try_into().ok()?);
    let checksum = u64::from_le_bytes(bytes[12..20].try_into().ok()?);
    let rest = &bytes[20..];
    if xxh3_64(rest) != checksum {
        return None;
    }
    let mut at = 0;
    let mut text = || -> Option<String> {
        let len = u32::from_le_bytes(rest.get(at..at + 4)?.try_into().ok()?) as usize;
        let text = std::str::from_utf8(rest.get(at + 4..at + 4 + len)?).ok()?.to_owned();
        at += 4 + len;
        Some(text)
    };
    let logstore = text()?;
    let key = if with_key { text()? } else { String::new() };
    Some(Cached { seq, created_ms, logstore, key, group: rest[at..].to_vec() })
}

/// Writes `bytes` to `path` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent()
        && let Ok(dir) = fs::File::open(parent)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

impl Spool {
    /// Opens (creating) the cache in `dir`, indexing what a previous run left.
    pub fn open(dir: &Path, max_bytes: u64, max_age_ms: u64) -> std::io::Result<Spool> {
        fs::create_dir_all(dir)?;
        let mut entries = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if let Some(seq) = file_name.strip_suffix(".batch").and_then(|s| s.parse::<u64>().ok()) {
                entries.push((seq, entry.metadata()?.len()));
            } else if file_name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
        entries.sort();
        let next_seq = entries.last().map_or(1, |(seq, _)| seq + 1);
        let mut spool = Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            max_age_ms,
            entries: entries.into(),
            next_seq,
            stats: SpoolStats::default(),
        };
        spool.refresh_stats();
        Ok(spool)
    }

    fn refresh_stats(&mut self) {
        self.stats.batches = self.entries.len();
        self.stats.bytes = self.entries.iter().map(|(_, size)| size).sum();
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn stats(&self) -> SpoolStats {
        self.stats.clone()
    }

    /// Adds a batch at the end; drops the oldest batches if the cache would exceed its size.
    pub fn push(&mut self, created_ms: u64, logstore: &str, key: &str, group: &[u8]) -> std::io::Result<()> {
        let bytes = encode(created_ms, logstore, key, group);
        let seq = self.next_seq;
        write_atomic(&self.dir.join(name(seq)), &bytes)?;
        self.next_seq += 1;
        self.entries.push_back((seq, bytes.len() as u64));
        self.refresh_stats();
        while self.stats.bytes > self.max_bytes && self.entries.len() > 1 {
            self.drop_oldest();
        }
        Ok(())
    }

    fn drop_oldest(&mut self) {
        if let Some((seq, size)) = self.entries.pop_front() {
            let _ = fs::remove_file(self.dir.join(name(seq)));
            self.stats.dropped_batches += 1;
            self.stats.dropped_bytes += size;
            self.refresh_stats();
        }
    }

    /// The oldest batch still within its age limit (older or corrupt ones are dropped and counted).
    pub fn front(&mut self, now_ms: u64) -> Option<Cached> {
        while let Some(&(seq, _)) = self.entries.front() {
            let cached = fs::read(self.dir.join(name(seq))).ok().and_then(|bytes| decode(seq, &bytes));
            match cached {
                None => {
                    self.stats.corrupt += 1;
                    self.drop_oldest();
                }
                Some(cached) if now_ms.saturating_sub(cached.created_ms) > self.max_age_ms => self.drop_oldest(),
                Some(cached) => return Some(cached),
            }
        }
        None
    }

    /// Removes the batch `seq` once it has been sent.
    pub fn remove(&mut self, seq: u64) {
        if self.entries.front().is_some_and(|(s, _)| *s == seq) {
            self.entries.pop_front();
            let _ = fs::remove_file(self.dir.join(name(seq)));
            self.refresh_stats();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_survives_reopen_and_limits_count_drops() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 10_000, 1_000).unwrap();
        for i in 0..3u8 {
            spool.push(100, "store", &format!("k{i}"), &[i; 100]).unwrap();
        }
        drop(spool);
        let mut spool = Spool::open(dir.path(), 10_000, 1_000).unwrap();
        assert_eq!(spool.stats().batches, 3);
        let first = spool.front(200).unwrap();
        assert_eq!((first.logstore.as_str(), first.key.as_str(), first.group[0]), ("store", "k0", 0));
        spool.remove(first.seq);
        assert_eq!(spool.front(200).unwrap().group[0], 1);
        // Corrupt the next file: detected, dropped, counted; the one after is returned.
        let path = dir.path().join(name(2));
        let mut bytes = fs::read(&path).unwrap();
        bytes[30] ^= 1;
        fs::write(&path, bytes).unwrap();
        assert_eq!(spool.front(200).unwrap().group[0], 2);
        assert_eq!(spool.stats().corrupt, 1);
        // Age limit.
        assert!(spool.front(5_000).is_none());
        assert_eq!(spool.stats().dropped_batches, 2);
        // Size limit: the oldest go first.
        let mut small = Spool::open(&dir.path().join("small"), 300, u64::MAX).unwrap();
        for i in 0..5u8 {
            small.push(0, "s", "", &[i; 100]).unwrap();
        }
        assert_eq!(small.stats().batches, 2);
        assert_eq!(small.stats().dropped_batches, 3);
        assert_eq!(small.front(0).unwrap().group[0], 3);
    }

    #[test]
    fn reads_batches_cached_before_keys() {
        let dir = tempfile::tempdir().unwrap();
        let group = [7u8; 10];
        let mut rest = Vec::new();
        rest.extend_from_slice(&5u32.to_le_bytes());
        rest.extend_from_slice(b"store");
        rest.extend_from_slice(&group);
        let mut old = MAGIC_V1.to_vec();
        old.extend_from_slice(&100u64.to_le_bytes());
        old.extend_from_slice(&xxh3_64(&rest).to_le_bytes());
        old.extend_from_slice(&rest);
        fs::write(dir.path().join(name(0)), old).unwrap();
        let mut spool = Spool::open(dir.path(), 10_000, 1_000).unwrap();
        let cached = spool.front(200).unwrap();
        assert_eq!((cached.logstore.as_str(), cached.key.as_str(), cached.group.as_slice()), ("store", "", &group[..]));
    }
}
