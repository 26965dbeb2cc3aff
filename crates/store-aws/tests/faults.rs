//! Faults on the AWS backend (moto), through the engine (and the API where the client's answer is
//! the point): writers racing on a shard head's conditional transaction, S3 failing past the SDK's
//! retry budget, and a process dying between the segment write and the commit.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use common::MOTO;
use logport_api::{Api, ApiConfig};
use logport_core::engine::{
    Batch, Clock, CursorFrom, Engine, LogstoreSettings, ProjectSettings, ShardTarget, SystemClock,
};
use logport_core::model::{Content, Log, LogGroup, LogGroupList};
use logport_core::store::{Condition, Item, MetaStore, ObjectStore, Query, Result, StoreError, WriteOp};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A MetaStore that counts the transactions lost to a conflicting writer.
#[derive(Debug)]
struct CountingConflicts {
    inner: Arc<dyn MetaStore>,
    conflicts: AtomicUsize,
}

#[async_trait]
impl MetaStore for CountingConflicts {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>> {
        self.inner.get(pk, sk).await
    }
    async fn put(
        &self,
        pk: &str,
        sk: &str,
        value: Vec<u8>,
        expires_at: Option<i64>,
        condition: Condition,
    ) -> Result<u64> {
        self.inner.put(pk, sk, value, expires_at, condition).await
    }
    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<()> {
        self.inner.delete(pk, sk, condition).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<()> {
        let result = self.inner.transact(ops).await;
        if matches!(result, Err(StoreError::Conflict { .. })) {
            self.conflicts.fetch_add(1, Ordering::SeqCst);
        }
        result
    }
    async fn query(&self, query: Query) -> Result<Vec<Item>> {
        self.inner.query(query).await
    }
}

/// A MetaStore whose transactions never finish: the process "dies" while committing.
#[derive(Debug)]
struct DiesInCommit {
    inner: Arc<dyn MetaStore>,
    reached: AtomicBool,
}

#[async_trait]
impl MetaStore for DiesInCommit {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>> {
        self.inner.get(pk, sk).await
    }
    async fn put(
        &self,
        pk: &str,
        sk: &str,
        value: Vec<u8>,
        expires_at: Option<i64>,
        condition: Condition,
    ) -> Result<u64> {
        self.inner.put(pk, sk, value, expires_at, condition).await
    }
    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<()> {
        self.inner.delete(pk, sk, condition).await
    }
    async fn transact(&self, _ops: Vec<WriteOp>) -> Result<()> {
        self.reached.store(true, Ordering::SeqCst);
        std::future::pending().await
    }
    async fn query(&self, query: Query) -> Result<Vec<Item>> {
        self.inner.query(query).await
    }
}

/// The system clock, moved forward.
#[derive(Debug)]
struct Later(i64);

impl Clock for Later {
    fn now(&self) -> i64 {
        SystemClock.now() + self.0
    }
}

fn group(tag: &str) -> LogGroup {
    LogGroup {
        logs: vec![Log {
            time: 1_700_000_000,
            contents: vec![Content { key: "batch".into(), value: tag.into() }],
            time_ns: None,
        }],
        topic: Some(tag.into()),
        ..Default::default()
    }
}

fn batch(tag: &str) -> Batch {
    Batch::from_protobuf(group(tag).encode_to_vec()).unwrap()
}

async fn with_logstore(engine: &Engine, shards: u32) {
    engine.create_project("proj", ProjectSettings::default()).await.unwrap();
    let settings = LogstoreSettings { shard_count: shards, ttl: 30, ..Default::default() };
    engine.create_logstore("proj", "ls", settings).await.unwrap();
}

/// The topics of every group in a shard, from the beginning, in position order.
async fn pull_all(engine: &Engine, shard: u32) -> Vec<String> {
    let mut cursor = engine.cursor("proj", "ls", shard, CursorFrom::Begin).await.unwrap();
    let mut topics = Vec::new();
    loop {
        let outcome = engine.pull_logs("proj", "ls", shard, &cursor, 100, None).await.unwrap();
        if outcome.count == 0 {
            return topics;
        }
        let list = LogGroupList::decode(outcome.list.as_slice()).unwrap();
        topics.extend(list.log_groups.into_iter().map(|group| group.topic.unwrap_or_default()));
        cursor = outcome.next_cursor;
    }
}

const WRITERS: usize = 8;
const BATCHES: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_writers_on_one_shard_lose_races_but_leave_no_gap_and_no_duplicate() {
    let Some(endpoint) = common::endpoint(MOTO) else { return };
    let store = common::connect(&endpoint, "faults-race", "").await;
    store.create_resources().await.unwrap();
    let meta = Arc::new(CountingConflicts { inner: store.meta.clone(), conflicts: AtomicUsize::new(0) });
    let engine = Arc::new(Engine::new(store.objects.clone(), meta.clone()));
    with_logstore(&engine, 1).await;

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let engine = engine.clone();
            tokio::spawn(async move {
                let mut committed = Vec::new();
                for index in 0..BATCHES {
                    let tag = format!("w{writer}-b{index}");
                    let outcome =
                        engine.put_logs("proj", "ls", ShardTarget::Shard(0), batch(&tag), None).await.unwrap();
                    committed.push((outcome.position, tag));
                }
                committed
            })
        })
        .collect();
    let mut committed = Vec::new();
    for writer in writers {
        committed.extend(writer.await.unwrap());
    }
    committed.sort();
    let positions: Vec<u64> = committed.iter().map(|(position, _)| *position).collect();
    assert_eq!(positions, (0..(WRITERS * BATCHES) as u64).collect::<Vec<_>>(), "positions without gap or repeat");
    let tags: Vec<String> = committed.into_iter().map(|(_, tag)| tag).collect();
    assert_eq!(pull_all(&engine, 0).await, tags, "each batch once, in commit order");
    // The race really happened: commits lost to another writer's conditional transaction, and
    // were retried on the new head without writing their object again.
    let conflicts = meta.conflicts.load(Ordering::SeqCst);
    assert!(conflicts > 0, "8 writers on one shard head never conflicted");
    assert_eq!(store.objects.list("proj/").await.unwrap().len(), WRITERS * BATCHES);
    eprintln!("{conflicts} conditional transaction failures, all retried");
}

