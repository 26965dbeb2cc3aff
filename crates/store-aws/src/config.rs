//! Building both stores from settings and the standard AWS configuration chain (feature `config`).
//!
//! Settings come from [`AwsStoreConfig`] (usually [`AwsStoreConfig::from_env`]); region and
//! credentials come from the AWS chain (environment, shared config and credentials files, web
//! identity, container and instance metadata) unless the settings name a region. An endpoint
//! override (a local server) applies to both services and switches S3 to path-style addressing.

use std::sync::Arc;
use std::time::Duration;

use crate::settings::{AwsStoreConfig, Error, Result};
use crate::{DynamoMetaStore, S3ObjectStore};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};

/// How many times the SDK sends a request that failed transiently (throttling, 5xx, timeouts),
/// with exponential backoff, before the stores report the failure.
pub const MAX_ATTEMPTS: u32 = 5;
/// How long one attempt of a request may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The region used with an endpoint override when the chain names none (local servers ignore it).
const LOCAL_REGION: &str = "us-east-1";

/// Both stores of the AWS backend, and the SDK configuration they were built on.
#[derive(Debug, Clone)]
pub struct AwsStore {
    pub objects: Arc<S3ObjectStore>,
    pub meta: Arc<DynamoMetaStore>,
    /// The loaded chain with the settings' region and endpoint override applied: for clients of
    /// other services made alongside (the shipper's STS AssumeRole for a rule's `roleArn`).
    pub sdk: SdkConfig,
}

/// Loads the AWS configuration chain and builds both stores on it, with [`MAX_ATTEMPTS`] standard
/// retries and request timeouts. Makes no request.
pub async fn connect(config: &AwsStoreConfig) -> Result<AwsStore> {
    connect_with_loader(config, aws_config::defaults(BehaviorVersion::latest())).await
}

/// [`connect`] with a loader the caller has set up (e.g. with static credentials for tests).
pub async fn connect_with_loader(config: &AwsStoreConfig, loader: ConfigLoader) -> Result<AwsStore> {
    let timeouts =
        TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).operation_attempt_timeout(ATTEMPT_TIMEOUT).build();
    let mut loader =
        loader.retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)).timeout_config(timeouts);
    if let Some(region) = &config.region {
        loader = loader.region(Region::new(region.clone()));
    }
    AwsStore::from_sdk_config(config, &loader.load().await)
}

impl AwsStore {
    /// Builds both stores on a loaded SDK configuration, applying the endpoint override and region
    /// of `config`.
    pub fn from_sdk_config(config: &AwsStoreConfig, sdk: &SdkConfig) -> Result<Self> {
        let region = config
            .region
            .clone()
            .map(Region::new)
            .or_else(|| sdk.region().cloned())
            .or_else(|| config.endpoint.as_ref().map(|_| Region::from_static(LOCAL_REGION)))
            .ok_or(Error::NoRegion)?;
        let mut s3 = aws_sdk_s3::config::Builder::from(sdk).region(region.clone());
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(sdk).region(region.clone());
        let mut applied = sdk.clone().into_builder().region(Some(region));
        if let Some(endpoint) = &config.endpoint {
            s3 = s3.endpoint_url(endpoint).force_path_style(true);
            dynamodb = dynamodb.endpoint_url(endpoint);
            applied = applied.endpoint_url(endpoint);
        }
        let objects = S3ObjectStore::new(
            aws_sdk_s3::Client::from_conf(s3.build()),
            config.bucket.clone(),
            config.prefix.clone(),
        )?;
        let meta = DynamoMetaStore::new(aws_sdk_dynamodb::Client::from_conf(dynamodb.build()), config.table.clone())?;
        Ok(Self { objects: Arc::new(objects), meta: Arc::new(meta), sdk: applied.build() })
    }

    /// Creates the bucket and the table (with TTL on `ttl`) if they are missing: for development
    /// and tests; deployments create them with the template.
    pub async fn create_resources(&self) -> Result<()> {
        self.objects.create_bucket_if_missing().await?;
        self.meta.create_table_if_missing().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn settings_come_from_the_environment() {
        let config = AwsStoreConfig::from_lookup(lookup(&[
            ("LOGPORT_S3_BUCKET", "logs"),
            ("LOGPORT_S3_PREFIX", "tenant/"),
            ("LOGPORT_DYNAMODB_TABLE", "logport"),
            ("LOGPORT_AWS_ENDPOINT", "http://127.0.0.1:5000"),
        ]))
        .unwrap();
        let expected = AwsStoreConfig {
            bucket: "logs".into(),
            prefix: "tenant/".into(),
            table: "logport".into(),
            endpoint: Some("http://127.0.0.1:5000".into()),
            region: None,
        };
        assert_eq!(config, expected);

        let minimal = AwsStoreConfig::from_lookup(lookup(&[
            ("LOGPORT_S3_BUCKET", "b"),
            ("LOGPORT_DYNAMODB_TABLE", "t"),
            ("LOGPORT_AWS_ENDPOINT", ""),
        ]))
        .unwrap();
        assert_eq!((minimal.prefix.as_str(), minimal.endpoint), ("", None));
    }

    #[test]
    fn missing_and_invalid_settings_are_named() {
        let missing = AwsStoreConfig::from_lookup(lookup(&[("LOGPORT_S3_BUCKET", "b")]));
        assert!(matches!(missing, Err(Error::MissingSetting("LOGPORT_DYNAMODB_TABLE"))), "{missing:?}");
        let invalid = AwsStoreConfig::from_lookup(lookup(&[
            ("LOGPORT_S3_BUCKET", "b"),
            ("LOGPORT_DYNAMODB_TABLE", "t"),
            ("LOGPORT_S3_PREFIX", "../up"),
        ]));
        assert!(matches!(invalid, Err(Error::InvalidSetting { name: "LOGPORT_S3_PREFIX", .. })), "{invalid:?}");
    }

    #[test]
    fn an_endpoint_override_applies_to_both_clients() {
        let config = AwsStoreConfig {
            bucket: "b".into(),
            prefix: "p".into(),
            table: "t".into(),
            endpoint: Some("http://127.0.0.1:1".into()),
            region: None,
        };
        let sdk = SdkConfig::builder().behavior_version(BehaviorVersion::latest()).build();
        let store = AwsStore::from_sdk_config(&config, &sdk).unwrap();
        let s3 = store.objects.client().config();
        assert_eq!(s3.region().map(|r| r.as_ref()), Some(LOCAL_REGION));
        assert_eq!(store.objects.prefix(), "p/");
        let dynamodb = store.meta.client().config();
        assert_eq!(dynamodb.region().map(|r| r.as_ref()), Some(LOCAL_REGION));

        let no_endpoint = AwsStoreConfig { endpoint: None, ..config };
        assert!(matches!(AwsStore::from_sdk_config(&no_endpoint, &sdk), Err(Error::NoRegion)));
    }
}
