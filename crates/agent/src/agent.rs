//! The pipeline: tailers → assemblers → parsers → batches → sink (or the disk cache), with
//! checkpoints and status written to the state directory.
//!
//! A batch's lines are committed (their offsets may enter the checkpoints) once the service has
//! accepted the batch or it is safely in the disk cache. While the cache holds anything, new
//! batches queue behind it so that the service receives them in order.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use logport_core::model::{LogGroup, LogTag};
use prost::Message;
use serde::{Deserialize, Serialize};

use crate::config::{AgentConfig, Config, SourceConfig};
use crate::fs::Fs;
use crate::parse::{Assembler, Event, Parser};
use crate::sls::{PutLogs, Target};
use crate::spool::{Spool, SpoolStats, write_atomic};
use crate::tail::{Checkpoint, FileStatus, SourceSpec, TailStats, Tailer};

/// What became of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    /// Unreachable, 5xx, throttled, refused credentials: try again later.
    Retry(String),
    /// The service will never take this batch (malformed): dropped and counted.
    Reject(String),
}

/// Sends one request to the service.
pub trait Sink {
    fn send(&mut self, request: &PutLogs) -> Outcome;
}

/// Maps an HTTP status and body to an [`Outcome`].
pub fn outcome_of(status: u16, body: &[u8]) -> Outcome {
    let text = || String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned();
    match status {
        200..=299 => Outcome::Accepted,
        400 | 413 | 415 => Outcome::Reject(format!("HTTP {status}: {}", text())),
        _ => Outcome::Retry(format!("HTTP {status}: {}", text())),
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CheckpointFile {
    sources: BTreeMap<String, Vec<Checkpoint>>,
}

/// Counters of the sending side.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SendStats {
    pub batches_sent: u64,
    pub logs_sent: u64,
    pub retries: u64,
    pub rejected_batches: u64,
    pub logs_unmatched: u64,
    pub logs_dropped_unmatched: u64,
    pub last_error: Option<String>,
}

/// The status file (`status.json` in the state directory; `logport agent status` prints it).
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub time_ms: u64,
    pub sources: Vec<SourceStatus>,
    pub send: SendStats,
    pub cache: SpoolStats,
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceStatus {
    pub name: String,
    pub logstore: String,
    pub tail: TailStats,
    pub files: Vec<FileStatus>,
}

struct Batch {
    path: PathBuf,
    group: LogGroup,
    bytes: usize,
    started_ms: u64,
    end: u64,
}

struct Source {
    /// What the source was built from: [`Agent::reconfigure`] keeps a source whose config is
    /// unchanged as it is.
    config: SourceConfig,
    name: String,
    logstore: String,
    topic: Option<String>,
    topic_from_path: Option<regex::Regex>,
    parser: Parser,
    tailer: Tailer,
    assemblers: HashMap<u64, Assembler>,
    paths: HashMap<u64, PathBuf>,
    batches: BTreeMap<u64, Batch>,
}

/// The agent.
pub struct Agent {
    settings: AgentConfig,
    target: Target,
    sources: Vec<Source>,
    spool: Spool,
    source_ip: String,
    hostname: String,
    send: SendStats,
    errors: Vec<String>,
    last_checkpoint_ms: u64,
    dirty: bool,
    retry_at_ms: u64,
    backoff_ms: u64,
    polls: u64,
    /// Random per agent process: with [`Agent::batches_keyed`], each batch's idempotency key.
    instance: u64,
    batches_keyed: u64,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").field("sources", &self.sources.len()).finish_non_exhaustive()
    }
}

fn checkpoint_path(state: &Path) -> PathBuf {
    state.join("checkpoints.json")
}

