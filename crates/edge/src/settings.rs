//! What a component reads from its environment: the Lambda functions' settings, where the
//! store is, and the AWS credentials and region (static: a component has no AWS configuration
//! chain, no instance metadata, no profile files).

use logport_lambda::Settings;
use logport_lambda::settings::SettingsError;
use logport_store_aws::AwsStoreConfig;

/// The region used when none is set (a local endpoint ignores it).
pub const DEFAULT_REGION: &str = "us-east-1";

/// Everything a component needs to serve a request.
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    pub api: Settings,
    pub store: AwsStoreConfig,
    pub credentials: AwsCredentials,
    pub region: String,
}

/// Static AWS credentials. `Debug` shows the key id only.
#[derive(Clone)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// A missing or invalid setting; the message names the variable, never a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EdgeSettingsError {
    #[error(transparent)]
    Api(#[from] SettingsError),
    #[error(transparent)]
    Store(#[from] logport_store_aws::Error),
    #[error("{0} is not set (a component has no AWS configuration chain: give it static credentials)")]
    MissingCredential(&'static str),
}

impl EdgeSettings {
    /// Reads the process (component) environment.
    pub fn from_env() -> Result<Self, EdgeSettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`; empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, EdgeSettingsError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let api = Settings::from_lookup(&lookup)?;
        let mut store = AwsStoreConfig::from_lookup(&lookup)?;
        let region = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")).unwrap_or_else(|| DEFAULT_REGION.into());
        store.region = Some(region.clone());
        let credentials = AwsCredentials {
            access_key_id: get("AWS_ACCESS_KEY_ID").ok_or(EdgeSettingsError::MissingCredential("AWS_ACCESS_KEY_ID"))?,
            secret_access_key: get("AWS_SECRET_ACCESS_KEY")
                .ok_or(EdgeSettingsError::MissingCredential("AWS_SECRET_ACCESS_KEY"))?,
            session_token: get("AWS_SESSION_TOKEN"),
        };
        Ok(Self { api, store, credentials, region })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<EdgeSettings, EdgeSettingsError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        EdgeSettings::from_lookup(|name| map.get(name).cloned())
    }

    const BASE: &[(&str, &str)] = &[
        ("LOGPORT_INSECURE_NO_AUTH", "true"),
        ("LOGPORT_S3_BUCKET", "logs"),
        ("LOGPORT_DYNAMODB_TABLE", "meta"),
        ("LOGPORT_AWS_ENDPOINT", "http://127.0.0.1:5000"),
        ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
        ("AWS_SECRET_ACCESS_KEY", "very-secret"),
    ];

    #[test]
    fn reads_store_credentials_and_region() {
        let settings = read(BASE).unwrap();
        assert_eq!(settings.store.bucket, "logs");
        assert_eq!(settings.store.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(settings.region, DEFAULT_REGION);
        assert_eq!(settings.store.region.as_deref(), Some(DEFAULT_REGION));
        assert!(settings.api.credentials.is_none());
        let shown = format!("{settings:?}");
        assert!(shown.contains("AKIDTEST") && !shown.contains("very-secret"), "{shown}");
        let mut pairs = BASE.to_vec();
        pairs.push(("AWS_REGION", "eu-west-1"));
        assert_eq!(read(&pairs).unwrap().region, "eu-west-1");
    }

    #[test]
    fn names_what_is_missing() {
        for missing in ["LOGPORT_S3_BUCKET", "AWS_SECRET_ACCESS_KEY", "LOGPORT_INSECURE_NO_AUTH"] {
            let pairs: Vec<_> = BASE.iter().copied().filter(|(name, _)| *name != missing).collect();
            let error = read(&pairs).unwrap_err().to_string();
            let named = if missing == "LOGPORT_INSECURE_NO_AUTH" { "LOGPORT_ACCESS_KEY_ID" } else { missing };
            assert!(error.contains(named), "{missing}: {error}");
        }
    }
}
