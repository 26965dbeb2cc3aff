//! Engine behaviour over the in-memory ports.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use futures_executor::block_on;
use prost::Message;

use super::*;
use crate::model::{Content, Log, LogGroup, LogGroupList};
use crate::store::memory::{MemoryMetaStore, MemoryObjectStore};

#[derive(Debug)]
struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

struct Fixture {
    engine: Engine,
    clock: Arc<ManualClock>,
    objects: Arc<MemoryObjectStore>,
}

fn fixture(shards: u32, ttl: u32) -> Fixture {
    let clock = Arc::new(ManualClock(AtomicI64::new(1_700_000_000)));
    let objects = Arc::new(MemoryObjectStore::default());
    let engine = Engine::new(objects.clone(), Arc::new(MemoryMetaStore::default())).with_clock(clock.clone());
    block_on(async {
        engine.create_project("proj", ProjectSettings::default()).await.unwrap();
        let settings = LogstoreSettings { shard_count: shards, ttl, ..Default::default() };
        engine.create_logstore("proj", "store", settings).await.unwrap();
    });
    Fixture { engine, clock, objects }
}

fn group(tag: &str, logs: usize) -> LogGroup {
    LogGroup {
        logs: (0..logs)
            .map(|i| Log {
                time: 1_700_000_000 + i as u32,
                contents: vec![Content { key: "msg".into(), value: format!("{tag}-{i}") }],
                time_ns: None,
            })
            .collect(),
        topic: Some(tag.into()),
        ..Default::default()
    }
}

fn put(f: &Fixture, target: ShardTarget, tag: &str) -> PutOutcome {
    let batch = Batch::from_protobuf(group(tag, 3).encode_to_vec()).unwrap();
    block_on(f.engine.put_logs("proj", "store", target, batch, None)).unwrap()
}

fn pull_topics(f: &Fixture, shard: u32, cursor: &str, count: usize, end: Option<&str>) -> (Vec<String>, String) {
    let outcome = block_on(f.engine.pull_logs("proj", "store", shard, cursor, count, end)).unwrap();
    let list = LogGroupList::decode(outcome.list.as_slice()).unwrap();
    assert_eq!(list.log_groups.len(), outcome.count);
    (list.log_groups.into_iter().map(|g| g.topic.unwrap_or_default()).collect(), outcome.next_cursor)
}

fn cursor(f: &Fixture, shard: u32, from: CursorFrom) -> String {
    block_on(f.engine.cursor("proj", "store", shard, from)).unwrap()
}

#[test]
fn projects_and_logstores_have_sls_errors() {
    let f = fixture(2, 30);
    let engine = &f.engine;
    block_on(async {
        assert!(matches!(
            engine.create_project("proj", ProjectSettings::default()).await,
            Err(EngineError::ProjectAlreadyExist(_))
        ));
        assert!(matches!(
            engine.create_project("../x", ProjectSettings::default()).await,
            Err(EngineError::InvalidName(_))
        ));
        assert!(matches!(engine.project("nope").await, Err(EngineError::ProjectNotExist(_))));
        assert!(matches!(engine.logstore("proj", "nope").await, Err(EngineError::LogStoreNotExist(_))));
        assert!(matches!(engine.logstore("nope", "store").await, Err(EngineError::ProjectNotExist(_))));
        let dup = engine.create_logstore("proj", "store", LogstoreSettings::default()).await;
        assert!(matches!(dup, Err(EngineError::LogStoreAlreadyExist(_))));
        let zero = LogstoreSettings { shard_count: 0, ..Default::default() };
        assert!(matches!(engine.create_logstore("proj", "other", zero).await, Err(EngineError::ParameterInvalid(_))));
        engine.create_logstore("proj", "second", LogstoreSettings::default()).await.unwrap();
        assert_eq!(engine.list_logstores("proj", 0, 100).await.unwrap(), (vec!["second".into(), "store".into()], 2));
        assert_eq!(engine.list_logstores("proj", 1, 1).await.unwrap(), (vec!["store".into()], 2));
        let updated =
            engine.update_logstore("proj", "second", LogstoreSettings { ttl: 7, ..Default::default() }).await.unwrap();
        assert_eq!(updated.ttl, 7);
        engine.delete_logstore("proj", "second").await.unwrap();
        assert!(matches!(engine.logstore("proj", "second").await, Err(EngineError::LogStoreNotExist(_))));
        engine.update_project("proj", ProjectSettings { description: "d".into() }).await.unwrap();
        assert_eq!(engine.project("proj").await.unwrap().description, "d");
        let (projects, total) = engine.list_projects(0, 10).await.unwrap();
        assert_eq!((projects.len(), total), (1, 1));
    });
}