impl Source {
    /// A source from its config, resuming from `checkpoints` when it ran before (`None`: it
    /// starts at the end of the files that exist, or at their start with `backfill`).
    fn build(config: &SourceConfig, checkpoints: Option<Vec<Checkpoint>>) -> Result<Source, String> {
        let (parser, topic_from_path) = config.compile()?;
        let started = checkpoints.is_some();
        let spec = SourceSpec {
            dir: config.dir.clone(),
            pattern: config.pattern.clone(),
            max_depth: config.max_depth,
            backfill: config.backfill,
            max_line: config.max_line_bytes,
            idle_polls: config.idle_polls,
        };
        Ok(Source {
            config: config.clone(),
            name: config.name.clone(),
            logstore: config.logstore.clone(),
            topic: config.topic.clone(),
            topic_from_path,
            parser,
            tailer: Tailer::new(spec, checkpoints.unwrap_or_default(), started),
            assemblers: HashMap::new(),
            paths: HashMap::new(),
            batches: BTreeMap::new(),
        })
    }
}

impl Agent {
    /// Builds the agent from a checked config. A source whose parser does not compile is reported
    /// in status and skipped; the others run.
    pub fn new(config: &Config, source_ip: String, hostname: String) -> Result<Agent, String> {
        let settings = config.agent.clone();
        std::fs::create_dir_all(&settings.state_dir)
            .map_err(|error| format!("cannot create state_dir {}: {error}", settings.state_dir.display()))?;
        let saved: CheckpointFile = match std::fs::read(checkpoint_path(&settings.state_dir)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| {
                format!("corrupt checkpoint file {}: {error}", checkpoint_path(&settings.state_dir).display())
            })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => CheckpointFile::default(),
            Err(error) => return Err(format!("cannot read checkpoints: {error}")),
        };
        let spool =
            Spool::open(&settings.state_dir.join("cache"), settings.cache_max_bytes, settings.cache_max_age_s * 1000)
                .map_err(|error| format!("cannot open the send cache: {error}"))?;
        let mut errors = Vec::new();
        let mut sources = Vec::new();
        for source in &config.sources {
            let checkpoints = saved.sources.get(&source.name).cloned();
            match Source::build(source, checkpoints) {
                Ok(source) => sources.push(source),
                Err(error) => errors.push(error),
            }
        }
        let target = Target {
            project: config.service.project.clone(),
            logstore: String::new(),
            key_id: config.service.access_key_id.clone(),
            key_secret: config.service.access_key_secret.clone(),
        };
        Ok(Agent {
            settings,
            target,
            sources,
            spool,
            source_ip,
            hostname,
            send: SendStats::default(),
            errors,
            last_checkpoint_ms: 0,
            dirty: true,
            retry_at_ms: 0,
            backoff_ms: 100,
            polls: 0,
            instance: {
                use std::hash::{BuildHasher, Hasher};
                // std seeds RandomState from the OS's randomness (WASI's random in a component).
                std::collections::hash_map::RandomState::new().build_hasher().finish()
            },
            batches_keyed: 0,
        })
    }

    /// A new batch's idempotency key: unique per batch (a random number per process, then a
    /// count), kept with the batch in the send cache and sent with every attempt.
    fn next_batch_key(&mut self) -> String {
        self.batches_keyed += 1;
        format!("lpa-{:016x}-{}", self.instance, self.batches_keyed)
    }

    /// One round: discover, read, parse, batch, send what is due, checkpoint at least every second.
    /// Returns whether anything was read (more may be waiting): the caller then
    /// steps again at once instead of waiting for the next poll, so a backlog is read at the speed
    /// of parsing and sending (and of the host's CPU and bandwidth caps), not of the poll interval.
    pub fn step(&mut self, fs: &dyn Fs, sink: &mut dyn Sink, now_ms: u64, date: &str) -> bool {
        self.polls += 1;
        let read_time = (now_ms / 1000) as u32;
        let batch_bytes = self.settings.batch_bytes;
        for index in 0..self.sources.len() {
            let source = &mut self.sources[index];
            source.tailer.poll(fs);
            let chunks = source.tailer.read();
            let mut events = Vec::new();
            for chunk in chunks {
                let assembler = source.assemblers.entry(chunk.stream).or_default();
                events.clear();
                for line in &chunk.lines {
                    assembler.push(source.parser.first_line.as_ref(), &line.bytes, line.end, now_ms, &mut events);
                }
                assembler.flush(now_ms, source.parser.flush_ms, chunk.finished, &mut events);
                source.paths.insert(chunk.stream, chunk.path.clone());
                Self::add_events(source, &mut self.send, chunk.stream, &chunk.path, &events, read_time, now_ms);
            }
            // Multiline events whose flush timeout passed with no new line.
            let mut due = Vec::new();
            for (&stream, assembler) in source.assemblers.iter_mut() {
                let mut out = Vec::new();
                assembler.flush(now_ms, source.parser.flush_ms, false, &mut out);
                if !out.is_empty() {
                    due.push((stream, out));
                }
            }
            for (stream, out) in due {
                let path = source.paths.get(&stream).cloned().unwrap_or_default();
                Self::add_events(source, &mut self.send, stream, &path, &out, read_time, now_ms);
            }
        }
        // Send full or old batches.
        for index in 0..self.sources.len() {
            let keys: Vec<u64> = self.sources[index]
                .batches
                .iter()
                .filter(|(_, b)| {
                    b.bytes >= batch_bytes || now_ms.saturating_sub(b.started_ms) >= self.settings.batch_ms
                })
                .map(|(k, _)| *k)
                .collect();
            for key in keys {
                self.flush_batch(index, key, sink, now_ms, date);
            }
        }
        self.drain_cache(sink, now_ms, date);
        for source in &mut self.sources {
            source.tailer.close_done();
            let live: std::collections::HashSet<u64> = source.tailer.stream_keys().collect();
            source.assemblers.retain(|k, a| live.contains(k) || !a.is_empty());
            source.paths.retain(|k, _| live.contains(k) || source.batches.contains_key(k));
            if self.polls.is_multiple_of(600) {
                source.tailer.prune_closed(fs);
            }
        }
        // Soon after every commit (a kill -9 repeats only what was sent since the last save), and
        // at least once a second while anything changes.
        if self.dirty && now_ms.saturating_sub(self.last_checkpoint_ms) >= self.settings.checkpoint_ms.min(1000) {
            self.save(now_ms);
        }
        self.sources.iter().any(|source| source.tailer.has_backlog())
    }

    fn add_events(
        source: &mut Source,
        send: &mut SendStats,
        stream: u64,
        path: &Path,
        events: &[Event],
        read_time: u32,
        now_ms: u64,
    ) {
        for event in events {
            let (log, matched) = source.parser.parse(&event.text, read_time);
            if !matched {
                send.logs_unmatched += 1;
            }
            let batch = source.batches.entry(stream).or_insert_with(|| Batch {
                path: path.to_path_buf(),
                group: LogGroup::default(),
                bytes: 0,
                started_ms: now_ms,
                end: 0,
            });
            batch.end = batch.end.max(event.end);
            match log {
                Some(log) => {
                    batch.bytes += log.encoded_len() + 8;
                    batch.group.logs.push(log);
                }
                None => send.logs_dropped_unmatched += 1,
            }
        }
    }

    fn group_for(&self, source: &Source, path: &Path, mut group: LogGroup) -> LogGroup {
        let path_text = path.to_string_lossy().into_owned();
        let topic = source
            .topic_from_path
            .as_ref()
            .and_then(|regex| regex.captures(&path_text))
            .and_then(|c| c.get(1).map(|m| m.as_str().to_owned()))
            .or_else(|| source.topic.clone());
        group.topic = topic;
        group.source = Some(self.source_ip.clone());
        group.log_tags = vec![
            LogTag { key: "__path__".into(), value: path_text },
            LogTag { key: "__hostname__".into(), value: self.hostname.clone() },
        ];
        group
    }

    fn flush_batch(&mut self, index: usize, key: u64, sink: &mut dyn Sink, now_ms: u64, date: &str) {
        let Some(batch) = self.sources[index].batches.remove(&key) else { return };
        let end = batch.end;
        if batch.group.logs.is_empty() {
            self.sources[index].tailer.commit(key, end);
            self.dirty = true;
            return;
        }
        let group = self.group_for(&self.sources[index], &batch.path, batch.group);
        let logstore = self.sources[index].logstore.clone();
        let logs = group.logs.len() as u64;
        let batch_key = self.next_batch_key();
        let outcome = if self.spool.is_empty() {
            self.target.logstore = logstore.clone();
            if crate::tail::trace() {
                eprintln!("agent-trace: send {} logs of {} up to {end}", logs, batch.path.display());
            }
            let outcome = sink.send(&PutLogs::request(&self.target, &group, date, Some(&batch_key)));
            if crate::tail::trace() {
                eprintln!("agent-trace: answer {outcome:?}");
            }
            outcome
        } else {
            Outcome::Retry("queued behind the send cache".into())
        };
        match outcome {
            Outcome::Accepted => {
                self.send.batches_sent += 1;
                self.send.logs_sent += logs;
            }
            Outcome::Reject(error) => {
                self.send.rejected_batches += 1;
                self.note_error(format!("batch of {logs} logs for {logstore} rejected: {error}"));
            }
            Outcome::Retry(error) => {
                if let Err(io) = self.spool.push(now_ms, &logstore, &batch_key, &group.encode_to_vec()) {
                    // Cannot cache: keep the lines uncommitted (they are re-read after a restart).
                    self.note_error(format!("cannot write the send cache: {io}"));
                    return;
                }
                if !error.starts_with("queued") {
                    self.send.retries += 1;
                    self.note_error(error);
                    self.retry_at_ms = now_ms + self.backoff_ms;
                }
            }
        }
        self.sources[index].tailer.commit(key, end);
        self.dirty = true;
        if self.settings.checkpoint_ms == 0 {
            // Before the next request: a kill -9 during it (or any later one) repeats nothing of
            // this batch. Only a kill between the service's answer and this write does.
            self.save_checkpoints();
            if crate::tail::trace() {
                eprintln!("agent-trace: checkpoints saved");
            }
        }
    }

    fn drain_cache(&mut self, sink: &mut dyn Sink, now_ms: u64, date: &str) {
        let mut sent = 0;
        while now_ms >= self.retry_at_ms && sent < 64 {
            let Some(cached) = self.spool.front(now_ms) else { break };
            let Ok(group) = LogGroup::decode_bytes(&cached.group) else {
                self.spool.remove(cached.seq);
                continue;
            };
            self.target.logstore = cached.logstore.clone();
            match sink.send(&PutLogs::request(&self.target, &group, date, Some(&cached.key))) {
                Outcome::Accepted => {
                    self.spool.remove(cached.seq);
                    self.send.batches_sent += 1;
                    self.send.logs_sent += group.logs.len() as u64;
                    self.backoff_ms = 100;
                    sent += 1;
                }
                Outcome::Reject(error) => {
                    self.spool.remove(cached.seq);
                    self.send.rejected_batches += 1;
                    self.note_error(format!("cached batch rejected: {error}"));
                }
                Outcome::Retry(error) => {
                    self.send.retries += 1;
                    self.note_error(error);
                    self.backoff_ms = (self.backoff_ms * 2).min(10_000);
                    self.retry_at_ms = now_ms + self.backoff_ms;
                    break;
                }
            }
        }
    }

    fn note_error(&mut self, error: String) {
        self.send.last_error = Some(error);
    }

    /// Sends every batch (or caches it) and writes checkpoints and status: for a clean stop.
    /// Multiline events still open stay uncommitted; they are read again on the next start.
    pub fn stop(&mut self, sink: &mut dyn Sink, now_ms: u64, date: &str) {
        for index in 0..self.sources.len() {
            let keys: Vec<u64> = self.sources[index].batches.keys().copied().collect();
            for key in keys {
                self.flush_batch(index, key, sink, now_ms, date);
            }
        }
        self.drain_cache(sink, now_ms, date);
        self.save(now_ms);
    }

    /// Switches to `sources` (the `[[source]]`s and the configs from the service) without losing
    /// or repeating a line: a source whose config is unchanged keeps running as it is (its files,
    /// offsets, open multiline events and batches); a changed or removed one sends (or caches) its
    /// batches and gives up its files, and a changed one starts again from the offsets it had
    /// committed, with the new settings (a multiline event still open is read again). A new one
    /// starts like a source at first start: at the end of the files that exist now (they are
    /// discovered at once), unless `backfill`. Returns the sources that could not be built (also
    /// kept in status).
    pub fn reconfigure(
        &mut self,
        sources: &[SourceConfig],
        fs: &dyn Fs,
        sink: &mut dyn Sink,
        now_ms: u64,
        date: &str,
    ) -> Vec<String> {
        let leaving: Vec<usize> =
            (0..self.sources.len()).filter(|&index| !sources.contains(&self.sources[index].config)).collect();
        for &index in &leaving {
            let keys: Vec<u64> = self.sources[index].batches.keys().copied().collect();
            for key in keys {
                self.flush_batch(index, key, sink, now_ms, date);
            }
        }
        let mut running: HashMap<String, Source> =
            std::mem::take(&mut self.sources).into_iter().map(|source| (source.name.clone(), source)).collect();
        let mut errors = Vec::new();
        for config in sources {
            let kept = running.remove(&config.name);
            let source = match kept {
                Some(source) if source.config == *config => Ok(source),
                Some(source) => Source::build(config, Some(source.tailer.checkpoints())),
                None => Source::build(config, None).map(|mut source| {
                    source.tailer.poll(fs);
                    source
                }),
            };
            match source {
                Ok(source) => self.sources.push(source),
                Err(error) => errors.push(error),
            }
        }
        self.errors = errors.clone();
        self.save(now_ms);
        errors
    }

    /// Writes the checkpoints atomically.
    fn save_checkpoints(&mut self) {
        let mut file = CheckpointFile::default();
        for source in &self.sources {
            file.sources.insert(source.name.clone(), source.tailer.checkpoints());
        }
        let bytes = serde_json::to_vec(&file).expect("checkpoints serialise");
        if let Err(error) = write_atomic(&checkpoint_path(&self.settings.state_dir), &bytes) {
            self.note_error(format!("cannot write checkpoints: {error}"));
        }
    }

    /// Writes checkpoints and status atomically.
    pub fn save(&mut self, now_ms: u64) {
        self.save_checkpoints();
        let status = serde_json::to_vec_pretty(&self.status(now_ms)).expect("status serialises");
        if let Err(error) = write_atomic(&self.settings.state_dir.join("status.json"), &status) {
            self.note_error(format!("cannot write status: {error}"));
        }
        self.last_checkpoint_ms = now_ms;
        self.dirty = false;
    }

    pub fn status(&self, now_ms: u64) -> Status {
        Status {
            time_ms: now_ms,
            sources: self
                .sources
                .iter()
                .map(|s| SourceStatus {
                    name: s.name.clone(),
                    logstore: s.logstore.clone(),
                    tail: s.tailer.stats(),
                    files: s.tailer.files(),
                })
                .collect(),
            send: self.send.clone(),
            cache: self.spool.stats(),
            errors: self.errors.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::NativeFs;
    use std::io::Write;

    /// Accepts everything and counts the logs.
    struct Accept(u64);

    impl Sink for Accept {
        fn send(&mut self, request: &PutLogs) -> Outcome {
            self.0 += 1;
            assert!(!request.body.is_empty());
            Outcome::Accepted
        }
    }

    fn saved_offsets(state: &Path) -> Vec<u64> {
        let Ok(bytes) = std::fs::read(checkpoint_path(state)) else { return Vec::new() };
        let file: CheckpointFile = serde_json::from_slice(&bytes).unwrap();
        let mut offsets: Vec<u64> = file.sources["app"].iter().map(|c| c.offset).collect();
        offsets.sort();
        offsets
    }

    /// Records, at each request, the offsets saved before it.
    struct Recording {
        state: PathBuf,
        saved_before: Vec<Vec<u64>>,
    }

    impl Sink for Recording {
        fn send(&mut self, _: &PutLogs) -> Outcome {
            self.saved_before.push(saved_offsets(&self.state));
            Outcome::Accepted
        }
    }

    /// A batch's offsets are saved before the next request goes out: a kill -9 in the middle of a
    /// step that sends several batches repeats none of those already accepted.
    #[test]
    fn each_accepted_batch_is_checkpointed_before_the_next_request() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::write(logs.join("a.log"), "one\ntwo\n").unwrap();
        std::fs::write(logs.join("b.log"), "three\nfour\nfive\n").unwrap();
        let state = dir.path().join("state");
        let text = format!(
            "[service]\nendpoint = \"127.0.0.1:9\"\nproject = \"p\"\naccess_key_id = \"k\"\naccess_key_secret = \"s\"\n\
             [agent]\nstate_dir = {state:?}\nbatch_ms = 0\n\
             [[source]]\nname = \"app\"\nlogstore = \"l\"\ndir = {logs:?}\npattern = \"*.log\"\nbackfill = true\n"
        );
        let mut agent = Agent::new(&Config::from_toml(&text).unwrap(), "127.0.0.1".into(), "host".into()).unwrap();
        let mut sink = Recording { state: state.clone(), saved_before: Vec::new() };
        agent.step(&NativeFs, &mut sink, 1_000_000, "Sun, 22 Nov 2026 19:00:00 GMT");
        assert_eq!(sink.saved_before.len(), 2, "one request per file");
        // Before the second request, the first file's batch is in the saved checkpoints.
        let first_sent = sink.saved_before[1].iter().copied().filter(|&o| o > 0).collect::<Vec<_>>();
        assert!(first_sent == [8] || first_sent == [16], "{:?}", sink.saved_before);
        assert_eq!(saved_offsets(&state), [8, 16]);
    }

    /// A `kill -9` repeats only what was sent after the last checkpoint: with the default
    /// settings, the checkpoint written at the end of a step holds every batch that step sent,
    /// however soon after the previous save.
    #[test]
    fn the_checkpoint_follows_every_accepted_batch() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let log = logs.join("app.log");
        let state = dir.path().join("state");
        let text = format!(
            "[service]\nendpoint = \"127.0.0.1:9\"\nproject = \"p\"\naccess_key_id = \"k\"\naccess_key_secret = \"s\"\n\
             [agent]\nstate_dir = {state:?}\nbatch_ms = 0\n\
             [[source]]\nname = \"app\"\nlogstore = \"l\"\ndir = {logs:?}\npattern = \"app.log\"\nbackfill = true\n"
        );
        let config = Config::from_toml(&text).unwrap();
        let mut agent = Agent::new(&config, "127.0.0.1".into(), "host".into()).unwrap();
        let mut sink = Accept(0);
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
        let date = "Sun, 22 Nov 2026 19:00:00 GMT";
        let mut now = 1_000_000;
        for round in 0..5 {
            writeln!(file, "line {round} of the log").unwrap();
            now += 10; // polls 10 ms apart: far less than any save interval
            agent.step(&NativeFs, &mut sink, now, date);
            assert_eq!(sink.0, round + 1, "one batch per step");
            assert_eq!(saved_offsets(&state), [std::fs::metadata(&log).unwrap().len()], "round {round}");
        }
    }

    /// Keeps the (topic, content) of every log it accepts.
    #[derive(Default)]
    struct Collect(Vec<(String, String)>);

    impl Sink for Collect {
        fn send(&mut self, request: &PutLogs) -> Outcome {
            let raw: usize = request.headers.iter().find(|(k, _)| k == "x-log-bodyrawsize").unwrap().1.parse().unwrap();
            let raw = logport_core::codec::Compression::Lz4.decompress(&request.body, raw, 1 << 30).unwrap();
            let group = LogGroup::decode(raw.as_slice()).unwrap();
            let topic = group.topic.clone().unwrap_or_default();
            for log in group.logs {
                self.0.push((topic.clone(), log.contents[0].value.clone()));
            }
            Outcome::Accepted
        }
    }

    /// A config change restarts only the changed sources, at their committed offsets: nothing is
    /// lost or repeated, the unchanged source keeps its state, the removed one stops, a new one
    /// starts at the end of the files that exist.
    #[test]
    fn reconfigure_switches_changed_sources_without_loss() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let state = dir.path().join("state");
        // All but d read their files from the start.
        let source = |name: &str, pattern: &str, topic: &str| {
            let backfill = name != "d";
            format!(
                "[[source]]\nname = \"{name}\"\nlogstore = \"l\"\ndir = {logs:?}\npattern = \"{pattern}\"\n\
                 backfill = {backfill}\ntopic = \"{topic}\"\n"
            )
        };
        let head = format!(
            "[service]\nendpoint = \"127.0.0.1:9\"\nproject = \"p\"\naccess_key_id = \"k\"\naccess_key_secret = \"s\"\n\
             [agent]\nstate_dir = {state:?}\nbatch_ms = 0\n"
        );
        let config = |sources: &[String]| Config::from_toml(&format!("{head}{}", sources.concat())).unwrap();
        let append = |file: &str, line: &str| {
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(logs.join(file)).unwrap();
            writeln!(file, "{line}").unwrap();
        };
        let date = "Sun, 22 Nov 2026 19:00:00 GMT";
        let first = config(&[source("a", "a.log", "a1"), source("b", "b.log", "b1"), source("c", "c.log", "c1")]);
        let mut agent = Agent::new(&first, "127.0.0.1".into(), "host".into()).unwrap();
        let mut sink = Collect::default();
        for line in ["a-1", "a-2"] {
            append("a.log", line);
        }
        for line in ["b-1", "b-2"] {
            append("b.log", line);
        }
        append("c.log", "c-1");
        agent.step(&NativeFs, &mut sink, 1_000_000, date);
        let a_read = agent.status(1_000_000).sources[0].tail.bytes_read;
        assert_eq!(a_read, 8);

        // Written before the switch, read after it.
        append("a.log", "a-3");
        append("b.log", "b-3");
        append("d.log", "d-0 (there before d's config)");
        let second = config(&[source("a", "a.log", "a1"), source("b", "b.log", "b2"), source("d", "d.log", "d1")]);
        let errors = agent.reconfigure(&second.sources, &NativeFs, &mut sink, 1_000_100, date);
        assert!(errors.is_empty(), "{errors:?}");
        append("c.log", "c-2 (after c was removed)");
        append("d.log", "d-1");
        agent.step(&NativeFs, &mut sink, 1_000_200, date);
        agent.stop(&mut sink, 1_000_300, date);

        let status = agent.status(1_000_300);
        let names: Vec<&str> = status.sources.iter().map(|source| source.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "d"]);
        assert_eq!(status.sources[0].tail.bytes_read, 12, "a kept its tailer (and its counters)");
        let got: Vec<(&str, &str)> = sink.0.iter().map(|(topic, line)| (topic.as_str(), line.as_str())).collect();
        let mut sorted = got.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            [
                ("a1", "a-1"),
                ("a1", "a-2"),
                ("a1", "a-3"),
                ("b1", "b-1"),
                ("b1", "b-2"),
                ("b2", "b-3"),
                ("c1", "c-1"),
                ("d1", "d-1")
            ]
        );
        // The saved checkpoints are those of the running sources.
        let saved: CheckpointFile = serde_json::from_slice(&std::fs::read(checkpoint_path(&state)).unwrap()).unwrap();
        assert_eq!(saved.sources.keys().map(String::as_str).collect::<Vec<_>>(), ["a", "b", "d"]);
    }
}
