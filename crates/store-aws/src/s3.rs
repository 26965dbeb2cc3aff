//! [`ObjectStore`] on an S3 bucket: object `a/b` is the S3 object `<prefix>a/b`.
//!
//! - `put` is one PutObject, atomic in S3; create-only puts send `If-None-Match: *`, which S3
//!   answers with 412 `PreconditionFailed` when the key exists (or 409
//!   `ConditionalRequestConflict` when a concurrent write to the key is in flight): both are
//!   [`StoreError::Conflict`]. S3 is strongly read-after-write consistent, as the contract needs.
//! - `get_range` sends `Range: bytes=a-(b-1)`. S3 clips a range running past the end itself and
//!   answers 416 to a range starting at or past it: at offset 0 that means an empty object (whose
//!   empty range is valid), anywhere else the range is [`StoreError::Invalid`]. Empty ranges cannot
//!   be said in HTTP, so they cost a HeadObject for the length. A server that ignores the header
//!   (200 without `Content-Range`) is clipped here.
//! - `list` pages through ListObjectsV2 with continuation tokens. Objects under the prefix whose
//!   names are not valid keys (written by something else) are left out.
//! - `delete` is DeleteObject, which succeeds for a missing key.

use std::ops::Range;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use logport_core::store::{ObjectMeta, ObjectStore, PutMode, Result, StoreError, validate_key, validate_prefix};

use crate::error::Failure;

/// Objects in an S3 bucket, under an optional key prefix.
#[derive(Debug, Clone)]
pub struct S3ObjectStore {
    client: Client,
    bucket: String,
    /// Empty, or a valid key prefix ending in `/`.
    prefix: String,
}