#[test]
fn put_then_pull_returns_the_same_bytes_in_order() {
    let f = fixture(1, 30);
    let original = group("a", 5);
    let bytes = original.encode_to_vec();
    let batch = Batch::from_protobuf(bytes.clone()).unwrap();
    let outcome = block_on(f.engine.put_logs("proj", "store", ShardTarget::Balanced, batch, None)).unwrap();
    assert_eq!((outcome.shard, outcome.position, outcome.duplicate), (0, 0, false));
    for tag in ["b", "c", "d"] {
        put(&f, ShardTarget::Shard(0), tag);
    }
    let begin = cursor(&f, 0, CursorFrom::Begin);
    let pulled = block_on(f.engine.pull_logs("proj", "store", 0, &begin, 1, None)).unwrap();
    let list = LogGroupList::decode(pulled.list.as_slice()).unwrap();
    assert_eq!(list.log_groups, vec![original]);

    let (topics, next) = pull_topics(&f, 0, &begin, 100, None);
    assert_eq!(topics, ["a", "b", "c", "d"]);
    assert_eq!(next, cursor(&f, 0, CursorFrom::End));
    // At the end: nothing, and the same cursor back.
    let (topics, again) = pull_topics(&f, 0, &next, 100, None);
    assert!(topics.is_empty());
    assert_eq!(again, next);
    // Paging by count.
    let (topics, next) = pull_topics(&f, 0, &begin, 3, None);
    assert_eq!(topics, ["a", "b", "c"]);
    assert_eq!(pull_topics(&f, 0, &next, 3, None).0, ["d"]);
}

#[test]
fn end_cursor_is_returned_exactly() {
    let f = fixture(1, 30);
    for tag in ["a", "b", "c", "d", "e"] {
        put(&f, ShardTarget::Shard(0), tag);
    }
    let begin = cursor(&f, 0, CursorFrom::Begin);
    let end = crate::cursor::encode(3);
    let (topics, next) = pull_topics(&f, 0, &begin, 2, Some(&end));
    assert_eq!((topics, next.clone()), (vec!["a".to_string(), "b".to_string()], crate::cursor::encode(2)));
    let (topics, next) = pull_topics(&f, 0, &next, 100, Some(&end));
    assert_eq!((topics, next.clone()), (vec!["c".to_string()], end.clone()));
    let (topics, next) = pull_topics(&f, 0, &next, 100, Some(&end));
    assert_eq!((topics.len(), next), (0, end));
}

#[test]
fn cursors_by_time_and_their_times() {
    let f = fixture(1, 30);
    put(&f, ShardTarget::Shard(0), "t0");
    f.clock.0.fetch_add(100, Ordering::SeqCst);
    put(&f, ShardTarget::Shard(0), "t100");
    f.clock.0.fetch_add(100, Ordering::SeqCst);
    put(&f, ShardTarget::Shard(0), "t200");
    let start = 1_700_000_000;
    assert_eq!(pull_topics(&f, 0, &cursor(&f, 0, CursorFrom::Time(start + 50)), 10, None).0, ["t100", "t200"]);
    assert_eq!(pull_topics(&f, 0, &cursor(&f, 0, CursorFrom::Time(start + 100)), 10, None).0, ["t100", "t200"]);
    assert_eq!(cursor(&f, 0, CursorFrom::Time(start + 201)), cursor(&f, 0, CursorFrom::End));
    assert_eq!(cursor(&f, 0, CursorFrom::Time(0)), cursor(&f, 0, CursorFrom::Begin));
    let at = |c: &str| block_on(f.engine.cursor_time("proj", "store", 0, c)).unwrap();
    assert_eq!(at(&crate::cursor::encode(1)), start + 100);
    assert_eq!(at(&cursor(&f, 0, CursorFrom::End)), start + 200);
    assert!(matches!(block_on(f.engine.cursor_time("proj", "store", 0, "bad!")), Err(EngineError::InvalidCursor(_))));
    let past = crate::cursor::encode(99);
    assert!(matches!(block_on(f.engine.cursor_time("proj", "store", 0, &past)), Err(EngineError::CursorOutOfRange(_))));
    assert!(matches!(
        block_on(f.engine.pull_logs("proj", "store", 0, &past, 1, None)),
        Err(EngineError::CursorOutOfRange(_))
    ));
    assert!(matches!(
        block_on(f.engine.cursor("proj", "store", 1, CursorFrom::End)),
        Err(EngineError::ShardNotExist(1))
    ));
}

