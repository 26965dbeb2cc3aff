//! Where shipped objects go: a bucket name resolved to an [`ObjectStore`].

use std::sync::Arc;

use async_trait::async_trait;
use logport_core::store::ObjectStore;

/// Why a bucket cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BucketError {
    #[error("bucket '{0}' does not exist")]
    NoSuchBucket(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Other(String),
}

/// Resolves a rule's bucket (and its role reference) to an object store.
#[async_trait]
pub trait Buckets: Send + Sync + std::fmt::Debug {
    async fn open(&self, bucket: &str, role_arn: &str) -> Result<Arc<dyn ObjectStore>, BucketError>;
}

/// Bucket `B` is the directory `<root>/B` (it must exist, as an S3 bucket must), written with
/// the file object store: what `logport up` ships to.
#[cfg(feature = "local")]
#[derive(Debug, Clone)]
pub struct DirectoryBuckets {
    root: std::path::PathBuf,
}

#[cfg(feature = "local")]
impl DirectoryBuckets {
    pub fn new(root: impl Into<std::path::PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &std::path::Path {
        &self.root
    }
}

#[cfg(feature = "local")]
#[async_trait]
impl Buckets for DirectoryBuckets {
    async fn open(&self, bucket: &str, _role_arn: &str) -> Result<Arc<dyn ObjectStore>, BucketError> {
        crate::config::validate_bucket(bucket).map_err(|e| BucketError::NoSuchBucket(e.to_string()))?;
        let path = self.root.join(bucket);
        let exists = tokio::fs::metadata(&path).await.map(|m| m.is_dir()).unwrap_or(false);
        if !exists {
            return Err(BucketError::NoSuchBucket(format!(
                "bucket '{bucket}' does not exist (create the directory {})",
                path.display()
            )));
        }
        let store = logport_store_local::FileObjectStore::open(path).map_err(|e| BucketError::Other(e.to_string()))?;
        Ok(Arc::new(store))
    }
}

/// Bucket `B` is the S3 bucket `B`, through one ready client (its credentials are the writer's;
/// the role reference is not assumed here).
#[cfg(feature = "aws")]
#[derive(Debug, Clone)]
pub struct S3Buckets {
    client: aws_sdk_s3::Client,
}

#[cfg(feature = "aws")]
impl S3Buckets {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Self { client }
    }
}

#[cfg(feature = "aws")]
#[async_trait]
impl Buckets for S3Buckets {
    async fn open(&self, bucket: &str, _role_arn: &str) -> Result<Arc<dyn ObjectStore>, BucketError> {
        let store = logport_store_aws::S3ObjectStore::new(self.client.clone(), bucket, "")
            .map_err(|e| BucketError::NoSuchBucket(e.to_string()))?;
        Ok(Arc::new(store))
    }
}
