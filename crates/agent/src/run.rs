//! The agent's run loop, one for both hosts (the native `logport agent run` and the WASI
//! component): steps the agent, and in central mode polls the service (`POST /agents/poll`) with
//! a heartbeat and applies the collection configs it answers.
//!
//! A config change is applied by [`Agent::reconfigure`]: unchanged sources keep running, changed
//! and removed ones hand over at their committed offsets, so nothing is lost or repeated.
//!
//! Configs from the service name directories on the agent's host. `agent.central_roots`, when
//! set, bounds them: a config reading outside every root is refused (and reported in the
//! heartbeat). A component can only read what its host granted, which is these roots.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::agent::{Agent, Sink, Status};
use crate::config::{Config, SourceConfig, source_from_sls};
use crate::fs::Fs;
use crate::sls::{PutLogs, Target, poll_request};

/// A [`Sink`] that can also make a request whose answer body matters (the config poll).
pub trait Transport: Sink {
    /// Sends `request`; answers the status and up to `limit` bytes of the body, or why the
    /// service could not be reached (`Ok(None)` when the request could not be built).
    fn call(&mut self, request: &PutLogs, limit: u64) -> Result<Option<(u16, Vec<u8>)>, String>;
}

/// Who the agent is: `__source__` and `__tag__:__hostname__`, and its machine-group identity.
#[derive(Debug, Clone)]
pub struct Identity {
    pub source_ip: String,
    pub hostname: String,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn http_date() -> String {
    httpdate::fmt_http_date(SystemTime::now())
}

/// The central-configuration client: polls with this agent's identity, status and ETag; turns
/// the configs it answers into sources.
#[derive(Debug)]
struct Central {
    target: Target,
    ip: String,
    user_defined_id: String,
    etag: Option<String>,
    next_poll_ms: u64,
    /// Why configs from the service could not be run (sent back in the next heartbeat).
    errors: Vec<String>,
}

impl Central {
    /// Polls; `Ok(Some(sources))` when the configs changed.
    fn poll(
        &mut self,
        transport: &mut dyn Transport,
        status: &Status,
        hostname: &str,
        date: &str,
    ) -> Result<Option<Vec<SourceConfig>>, String> {
        let files: usize = status.sources.iter().map(|source| source.files.len()).sum();
        let behind: u64 = status.sources.iter().flat_map(|source| &source.files).map(|file| file.lag).sum();
        let mut errors: Vec<String> = status.errors.iter().chain(&self.errors).cloned().collect();
        errors.extend(status.sources.iter().flat_map(|source| source.tail.errors.iter().cloned()));
        errors.extend(status.send.last_error.clone());
        errors.dedup();
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
        let (code, answer) = transport.call(&request, 16 << 20)?.ok_or("cannot build the poll request")?;
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

/// `local`'s sources plus those from the service, leaving out (with an error) any whose name a
/// local source already has, or that reads outside `roots` (when there are roots).
pub fn with_remote(
    local: &[SourceConfig],
    remote: Vec<SourceConfig>,
    roots: &[impl AsRef<Path>],
    errors: &mut Vec<String>,
) -> Vec<SourceConfig> {
    let mut sources = local.to_vec();
    for source in remote {
        if sources.iter().any(|known| known.name == source.name) {
            errors.push(format!("config {:?} from the service has the name of a local source; skipped", source.name));
        } else if !roots.is_empty() && !roots.iter().any(|root| within(&source.dir, root.as_ref())) {
            errors.push(format!(
                "config {:?} reads {}, outside agent.central_roots; skipped",
                source.name,
                source.dir.display()
            ));
        } else {
            sources.push(source);
        }
    }
    sources
}

/// Whether `dir` is `root` or under it, by path components (no `..` escapes: such a path is
/// never within).
fn within(dir: &Path, root: &Path) -> bool {
    use std::path::Component;
    dir.is_absolute() && !dir.components().any(|part| matches!(part, Component::ParentDir)) && dir.starts_with(root)
}

/// Runs the agent until `stopped()`; then sends or caches what it holds and writes its
/// checkpoints. Errors only when the agent cannot start (its state directory, a corrupt
/// checkpoint file); a problem while running is reported in status and retried.
pub fn run(
    config: &Config,
    fs: &dyn Fs,
    transport: &mut dyn Transport,
    identity: &Identity,
    stopped: &dyn Fn() -> bool,
) -> Result<(), String> {
    let mut agent = Agent::new(config, identity.source_ip.clone(), identity.hostname.clone())?;
    for error in agent.status(now_ms()).errors {
        eprintln!("logport agent: {error}");
    }
    let poll = Duration::from_millis(config.agent.poll_ms.max(1));
    let mut central = config.agent.central.then(|| Central {
        target: Target {
            project: config.service.project.clone(),
            logstore: String::new(),
            key_id: config.service.access_key_id.clone(),
            key_secret: config.service.access_key_secret.clone(),
        },
        ip: identity.source_ip.clone(),
        user_defined_id: config.agent.user_defined_id.clone(),
        etag: None,
        next_poll_ms: 0,
        errors: Vec::new(),
    });
    while !stopped() {
        let started = Instant::now();
        let now = now_ms();
        let date = http_date();
        let backlog = agent.step(fs, transport, now, &date);
        if let Some(central) = central.as_mut()
            && now >= central.next_poll_ms
        {
            central.next_poll_ms = now + config.agent.config_poll_ms.max(100);
            match central.poll(transport, &agent.status(now), &identity.hostname, &date) {
                Ok(Some(remote)) => {
                    let sources =
                        with_remote(&config.sources, remote, &config.agent.central_roots, &mut central.errors);
                    for error in &central.errors {
                        eprintln!("logport agent: {error}");
                    }
                    for error in agent.reconfigure(&sources, fs, transport, now_ms(), &date) {
                        eprintln!("logport agent: {error}");
                    }
                    eprintln!("logport agent: now running {} sources", sources.len());
                }
                Ok(None) => {}
                Err(error) => eprintln!("logport agent: {error}"),
            }
        }
        if !backlog && let Some(rest) = poll.checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    agent.stop(transport, now_ms(), &http_date());
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn source(name: &str, dir: &str) -> SourceConfig {
        let text = format!(
            "[service]\nendpoint='x'\nproject='p'\naccess_key_id='k'\naccess_key_secret='s'\n[agent]\nstate_dir='/tmp'\n\
             [[source]]\nname='{name}'\nlogstore='ls'\ndir='{dir}'\npattern='*.log'\n"
        );
        Config::from_toml(&text).unwrap().sources.remove(0)
    }

    #[test]
    fn remote_configs_are_bounded_by_the_roots_and_by_local_names() {
        let local = vec![source("app", "/var/log/app")];
        let remote = vec![
            source("app", "/var/log/other"),
            source("nginx", "/var/log/nginx"),
            source("secrets", "/etc"),
            source("escape", "/var/log/../../etc"),
            source("prefix", "/var/logs"),
        ];
        let mut errors = Vec::new();
        let roots = [PathBuf::from("/var/log")];
        let names: Vec<String> =
            with_remote(&local, remote.clone(), &roots, &mut errors).into_iter().map(|source| source.name).collect();
        assert_eq!(names, ["app", "nginx"]);
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].contains("name of a local source"), "{errors:?}");
        assert!(errors[1].contains("\"secrets\" reads /etc, outside agent.central_roots"), "{errors:?}");

        // No roots: anywhere (the native agent reads what its user may).
        let mut errors = Vec::new();
        let none: [PathBuf; 0] = [];
        assert_eq!(with_remote(&local, remote, &none, &mut errors).len(), 5);
        assert_eq!(errors.len(), 1);
    }
}
