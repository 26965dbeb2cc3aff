//! The shipper: rules, windows, tasks and the runs that turn them into objects.
//!
//! Closing a window is one MetaStore transaction that moves the shard's window state from
//! version `v` to `v + 1` and creates the task, so each window becomes exactly one task, with
//! any number of schedulers. Running a task first claims it (a versioned put: Running, with a
//! lease), then reads the range, encodes it and writes the object under the key its id derives
//! from, then records the outcome under the claimed version. A runner that dies mid-attempt
//! leaves a Running task whose lease expires, and the rerun overwrites the same key.

use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use logport_core::cursor;
use logport_core::engine::records::LogstoreRecord;
use logport_core::engine::scan::{ColumnBytes, SegmentRef};
use logport_core::engine::{Clock, CursorFrom, Engine, EngineError, SystemClock};
use logport_core::store::{Condition, Item, MetaStore, PutMode, Query, StoreError, WriteOp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::ShipperConfig;
use crate::target::{BucketError, Buckets};
use crate::task::{self, TaskRecord, TaskStatus, codes};
use crate::{Result, ShipperError, format, keys, partition};

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRecord {
    pub config: ShipperConfig,
    /// Random id of this creation of the name: tasks of an earlier rule with the same name are
    /// `ConfigNotExist`.
    pub generation: String,
    pub create_time: i64,
    pub last_modify_time: i64,
    /// Each shard's head when the rule was created: shipping starts there.
    pub start_positions: Vec<u64>,
}

/// A shard's open window: where the next task starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct WindowState {
    generation: String,
    next_position: u64,
}

/// Which tasks a listing returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskFilter {
    /// Creation time range, inclusive, clamped to the last 2 days.
    pub from: i64,
    pub to: i64,
    pub status: Option<TaskStatus>,
    pub offset: usize,
    pub size: usize,
}

/// One page of tasks, newest first, with counts by status over the time range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPage {
    pub tasks: Vec<TaskRecord>,
    pub total: usize,
    pub running: usize,
    pub success: usize,
    pub fail: usize,
}

/// Which tasks a manual retry covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryWhich {
    /// These ids (at most [`MAX_RETRY_IDS`]).
    Ids(Vec<String>),
    /// Every failed task of the rule.
    AllFailed,
}

/// Most task ids one retry call may name (as SLS).
pub const MAX_RETRY_IDS: usize = 10;

/// What a scheduler pass or a flush did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    pub tasks_created: u64,
    pub tasks_run: u64,
    pub tasks_succeeded: u64,
    pub tasks_failed: u64,
    pub lines_shipped: u64,
}

impl RunReport {
    fn add(&mut self, other: RunReport) {
        self.tasks_created += other.tasks_created;
        self.tasks_run += other.tasks_run;
        self.tasks_succeeded += other.tasks_succeeded;
        self.tasks_failed += other.tasks_failed;
        self.lines_shipped += other.lines_shipped;
    }
}

/// How many segment records one window measurement reads per index query.
const SEGMENTS_PER_QUERY: usize = 64;
/// How long a successful task stays listed (SLS keeps task status for 2 days).
const SUCCESS_KEPT_SECS: i64 = task::RETRY_WINDOW_SECS + 86_400;

/// The shipper of one deployment. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct Shipper {
    engine: Arc<Engine>,
    meta: Arc<dyn MetaStore>,
    buckets: Arc<dyn Buckets>,
    clock: Arc<dyn Clock>,
    /// Tasks run at once (encoding is CPU work on the blocking pool).
    parallelism: usize,
    /// Wakes the in-process loop early (a manual retry).
    wake: tokio::sync::Notify,
}

/// Segments read at once by a task.
const READS_AT_ONCE: usize = 8;

/// One segment's column blocks for a task.
pub(crate) struct Fetched {
    segment: SegmentRef,
    /// The content keys read; `None`: every key of the (whole) object's groups.
    keys: Option<Vec<String>>,
    bytes: ColumnBytes,
}

