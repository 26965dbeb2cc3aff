//! The shipper over the in-memory ports, with a manual clock and a target that can refuse writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use logport_core::engine::{Batch, Clock, Engine, LogstoreSettings, ProjectSettings, ShardTarget};
use logport_core::model::{Content, Log, LogGroup};
use logport_core::store::memory::{MemoryMetaStore, MemoryObjectStore};
use logport_core::store::{MetaStore, ObjectMeta, ObjectStore, PutMode, StoreError};
use serde_json::json;

use crate::task::{TaskStatus, codes};
use crate::{BucketError, Buckets, RetryWhich, Shipper, ShipperError, TaskFilter};

const T0: i64 = 1_763_800_000;

#[derive(Debug)]
struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A bucket `good` that refuses writes while `deny` is set.
#[derive(Debug, Default)]
struct TestBuckets {
    objects: Arc<MemoryObjectStore>,
    deny: Arc<AtomicBool>,
}

#[derive(Debug)]
struct Guarded {
    inner: Arc<MemoryObjectStore>,
    deny: Arc<AtomicBool>,
}

#[async_trait]
impl ObjectStore for Guarded {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> logport_core::store::Result<()> {
        if self.deny.load(Ordering::SeqCst) {
            return Err(StoreError::Forbidden("AccessDenied".into()));
        }
        self.inner.put(key, data, mode).await
    }
    async fn get(&self, key: &str) -> logport_core::store::Result<Bytes> {
        self.inner.get(key).await
    }
    async fn get_range(&self, key: &str, range: std::ops::Range<u64>) -> logport_core::store::Result<Bytes> {
        self.inner.get_range(key, range).await
    }
    async fn list(&self, prefix: &str) -> logport_core::store::Result<Vec<ObjectMeta>> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> logport_core::store::Result<()> {
        self.inner.delete(key).await
    }
}

#[async_trait]
impl Buckets for TestBuckets {
    async fn open(&self, bucket: &str, _role: &str) -> Result<Arc<dyn ObjectStore>, BucketError> {
        if bucket != "good" {
            return Err(BucketError::NoSuchBucket(format!("bucket '{bucket}' does not exist")));
        }
        Ok(Arc::new(Guarded { inner: self.objects.clone(), deny: self.deny.clone() }))
    }
}

struct Fixture {
    engine: Arc<Engine>,
    shipper: Shipper,
    clock: Arc<ManualClock>,
    objects: Arc<MemoryObjectStore>,
    deny: Arc<AtomicBool>,
}

async fn fixture(shards: u32) -> Fixture {
    let clock = Arc::new(ManualClock(AtomicI64::new(T0)));
    let meta: Arc<dyn MetaStore> = Arc::new(MemoryMetaStore::default());
    let engine = Arc::new(Engine::new(Arc::new(MemoryObjectStore::default()), meta.clone()).with_clock(clock.clone()));
    engine.create_project("proj", ProjectSettings::default()).await.unwrap();
    let settings = LogstoreSettings { shard_count: shards, ..Default::default() };
    engine.create_logstore("proj", "web", settings).await.unwrap();
    let buckets = TestBuckets::default();
    let (objects, deny) = (buckets.objects.clone(), buckets.deny.clone());
    let shipper = Shipper::new(engine.clone(), meta, Arc::new(buckets)).with_clock(clock.clone());
    Fixture { engine, shipper, clock, objects, deny }
}

fn group(tag: &str, logs: usize) -> LogGroup {
    LogGroup {
        logs: (0..logs)
            .map(|i| Log {
                time: T0 as u32,
                contents: vec![
                    Content { key: "tag".into(), value: tag.into() },
                    Content { key: "i".into(), value: i.to_string() },
                    Content { key: "pad".into(), value: "x".repeat(100) },
                ],
                time_ns: None,
            })
            .collect(),
        topic: Some("t".into()),
        source: Some("s".into()),
        ..Default::default()
    }
}

async fn put(f: &Fixture, shard: u32, tag: &str, logs: usize) {
    let batch = Batch::from_groups(&[group(tag, logs)]).unwrap();
    f.engine.put_logs("proj", "web", ShardTarget::Shard(shard), batch, None).await.unwrap();
}