#[test]
fn routing_by_hash_key_and_balancing() {
    let f = fixture(2, 30);
    assert_eq!(put(&f, ShardTarget::HashKey("00000000000000000000000000000001".into()), "x").shard, 0);
    assert_eq!(put(&f, ShardTarget::HashKey("ffffffffffffffffffffffffffffffff".into()), "y").shard, 1);
    let shards: Vec<u32> = (0..4).map(|_| put(&f, ShardTarget::Balanced, "z").shard).collect();
    assert_eq!(shards.iter().filter(|s| **s == 0).count(), 2);
    let batch = Batch::from_protobuf(group("q", 1).encode_to_vec()).unwrap();
    let missing = block_on(f.engine.put_logs("proj", "store", ShardTarget::Shard(2), batch, None));
    assert!(matches!(missing, Err(EngineError::ShardNotExist(2))));
}

#[test]
fn idempotency_key_never_doubles_a_batch() {
    let f = fixture(1, 30);
    let send = |key: &str| {
        let batch = Batch::from_protobuf(group("once", 2).encode_to_vec()).unwrap();
        block_on(f.engine.put_logs("proj", "store", ShardTarget::Balanced, batch, Some(key))).unwrap()
    };
    let first = send("req-1");
    let retry = send("req-1");
    assert!(!first.duplicate && retry.duplicate);
    assert_eq!((first.shard, first.position), (retry.shard, retry.position));
    assert!(!send("req-2").duplicate);
    assert_eq!(pull_topics(&f, 0, &cursor(&f, 0, CursorFrom::Begin), 10, None).0.len(), 2);
    assert_eq!(block_on(f.objects.list("proj/")).unwrap().len(), 2, "the retry's object is not kept");
    // After the window, the key may be used again.
    f.clock.0.fetch_add(records::IDEMPOTENCY_WINDOW_SECS + 1, Ordering::SeqCst);
    assert!(!send("req-1").duplicate);
    let bad = Batch::from_protobuf(group("x", 1).encode_to_vec()).unwrap();
    let refused = block_on(f.engine.put_logs("proj", "store", ShardTarget::Balanced, bad, Some("has space")));
    assert!(matches!(refused, Err(EngineError::ParameterInvalid(_))));
}

#[test]
fn concurrent_writers_get_distinct_gapless_positions() {
    let f = fixture(1, 30);
    let puts = (0..64).map(|i| {
        let batch = Batch::from_protobuf(group(&format!("w{i}"), 1).encode_to_vec()).unwrap();
        let key = format!("k{}", i % 48);
        let engine = &f.engine;
        async move { engine.put_logs("proj", "store", ShardTarget::Shard(0), batch, Some(&key)).await.unwrap() }
    });
    let outcomes = block_on(futures_join_all(puts));
    let mut positions: Vec<u64> = outcomes.iter().filter(|o| !o.duplicate).map(|o| o.position).collect();
    positions.sort_unstable();
    assert_eq!(positions, (0..48).collect::<Vec<u64>>());
    assert_eq!(pull_topics(&f, 0, &cursor(&f, 0, CursorFrom::Begin), 1000, None).0.len(), 48);
}

/// A tiny join_all (the memory store never suspends, so these run one after another; the real
/// races run in the store conformance suites and the HTTP concurrency test).
async fn futures_join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut outputs = Vec::new();
    for future in futures {
        outputs.push(future.await);
    }
    outputs
}