impl Fetched {
    /// Decodes the columns and picks the rows of the log groups at positions `[start, end)`.
    pub(crate) fn slice(self, start: u64, end: u64) -> Result<format::Slice, EngineError> {
        let record = &self.segment.record;
        let keys = match self.keys {
            Some(keys) => keys,
            None => {
                let ColumnBytes::Object(object) = &self.bytes else { unreachable!("read whole") };
                let mut keys: Vec<String> = Vec::new();
                for group in logport_core::engine::scan::decode_groups(record, object)? {
                    for content in group.logs.iter().flat_map(|log| &log.contents) {
                        if !keys.contains(&content.key) {
                            keys.push(content.key.clone());
                        }
                    }
                }
                keys
            }
        };
        let names: Vec<&str> = keys.iter().map(String::as_str).collect();
        let section = self.bytes.decode(record, &names)?;
        let groups = &section.groups;
        if groups.len() != record.group_sizes.len() {
            return Err(EngineError::Corrupt(format!("segment {}: columns and groups disagree", record.object_key)));
        }
        let first = start.saturating_sub(record.position).min(groups.len() as u64) as usize;
        let last = end.saturating_sub(record.position).min(groups.len() as u64) as usize;
        let rows = if first < last {
            groups[first].first_row..groups[last - 1].first_row + groups[last - 1].rows
        } else {
            0..0
        };
        Ok(format::Slice { section, keys, rows })
    }
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|error| ShipperError::Corrupt(format!("{what}: {error}")))
}

fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    serde_json::to_vec(record).expect("records serialize")
}

impl Shipper {
    /// A shipper reading from `engine`, keeping its records in `meta` (the engine's store) and
    /// writing to the buckets `buckets` resolves.
    pub fn new(engine: Arc<Engine>, meta: Arc<dyn MetaStore>, buckets: Arc<dyn Buckets>) -> Self {
        let parallelism = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self { engine, meta, buckets, clock: Arc::new(SystemClock), parallelism, wake: tokio::sync::Notify::new() }
    }

    /// Replaces the clock (tests drive windows and retries with it).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Now, by the shipper's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    // ---- rules ----

    /// CreateShipper: the rule starts at each shard's current end.
    pub async fn create_rule(&self, project: &str, logstore: &str, body: &Value) -> Result<RuleRecord> {
        let config = ShipperConfig::from_json(body, None)?;
        let record = self.engine.logstore(project, logstore).await?;
        let mut start_positions = Vec::with_capacity(record.shard_count as usize);
        for shard in 0..record.shard_count {
            start_positions.push(self.head(project, logstore, shard).await?);
        }
        let now = self.now();
        let rule = RuleRecord {
            generation: uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
            create_time: now,
            last_modify_time: now,
            start_positions,
            config,
        };
        let name = rule.config.name.clone();
        let ops = vec![
            WriteOp::Put {
                pk: keys::rules(project, logstore, &record.incarnation),
                sk: name.clone(),
                value: encode(&rule),
                expires_at: None,
                condition: Condition::Absent,
            },
            WriteOp::Put {
                pk: keys::RULE_INDEX.into(),
                sk: keys::rule_index_sk(project, logstore, &name),
                value: record.incarnation.clone().into_bytes(),
                expires_at: None,
                condition: Condition::Always,
            },
        ];
        match self.meta.transact(ops).await {
            Ok(()) => Ok(rule),
            Err(StoreError::Conflict { .. }) => Err(ShipperError::ShipperAlreadyExist(name)),
            Err(error) => Err(error.into()),
        }
    }

    async fn rule_item(&self, project: &str, logstore: &str, name: &str) -> Result<(LogstoreRecord, Item)> {
        let record = self.engine.logstore(project, logstore).await?;
        let item = self.meta.get(&keys::rules(project, logstore, &record.incarnation), name).await?;
        let item = item.ok_or_else(|| ShipperError::ShipperNotExist(name.to_owned()))?;
        Ok((record, item))
    }

    /// GetShipper.
    pub async fn rule(&self, project: &str, logstore: &str, name: &str) -> Result<RuleRecord> {
        let (_, item) = self.rule_item(project, logstore, name).await?;
        decode("shipper rule", &item.value)
    }