fn rule(name: &str, bucket: &str, size_mb: u32) -> serde_json::Value {
    json!({"shipperName": name, "targetType": "oss", "targetConfiguration": {
        "ossBucket": bucket, "ossPrefix": "out", "bufferInterval": 300, "bufferSize": size_mb,
        "compressType": "none", "storage": {"format": "json"}}})
}

impl Fixture {
    fn advance(&self, seconds: i64) -> i64 {
        self.clock.0.fetch_add(seconds, Ordering::SeqCst) + seconds
    }

    /// Every shipped line, from every object.
    async fn shipped_lines(&self) -> Vec<serde_json::Value> {
        let mut lines = Vec::new();
        for object in self.objects.list("").await.unwrap() {
            let bytes = self.objects.get(&object.key).await.unwrap();
            for line in std::str::from_utf8(&bytes).unwrap().lines() {
                lines.push(serde_json::from_str(line).unwrap());
            }
        }
        lines
    }

    async fn all_tasks(&self, name: &str) -> Vec<crate::TaskRecord> {
        let filter = TaskFilter { from: 0, to: i64::MAX / 2, status: None, offset: 0, size: 1000 };
        self.shipper.tasks("proj", "web", name, filter).await.unwrap().tasks
    }
}

#[tokio::test]
async fn windows_close_by_interval_and_ship_each_log_once() {
    let f = fixture(2).await;
    put(&f, 0, "before-rule", 3).await;
    f.shipper.create_rule("proj", "web", &rule("ship", "good", 5)).await.unwrap();
    put(&f, 0, "a", 10).await;
    put(&f, 1, "b", 5).await;
    // Not due yet: the interval has not passed and the size is far below 5 MB.
    let report = f.shipper.run_due(f.advance(299)).await.unwrap();
    assert_eq!(report.tasks_created, 0);
    let report = f.shipper.run_due(f.advance(1)).await.unwrap();
    assert_eq!((report.tasks_created, report.tasks_succeeded, report.lines_shipped), (2, 2, 15));
    // Nothing new: nothing more to ship.
    let report = f.shipper.run_due(f.advance(600)).await.unwrap();
    assert_eq!(report.tasks_created + report.tasks_run, 0);
    let lines = f.shipped_lines().await;
    assert_eq!(lines.len(), 15, "data from before the rule is not shipped");
    assert!(lines.iter().all(|line| line["__topic__"] == "t" && line["__time__"] == T0));
    let keys: Vec<String> = f.objects.list("").await.unwrap().into_iter().map(|o| o.key).collect();
    let partition = crate::partition::render("%Y/%m/%d/%H/%M", T0 + 300).unwrap();
    assert!(keys.iter().all(|key| key.starts_with(&format!("out/{partition}_"))), "{keys:?}");
    let tasks = f.all_tasks("ship").await;
    assert_eq!(tasks.len(), 2);
    assert!(tasks.iter().all(|t| t.status == TaskStatus::Success && t.attempts == 1 && t.finish_time == T0 + 300));
}

#[tokio::test]
async fn windows_close_by_size_before_the_interval() {
    let f = fixture(1).await;
    f.shipper.create_rule("proj", "web", &rule("ship", "good", 5)).await.unwrap();
    // ~128 bytes per log: a group of 15,000 logs is ~1.9 MB; the third crosses 5 MiB.
    for tag in ["a", "b", "c", "d"] {
        put(&f, 0, tag, 15_000).await;
    }
    let report = f.shipper.run_due(f.advance(10)).await.unwrap();
    assert_eq!(report.tasks_created, 1, "one full window; the rest waits for the interval");
    assert_eq!(report.lines_shipped, 45_000, "up to the group that reaches the size");
    let report = f.shipper.run_due(f.advance(300)).await.unwrap();
    assert_eq!((report.tasks_created, report.lines_shipped), (1, 15_000));
    assert_eq!(f.shipped_lines().await.len(), 60_000);
}

