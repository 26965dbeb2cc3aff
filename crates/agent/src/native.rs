//! The native host: reads files with `std::fs`, sends with a blocking HTTP client (ureq), and runs
//! the agent's loop ([`crate::run`]) until asked to stop.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::agent::{Outcome, Sink, outcome_of};
use crate::config::Config;
use crate::fs::NativeFs;
use crate::run::{Identity, Transport};
use crate::sls::PutLogs;

/// Sends over plain HTTP to `endpoint` (`host:port`).
#[derive(Debug)]
pub struct HttpSink {
    agent: ureq::Agent,
    endpoint: String,
}

impl HttpSink {
    pub fn new(endpoint: &str) -> HttpSink {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build();
        HttpSink { agent: config.into(), endpoint: endpoint.trim_end_matches('/').to_owned() }
    }
}

impl Transport for HttpSink {
    fn call(&mut self, request: &PutLogs, limit: u64) -> Result<Option<(u16, Vec<u8>)>, String> {
        let base =
            if self.endpoint.contains("://") { self.endpoint.clone() } else { format!("http://{}", self.endpoint) };
        let mut builder = ureq::http::Request::builder().method(request.method).uri(format!("{base}{}", request.path));
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let Ok(http_request) = builder.body(request.body.clone()) else {
            return Ok(None);
        };
        match self.agent.run(http_request) {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let body = response.body_mut().with_config().limit(limit).read_to_vec().unwrap_or_default();
                Ok(Some((status, body)))
            }
            Err(error) => Err(format!("cannot reach {}: {error}", self.endpoint)),
        }
    }
}

impl Sink for HttpSink {
    fn send(&mut self, request: &PutLogs) -> Outcome {
        match self.call(request, 64 * 1024) {
            Ok(Some((status, body))) => outcome_of(status, &body),
            Ok(None) => Outcome::Reject("cannot build the HTTP request".into()),
            Err(error) => Outcome::Retry(error),
        }
    }
}

/// The IP address this host uses to reach `endpoint` (no packet is sent).
pub fn local_ip_towards(endpoint: &str) -> Option<String> {
    let host_port = endpoint.split("://").last()?.trim_end_matches('/');
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect(host_port).ok()?;
    Some(socket.local_addr().ok()?.ip().to_string())
}

/// The host's name: `$HOSTNAME`, else `/etc/hostname`, else `localhost`.
pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_owned()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Builds the agent from `config` and runs it until `stop` is set; then sends or caches what it
/// holds and writes its checkpoints.
pub fn run(config: &Config, stop: &AtomicBool) -> Result<(), String> {
    let source_ip = config.agent.source_ip.clone().or_else(|| local_ip_towards(&config.service.endpoint));
    let identity = Identity {
        source_ip: source_ip.unwrap_or_else(|| "127.0.0.1".into()),
        hostname: config.agent.hostname.clone().unwrap_or_else(hostname),
    };
    let mut transport = HttpSink::new(&config.service.endpoint);
    crate::run::run(config, &NativeFs, &mut transport, &identity, &|| stop.load(Ordering::Relaxed))
}
