//! The consumer worker: one loop, no threads (so that it runs the same inside a WASI component).
//!
//! Each turn: heartbeat when due (taking up new shards from their checkpoint, or from the start
//! position when none; finishing shards the group moved elsewhere with a final checkpoint), pull
//! the next batch of each held shard, hand it to the [`Processor`], and advance that shard's
//! cursor only when the processor accepted the batch. A refused batch is kept and offered again
//! after a backoff, so a sink outage pauses the shard and loses nothing. Checkpoints are written at
//! most every `checkpoint_interval`, on release and on stop, fenced by the grant's lease counter.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use logport_core::view::GroupView;

use crate::client::{Client, ClientError, Grant, StartPosition};
use crate::sink::{Sink, backoff};

/// What the worker hands log groups to.
pub trait Processor {
    /// Handles a batch pulled from `shard`; `Ok` means done with it (its cursor will be
    /// checkpointed), `Err` means "not now": the same batch comes again after a backoff.
    fn process(&mut self, shard: u32, groups: &[GroupView<'_>]) -> Result<(), String>;

    /// Called once when the worker stops.
    fn close(&mut self) {}
}

/// A [`Processor`] that forwards every batch to a [`Sink`].
#[derive(Debug)]
pub struct SinkProcessor<S: Sink>(pub S);

impl<S: Sink> Processor for SinkProcessor<S> {
    fn process(&mut self, _shard: u32, groups: &[GroupView<'_>]) -> Result<(), String> {
        self.0.send(groups).map_err(|error| error.0)
    }

    fn close(&mut self) {
        self.0.close();
    }
}

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub heartbeat_interval: Duration,
    /// The group's timeout when the worker creates it (a consumer silent this long loses its shards).
    pub group_timeout: Duration,
    pub in_order: bool,
    /// How long a shard with nothing new waits before the next pull.
    pub fetch_interval: Duration,
    /// Log groups per pull.
    pub batch_groups: usize,
    pub checkpoint_interval: Duration,
    /// Where shards without a checkpoint start.
    pub start: StartPosition,
    /// Longest pause after a refused batch.
    pub max_backoff: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            heartbeat_interval: Duration::from_secs(3),
            group_timeout: Duration::from_secs(10),
            in_order: false,
            fetch_interval: Duration::from_millis(500),
            batch_groups: 1000,
            checkpoint_interval: Duration::from_secs(3),
            start: StartPosition::Begin,
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// Counters of a worker's run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerStats {
    pub logs: u64,
    pub log_groups: u64,
    /// Uncompressed protobuf bytes pulled and accepted.
    pub bytes: u64,
    pub checkpoints: u64,
    /// Batches the processor refused (each is offered again later).
    pub refused: u64,
    /// Shards taken up and given back.
    pub shards_taken: u64,
    pub shards_released: u64,
}

impl WorkerStats {
    /// The counters as the one JSON line `logport consume` (native or component) prints on stop.
    pub fn json_line(&self) -> String {
        serde_json::json!({
            "logs": self.logs,
            "logGroups": self.log_groups,
            "bytes": self.bytes,
            "checkpoints": self.checkpoints,
            "refused": self.refused,
            "shardsTaken": self.shards_taken,
            "shardsReleased": self.shards_released,
        })
        .to_string()
    }
}

#[derive(Debug)]
struct ShardState {
    lease: u64,
    cursor: String,
    checkpointed: String,
    next_pull: Instant,
    failures: u32,
}

/// A consumer of one group.
#[derive(Debug)]
pub struct Worker<P: Processor> {
    client: Client,
    config: WorkerConfig,
    processor: P,
    shards: BTreeMap<u32, ShardState>,
    last_heartbeat_ok: Instant,
    last_checkpoint: Instant,
    held_view: std::sync::Arc<std::sync::Mutex<Vec<u32>>>,
    pub stats: WorkerStats,
}

impl<P: Processor> Worker<P> {
    pub fn new(client: Client, config: WorkerConfig, processor: P) -> Self {
        let now = Instant::now();
        Worker {
            client,
            config,
            processor,
            shards: BTreeMap::new(),
            last_heartbeat_ok: now,
            last_checkpoint: now,
            held_view: Default::default(),
            stats: WorkerStats::default(),
        }
    }

    /// The shards held now.
    pub fn held(&self) -> Vec<u32> {
        self.shards.keys().copied().collect()
    }

    /// A view of the shards held, updated after every heartbeat (for status reports and tests).
    pub fn held_view(&self) -> std::sync::Arc<std::sync::Mutex<Vec<u32>>> {
        self.held_view.clone()
    }

    fn publish_held(&self) {
        *self.held_view.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = self.held();
    }

    /// Runs until `stop` is set, then checkpoints, releases its shards and closes the processor.
    /// Fails only if the group cannot be created or found at start.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<WorkerStats, ClientError> {
        self.run_until(|| stop.load(Ordering::Relaxed))
    }

    /// [`Worker::run`] with any stop condition, asked at least every 200 ms (a WASI component,
    /// which has no threads to set a flag, checks for a stop file).
    pub fn run_until(&mut self, mut stopped: impl FnMut() -> bool) -> Result<WorkerStats, ClientError> {
        self.client.ensure_group(self.config.group_timeout, self.config.in_order)?;
        let mut next_heartbeat = Instant::now();
        while !stopped() {
            let now = Instant::now();
            if now >= next_heartbeat {
                self.heartbeat();
                self.publish_held();
                next_heartbeat = Instant::now() + self.config.heartbeat_interval;
            }
            let pulled = self.pull_round(&mut stopped);
            if Instant::now() >= self.last_checkpoint + self.config.checkpoint_interval {
                self.checkpoint_all();
            }
            if !pulled {
                let wake = self.shards.values().map(|state| state.next_pull).min().unwrap_or(next_heartbeat);
                let wait = wake.min(next_heartbeat).saturating_duration_since(Instant::now());
                sleep_unless_stopped(wait.min(Duration::from_millis(200)), &mut stopped);
            }
        }
        self.checkpoint_all();
        // Leave the group: the shards move at the others' next heartbeats, not after the timeout.
        if let Err(error) = self.client.leave() {
            tracing::warn!(%error, "leaving the group failed; the shards move after the group timeout");
        }
        self.stats.shards_released += self.shards.len() as u64;
        self.shards.clear();
        self.publish_held();
        self.processor.close();
        Ok(self.stats.clone())
    }

    fn heartbeat(&mut self) {
        let held = self.held();
        let grants = match self.client.heartbeat(&held) {
            Ok(grants) => {
                self.last_heartbeat_ok = Instant::now();
                grants
            }
            Err(error) => {
                tracing::warn!(%error, "heartbeat failed");
                if self.last_heartbeat_ok.elapsed() > self.config.group_timeout + self.config.heartbeat_interval {
                    // The group has surely given the shards to others: stop without checkpointing.
                    if !self.shards.is_empty() {
                        tracing::warn!("no heartbeat for longer than the group timeout: dropping every shard");
                        self.stats.shards_released += self.shards.len() as u64;
                        self.shards.clear();
                    }
                }
                return;
            }
        };
        let granted: BTreeMap<u32, Grant> = grants.iter().map(|grant| (grant.shard, *grant)).collect();
        let released: Vec<u32> = self.shards.keys().filter(|shard| !granted.contains_key(shard)).copied().collect();
        for shard in released {
            self.checkpoint(shard);
            self.shards.remove(&shard);
            self.stats.shards_released += 1;
            tracing::info!(shard, "shard released");
        }
        for grant in grants {
            let regranted = self.shards.get(&grant.shard).is_some_and(|state| state.lease != grant.lease);
            if self.shards.contains_key(&grant.shard) && !regranted {
                continue;
            }
            match self.take_up(grant) {
                Ok(state) => {
                    tracing::info!(shard = grant.shard, lease = grant.lease, cursor = state.cursor, "shard taken up");
                    self.shards.insert(grant.shard, state);
                    self.stats.shards_taken += 1;
                }
                Err(error) => {
                    // Not listed in the next heartbeat: the group hands it out again.
                    tracing::warn!(shard = grant.shard, %error, "cannot start a granted shard");
                    self.shards.remove(&grant.shard);
                }
            }
        }
    }

    /// Starts a granted shard at its checkpoint, or at the start position.
    fn take_up(&self, grant: Grant) -> Result<ShardState, ClientError> {
        let checkpoint = self.client.checkpoint(grant.shard)?;
        let cursor = if checkpoint.cursor.is_empty() {
            self.client.cursor(grant.shard, &self.config.start)?
        } else {
            checkpoint.cursor.clone()
        };
        Ok(ShardState {
            lease: grant.lease,
            checkpointed: checkpoint.cursor,
            cursor,
            next_pull: Instant::now(),
            failures: 0,
        })
    }

    /// Pulls one batch from every shard that is due; whether any data came.
    fn pull_round(&mut self, stopped: &mut impl FnMut() -> bool) -> bool {
        let mut pulled = false;
        let due: Vec<u32> = self
            .shards
            .iter()
            .filter(|(_, state)| state.next_pull <= Instant::now())
            .map(|(shard, _)| *shard)
            .collect();
        for shard in due {
            if stopped() {
                break;
            }
            let Some(cursor) = self.shards.get(&shard).map(|state| state.cursor.clone()) else { continue };
            let batch = match self.client.pull(shard, &cursor, self.config.batch_groups) {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::warn!(shard, %error, "pull failed");
                    self.pause(shard);
                    continue;
                }
            };
            let groups = match batch.groups() {
                Ok(groups) => groups,
                Err(error) => {
                    tracing::warn!(shard, %error, "pull failed");
                    self.pause(shard);
                    continue;
                }
            };
            if batch.count == 0 || groups.is_empty() {
                if let Some(state) = self.shards.get_mut(&shard) {
                    state.next_pull = Instant::now() + self.config.fetch_interval;
                    // An empty answer may still move the cursor (past expired data).
                    state.cursor = batch.next_cursor;
                }
                continue;
            }
            match self.processor.process(shard, &groups) {
                Ok(()) => {
                    pulled = true;
                    self.stats.log_groups += groups.len() as u64;
                    self.stats.logs += groups.iter().map(|group| group.logs.len() as u64).sum::<u64>();
                    drop(groups);
                    self.stats.bytes += batch.raw_bytes as u64;
                    if let Some(state) = self.shards.get_mut(&shard) {
                        state.cursor = batch.next_cursor;
                        state.failures = 0;
                        state.next_pull = Instant::now();
                    }
                }
                Err(error) => {
                    self.stats.refused += 1;
                    tracing::warn!(shard, %error, "the processor refused a batch; it comes again after a pause");
                    self.pause(shard);
                }
            }
        }
        pulled
    }