impl S3ObjectStore {
    /// A store on `bucket`, whose keys all live under `prefix` (empty for the whole bucket; a `/`
    /// is added when missing, so `logport` and `logport/` both mean `logport/<key>`). The prefix
    /// must be made of valid key segments ([`validate_prefix`]).
    ///
    /// The client's configuration decides endpoint, credentials, retries and timeouts; give it the
    /// standard retry strategy (the `config` feature's `connect` does).
    pub fn new(client: Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Result<Self> {
        let bucket = bucket.into();
        if bucket.is_empty() {
            return Err(StoreError::Invalid("the S3 bucket name is empty".into()));
        }
        Ok(Self { client, bucket, prefix: directory_prefix(prefix.into())? })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix, empty or ending in `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn s3_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn describe(&self, key: &str) -> String {
        format!("s3://{}/{}{key}", self.bucket, self.prefix)
    }

    /// The length of an object (HeadObject).
    async fn len(&self, key: &str) -> Result<u64> {
        let head = self.client.head_object().bucket(&self.bucket).key(self.s3_key(key)).send().await;
        match head {
            Ok(head) => content_length(head.content_length(), || self.describe(key)),
            Err(error) => {
                let failure = Failure::of(&error);
                if failure.status == Some(404) {
                    return Err(StoreError::NotFound(key.to_owned()));
                }
                Err(failure.into_store_error(format_args!("HeadObject {}", self.describe(key))))
            }
        }
    }

    /// Reads the whole body of a GetObject answer.
    async fn read_body(&self, key: &str, body: ByteStream) -> Result<Bytes> {
        // The SDK does not retry a body that breaks off midway; reading again is safe.
        let collected = body
            .collect()
            .await
            .map_err(|e| StoreError::Unavailable(format!("reading {}: {e}", self.describe(key))))?;
        Ok(collected.into_bytes())
    }
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        validate_key(key)?;
        let mut request =
            self.client.put_object().bucket(&self.bucket).key(self.s3_key(key)).body(ByteStream::from(data));
        if mode == PutMode::Create {
            request = request.if_none_match("*");
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(error) => {
                let failure = Failure::of(&error);
                if failure.status == Some(412)
                    || failure.is("PreconditionFailed")
                    || failure.is("ConditionalRequestConflict")
                {
                    return Err(StoreError::Conflict { index: None });
                }
                Err(failure.into_store_error(format_args!("PutObject {}", self.describe(key))))
            }
        }
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        validate_key(key)?;
        let answer = self.client.get_object().bucket(&self.bucket).key(self.s3_key(key)).send().await;
        match answer {
            Ok(output) => self.read_body(key, output.body).await,
            Err(error) => Err(get_error(&error, key, || self.describe(key))),
        }
    }

    /// Ranged GETs, at most 8 in flight.
    async fn get_ranges(&self, key: &str, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        use futures::StreamExt;
        let reads = ranges.iter().cloned().map(|range| self.get_range(key, range));
        let answers: Vec<Result<Bytes>> = futures::stream::iter(reads).buffered(8).collect().await;
        answers.into_iter().collect()
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        validate_key(key)?;
        if range.start >= range.end {
            // Nothing to read, but the key must exist and the range must fit its length.
            let len = self.len(key).await?;
            clip_range(key, &range, len)?;
            return Ok(Bytes::new());
        }
        let answer = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.s3_key(key))
            .range(range_header(&range))
            .send()
            .await;
        match answer {
            Ok(output) if output.content_range().is_some() => self.read_body(key, output.body).await,
            Ok(output) => {
                // The server sent the whole object: apply the range here.
                let whole = self.read_body(key, output.body).await?;
                let clipped = clip_range(key, &range, whole.len() as u64)?;
                Ok(whole.slice(to_usize(clipped.start)?..to_usize(clipped.end)?))
            }
            Err(error) => {
                let failure = Failure::of(&error);
                if failure.status == Some(416) || failure.is("InvalidRange") {
                    // The range starts at or past the end: only an empty object at offset 0 is fine.
                    return if range.start == 0 { Ok(Bytes::new()) } else { Err(invalid_range(key, &range, None)) };
                }
                Err(get_error(&error, key, || self.describe(key)))
            }
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        validate_prefix(prefix)?;
        let full_prefix = self.s3_key(prefix);
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(&full_prefix).into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| {
                Failure::of(&error).into_store_error(format_args!("ListObjectsV2 s3://{}/{full_prefix}", self.bucket))
            })?;
            for object in page.contents() {
                let Some(key) = object.key().and_then(|key| key.strip_prefix(&self.prefix)) else {
                    continue;
                };
                if validate_key(key).is_err() {
                    continue;
                }
                let size = content_length(object.size(), || self.describe(key))?;
                found.push(ObjectMeta { key: key.to_owned(), size });
            }
        }
        // S3 lists in UTF-8 byte order already; sorting keeps the contract with any server.
        found.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        match self.client.delete_object().bucket(&self.bucket).key(self.s3_key(key)).send().await {
            Ok(_) => Ok(()),
            Err(error) => {
                let failure = Failure::of(&error);
                if failure.is("NoSuchKey") {
                    return Ok(());
                }
                Err(failure.into_store_error(format_args!("DeleteObject {}", self.describe(key))))
            }
        }
    }
}

fn get_error<E>(
    error: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    key: &str,
    describe: impl Fn() -> String,
) -> StoreError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let failure = Failure::of(error);
    if failure.is("NoSuchKey") || (failure.status == Some(404) && !failure.is("NoSuchBucket")) {
        return StoreError::NotFound(key.to_owned());
    }
    failure.into_store_error(format_args!("GetObject {}", describe()))
}

/// A store prefix as a directory: empty, or valid key segments ending in `/`.
fn directory_prefix(mut prefix: String) -> Result<String> {
    validate_prefix(&prefix)?;
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    Ok(prefix)
}

/// The HTTP `Range` header for a non-empty byte range (HTTP ranges name the last byte).
fn range_header(range: &Range<u64>) -> String {
    format!("bytes={}-{}", range.start, range.end - 1)
}

/// The part of `range` inside an object of `len` bytes, under the [`ObjectStore::get_range`]
/// contract: a range starting past the end (or reversed) is invalid, except any range starting at
/// 0 of an empty object.
fn clip_range(key: &str, range: &Range<u64>, len: u64) -> Result<Range<u64>> {
    if range.start > range.end || (range.start >= len && !(range.start == 0 && len == 0)) {
        return Err(invalid_range(key, range, Some(len)));
    }
    Ok(range.start..range.end.min(len))
}

fn invalid_range(key: &str, range: &Range<u64>, len: Option<u64>) -> StoreError {
    match len {
        Some(len) => StoreError::Invalid(format!("range {range:?} of '{key}' ({len} bytes)")),
        None => StoreError::Invalid(format!("range {range:?} of '{key}' starts past its end")),
    }
}

fn content_length(length: Option<i64>, describe: impl Fn() -> String) -> Result<u64> {
    length
        .and_then(|length| u64::try_from(length).ok())
        .ok_or_else(|| StoreError::Backend(format!("{}: the answer has no valid length ({length:?})", describe())))
}

fn to_usize(offset: u64) -> Result<usize> {
    usize::try_from(offset).map_err(|_| StoreError::Invalid(format!("offset {offset} does not fit in memory")))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use logport_core::store::memory::slice_range;

    use super::*;

    #[test]
    fn range_headers_name_the_last_byte() {
        assert_eq!(range_header(&(0..1)), "bytes=0-0");
        assert_eq!(range_header(&(10..20)), "bytes=10-19");
    }

    #[test]
    fn clipping_follows_the_reference_backend() {
        for len in [0u64, 1, 5] {
            let data = Bytes::from(vec![7u8; len as usize]);
            for start in 0..8u64 {
                for end in 0..8u64 {
                    let expected = slice_range("k", &data, start..end).map(|bytes| bytes.len() as u64);
                    let clipped = clip_range("k", &(start..end), len).map(|range| range.end - range.start);
                    assert_eq!(
                        clipped.ok(),
                        expected.ok(),
                        "range {start}..{end} of {len} bytes must clip like the memory store"
                    );
                }
            }
        }
    }

    #[test]
    fn prefixes_become_directories() {
        let prefix = |prefix: &str| directory_prefix(prefix.to_owned());
        assert_eq!(prefix("").unwrap(), "");
        assert_eq!(prefix("tenant").unwrap(), "tenant/");
        assert_eq!(prefix("tenant/x/").unwrap(), "tenant/x/");
        for bad in ["/", "../x", "a//", "a b"] {
            assert!(matches!(prefix(bad), Err(StoreError::Invalid(_))), "prefix {bad:?}");
        }
    }
}