#[test]
fn expired_segments_become_unreadable_then_deleted() {
    let f = fixture(1, 1);
    put(&f, ShardTarget::Shard(0), "old");
    f.clock.0.fetch_add(86_400 - 10, Ordering::SeqCst);
    put(&f, ShardTarget::Shard(0), "new");
    let old_cursor = crate::cursor::encode(0);
    assert_eq!(pull_topics(&f, 0, &old_cursor, 10, None).0, ["old", "new"]);
    f.clock.0.fetch_add(20, Ordering::SeqCst);
    // Before any sweep, the expired segment is already invisible.
    assert_eq!(pull_topics(&f, 0, &old_cursor, 10, None).0, ["new"]);
    assert_eq!(cursor(&f, 0, CursorFrom::Begin), crate::cursor::encode(1));
    let report = block_on(f.engine.sweep_expired()).unwrap();
    assert_eq!(report.segments_deleted, 1);
    assert_eq!(block_on(f.objects.list("proj/")).unwrap().len(), 1);
    assert_eq!(pull_topics(&f, 0, &old_cursor, 10, None).0, ["new"]);
    assert_eq!(block_on(f.engine.sweep_expired()).unwrap().segments_deleted, 0);
}

#[test]
fn orphans_are_collected_and_recreated_logstores_start_empty() {
    let f = fixture(1, 30);
    put(&f, ShardTarget::Shard(0), "kept");
    let record = block_on(f.engine.logstore("proj", "store")).unwrap();
    let orphan = keys::segment_object("proj", "store", &record.incarnation, 0, 1_700_000_000 - 7200, "deadbeef");
    block_on(f.objects.put(&orphan, bytes::Bytes::from_static(b"x"), crate::store::PutMode::Create)).unwrap();
    assert_eq!(block_on(f.engine.collect_orphans()).unwrap().orphans_deleted, 1);
    assert_eq!(pull_topics(&f, 0, &cursor(&f, 0, CursorFrom::Begin), 10, None).0, ["kept"]);

    block_on(f.engine.delete_logstore("proj", "store")).unwrap();
    assert!(block_on(f.objects.list("proj/")).unwrap().is_empty());
    block_on(f.engine.create_logstore("proj", "store", LogstoreSettings { shard_count: 1, ..Default::default() }))
        .unwrap();
    assert_eq!(cursor(&f, 0, CursorFrom::End), crate::cursor::encode(0));
    block_on(f.engine.delete_project("proj")).unwrap();
    assert!(matches!(block_on(f.engine.project("proj")), Err(EngineError::ProjectNotExist(_))));
}

#[test]
fn orphan_collection_runs_at_most_once_per_interval_across_engines() {
    let f = fixture(1, 30);
    put(&f, ShardTarget::Shard(0), "kept");
    let record = block_on(f.engine.logstore("proj", "store")).unwrap();
    let orphan = |n: i64| {
        let key = keys::segment_object("proj", "store", &record.incarnation, 0, 1_700_000_000 - 7200 + n, "0rphan");
        block_on(f.objects.put(&key, bytes::Bytes::from_static(b"x"), crate::store::PutMode::Create)).unwrap();
    };
    orphan(0);
    // Two stateless invocations over the same store (as two Lambda instances are).
    let other = Engine::new(f.objects.clone(), f.engine.meta.clone()).with_clock(f.clock.clone());
    let first = block_on(f.engine.collect_orphans_if_due(3600)).unwrap().expect("the first run is due");
    assert_eq!(first.orphans_deleted, 1);
    orphan(1);
    assert_eq!(block_on(other.collect_orphans_if_due(3600)).unwrap(), None, "claimed less than an hour ago");
    f.clock.0.fetch_add(3599, Ordering::SeqCst);
    assert_eq!(block_on(other.collect_orphans_if_due(3600)).unwrap(), None);
    f.clock.0.fetch_add(1, Ordering::SeqCst);
    assert_eq!(block_on(other.collect_orphans_if_due(3600)).unwrap().map(|r| r.orphans_deleted), Some(1));
    assert_eq!(block_on(f.engine.collect_orphans_if_due(3600)).unwrap(), None);
    assert_eq!(pull_topics(&f, 0, &cursor(&f, 0, CursorFrom::Begin), 10, None).0, ["kept"]);
}

