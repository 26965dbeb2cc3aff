//! Where the AWS backend keeps its data ([`AwsStoreConfig`], read from the environment or any
//! lookup) and what building the stores can fail with. No AWS configuration chain here: the
//! settings serve both `connect` (feature `config`) and callers that build their own
//! clients (a wasm component reads them from its host's variables).

use logport_core::store::{StoreError, validate_prefix};

/// What building the stores can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{0} is not set")]
    MissingSetting(&'static str),
    #[error("{name} is invalid: {reason}")]
    InvalidSetting { name: &'static str, reason: String },
    #[error("no AWS region: set AWS_REGION or a profile region (or an endpoint override)")]
    NoRegion,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Result of building the stores.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where the AWS backend keeps its data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsStoreConfig {
    /// The S3 bucket holding the objects.
    pub bucket: String,
    /// The key prefix of every object in the bucket (empty: none).
    pub prefix: String,
    /// The DynamoDB table holding the metadata items.
    pub table: String,
    /// An endpoint override for both services (e.g. `http://127.0.0.1:5000` for moto).
    pub endpoint: Option<String>,
    /// The region, instead of the one the AWS chain finds.
    pub region: Option<String>,
}

impl AwsStoreConfig {
    pub const BUCKET_VAR: &str = "LOGPORT_S3_BUCKET";
    pub const PREFIX_VAR: &str = "LOGPORT_S3_PREFIX";
    pub const TABLE_VAR: &str = "LOGPORT_DYNAMODB_TABLE";
    pub const ENDPOINT_VAR: &str = "LOGPORT_AWS_ENDPOINT";

    /// Reads `LOGPORT_S3_BUCKET`, `LOGPORT_S3_PREFIX` (optional), `LOGPORT_DYNAMODB_TABLE` and
    /// `LOGPORT_AWS_ENDPOINT` (optional). The region is left to the AWS chain.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Self::from_env`], with variables read through `lookup`. Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
        let config = Self {
            bucket: get(Self::BUCKET_VAR).ok_or(Error::MissingSetting(Self::BUCKET_VAR))?,
            prefix: get(Self::PREFIX_VAR).unwrap_or_default(),
            table: get(Self::TABLE_VAR).ok_or(Error::MissingSetting(Self::TABLE_VAR))?,
            endpoint: get(Self::ENDPOINT_VAR),
            region: None,
        };
        validate_prefix(&config.prefix)
            .map_err(|e| Error::InvalidSetting { name: Self::PREFIX_VAR, reason: e.to_string() })?;
        Ok(config)
    }
}
