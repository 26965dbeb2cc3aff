//! A consumer's configuration file (TOML), as `logport consume --config` reads it:
//!
//! ```toml
//! endpoint = "http://127.0.0.1:8080"
//! access_key_id = "..."
//! access_key_secret = "..."
//! project = "web"
//! logstore = "access"
//! group = "siem"
//! consumer = "forwarder-1"     # unique in the group
//! start = "begin"              # "begin", "end" or a Unix time, for shards never checkpointed
//! heartbeat_secs = 3
//! timeout_secs = 10            # the group's timeout, when this consumer creates it
//!
//! [sink]
//! type = "syslog"              # or "hec"
//! address = "siem.example:6514"
//! protocol = "tls"             # "tcp", "tls", "udp"
//! ca_file = "/etc/ssl/siem-ca.pem"
//! ```

use std::time::Duration;

use serde::Deserialize;

use crate::client::{Client, ClientConfig, StartPosition, Transport};
use crate::sink::hec::{HecConfig, HecSink};
use crate::sink::syslog::{SyslogConfig, SyslogSink};
use crate::sink::{Sink, SinkError};
use crate::worker::{SinkProcessor, Worker, WorkerConfig};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    pub endpoint: String,
    pub access_key_id: String,
    pub access_key_secret: String,
    pub project: String,
    pub logstore: String,
    pub group: String,
    pub consumer: String,
    #[serde(default)]
    pub start: Start,
    #[serde(default = "default_heartbeat")]
    pub heartbeat_secs: f64,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default)]
    pub in_order: bool,
    #[serde(default = "default_fetch")]
    pub fetch_interval_secs: f64,
    #[serde(default = "default_batch")]
    pub batch_groups: usize,
    #[serde(default = "default_checkpoint")]
    pub checkpoint_secs: f64,
    pub sink: SinkConfig,
}

/// `"begin"`, `"end"` or a Unix time.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(untagged)]
pub enum Start {
    #[default]
    #[serde(skip)]
    Begin,
    Named(String),
    Time(i64),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SinkConfig {
    Hec(HecConfig),
    Syslog(SyslogConfig),
}

fn default_heartbeat() -> f64 {
    3.0
}
fn default_timeout() -> u64 {
    10
}
fn default_fetch() -> f64 {
    0.5
}
fn default_batch() -> usize {
    1000
}
fn default_checkpoint() -> f64 {
    3.0
}

fn seconds(name: &str, value: f64) -> Result<Duration, String> {
    if !(value.is_finite() && value > 0.0 && value <= 86_400.0) {
        return Err(format!("{name} must be a number of seconds in (0, 86400], not {value}"));
    }
    Ok(Duration::from_secs_f64(value))
}

impl ConsumerConfig {
    /// Parses and checks a TOML configuration; the error is one readable line.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let config: ConsumerConfig = toml::from_str(text).map_err(|error| error.to_string().replace('\n', " "))?;
        config.worker_config()?;
        if let SinkConfig::Syslog(syslog) = &config.sink {
            syslog.validate()?;
        }
        if config.batch_groups == 0 || config.batch_groups > 1000 {
            return Err(format!("batch_groups must be 1-1000, not {}", config.batch_groups));
        }
        Ok(config)
    }

    pub fn start_position(&self) -> Result<StartPosition, String> {
        match &self.start {
            Start::Begin => Ok(StartPosition::Begin),
            Start::Named(name) if name == "begin" => Ok(StartPosition::Begin),
            Start::Named(name) if name == "end" => Ok(StartPosition::End),
            Start::Named(other) => Err(format!("start must be \"begin\", \"end\" or a Unix time, not \"{other}\"")),
            Start::Time(time) if *time >= 0 => Ok(StartPosition::Time(*time)),
            Start::Time(time) => Err(format!("start must be a Unix time, not {time}")),
        }
    }