#[test]
fn bad_batches_are_refused_before_anything_is_stored() {
    let f = fixture(1, 30);
    assert!(matches!(Batch::from_protobuf(vec![0xff, 0xff, 0xff]), Err(EngineError::Decode(_))));
    assert!(matches!(Batch::from_protobuf(LogGroup::default().encode_to_vec()), Err(EngineError::Decode(_))));
    let mut bad = group("x", 1);
    bad.logs[0].contents[0].key = "__topic__".into();
    assert!(matches!(Batch::from_protobuf(bad.encode_to_vec()), Err(EngineError::Model(_))));
    let small = Engine::new(f.objects.clone(), Arc::new(MemoryMetaStore::default()))
        .with_limits(Limits { max_batch_bytes: 10, ..Limits::default() });
    block_on(small.create_project("proj", ProjectSettings::default())).unwrap();
    block_on(small.create_logstore("proj", "store", LogstoreSettings::default())).unwrap();
    let batch = Batch::from_protobuf(group("big", 5).encode_to_vec()).unwrap();
    assert!(matches!(
        block_on(small.put_logs("proj", "store", ShardTarget::Balanced, batch, None)),
        Err(EngineError::TooLarge(_))
    ));
    assert!(block_on(f.objects.list("proj/")).unwrap().is_empty());
}

#[test]
fn consumer_groups_quota_checkpoints_and_fencing() {
    let f = fixture(2, 30);
    let engine = &f.engine;
    let settings = ConsumerGroupSettings { timeout: 10, order: false };
    block_on(async {
        for index in 0..MAX_CONSUMER_GROUPS {
            engine.create_consumer_group("proj", "store", &format!("g{index}"), settings).await.unwrap();
        }
        assert!(matches!(
            engine.create_consumer_group("proj", "store", "g0", settings).await,
            Err(EngineError::ConsumerGroupAlreadyExist(_))
        ));
        assert!(matches!(
            engine.create_consumer_group("proj", "store", "g10", settings).await,
            Err(EngineError::ConsumerGroupQuotaExceed(_))
        ));
        engine.delete_consumer_group("proj", "store", "g9").await.unwrap();
        engine.create_consumer_group("proj", "store", "g10", settings).await.unwrap();
        assert_eq!(engine.list_consumer_groups("proj", "store").await.unwrap().len(), MAX_CONSUMER_GROUPS);
        engine.update_consumer_group("proj", "store", "g0", Some(20), Some(true)).await.unwrap();
        let g0 = engine.consumer_group("proj", "store", "g0").await.unwrap();
        assert_eq!((g0.timeout, g0.order), (20, true));
        assert!(matches!(
            engine.update_consumer_group("proj", "store", "nope", Some(20), None).await,
            Err(EngineError::ConsumerGroupNotExist(_))
        ));

        // Never checkpointed: one entry per shard with an empty cursor.
        let entries = engine.checkpoints("proj", "store", "g1", None).await.unwrap();
        assert_eq!(entries.iter().map(|e| (e.shard, e.cursor.as_str())).collect::<Vec<_>>(), vec![(0, ""), (1, "")]);

        let a = engine.consumer_heartbeat("proj", "store", "g1", "a", &[]).await.unwrap();
        assert_eq!(a.len(), 2);
        let b = engine.consumer_heartbeat("proj", "store", "g1", "b", &[]).await.unwrap();
        assert!(b.is_empty());
        let begin = engine.cursor("proj", "store", 0, CursorFrom::Begin).await.unwrap();
        engine.update_checkpoint("proj", "store", "g1", "a", 0, &begin, false, Some(a[0].counter)).await.unwrap();
        // b does not hold shard 0: refused, with or without forceSuccess.
        for force in [false, true] {
            assert!(matches!(
                engine.update_checkpoint("proj", "store", "g1", "b", 0, &begin, force, None).await,
                Err(EngineError::ConsumerNotMatch(_))
            ));
        }
        // A stale grant counter is refused too.
        assert!(matches!(
            engine.update_checkpoint("proj", "store", "g1", "a", 0, &begin, false, Some(a[0].counter + 7)).await,
            Err(EngineError::ConsumerNotMatch(_))
        ));
        // Bad cursors and shards.
        assert!(matches!(
            engine.update_checkpoint("proj", "store", "g1", "a", 0, "!!", false, None).await,
            Err(EngineError::InvalidCursor(_))
        ));
        let past_end = crate::cursor::encode(99);
        assert!(matches!(
            engine.update_checkpoint("proj", "store", "g1", "a", 0, &past_end, false, None).await,
            Err(EngineError::CursorOutOfRange(_))
        ));
        assert!(matches!(
            engine.update_checkpoint("proj", "store", "g1", "a", 5, &begin, false, None).await,
            Err(EngineError::ShardNotExist(5))
        ));
        assert!(matches!(
            engine.consumer_heartbeat("proj", "store", "g1", "bad name", &[]).await,
            Err(EngineError::InvalidName(_))
        ));
        let entries = engine.checkpoints("proj", "store", "g1", Some(0)).await.unwrap();
        assert_eq!((entries[0].cursor.as_str(), entries[0].consumer.as_str()), (begin.as_str(), "a"));

        // a goes silent: after the timeout b takes over, and a's late checkpoint is refused.
        f.clock.0.fetch_add(11, Ordering::SeqCst);
        let b = engine.consumer_heartbeat("proj", "store", "g1", "b", &[]).await.unwrap();
        assert_eq!(b.len(), 2);
        assert!(b.iter().all(|grant| grant.counter == 2));
        assert!(matches!(
            engine.update_checkpoint("proj", "store", "g1", "a", 0, &begin, true, None).await,
            Err(EngineError::ConsumerNotMatch(_))
        ));
        // Nobody holds shards of g2: forceSuccess lets a tool set a checkpoint there.
        engine.update_checkpoint("proj", "store", "g2", "", 1, &begin, true, None).await.unwrap();
        assert!(matches!(
            engine.update_checkpoint("proj", "store", "g2", "", 1, &begin, false, None).await,
            Err(EngineError::ConsumerNotMatch(_))
        ));

        // Deleting the logstore removes its groups; a new logstore of the same name has none.
        engine.delete_logstore("proj", "store").await.unwrap();
        engine.create_logstore("proj", "store", LogstoreSettings::default()).await.unwrap();
        assert!(engine.list_consumer_groups("proj", "store").await.unwrap().is_empty());
        engine.create_consumer_group("proj", "store", "g1", settings).await.unwrap();
        assert_eq!(engine.checkpoints("proj", "store", "g1", Some(0)).await.unwrap()[0].cursor, "");
    });
}