#[tokio::test]
async fn flush_ships_at_once() {
    let f = fixture(2).await;
    f.shipper.create_rule("proj", "web", &rule("ship", "good", 256)).await.unwrap();
    put(&f, 1, "now", 4).await;
    let report = f.shipper.flush("proj", "web", "ship").await.unwrap();
    assert_eq!((report.tasks_created, report.tasks_succeeded, report.lines_shipped), (1, 1, 4));
    assert_eq!(f.shipper.flush("proj", "web", "ship").await.unwrap().tasks_created, 0);
}

#[tokio::test]
async fn refused_writes_fail_retry_on_schedule_and_succeed_once_fixed() {
    let f = fixture(1).await;
    f.shipper.create_rule("proj", "web", &rule("ship", "good", 256)).await.unwrap();
    put(&f, 0, "x", 7).await;
    f.deny.store(true, Ordering::SeqCst);
    let report = f.shipper.flush("proj", "web", "ship").await.unwrap();
    assert_eq!(report.tasks_failed, 1);
    let task = f.all_tasks("ship").await.remove(0);
    assert_eq!((task.status, task.error_code.as_str()), (TaskStatus::Fail, codes::UNAUTHORIZED));
    assert_eq!(task.next_attempt, Some(T0 + 15 * 60));

    // Retried at +15 min (still refused), then at +30 min after that.
    assert_eq!(f.shipper.run_due(f.advance(15 * 60 - 1)).await.unwrap().tasks_run, 0);
    assert_eq!(f.shipper.run_due(f.advance(1)).await.unwrap().tasks_failed, 1);
    let task = f.all_tasks("ship").await.remove(0);
    assert_eq!((task.attempts, task.next_attempt), (2, Some(T0 + 45 * 60)));
    f.deny.store(false, Ordering::SeqCst);
    assert_eq!(f.shipper.run_due(f.advance(30 * 60 - 1)).await.unwrap().tasks_run, 0);
    let report = f.shipper.run_due(f.advance(1)).await.unwrap();
    assert_eq!((report.tasks_succeeded, report.lines_shipped), (1, 7));
    let task = f.all_tasks("ship").await.remove(0);
    assert_eq!((task.status, task.attempts, task.error_code.as_str()), (TaskStatus::Success, 3, ""));
    assert_eq!(f.shipped_lines().await.len(), 7, "shipped once");
    assert_eq!(f.shipper.run_due(f.advance(3600)).await.unwrap().tasks_run, 0);
}

#[tokio::test]
async fn manual_retry_and_missing_bucket() {
    let f = fixture(1).await;
    f.shipper.create_rule("proj", "web", &rule("ship", "no-such-bucket", 256)).await.unwrap();
    put(&f, 0, "x", 2).await;
    f.shipper.flush("proj", "web", "ship").await.unwrap();
    let task = f.all_tasks("ship").await.remove(0);
    assert_eq!(task.error_code, codes::INVALID_BUCKET);
    // Fix the rule, retry by id: due now.
    f.shipper.update_rule("proj", "web", "ship", &rule("ship", "good", 256)).await.unwrap();
    let retried = f.shipper.retry("proj", "web", "ship", RetryWhich::Ids(vec![task.id.clone()])).await.unwrap();
    assert_eq!(retried, 1);
    let report = f.shipper.run_due(f.now_plus(0)).await.unwrap();
    assert_eq!(report.tasks_succeeded, 1);
    // Only failed tasks can be retried; unknown ids and more than 10 are refused.
    let again = f.shipper.retry("proj", "web", "ship", RetryWhich::Ids(vec![task.id.clone()])).await;
    assert!(matches!(again, Err(ShipperError::InvalidConfig(_))));
    let unknown = f.shipper.retry("proj", "web", "ship", RetryWhich::Ids(vec!["nope".into()])).await;
    assert!(matches!(unknown, Err(ShipperError::TaskNotExist(_))));
    let many = f.shipper.retry("proj", "web", "ship", RetryWhich::Ids(vec!["a".into(); 11])).await;
    assert!(matches!(many, Err(ShipperError::InvalidConfig(_))));
    assert_eq!(f.shipper.retry("proj", "web", "ship", RetryWhich::AllFailed).await.unwrap(), 0);
}

