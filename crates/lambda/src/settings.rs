//! What a function reads from its environment, once, at cold start.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `LOGPORT_ACCESS_KEY_ID`, `LOGPORT_ACCESS_KEY_SECRET` | the access key requests must be signed with (`template.yaml` fills them from SSM and Secrets Manager) | required |
//! | `LOGPORT_INSECURE_NO_AUTH` | `true`: accept unsigned requests (development only) | `false` |
//! | `LOGPORT_SERVER_NAMES` | comma-separated host names that address Logport itself, so `<project>.<name>` names a project (a custom domain) | none; the API's own `execute-api` name is always known |
//! | `LOGPORT_MAX_BODY_BYTES` | largest request body, as sent | 4 MiB |
//! | `LOGPORT_MAX_BATCH_BYTES` | largest PutLogs body, uncompressed | 4 MiB |
//! | `LOGPORT_MAX_PULL_BYTES` | most uncompressed bytes in one PullLogs answer | 4 MiB |
//!
//! The size defaults follow Lambda's 6 MB limit on a synchronous invocation's request and response:
//! a binary body travels base64-encoded (4/3 larger) inside the event or response JSON, so about
//! 4.5 MB of body fits. Capping a batch at 4 MiB uncompressed means every batch accepted can be
//! pulled back, even by a client that asks for no compression.

use std::fmt;

use logport_api::auth::{AccessKey, Credentials};
use logport_core::engine::Limits;

/// Body and batch limits on Lambda (see the module documentation).
pub const LAMBDA_BODY_LIMIT: usize = 4 << 20;

/// A function's settings.
#[derive(Clone)]
pub struct Settings {
    /// The access key requests must be signed with; `None` turns signature checks off.
    pub credentials: Option<Credentials>,
    /// Host names that address Logport itself.
    pub server_names: Vec<String>,
    /// Largest request body, as sent.
    pub max_body_bytes: usize,
    /// The engine's limits (batch and pull sizes).
    pub limits: Limits,
}