    fn pause(&mut self, shard: u32) {
        if let Some(state) = self.shards.get_mut(&shard) {
            state.failures += 1;
            state.next_pull = Instant::now() + backoff(state.failures, self.config.max_backoff);
        }
    }

    fn checkpoint_all(&mut self) {
        self.last_checkpoint = Instant::now();
        for shard in self.held() {
            self.checkpoint(shard);
        }
    }

    /// Saves a shard's cursor if it moved. A refusal (`ConsumerNotMatch`) means the shard is no
    /// longer this consumer's: it is dropped.
    fn checkpoint(&mut self, shard: u32) {
        let Some(state) = self.shards.get(&shard) else { return };
        if state.cursor == state.checkpointed {
            return;
        }
        let cursor = state.cursor.clone();
        match self.client.update_checkpoint(shard, &cursor, state.lease) {
            Ok(()) => {
                self.stats.checkpoints += 1;
                if let Some(state) = self.shards.get_mut(&shard) {
                    state.checkpointed = cursor;
                }
            }
            Err(error) if error.code() == Some("ConsumerNotMatch") => {
                tracing::warn!(shard, %error, "the shard is no longer ours: dropping it");
                self.shards.remove(&shard);
                self.stats.shards_released += 1;
            }
            Err(error) => tracing::warn!(shard, %error, "checkpoint failed; it is tried again"),
        }
    }
}

fn sleep_unless_stopped(duration: Duration, stopped: &mut impl FnMut() -> bool) {
    let deadline = Instant::now() + duration;
    while !stopped() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}