#[tokio::test]
async fn a_deleted_rule_leaves_its_tasks_config_not_exist() {
    let f = fixture(1).await;
    f.shipper.create_rule("proj", "web", &rule("ship", "good", 256)).await.unwrap();
    put(&f, 0, "x", 2).await;
    f.deny.store(true, Ordering::SeqCst);
    f.shipper.flush("proj", "web", "ship").await.unwrap();
    f.deny.store(false, Ordering::SeqCst);
    f.shipper.delete_rule("proj", "web", "ship").await.unwrap();
    assert!(matches!(f.shipper.rule("proj", "web", "ship").await, Err(ShipperError::ShipperNotExist(_))));
    // The same name again: the old task is listed, failed with ConfigNotExist, never retried.
    f.shipper.create_rule("proj", "web", &rule("ship", "good", 256)).await.unwrap();
    let task = f.all_tasks("ship").await.remove(0);
    assert_eq!(
        (task.status, task.error_code.as_str(), task.next_attempt),
        (TaskStatus::Fail, codes::CONFIG_NOT_EXIST, None)
    );
    // A retried old task meets the new rule's generation: ConfigNotExist again, nothing shipped.
    f.shipper.retry("proj", "web", "ship", RetryWhich::AllFailed).await.unwrap();
    let report = f.shipper.run_due(f.now_plus(0)).await.unwrap();
    assert_eq!((report.tasks_failed, report.tasks_succeeded), (1, 0));
    assert!(f.shipped_lines().await.is_empty());
    let task = f.all_tasks("ship").await.remove(0);
    assert_eq!(task.error_code, codes::CONFIG_NOT_EXIST);
}

#[tokio::test]
async fn rules_are_validated_and_listed() {
    let f = fixture(1).await;
    let bad = f.shipper.create_rule("proj", "web", &rule("x", "good", 256)).await;
    assert!(matches!(bad, Err(ShipperError::InvalidConfig(_))));
    f.shipper.create_rule("proj", "web", &rule("one", "good", 256)).await.unwrap();
    f.shipper.create_rule("proj", "web", &rule("two", "good", 256)).await.unwrap();
    let again = f.shipper.create_rule("proj", "web", &rule("one", "good", 256)).await;
    assert!(matches!(again, Err(ShipperError::ShipperAlreadyExist(_))));
    assert_eq!(f.shipper.list_rules("proj", "web", 0, 10).await.unwrap(), (vec!["one".into(), "two".into()], 2));
    let missing = f.shipper.create_rule("proj", "nope", &rule("three", "good", 256)).await;
    assert!(matches!(missing, Err(ShipperError::Engine(_))));
}

impl Fixture {
    fn now_plus(&self, seconds: i64) -> i64 {
        self.clock.now() + seconds
    }
}

#[tokio::test]
async fn a_task_reads_exactly_the_groups_of_its_positions() {
    let f = fixture(1).await;
    // One segment of three groups (positions 0-2), then one of one group (position 3).
    let groups = [group("a", 2), group("b", 3), group("c", 4)];
    let batch = Batch::from_groups(&groups).unwrap();
    f.engine.put_logs("proj", "web", ShardTarget::Shard(0), batch, None).await.unwrap();
    put(&f, 0, "d", 5).await;
    let keys = ["tag".to_owned(), "i".to_owned()];
    for (start, end, expected) in [
        (0, 4, "aabbbccccddddd"),
        (1, 2, "bbb"),
        (1, 4, "bbbccccddddd"),
        (2, 3, "cccc"),
        (3, 4, "ddddd"),
        (0, 1, "aa"),
        (4, 4, ""),
    ] {
        for keys in [Some(&keys[..]), None] {
            let fetched = f.shipper.read_columns("proj", "web", 0, start, end, keys).await.unwrap();
            let mut tags = String::new();
            for fetched in fetched {
                let slice = fetched.slice(start, end).unwrap();
                for row in slice.rows.clone() {
                    tags.push_str(slice.section.columns["tag"].get(row as usize).unwrap());
                }
            }
            assert_eq!(tags, expected, "positions {start}..{end}");
        }
    }
}