    /// UpdateShipper: a new configuration for the rule's next windows and attempts; windows and
    /// tasks carry on.
    pub async fn update_rule(&self, project: &str, logstore: &str, name: &str, body: &Value) -> Result<RuleRecord> {
        let config = ShipperConfig::from_json(body, Some(name))?;
        loop {
            let (record, item) = self.rule_item(project, logstore, name).await?;
            let mut rule: RuleRecord = decode("shipper rule", &item.value)?;
            rule.config = config.clone();
            rule.last_modify_time = self.now();
            let pk = keys::rules(project, logstore, &record.incarnation);
            match self.meta.put(&pk, name, encode(&rule), None, Condition::Version(item.version)).await {
                Ok(_) => return Ok(rule),
                Err(StoreError::Conflict { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// DeleteShipper: the rule and its windows go; its unfinished tasks fail with
    /// `ConfigNotExist` (their status stays listed should the name be created again).
    pub async fn delete_rule(&self, project: &str, logstore: &str, name: &str) -> Result<()> {
        let (record, _) = self.rule_item(project, logstore, name).await?;
        let incarnation = &record.incarnation;
        self.meta.delete(&keys::rules(project, logstore, incarnation), name, Condition::Always).await?;
        self.meta.delete(keys::RULE_INDEX, &keys::rule_index_sk(project, logstore, name), Condition::Always).await?;
        let windows = keys::windows(project, logstore, incarnation, name);
        for item in self.meta.query(Query::partition(windows)).await? {
            self.meta.delete(&item.pk, &item.sk, Condition::Always).await?;
        }
        let now = self.now();
        let tasks = keys::tasks(project, logstore, incarnation, name);
        for item in self.meta.query(Query::partition(tasks)).await? {
            let mut task: TaskRecord = decode("shipper task", &item.value)?;
            if task.status == TaskStatus::Success {
                continue;
            }
            task.status = TaskStatus::Fail;
            task.error_code = codes::CONFIG_NOT_EXIST.into();
            task.error_message = format!("shipper '{name}' was deleted");
            task.finish_time = now;
            task.next_attempt = None;
            // A task being run right now records its own outcome (which will be ConfigNotExist).
            let _ = self.meta.put(&item.pk, &item.sk, encode(&task), None, Condition::Version(item.version)).await;
        }
        Ok(())
    }

    /// ListShipper: names in order, `(page, total)`.
    pub async fn list_rules(
        &self,
        project: &str,
        logstore: &str,
        offset: usize,
        size: usize,
    ) -> Result<(Vec<String>, usize)> {
        let record = self.engine.logstore(project, logstore).await?;
        let items = self.meta.query(Query::partition(keys::rules(project, logstore, &record.incarnation))).await?;
        let total = items.len();
        Ok((items.into_iter().skip(offset).take(size).map(|item| item.sk).collect(), total))
    }

    // ---- tasks ----

    /// GetShipperTasks: tasks created in `[from, to]` (at most 2 days back), newest first.
    pub async fn tasks(&self, project: &str, logstore: &str, name: &str, filter: TaskFilter) -> Result<TaskPage> {
        let (record, _) = self.rule_item(project, logstore, name).await?;
        let from = filter.from.max(self.now() - task::RETRY_WINDOW_SECS);
        let query = Query::partition(keys::tasks(project, logstore, &record.incarnation, name))
            .from(std::ops::Bound::Included(keys::task_time_floor(from)))
            .to(std::ops::Bound::Excluded(keys::task_time_floor(filter.to.saturating_add(1))))
            .reversed();
        let mut page = TaskPage { tasks: Vec::new(), total: 0, running: 0, success: 0, fail: 0 };
        let mut matching = Vec::new();
        for item in self.meta.query(query).await? {
            let task: TaskRecord = decode("shipper task", &item.value)?;
            match task.status {
                TaskStatus::Running => page.running += 1,
                TaskStatus::Success => page.success += 1,
                TaskStatus::Fail => page.fail += 1,
            }
            if filter.status.is_none_or(|status| status == task.status) {
                matching.push(task);
            }
        }
        page.total = matching.len();
        page.tasks = matching.into_iter().skip(filter.offset).take(filter.size).collect();
        Ok(page)
    }

    /// One task by id.
    pub async fn task(&self, project: &str, logstore: &str, name: &str, id: &str) -> Result<TaskRecord> {
        let (record, _) = self.rule_item(project, logstore, name).await?;
        let item = self.meta.get(&keys::tasks(project, logstore, &record.incarnation, name), id).await?;
        let item = item.ok_or_else(|| ShipperError::TaskNotExist(id.to_owned()))?;
        decode("shipper task", &item.value)
    }

    /// RetryShipperTasks: makes failed tasks due now (the next scheduler pass runs them);
    /// returns how many. Naming a task that is not failed is refused, as in SLS.
    pub async fn retry(&self, project: &str, logstore: &str, name: &str, which: RetryWhich) -> Result<usize> {
        let (record, _) = self.rule_item(project, logstore, name).await?;
        let pk = keys::tasks(project, logstore, &record.incarnation, name);
        let items = match which {
            RetryWhich::Ids(ids) => {
                if ids.is_empty() || ids.len() > MAX_RETRY_IDS {
                    return Err(ShipperError::InvalidConfig(format!(
                        "a retry names 1-{MAX_RETRY_IDS} task ids, not {}",
                        ids.len()
                    )));
                }
                let mut items = Vec::new();
                for id in ids {
                    let item = self.meta.get(&pk, &id).await?.ok_or_else(|| ShipperError::TaskNotExist(id.clone()))?;
                    let task: TaskRecord = decode("shipper task", &item.value)?;
                    if task.status != TaskStatus::Fail {
                        return Err(ShipperError::InvalidConfig(format!(
                            "task '{id}' is {}; only failed tasks can be retried",
                            task.status.name()
                        )));
                    }
                    items.push(item);
                }
                items
            }
            RetryWhich::AllFailed => self.meta.query(Query::partition(pk.clone())).await?,
        };
        let now = self.now();
        let mut count = 0;
        for item in items {
            let mut task: TaskRecord = decode("shipper task", &item.value)?;
            if task.status != TaskStatus::Fail {
                continue;
            }
            task.next_attempt = Some(now);
            match self.meta.put(&item.pk, &item.sk, encode(&task), None, Condition::Version(item.version)).await {
                Ok(_) => count += 1,
                Err(StoreError::Conflict { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        self.wake.notify_one();
        Ok(count)
    }

    // ---- running ----

    /// One scheduler pass at `now`: closes every rule's due windows and runs every due task.
    /// Errors of one rule are logged and do not stop the others.
    pub async fn run_due(&self, now: i64) -> Result<RunReport> {
        let mut report = RunReport::default();
        for item in self.meta.query(Query::partition(keys::RULE_INDEX)).await? {
            let mut parts = item.sk.splitn(3, '#');
            let (Some(project), Some(logstore), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            match self.run_rule(project, logstore, name, now, false).await {
                Ok(rule_report) => report.add(rule_report),
                Err(ShipperError::ShipperNotExist(_))
                | Err(ShipperError::Engine(EngineError::LogStoreNotExist(_) | EngineError::ProjectNotExist(_))) => {
                    // The logstore (and so the rule) is gone: drop the index entry.
                    let incarnation = String::from_utf8_lossy(&item.value).into_owned();
                    if self.engine.logstore(project, logstore).await.map(|r| r.incarnation).ok() != Some(incarnation) {
                        let _ = self.meta.delete(&item.pk, &item.sk, Condition::Version(item.version)).await;
                    }
                }
                Err(error) => tracing::warn!(project, logstore, shipper = name, %error, "shipping pass failed"),
            }
        }
        Ok(report)
    }

    /// Flush now (a Logport extension): closes the rule's open windows whatever their size and
    /// age, and runs its due tasks before returning.
    pub async fn flush(&self, project: &str, logstore: &str, name: &str) -> Result<RunReport> {
        self.run_rule(project, logstore, name, self.now(), true).await
    }

    async fn run_rule(&self, project: &str, logstore: &str, name: &str, now: i64, force: bool) -> Result<RunReport> {
        let (record, item) = self.rule_item(project, logstore, name).await?;
        let rule: RuleRecord = decode("shipper rule", &item.value)?;
        let mut report = RunReport::default();
        let closings =
            (0..record.shard_count).map(|shard| self.close_windows(project, &record, &rule, shard, now, force));
        for closed in futures::future::join_all(closings).await {
            report.tasks_created += closed?;
        }
        let pk = keys::tasks(project, logstore, &record.incarnation, name);
        let due: Vec<Item> = self
            .meta
            .query(Query::partition(pk))
            .await?
            .into_iter()
            .filter(|item| {
                decode::<TaskRecord>("shipper task", &item.value)
                    .is_ok_and(|task| task.next_attempt.is_some_and(|at| at <= now))
            })
            .collect();
        let outcomes: Vec<Result<Option<TaskRecord>>> = futures::stream::iter(due)
            .map(|item| self.run_task(project, &record, item, now))
            .buffer_unordered(self.parallelism)
            .collect()
            .await;
        for outcome in outcomes {
            let Some(task) = outcome? else { continue };
            report.tasks_run += 1;
            if task.status == TaskStatus::Success {
                report.tasks_succeeded += 1;
                report.lines_shipped += task.lines;
            } else {
                report.tasks_failed += 1;
            }
        }
        Ok(report)
    }

    /// A shard's head position (its `end` cursor).
    async fn head(&self, project: &str, logstore: &str, shard: u32) -> Result<u64> {
        let end = self.engine.cursor(project, logstore, shard, CursorFrom::End).await?;
        Ok(cursor::decode(&end).map_err(EngineError::from)?)
    }

    /// Closes the shard's windows that are due (by size, by age, or all when `force`); returns
    /// how many tasks it created.
    async fn close_windows(
        &self,
        project: &str,
        record: &LogstoreRecord,
        rule: &RuleRecord,
        shard: u32,
        now: i64,
        force: bool,
    ) -> Result<u64> {
        let config = &rule.config;
        let pk = keys::windows(project, &record.name, &record.incarnation, &config.name);
        let sk = keys::shard_sk(shard);
        let mut created = 0;
        loop {
            let item = self.meta.get(&pk, &sk).await?;
            let (state, condition) = match &item {
                Some(item) => {
                    let state: WindowState = decode("shipper window", &item.value)?;
                    (state, Condition::Version(item.version))
                }
                None => (
                    WindowState {
                        generation: rule.generation.clone(),
                        next_position: rule.start_positions.get(shard as usize).copied().unwrap_or(0),
                    },
                    Condition::Absent,
                ),
            };
            let state = if state.generation == rule.generation {
                state
            } else {
                WindowState {
                    generation: rule.generation.clone(),
                    next_position: rule.start_positions.get(shard as usize).copied().unwrap_or(0),
                }
            };
            let head = self.head(project, &record.name, shard).await?;
            if head <= state.next_position {
                return Ok(created);
            }
            let window =
                self.measure(project, record, shard, state.next_position, head, config.buffer_size_bytes()).await?;
            let due = window.full
                || force
                || window.first_receive.is_none_or(|first| now >= first + i64::from(config.buffer_interval));
            if !due {
                return Ok(created);
            }
            let next = WindowState { generation: rule.generation.clone(), next_position: window.end };
            let mut ops = vec![WriteOp::Put {
                pk: pk.clone(),
                sk: sk.clone(),
                value: encode(&next),
                expires_at: None,
                condition,
            }];
            if window.bytes > 0 {
                let task = TaskRecord {
                    id: keys::task_id(now, shard),
                    shard,
                    generation: rule.generation.clone(),
                    start_position: state.next_position,
                    end_position: window.end,
                    raw_bytes: window.bytes,
                    create_time: now,
                    last_data_receive_time: window.last_receive,
                    status: TaskStatus::Running,
                    attempts: 0,
                    start_time: 0,
                    finish_time: 0,
                    next_attempt: Some(now),
                    error_code: String::new(),
                    error_message: String::new(),
                    lines: 0,
                    object_key: String::new(),
                    object_bytes: 0,
                };
                ops.push(WriteOp::Put {
                    pk: keys::tasks(project, &record.name, &record.incarnation, &config.name),
                    sk: task.id.clone(),
                    value: encode(&task),
                    expires_at: None,
                    condition: Condition::Absent,
                });
            }
            let has_task = ops.len() == 2;
            match self.meta.transact(ops).await {
                Ok(()) => created += u64::from(has_task),
                Err(StoreError::Conflict { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
            if !window.full {
                return Ok(created);
            }
        }
    }

    /// The window from `start`: up to `limit` bytes of log groups, or up to `head`.
    async fn measure(
        &self,
        project: &str,
        record: &LogstoreRecord,
        shard: u32,
        start: u64,
        head: u64,
        limit: u64,
    ) -> Result<Window> {
        let mut window = Window { end: start, bytes: 0, first_receive: None, last_receive: 0, full: false };
        loop {
            let segments =
                self.engine.segments_around(project, &record.name, shard, window.end, SEGMENTS_PER_QUERY).await?;
            let mut progressed = false;
            for segment in segments.iter().map(|s| &s.record) {
                if segment.end_position() <= window.end {
                    continue;
                }
                for (index, size) in segment.group_sizes.iter().enumerate() {
                    let position = segment.position + index as u64;
                    if position < window.end {
                        continue;
                    }
                    if position >= head {
                        return Ok(window);
                    }
                    window.bytes += u64::from(*size);
                    window.first_receive.get_or_insert(segment.receive_time);
                    window.last_receive = segment.receive_time;
                    window.end = position + 1;
                    progressed = true;
                    if window.bytes >= limit {
                        window.full = true;
                        return Ok(window);
                    }
                }
            }
            if !progressed {
                // The rest of the range was swept away by retention: skip to the head.
                window.end = window.end.max(head);
                return Ok(window);
            }
        }
    }

    /// Runs one due task; `None` when another runner holds it.
    async fn run_task(
        &self,
        project: &str,
        record: &LogstoreRecord,
        item: Item,
        now: i64,
    ) -> Result<Option<TaskRecord>> {
        let mut task: TaskRecord = decode("shipper task", &item.value)?;
        if task.next_attempt.is_none_or(|at| at > now) {
            return Ok(None);
        }
        task.status = TaskStatus::Running;
        task.attempts += 1;
        task.start_time = now;
        task.next_attempt = Some(now + task::ATTEMPT_LEASE_SECS);
        task.error_code.clear();
        task.error_message.clear();
        let claimed =
            match self.meta.put(&item.pk, &item.sk, encode(&task), None, Condition::Version(item.version)).await {
                Ok(version) => version,
                Err(StoreError::Conflict { .. }) => return Ok(None),
                Err(error) => return Err(error.into()),
            };
        let outcome = self.attempt(project, record, &task).await;
        let finish = self.now().max(now);
        task.finish_time = finish;
        let expires_at = match outcome {
            Ok((key, bytes, lines)) => {
                task.status = TaskStatus::Success;
                task.object_key = key;
                task.object_bytes = bytes;
                task.lines = lines;
                task.next_attempt = None;
                Some(task.create_time + SUCCESS_KEPT_SECS)
            }
            Err((code, message)) => {
                tracing::warn!(project, logstore = %record.name, task = %task.id, code, %message, "shipping task failed");
                task.status = TaskStatus::Fail;
                task.error_code = code.into();
                task.error_message = message;
                task.next_attempt = if code == codes::CONFIG_NOT_EXIST {
                    None
                } else {
                    task::next_retry(task.create_time, finish, task.attempts)
                };
                None
            }
        };
        match self.meta.put(&item.pk, &item.sk, encode(&task), expires_at, Condition::Version(claimed)).await {
            Ok(_) => Ok(Some(task)),
            // The lease ran out and another runner took over: its outcome stands.
            Err(StoreError::Conflict { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// One attempt: `(object key, object bytes, lines)` or `(error code, message)`.
    async fn attempt(
        &self,
        project: &str,
        record: &LogstoreRecord,
        task: &TaskRecord,
    ) -> Result<(String, u64, u64), (&'static str, String)> {
        let internal = |error: &dyn std::fmt::Display| (codes::INTERNAL, error.to_string());
        let name_of = |rule: &RuleRecord| rule.config.name.clone();
        let pk = keys::rules(project, &record.name, &record.incarnation);
        // The rule as it is now (an update applies to retries too); gone or re-created: stop.
        let Some(rule) = self.rule_of(&pk, task).await.map_err(|e| internal(&e))? else {
            return Err((codes::CONFIG_NOT_EXIST, "the shipper rule of this task no longer exists".into()));
        };
        let config = rule.config.clone();
        let key =
            partition::object_key(&config.prefix, &config.path_format, task.create_time, &task.id, config.suffix())
                .ok_or_else(|| (codes::INTERNAL, format!("pathFormat '{}' cannot be formatted", config.path_format)))?;
        let (start, end) = (task.start_position, task.end_position);
        let keys = format::content_keys(&config);
        let fetched = match self.read_columns(project, &record.name, task.shard, start, end, keys.as_deref()).await {
            Ok(fetched) => fetched,
            Err(EngineError::LogStoreNotExist(_) | EngineError::ProjectNotExist(_)) => {
                return Err((
                    codes::CONFIG_NOT_EXIST,
                    format!("the logstore of shipper '{}' no longer exists", name_of(&rule)),
                ));
            }
            Err(error) => return Err(internal(&error)),
        };
        let encoded = tokio::task::spawn_blocking(move || {
            let slices = fetched
                .into_iter()
                .map(|fetched| fetched.slice(start, end))
                .collect::<Result<Vec<_>, EngineError>>()
                .map_err(|e| e.to_string())?;
            format::encode(&config, &slices).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| internal(&e))?
        .map_err(|e| (codes::INTERNAL, e))?;
        let store =
            self.buckets.open(&rule.config.bucket, &rule.config.role_arn).await.map_err(|error| match error {
                BucketError::NoSuchBucket(message) => (codes::INVALID_BUCKET, message),
                BucketError::Unauthorized(message) => (codes::UNAUTHORIZED, message),
                other => (codes::INTERNAL, other.to_string()),
            })?;
        let size = encoded.bytes.len() as u64;
        store.put(&key, encoded.bytes.into(), PutMode::Overwrite).await.map_err(|error| match error {
            StoreError::Forbidden(message) => {
                (codes::UNAUTHORIZED, format!("writing to bucket '{}' was refused: {message}", rule.config.bucket))
            }
            StoreError::NotFound(message) => (codes::INVALID_BUCKET, message),
            // S3 answers a put into a missing bucket with 404 NoSuchBucket.
            StoreError::Backend(message) if message.contains("NoSuchBucket") => (codes::INVALID_BUCKET, message),
            other => internal(&other),
        })?;
        Ok((key, size, encoded.lines))
    }

    /// The task's rule, if it still exists and is the one that created the task.
    async fn rule_of(&self, rules_pk: &str, task: &TaskRecord) -> Result<Option<RuleRecord>> {
        for item in self.meta.query(Query::partition(rules_pk)).await? {
            let rule: RuleRecord = decode("shipper rule", &item.value)?;
            if rule.generation == task.generation {
                return Ok(Some(rule));
            }
        }
        Ok(None)
    }

    /// The column blocks of the segments holding positions `[start, end)` of a shard: the
    /// content keys `keys`, or every key of each segment (`None`).
    pub(crate) async fn read_columns(
        &self,
        project: &str,
        logstore: &str,
        shard: u32,
        start: u64,
        end: u64,
        keys: Option<&[String]>,
    ) -> Result<Vec<Fetched>, EngineError> {
        let segments = self.engine.segments_in_positions(project, logstore, shard, start, end).await?;
        let reads = segments.into_iter().map(|segment| async move {
            let keys: Option<Vec<String>> = match keys {
                Some(keys) => Some(keys.to_vec()),
                // Segments written before their record listed its keys: from the groups.
                None if segment.record.keys.is_empty() => None,
                None => Some(segment.record.keys.iter().filter(|key| !format::is_log_field(key)).cloned().collect()),
            };
            let bytes = match &keys {
                Some(keys) => {
                    let names: Vec<&str> = keys.iter().map(String::as_str).collect();
                    self.engine.column_bytes(&segment, &names).await?
                }
                None => ColumnBytes::Object(self.engine.read_object(&segment).await?),
            };
            Ok::<_, EngineError>(Fetched { segment, keys, bytes })
        });
        futures::stream::iter(reads).buffered(READS_AT_ONCE).try_collect().await
    }

    /// Runs [`Shipper::run_due`] every `every` (and soon after a manual retry) until the task
    /// is aborted: the in-process scheduler of `logport up`.
    pub fn spawn(self: Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    () = self.wake.notified() => {}
                }
                match self.run_due(self.now()).await {
                    Ok(report) if report.tasks_run > 0 || report.tasks_created > 0 => {
                        tracing::info!(
                            created = report.tasks_created,
                            run = report.tasks_run,
                            succeeded = report.tasks_succeeded,
                            failed = report.tasks_failed,
                            lines = report.lines_shipped,
                            "shipping pass"
                        );
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "shipping pass failed"),
                }
            }
        })
    }
}

/// A measured window.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// The position after its last group.
    end: u64,
    bytes: u64,
    first_receive: Option<i64>,
    last_receive: i64,
    /// Closed by size.
    full: bool,
}
