//! The storage behind the functions, as the two ports' trait objects: the handler code knows no
//! backend. Deployed functions open S3 + DynamoDB (`logport-store-aws`, configured from the
//! environment) here, and only here; tests and the local adapter hand in any other backend.

use std::fmt;
use std::sync::Arc;

use logport_core::store::{MetaStore, ObjectStore};

/// An engine's two storage ports, and a description of them for the cold-start log.
#[derive(Clone)]
pub struct Stores {
    pub objects: Arc<dyn ObjectStore>,
    pub meta: Arc<dyn MetaStore>,
    /// Where the data is, for logs (no secrets): e.g. `s3://bucket/prefix + dynamodb:table`.
    pub description: String,
}

impl Stores {
    pub fn new(objects: Arc<dyn ObjectStore>, meta: Arc<dyn MetaStore>, description: impl Into<String>) -> Self {
        Self { objects, meta, description: description.into() }
    }

    /// An empty in-memory store (tests, benchmarks).
    pub fn memory() -> Self {
        use logport_core::store::memory::{MemoryMetaStore, MemoryObjectStore};
        Self::new(Arc::new(MemoryObjectStore::default()), Arc::new(MemoryMetaStore::default()), "memory")
    }
}

impl fmt::Debug for Stores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stores").field("description", &self.description).finish_non_exhaustive()
    }
}

/// Why the store could not be opened (a missing or invalid setting, no AWS region).
#[derive(Debug, thiserror::Error)]
#[error("opening the S3 + DynamoDB store: {0}")]
pub struct StoreError(#[from] logport_store_aws::Error);

/// Opens the deployment's store from the environment: S3 + DynamoDB through `logport-store-aws`
/// (`LOGPORT_S3_BUCKET`, `LOGPORT_S3_PREFIX`, `LOGPORT_DYNAMODB_TABLE`, `LOGPORT_AWS_ENDPOINT` and
/// the standard AWS configuration chain). Makes no request.
#[cfg(feature = "runtime")]
pub async fn open_from_env() -> Result<Stores, StoreError> {
    let config = logport_store_aws::AwsStoreConfig::from_env()?;
    let store = logport_store_aws::connect(&config).await?;
    Ok(Stores::new(store.objects, store.meta, describe(&config)))
}

/// Where an AWS store keeps its data, for logs.
pub fn describe(config: &logport_store_aws::AwsStoreConfig) -> String {
    let mut description = format!("s3://{}/{} + dynamodb:{}", config.bucket, config.prefix, config.table);
    if let Some(endpoint) = &config.endpoint {
        description.push_str(&format!(" at {endpoint}"));
    }
    description
}
