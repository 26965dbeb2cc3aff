//! The shipper on `logport up`'s embedded store (SQLite + files) shipping to a directory bucket,
//! with an injected clock: a bucket directory that refuses writes makes the task fail with
//! `Unauthorized`; it is retried on schedule (15, then 30 minutes later) and succeeds once the
//! directory accepts writes again, with the rows shipped exactly once.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use logport_core::engine::{Batch, Clock, Engine, LogstoreSettings, ProjectSettings, ShardTarget};
use logport_core::model::{Content, Log, LogGroup};
use logport_shipper::{DirectoryBuckets, Shipper, TaskFilter, TaskStatus};
use logport_store_local::LocalStore;
use serde_json::json;

#[derive(Debug)]
struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Makes `dir` refuse new entries, even for root (immutable attribute), until dropped.
struct DenyWrites(PathBuf);

impl DenyWrites {
    fn new(dir: &Path) -> Self {
        let run = |program: &str, args: &[&str]| {
            std::process::Command::new(program).args(args).arg(dir).status().is_ok_and(|status| status.success())
        };
        run("chmod", &["0555"]);
        let probe = dir.join("probe");
        if std::fs::write(&probe, b"x").is_ok() {
            std::fs::remove_file(&probe).unwrap();
            assert!(run("chattr", &["+i"]), "cannot make {} refuse writes", dir.display());
            assert!(std::fs::write(&probe, b"x").is_err());
        }
        Self(dir.to_owned())
    }
}

impl Drop for DenyWrites {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr").arg("-i").arg(&self.0).status();
        let _ = std::process::Command::new("chmod").arg("0755").arg(&self.0).status();
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_writes_are_retried_on_schedule_until_they_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = 1_763_800_000;
    let clock = Arc::new(ManualClock(AtomicI64::new(t0)));
    let store = LocalStore::open(&dir.path().join("data")).unwrap();
    let meta = store.meta.clone();
    let engine = Arc::new(Engine::new(store.objects, store.meta).with_clock(clock.clone()));
    engine.create_project("proj", ProjectSettings::default()).await.unwrap();
    engine.create_logstore("proj", "web", LogstoreSettings { shard_count: 1, ..Default::default() }).await.unwrap();
    let buckets = dir.path().join("buckets");
    let bucket = buckets.join("archive");
    std::fs::create_dir_all(&bucket).unwrap();
    let shipper =
        Shipper::new(engine.clone(), meta, Arc::new(DirectoryBuckets::new(&buckets))).with_clock(clock.clone());
    let rule = json!({"shipperName": "nightly", "targetConfiguration": {"ossBucket": "archive", "ossPrefix": "web",
        "bufferInterval": 300, "compressType": "none", "storage": {"format": "json"}}});
    shipper.create_rule("proj", "web", &rule).await.unwrap();
    let group = LogGroup {
        logs: (0..25)
            .map(|i| Log {
                time: t0 as u32,
                contents: vec![Content { key: "n".into(), value: i.to_string() }],
                time_ns: None,
            })
            .collect(),
        ..Default::default()
    };
    engine.put_logs("proj", "web", ShardTarget::Shard(0), Batch::from_groups(&[group]).unwrap(), None).await.unwrap();

    let guard = DenyWrites::new(&bucket);
    let at = |offset: i64| {
        clock.0.store(t0 + offset, Ordering::SeqCst);
        t0 + offset
    };
    // The window closes at +300 s; writing is refused.
    assert_eq!(shipper.run_due(at(300)).await.unwrap().tasks_failed, 1);
    let failed = list(&shipper).await;
    assert_eq!((failed.status, failed.error_code.as_str()), (TaskStatus::Fail, "Unauthorized"), "{failed:?}");
    assert_eq!(failed.next_attempt, Some(t0 + 300 + 15 * 60));
    assert_eq!(shipper.run_due(at(300 + 15 * 60 - 1)).await.unwrap().tasks_run, 0, "not before 15 minutes");
    assert_eq!(shipper.run_due(at(300 + 15 * 60)).await.unwrap().tasks_failed, 1);
    assert_eq!(list(&shipper).await.next_attempt, Some(t0 + 300 + 45 * 60), "then 30 minutes");
    drop(guard);
    assert_eq!(shipper.run_due(at(300 + 45 * 60 - 1)).await.unwrap().tasks_run, 0);
    let report = shipper.run_due(at(300 + 45 * 60)).await.unwrap();
    assert_eq!((report.tasks_succeeded, report.lines_shipped), (1, 25));
    let done = list(&shipper).await;
    assert_eq!((done.status, done.attempts), (TaskStatus::Success, 3));
    let files = files_under(&bucket);
    assert_eq!(files.len(), 1, "{files:?}");
    let mut seen: Vec<u32> = std::fs::read_to_string(&files[0])
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["n"].as_str().unwrap().parse().unwrap())
        .collect();
    seen.sort();
    assert_eq!(seen, (0..25).collect::<Vec<_>>());
    assert_eq!(shipper.run_due(at(10 * 3600)).await.unwrap().tasks_run, 0);
}

async fn list(shipper: &Shipper) -> logport_shipper::TaskRecord {
    let filter = TaskFilter { from: 0, to: i64::MAX / 2, status: None, offset: 0, size: 10 };
    let mut page = shipper.tasks("proj", "web", "nightly", filter).await.unwrap();
    assert_eq!(page.tasks.len(), 1);
    page.tasks.remove(0)
}
