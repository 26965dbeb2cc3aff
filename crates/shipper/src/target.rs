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

/// Bucket `B` is the S3 bucket `B`. A rule without `roleArn` writes with the client's own
/// credentials (the shipper function's role). With [`S3Buckets::assuming_roles`], a rule's
/// `roleArn` is assumed through STS (`AssumeRole`, session `logport-shipper`) and its objects are
/// written with that role's temporary credentials, refreshed before they expire; a role that
/// cannot be assumed fails the task (`Unauthorized`, with STS's message), and is retried like
/// any failed task. Without it, a `roleArn` is refused rather than silently ignored.
#[cfg(feature = "aws")]
#[derive(Debug)]
pub struct S3Buckets {
    client: aws_sdk_s3::Client,
    /// The SDK configuration STS is called with (its credentials are the caller's).
    sts: Option<aws_config::SdkConfig>,
    /// One client per assumed role, each with its provider's credential cache.
    roles: tokio::sync::Mutex<std::collections::HashMap<String, aws_sdk_s3::Client>>,
}

#[cfg(feature = "aws")]
impl S3Buckets {
    /// Writes with `client`'s credentials; a rule naming a role is refused.
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Self { client, sts: None, roles: Default::default() }
    }

    /// Writes with `client`'s credentials, or with a rule's role assumed through STS on `sdk`.
    pub fn assuming_roles(client: aws_sdk_s3::Client, sdk: aws_config::SdkConfig) -> Self {
        Self { client, sts: Some(sdk), roles: Default::default() }
    }

    /// The client that writes as `role_arn`: assumed now if it was not (a first credential
    /// request proves the role can be assumed), then kept.
    async fn client_for(&self, role_arn: &str) -> Result<aws_sdk_s3::Client, BucketError> {
        use aws_sdk_s3::config::ProvideCredentials;
        let Some(sdk) = &self.sts else {
            return Err(BucketError::Unauthorized(format!(
                "roleArn {role_arn} is set but this shipper does not assume roles; leave roleArn empty to write \
                 with the shipper's own credentials"
            )));
        };
        let mut roles = self.roles.lock().await;
        if let Some(client) = roles.get(role_arn) {
            return Ok(client.clone());
        }
        let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
            .session_name("logport-shipper")
            .configure(sdk)
            .build()
            .await;
        provider.provide_credentials().await.map_err(|error| {
            use std::error::Error as _;
            let cause = error.source().map(|cause| format!(": {cause}")).unwrap_or_default();
            BucketError::Unauthorized(format!("cannot assume role {role_arn}: {error}{cause}"))
        })?;
        let client =
            aws_sdk_s3::Client::from_conf(self.client.config().to_builder().credentials_provider(provider).build());
        roles.insert(role_arn.to_owned(), client.clone());
        Ok(client)
    }
}

#[cfg(feature = "aws")]
#[async_trait]
impl Buckets for S3Buckets {
    async fn open(&self, bucket: &str, role_arn: &str) -> Result<Arc<dyn ObjectStore>, BucketError> {
        let client = if role_arn.is_empty() { self.client.clone() } else { self.client_for(role_arn).await? };
        let store = logport_store_aws::S3ObjectStore::new(client, bucket, "")
            .map_err(|e| BucketError::NoSuchBucket(e.to_string()))?;
        Ok(Arc::new(store))
    }
}