fn machine_group(name: &str, kind: &str, members: &[&str]) -> MachineGroup {
    MachineGroup {
        name: name.into(),
        machine_identify_type: kind.into(),
        group_type: String::new(),
        external_name: String::new(),
        group_topic: String::new(),
        machine_list: members.iter().map(|member| (*member).to_owned()).collect(),
        create_time: 0,
        last_modify_time: 0,
        configs: Default::default(),
    }
}

fn file_config(name: &str, pattern: &str) -> CollectionConfig {
    CollectionConfig {
        name: name.into(),
        input_type: "file".into(),
        input_detail: serde_json::json!({"logType": "common_reg_log", "logPath": "/var/log", "filePattern": pattern,
            "regex": "(\\w+) (.*)", "key": ["level", "message"]}),
        output_type: "LogService".into(),
        output_detail: serde_json::json!({"logstoreName": "store"}),
        log_sample: String::new(),
        create_time: 0,
        last_modify_time: 0,
    }
}

#[test]
fn machine_groups_and_configs_reach_polling_agents() {
    let f = fixture(1, 7);
    let e = &f.engine;
    block_on(async {
        e.create_machine_group("proj", machine_group("web", "ip", &["10.0.0.1"])).await.unwrap();
        e.create_machine_group("proj", machine_group("tagged", "userdefined", &["blue"])).await.unwrap();
        assert!(matches!(
            e.create_machine_group("proj", machine_group("web", "ip", &[])).await,
            Err(EngineError::MachineGroupAlreadyExist(_))
        ));
        assert!(matches!(
            e.create_machine_group("proj", machine_group("bad", "mac", &[])).await,
            Err(EngineError::ParameterInvalid(_))
        ));
        e.create_config("proj", file_config("app", "*.log")).await.unwrap();
        assert!(matches!(
            e.create_config("proj", file_config("app", "*.log")).await,
            Err(EngineError::ConfigAlreadyExist(_))
        ));
        let mut elsewhere = file_config("other", "*");
        elsewhere.output_detail = serde_json::json!({"logstoreName": "missing"});
        assert!(matches!(e.create_config("proj", elsewhere).await, Err(EngineError::LogStoreNotExist(_))));
        assert!(matches!(
            e.apply_config_to_group("proj", "nope", "app").await,
            Err(EngineError::MachineGroupNotExist(_))
        ));
        assert!(matches!(e.apply_config_to_group("proj", "web", "nope").await, Err(EngineError::ConfigNotExist(_))));

        let poll = AgentPoll { ip: "10.0.0.1".into(), ..Default::default() };
        let PollAnswer::Configs { etag: empty, configs } = e.agent_poll("proj", poll.clone()).await.unwrap() else {
            panic!("a first poll gets configs");
        };
        assert!(configs.is_empty());

        e.apply_config_to_group("proj", "web", "app").await.unwrap();
        e.apply_config_to_group("proj", "tagged", "app").await.unwrap();
        assert_eq!(e.applied_configs("proj", "web").await.unwrap(), ["app"]);
        assert_eq!(e.applied_machine_groups("proj", "app").await.unwrap(), ["tagged", "web"]);
        let poll = AgentPoll { etag: Some(empty.clone()), ..poll };
        let PollAnswer::Configs { etag, configs } = e.agent_poll("proj", poll.clone()).await.unwrap() else {
            panic!("an applied config changes the answer");
        };
        assert_eq!(configs.len(), 1);
        assert_ne!(etag, empty);
        let poll = AgentPoll { etag: Some(etag.clone()), ..poll };
        assert_eq!(e.agent_poll("proj", poll.clone()).await.unwrap(), PollAnswer::NotModified { etag: etag.clone() });

        // An update of the config changes the ETag; so does its removal.
        e.update_config("proj", file_config("app", "*.txt")).await.unwrap();
        let PollAnswer::Configs { etag: updated, configs } = e.agent_poll("proj", poll.clone()).await.unwrap() else {
            panic!("an updated config is sent again");
        };
        assert_eq!(configs[0].input_detail["filePattern"], "*.txt");
        e.remove_config_from_group("proj", "web", "app").await.unwrap();
        let poll = AgentPoll { etag: Some(updated), ..poll };
        let PollAnswer::Configs { configs, .. } = e.agent_poll("proj", poll).await.unwrap() else {
            panic!("a removed config is taken away");
        };
        assert!(configs.is_empty());

        // The user-defined identity is what a `userdefined` group matches.
        let tagged = AgentPoll {
            ip: "10.9.9.9".into(),
            user_defined_id: "blue".into(),
            status: AgentStatus { version: "1.2".into(), files: 3, ..Default::default() },
            ..Default::default()
        };
        let PollAnswer::Configs { configs, .. } = e.agent_poll("proj", tagged).await.unwrap() else { panic!() };
        assert_eq!(configs.len(), 1);
        f.clock.0.fetch_add(5, Ordering::SeqCst);
        let machines = e.list_machines("proj", "tagged").await.unwrap();
        assert_eq!(machines.len(), 1);
        assert_eq!(machines[0].status.files, 3);
        assert_eq!(machines[0].last_heartbeat_time, 1_700_000_000);
        assert_eq!(e.list_machines("proj", "web").await.unwrap()[0].ip, "10.0.0.1");

        // Deleting a config takes it off every group.
        e.delete_config("proj", "app").await.unwrap();
        assert!(e.applied_configs("proj", "tagged").await.unwrap().is_empty());
        e.delete_machine_group("proj", "web").await.unwrap();
        assert!(matches!(e.machine_group("proj", "web").await, Err(EngineError::MachineGroupNotExist(_))));
        assert_eq!(e.list_machine_groups("proj").await.unwrap().len(), 1);
    });
}
