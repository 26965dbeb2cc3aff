//! The agent's configuration file (TOML).
//!
//! ```toml
//! [service]
//! endpoint = "127.0.0.1:7000"   # host:port of the Logport (SLS) API, plain HTTP
//! project = "web"
//! access_key_id = "..."
//! access_key_secret = "..."
//!
//! [agent]
//! state_dir = "/var/lib/logport-agent"   # checkpoints, the send cache, status.json
//!
//! [[source]]
//! name = "nginx"
//! logstore = "access"
//! dir = "/var/log/nginx"
//! pattern = "access.log*"
//! [source.parse]
//! mode = "regex"
//! regex = '^(?P<ip>\S+) ...'
//! ```

use std::path::PathBuf;

use serde::Deserialize;

use crate::parse::{ParseSpec, Parser};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub service: ServiceConfig,
    pub agent: AgentConfig,
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub endpoint: String,
    pub project: String,
    pub access_key_id: String,
    pub access_key_secret: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    pub state_dir: PathBuf,
    /// How often files are discovered and read.
    #[serde(default = "d_poll_ms")]
    pub poll_ms: u64,
    /// A batch is sent when it reaches this size (raw protobuf bytes) ...
    #[serde(default = "d_batch_bytes")]
    pub batch_bytes: usize,
    /// ... or this age.
    #[serde(default = "d_batch_ms")]
    pub batch_ms: u64,
    /// Checkpoints are saved at most this often (and at least once a second) while offsets move.
    /// 0 (the default): right after every poll in which a batch was accepted or cached, so that a
    /// `kill -9` repeats only what was sent in the few milliseconds before it.
    #[serde(default = "d_checkpoint_ms")]
    pub checkpoint_ms: u64,
    #[serde(default = "d_cache_max_bytes")]
    pub cache_max_bytes: u64,
    #[serde(default = "d_cache_max_age_s")]
    pub cache_max_age_s: u64,
    /// `__source__`; by default the IP address the agent reaches the service from.
    pub source_ip: Option<String>,
    /// `__tag__:__hostname__`; by default the host's name.
    pub hostname: Option<String>,
}

fn d_poll_ms() -> u64 {
    100
}
fn d_batch_bytes() -> usize {
    512 * 1024
}
fn d_batch_ms() -> u64 {
    500
}
fn d_checkpoint_ms() -> u64 {
    0
}
fn d_cache_max_bytes() -> u64 {
    256 << 20
}
fn d_cache_max_age_s() -> u64 {
    86_400
}
fn d_max_line() -> usize {
    // Under the service's 1 MiB value limit.
    1_000_000
}
fn d_idle_polls() -> u32 {
    50
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub name: String,
    pub logstore: String,
    pub dir: PathBuf,
    pub pattern: String,
    #[serde(default)]
    pub max_depth: u32,
    #[serde(default)]
    pub backfill: bool,
    pub topic: Option<String>,
    /// A regex over the file's path whose first capture group is the topic.
    pub topic_from_path: Option<String>,
    #[serde(default = "d_max_line")]
    pub max_line_bytes: usize,
    #[serde(default = "d_idle_polls")]
    pub idle_polls: u32,
    #[serde(default)]
    pub parse: ParseSpec,
}

impl Config {
    /// Parses and checks a configuration; every error names what is wrong.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|error| format!("invalid agent config: {error}"))?;
        let mut names = std::collections::HashSet::new();
        for source in &config.sources {
            if !names.insert(source.name.as_str()) {
                return Err(format!("two sources are named {:?}", source.name));
            }
        }
        Ok(config)
    }
}

impl SourceConfig {
    /// Checks what can only be checked by compiling (regexes, time formats).
    pub fn compile(&self) -> Result<(Parser, Option<regex::Regex>), String> {
        let parser = Parser::new(&self.parse).map_err(|error| format!("source {:?}: {error}", self.name))?;
        let topic = self
            .topic_from_path
            .as_deref()
            .map(regex::Regex::new)
            .transpose()
            .map_err(|error| format!("source {:?}: invalid topic_from_path: {error}", self.name))?;
        if self.pattern.is_empty() || self.pattern.contains('/') {
            return Err(format!("source {:?}: pattern must be a file name pattern without '/'", self.name));
        }
        Ok((parser, topic))
    }
}
