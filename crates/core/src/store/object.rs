use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;

use super::{Result, StoreError};

/// Whether a put may replace an existing object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    /// Replace whatever is there.
    Overwrite,
    /// Fail with [`StoreError::Conflict`] when the key exists (S3 `If-None-Match: *`).
    Create,
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
}

/// Immutable blobs by key.
///
/// # Contract
/// - Keys are validated by [`validate_key`]: `/`-separated segments of `[A-Za-z0-9._=-]`, none
///   empty, `.` or `..`, at most 1024 bytes. Backends refuse others with [`StoreError::Invalid`].
/// - `put` is atomic: a reader sees the whole new object or the old state, never a part. When
///   `put` returns, the object is durable and visible to `get` and `list` (read-after-write).
/// - `get`/`get_range` of a missing key is [`StoreError::NotFound`]. `get_range` returns the bytes
///   in `range` clipped to the object's end; a range starting past the end is `Invalid`.
///   `get_ranges` answers several ranges of one object, in order, each as `get_range` would (one
///   bad range fails the call); backends override it to read them in one go.
/// - `list` returns every object whose key starts with `prefix`, sorted by key, complete (backends
///   page internally).
/// - `delete` of a missing key succeeds.
#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()>;
    async fn get(&self, key: &str) -> Result<Bytes>;
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes>;
    async fn get_ranges(&self, key: &str, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let mut out = Vec::with_capacity(ranges.len());
        for range in ranges {
            out.push(self.get_range(key, range.clone()).await?);
        }
        Ok(out)
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>>;
    async fn delete(&self, key: &str) -> Result<()>;
    /// Whether reads are local and short (files in the page cache, memory) rather than network
    /// round trips: a reader of many objects then reads them from a few blocking threads, one
    /// after another (see [`super::with_inline_blocking`]), instead of many at once.
    fn reads_locally(&self) -> bool {
        false
    }
}

/// Checks an object key against the [`ObjectStore`] contract.
pub fn validate_key(key: &str) -> Result<()> {
    let bad = |why: &str| Err(StoreError::Invalid(format!("object key '{key}': {why}")));
    if key.is_empty() || key.len() > 1024 {
        return bad("must be 1-1024 bytes");
    }
    for segment in key.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return bad("has an empty, '.' or '..' segment");
        }
        if !segment.bytes().all(|b| b.is_ascii_alphanumeric() || b"._=-".contains(&b)) {
            return bad("may hold only letters, digits and . _ = -");
        }
    }
    Ok(())
}

/// Checks a listing prefix: a key prefix, possibly ending in `/`, or empty.
pub fn validate_prefix(prefix: &str) -> Result<()> {
    match prefix.strip_suffix('/') {
        Some("") => Err(StoreError::Invalid("prefix '/'".into())),
        Some(rest) => validate_key(rest),
        None if prefix.is_empty() => Ok(()),
        None => validate_key(prefix),
    }
}
