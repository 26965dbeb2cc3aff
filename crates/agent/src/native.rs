//! The native host: reads files with `std::fs`, sends with a blocking HTTP client (ureq), and runs
//! the agent's loop until asked to stop.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::agent::{Agent, Outcome, Sink, outcome_of};
use crate::config::Config;
use crate::fs::NativeFs;
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

impl Sink for HttpSink {
    fn send(&mut self, request: &PutLogs) -> Outcome {
        let base =
            if self.endpoint.contains("://") { self.endpoint.clone() } else { format!("http://{}", self.endpoint) };
        let mut builder = ureq::http::Request::builder().method(request.method).uri(format!("{base}{}", request.path));
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let Ok(http_request) = builder.body(request.body.clone()) else {
            return Outcome::Reject("cannot build the HTTP request".into());
        };
        match self.agent.run(http_request) {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let body = response.body_mut().with_config().limit(64 * 1024).read_to_vec().unwrap_or_default();
                outcome_of(status, &body)
            }
            Err(error) => Outcome::Retry(format!("cannot reach {}: {error}", self.endpoint)),
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

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_owned()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Builds the agent from `config` and runs it until `stop` is set; then sends or caches what it
/// holds and writes its checkpoints.
pub fn run(config: &Config, stop: &AtomicBool) -> Result<(), String> {
    let source_ip = config.agent.source_ip.clone().or_else(|| local_ip_towards(&config.service.endpoint));
    let hostname = config.agent.hostname.clone().unwrap_or_else(hostname);
    let mut agent = Agent::new(config, source_ip.unwrap_or_else(|| "127.0.0.1".into()), hostname)?;
    for error in agent.status(now_ms()).errors {
        eprintln!("logport agent: {error}");
    }
    let mut sink = HttpSink::new(&config.service.endpoint);
    let fs = NativeFs;
    let poll = Duration::from_millis(config.agent.poll_ms.max(1));
    while !stop.load(Ordering::Relaxed) {
        let started = std::time::Instant::now();
        let now = now_ms();
        let date = httpdate::fmt_http_date(SystemTime::now());
        agent.step(&fs, &mut sink, now, &date);
        if let Some(rest) = poll.checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    agent.stop(&mut sink, now_ms(), &httpdate::fmt_http_date(SystemTime::now()));
    Ok(())
}