/// A setting that is missing or wrong. The message names the variable; it never holds a secret.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(String);

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (a variable's value, if set); an empty value counts
    /// as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &str| lookup(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
        let size = |name: &str| match get(name) {
            None => Ok(LAMBDA_BODY_LIMIT),
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|&bytes| bytes > 0)
                .ok_or_else(|| SettingsError(format!("{name} must be a positive number of bytes, not '{text}'"))),
        };
        let insecure = match get("LOGPORT_INSECURE_NO_AUTH").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(SettingsError(format!("LOGPORT_INSECURE_NO_AUTH must be true or false, not '{other}'")));
            }
        };
        let id = get("LOGPORT_ACCESS_KEY_ID");
        let secret = lookup("LOGPORT_ACCESS_KEY_SECRET").filter(|secret| !secret.is_empty());
        let credentials = match (id, secret, insecure) {
            (Some(id), Some(secret), false) => Some(Credentials::new([AccessKey::new(id, secret)])),
            (None, None, true) => None,
            (Some(_), Some(_), true) => {
                return Err(SettingsError(
                    "LOGPORT_INSECURE_NO_AUTH=true and an access key are both set: choose one".into(),
                ));
            }
            (None, None, false) => {
                return Err(SettingsError(
                    "no access key: set LOGPORT_ACCESS_KEY_ID and LOGPORT_ACCESS_KEY_SECRET \
                     (or LOGPORT_INSECURE_NO_AUTH=true, for development only)"
                        .into(),
                ));
            }
            (Some(_), None, _) => return Err(SettingsError("LOGPORT_ACCESS_KEY_SECRET is not set".into())),
            (None, Some(_), _) => return Err(SettingsError("LOGPORT_ACCESS_KEY_ID is not set".into())),
        };
        let server_names = get("LOGPORT_SERVER_NAMES")
            .map(|names| {
                names
                    .split(',')
                    .map(|name| name.trim().trim_end_matches('.').to_ascii_lowercase())
                    .filter(|name| !name.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let mut settings = Self::new(credentials);
        settings.server_names = server_names;
        settings.max_body_bytes = size("LOGPORT_MAX_BODY_BYTES")?;
        settings.limits.max_batch_bytes = size("LOGPORT_MAX_BATCH_BYTES")?;
        settings.limits.max_pull_bytes = size("LOGPORT_MAX_PULL_BYTES")?;
        Ok(settings)
    }

    /// Settings with these credentials (`None`: no signature checks) and the defaults for the rest.
    pub fn new(credentials: Option<Credentials>) -> Self {
        let limits =
            Limits { max_batch_bytes: LAMBDA_BODY_LIMIT, max_pull_bytes: LAMBDA_BODY_LIMIT, ..Limits::default() };
        Self { credentials, server_names: Vec::new(), max_body_bytes: LAMBDA_BODY_LIMIT, limits }
    }

    /// Development settings: no signature checks, the defaults for the rest.
    pub fn insecure() -> Self {
        Self::new(None)
    }
}

/// Shows the access key ids, never the secrets.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key_ids: Option<Vec<&str>> =
            self.credentials.as_ref().map(|credentials| credentials.keys().iter().map(|key| key.id.as_str()).collect());
        f.debug_struct("Settings")
            .field("access_key_ids", &key_ids)
            .field("server_names", &self.server_names)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_batch_bytes", &self.limits.max_batch_bytes)
            .field("max_pull_bytes", &self.limits.max_pull_bytes)
            .field("max_pull_count", &self.limits.max_pull_count)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn reads_the_key_and_shows_only_its_id() {
        let read = settings(&[
            ("LOGPORT_ACCESS_KEY_ID", "LTAIid"),
            ("LOGPORT_ACCESS_KEY_SECRET", "s3cr3t-value"),
            ("LOGPORT_SERVER_NAMES", " Logs.Example.com., other.example.com ,"),
            ("LOGPORT_MAX_PULL_BYTES", "1000"),
        ])
        .unwrap();
        let key = read.credentials.as_ref().unwrap().find("LTAIid").unwrap();
        assert_eq!(key.secret, "s3cr3t-value");
        assert_eq!(read.server_names, ["logs.example.com", "other.example.com"]);
        assert_eq!(read.limits.max_pull_bytes, 1000);
        assert_eq!(read.limits.max_batch_bytes, LAMBDA_BODY_LIMIT);
        assert_eq!(read.max_body_bytes, LAMBDA_BODY_LIMIT);
        let shown = format!("{read:?}");
        assert!(shown.contains("LTAIid") && !shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn refuses_to_start_without_a_key_unless_told_to() {
        let error = settings(&[]).unwrap_err().to_string();
        assert!(error.contains("LOGPORT_ACCESS_KEY_ID"), "{error}");
        assert!(settings(&[("LOGPORT_ACCESS_KEY_ID", "id"), ("LOGPORT_ACCESS_KEY_SECRET", "")]).is_err());
        assert!(settings(&[("LOGPORT_ACCESS_KEY_SECRET", "secret")]).is_err());
        assert!(settings(&[("LOGPORT_INSECURE_NO_AUTH", "yes")]).is_err());
        assert!(
            settings(&[
                ("LOGPORT_INSECURE_NO_AUTH", "true"),
                ("LOGPORT_ACCESS_KEY_ID", "id"),
                ("LOGPORT_ACCESS_KEY_SECRET", "secret")
            ])
            .is_err()
        );
        assert!(settings(&[("LOGPORT_INSECURE_NO_AUTH", "true")]).unwrap().credentials.is_none());
        assert!(Settings::insecure().credentials.is_none());
        let error = settings(&[("LOGPORT_INSECURE_NO_AUTH", "true"), ("LOGPORT_MAX_BODY_BYTES", "0")]).unwrap_err();
        assert!(error.to_string().contains("LOGPORT_MAX_BODY_BYTES"));
    }
}