    pub fn worker_config(&self) -> Result<WorkerConfig, String> {
        if self.timeout_secs == 0 || self.timeout_secs > 86_400 {
            return Err(format!("timeout_secs must be 1-86400, not {}", self.timeout_secs));
        }
        Ok(WorkerConfig {
            heartbeat_interval: seconds("heartbeat_secs", self.heartbeat_secs)?,
            group_timeout: Duration::from_secs(self.timeout_secs),
            in_order: self.in_order,
            fetch_interval: seconds("fetch_interval_secs", self.fetch_interval_secs)?,
            batch_groups: self.batch_groups,
            checkpoint_interval: seconds("checkpoint_secs", self.checkpoint_secs)?,
            start: self.start_position()?,
            max_backoff: Duration::from_secs(30),
        })
    }

    pub fn client_config(&self) -> ClientConfig {
        ClientConfig {
            endpoint: self.endpoint.clone(),
            access_key_id: self.access_key_id.clone(),
            access_key_secret: self.access_key_secret.clone(),
            project: self.project.clone(),
            logstore: self.logstore.clone(),
            group: self.group.clone(),
            consumer: self.consumer.clone(),
        }
    }

    /// The worker this configuration describes; `transport` makes the HTTP calls (to the service
    /// and to a HEC receiver).
    pub fn build(
        &self,
        transport: impl Fn() -> Box<dyn Transport>,
    ) -> Result<Worker<SinkProcessor<Box<dyn Sink>>>, String> {
        let sink: Box<dyn Sink> = match &self.sink {
            SinkConfig::Hec(hec) => Box::new(HecSink::new(hec.clone(), transport())),
            SinkConfig::Syslog(syslog) => Box::new(SyslogSink::new(syslog.clone())?),
        };
        let client = Client::new(self.client_config(), transport());
        Ok(Worker::new(client, self.worker_config()?, SinkProcessor(sink)))
    }
}

impl Sink for Box<dyn Sink> {
    fn send(&mut self, groups: &[logport_core::view::GroupView<'_>]) -> Result<(), SinkError> {
        (**self).send(groups)
    }

    fn close(&mut self) {
        (**self).close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
        endpoint = "127.0.0.1:8080"
        access_key_id = "id"
        access_key_secret = "secret"
        project = "p"
        logstore = "ls"
        group = "siem"
        consumer = "c1"
    "#;

    #[test]
    fn parses_both_sinks_and_the_start() {
        let hec = format!(
            "{BASE}\nstart = 1700000000\n[sink]\ntype = \"hec\"\nurl = \"http://127.0.0.1:8088\"\ntoken = \"t\"\n"
        );
        let config = ConsumerConfig::from_toml(&hec).unwrap();
        assert!(matches!(config.sink, SinkConfig::Hec(_)));
        assert_eq!(config.start_position().unwrap(), StartPosition::Time(1_700_000_000));
        let syslog = format!(
            "{BASE}\nstart = \"end\"\n[sink]\ntype = \"syslog\"\naddress = \"127.0.0.1:514\"\nprotocol = \"udp\"\nformat = \"json\"\n"
        );
        let config = ConsumerConfig::from_toml(&syslog).unwrap();
        assert!(matches!(config.sink, SinkConfig::Syslog(_)));
        assert_eq!(config.start_position().unwrap(), StartPosition::End);
    }

    #[test]
    fn bad_settings_are_one_readable_line() {
        for (extra, wanted) in [
            ("start = \"yesterday\"\n[sink]\ntype = \"hec\"\nurl = \"u\"\ntoken = \"t\"", "start must be"),
            ("heartbeat_secs = 0\n[sink]\ntype = \"hec\"\nurl = \"u\"\ntoken = \"t\"", "heartbeat_secs"),
            ("[sink]\ntype = \"syslog\"\naddress = \"a:1\"\nprotocol = \"tcp\"\nseverity = 9", "severity"),
            ("[sink]\ntype = \"kafka\"", "kafka"),
            ("[sink]\ntype = \"hec\"\nurl = \"u\"", "token"),
        ] {
            let error = ConsumerConfig::from_toml(&format!("{BASE}\n{extra}\n")).unwrap_err();
            assert!(error.contains(wanted), "{extra}: {error}");
            assert!(!error.contains('\n'), "{error}");
        }
    }
}