/// An S3 endpoint that answers every request `500 InternalError`, counting the requests.
async fn failing_s3() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let counter = counter.clone();
            tokio::spawn(async move {
                // Read the head, then the body (when not waiting for 100-continue), then answer and close.
                let mut request = Vec::new();
                let mut buffer = [0u8; 8192];
                let head_end = loop {
                    let Ok(read) = stream.read(&mut buffer).await else { return };
                    if read == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..read]);
                    if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        break end + 4;
                    }
                };
                let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .and_then(|value| value.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if !head.contains("expect: 100-continue") {
                    while request.len() < head_end + length {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => break,
                            Ok(read) => request.extend_from_slice(&buffer[..read]),
                        }
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>\
                            <Message>We encountered an internal error. Please try again.</Message></Error>";
                let answer = format!(
                    "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/xml\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (format!("http://{address}"), requests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_put_failing_past_the_retry_budget_is_a_500_and_commits_nothing() {
    let Some(endpoint) = common::endpoint(MOTO) else { return };
    let healthy = common::connect(&endpoint, "faults-s3", "").await;
    healthy.create_resources().await.unwrap();
    let (s3, requests) = failing_s3().await;
    let broken = common::connect(&s3, "faults-s3", "").await;
    // Segments go to the failing S3; metadata to moto's DynamoDB, shared with a healthy engine.
    let engine = Arc::new(Engine::new(broken.objects.clone(), healthy.meta.clone()));
    let reference = Engine::new(healthy.objects.clone(), healthy.meta.clone());
    with_logstore(&reference, 1).await;

    let api = Api::new(engine, ApiConfig::default());
    let request = http::Request::builder()
        .method("POST")
        .uri("/logstores/ls/shards/lb")
        .header("x-log-project", "proj")
        .header("content-type", "application/json")
        .body(Bytes::from_static(br#"{"__topic__":"lost","__logs__":[{"batch":"lost"}]}"#))
        .unwrap();
    let response = api.handle(request).await;
    let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(response.status(), 500, "{body}");
    assert_eq!(body["errorCode"], "InternalServerError", "{body}");
    assert!(response.headers().contains_key("x-log-requestid"));
    // The SDK sent the put as many times as its retry budget allows (then the engine's best-effort
    // delete of the object it could not write, which fails the same way).
    let sent = requests.load(Ordering::SeqCst);
    assert!(sent >= logport_store_aws::MAX_ATTEMPTS as usize, "only {sent} requests reached S3");

    // Nothing was committed: the shard is empty and the next batch takes position 0.
    assert_eq!(
        reference.cursor("proj", "ls", 0, CursorFrom::End).await.unwrap(),
        reference.cursor("proj", "ls", 0, CursorFrom::Begin).await.unwrap()
    );
    assert!(pull_all(&reference, 0).await.is_empty());
    let next = reference.put_logs("proj", "ls", ShardTarget::Shard(0), batch("kept"), None).await.unwrap();
    assert_eq!(next.position, 0);
    assert_eq!(pull_all(&reference, 0).await, ["kept"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_segment_write_and_commit_leaves_an_orphan_that_collection_deletes() {
    let Some(endpoint) = common::endpoint(MOTO) else { return };
    let store = common::connect(&endpoint, "faults-crash", "").await;
    store.create_resources().await.unwrap();
    let engine = Engine::new(store.objects.clone(), store.meta.clone());
    with_logstore(&engine, 1).await;

    // A process writes its segment, then dies inside the commit (the task is dropped mid-await:
    // no error path runs, so nothing deletes the object).
    let dying = Arc::new(DiesInCommit { inner: store.meta.clone(), reached: AtomicBool::new(false) });
    let doomed = Arc::new(Engine::new(store.objects.clone(), dying.clone()));
    let task =
        tokio::spawn(async move { doomed.put_logs("proj", "ls", ShardTarget::Shard(0), batch("lost"), None).await });
    while !dying.reached.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    let orphan = store.objects.list("proj/").await.unwrap();
    assert_eq!(orphan.len(), 1, "the segment object was written before the commit");

    // Another batch commits normally; readers never see the orphan.
    let kept = engine.put_logs("proj", "ls", ShardTarget::Shard(0), batch("kept"), None).await.unwrap();
    assert_eq!(kept.position, 0);
    assert_eq!(pull_all(&engine, 0).await, ["kept"]);

    // Collection leaves young objects alone (a commit may still be running)...
    assert_eq!(engine.collect_orphans().await.unwrap().orphans_deleted, 0);
    assert_eq!(store.objects.list("proj/").await.unwrap().len(), 2);
    // ...and deletes the orphan once it is older than any commit can take (an hour).
    let later = Engine::new(store.objects.clone(), store.meta.clone()).with_clock(Arc::new(Later(2 * 3600)));
    let report = later.collect_orphans().await.unwrap();
    assert_eq!(report.orphans_deleted, 1);
    let left = store.objects.list("proj/").await.unwrap();
    assert_eq!(left.len(), 1);
    assert_ne!(left[0].key, orphan[0].key, "the committed segment is kept, the orphan is gone");
    assert_eq!(pull_all(&engine, 0).await, ["kept"]);
}
