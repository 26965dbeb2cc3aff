//! The native host: reads files with `std::fs`, sends with a blocking HTTP client (ureq), and runs
//! the agent's loop until asked to stop.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::agent::{Agent, Outcome, Sink, Status, outcome_of};
use crate::config::{Config, SourceConfig, source_from_sls};
use crate::fs::NativeFs;
use crate::sls::{PutLogs, Target, poll_request};

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

impl HttpSink {
    /// Sends `request`; answers the status and up to `limit` bytes of the body, or why the
    /// service could not be reached (`Ok(None)` when the request could not be built).
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

/// The central-configuration client: polls `POST /agents/poll` with this agent's identity, status
/// and ETag; turns the configs it answers into sources.
#[derive(Debug)]
struct Central {
    target: Target,
    ip: String,
    user_defined_id: String,
    etag: Option<String>,
    next_poll_ms: u64,
    /// Why configs from the service could not be run (sent back in the status).
    errors: Vec<String>,
}

impl Central {
    /// Polls; `Ok(Some(sources))` when the configs changed.
    fn poll(
        &mut self,
        sink: &mut HttpSink,
        status: &Status,
        hostname: &str,
        date: &str,
    ) -> Result<Option<Vec<SourceConfig>>, String> {
        let files: usize = status.sources.iter().map(|source| source.files.len()).sum();
        let behind: u64 = status.sources.iter().flat_map(|source| &source.files).map(|file| file.lag).sum();
        let mut errors: Vec<String> = status.errors.iter().chain(&self.errors).cloned().collect();
        errors.extend(status.sources.iter().flat_map(|source| source.tail.errors.iter().cloned()));
        errors.extend(status.send.last_error.clone());
        let body = serde_json::json!({
            "ip": self.ip,
            "userDefinedId": self.user_defined_id,
            "etag": self.etag,
            "status": {
                "version": env!("CARGO_PKG_VERSION"),
                "hostname": hostname,
                "files": files,
                "bytesBehind": behind,
                "drops": status.cache.dropped_batches,
                "errors": errors,
            },
        });
        let request = poll_request(&self.target, body.to_string().into_bytes(), date);
        let (code, answer) = sink.call(&request, 16 << 20)?.ok_or("cannot build the poll request")?;
        if code != 200 {
            return Err(format!("config poll answered {code}: {}", String::from_utf8_lossy(&answer)));
        }
        let answer: serde_json::Value =
            serde_json::from_slice(&answer).map_err(|error| format!("config poll answer is not JSON: {error}"))?;
        if answer.get("modified").and_then(serde_json::Value::as_bool) != Some(true) {
            return Ok(None);
        }
        self.errors.clear();
        let mut sources = Vec::new();
        for config in answer.get("configs").and_then(serde_json::Value::as_array).into_iter().flatten() {
            match source_from_sls(config) {
                Ok(source) => sources.push(source),
                Err(error) => self.errors.push(error),
            }
        }
        self.etag = answer.get("etag").and_then(serde_json::Value::as_str).map(str::to_owned);
        Ok(Some(sources))
    }
}

/// `local` plus the sources from the service, leaving out (with an error) any whose name a local
/// source already has.
fn with_remote(local: &Config, remote: Vec<SourceConfig>, errors: &mut Vec<String>) -> Config {
    let mut config = local.clone();
    for source in remote {
        if config.sources.iter().any(|known| known.name == source.name) {
            errors.push(format!("config {:?} from the service has the name of a local source; skipped", source.name));
        } else {
            config.sources.push(source);
        }
    }
    config
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

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Builds the agent from `config` and runs it until `stop` is set; then sends or caches what it
/// holds and writes its checkpoints.
pub fn run(config: &Config, stop: &AtomicBool) -> Result<(), String> {
    let source_ip = config.agent.source_ip.clone().or_else(|| local_ip_towards(&config.service.endpoint));
    let hostname = config.agent.hostname.clone().unwrap_or_else(hostname);
    let mut agent = Agent::new(config, source_ip.clone().unwrap_or_else(|| "127.0.0.1".into()), hostname.clone())?;
    for error in agent.status(now_ms()).errors {
        eprintln!("logport agent: {error}");
    }
    let mut sink = HttpSink::new(&config.service.endpoint);
    let fs = NativeFs;
    let poll = Duration::from_millis(config.agent.poll_ms.max(1));
    let source_ip = source_ip.unwrap_or_else(|| "127.0.0.1".into());
    let mut central = config.agent.central.then(|| Central {
        target: Target {
            project: config.service.project.clone(),
            logstore: String::new(),
            key_id: config.service.access_key_id.clone(),
            key_secret: config.service.access_key_secret.clone(),
        },
        ip: source_ip.clone(),
        user_defined_id: config.agent.user_defined_id.clone(),
        etag: None,
        next_poll_ms: 0,
        errors: Vec::new(),
    });
    while !stop.load(Ordering::Relaxed) {
        let started = std::time::Instant::now();
        let now = now_ms();
        let date = httpdate::fmt_http_date(SystemTime::now());
        let backlog = agent.step(&fs, &mut sink, now, &date);
        if let Some(central) = central.as_mut()
            && now >= central.next_poll_ms
        {
            central.next_poll_ms = now + config.agent.config_poll_ms.max(100);
            match central.poll(&mut sink, &agent.status(now), &hostname, &date) {
                Ok(Some(remote)) => {
                    // Switch without loss: the running agent sends (or caches) what it read and
                    // saves its checkpoints; the new one resumes every kept source from them.
                    let next = with_remote(config, remote, &mut central.errors);
                    for error in &central.errors {
                        eprintln!("logport agent: {error}");
                    }
                    agent.stop(&mut sink, now_ms(), &date);
                    drop(agent);
                    agent = Agent::new(&next, source_ip.clone(), hostname.clone())?;
                    eprintln!("logport agent: now running {} sources", next.sources.len());
                }
                Ok(None) => {}
                Err(error) => eprintln!("logport agent: {error}"),
            }
        }
        if !backlog && let Some(rest) = poll.checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    agent.stop(&mut sink, now_ms(), &httpdate::fmt_http_date(SystemTime::now()));
    Ok(())
}
