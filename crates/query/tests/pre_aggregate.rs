//! Partial aggregation in the scan changes how a statement runs, never its answer: every
//! statement here is run with and without it over the same segments (dictionary and plain
//! columns, missing keys, topics, tags, several shards) and must give the same rows, keys and
//! counts; and the statements it can serve must actually be served by the weighted scan.

use std::sync::Arc;

use bytes::Bytes;
use logport_core::engine::{Batch, Engine, LogstoreSettings, ProjectSettings, ShardTarget};
use logport_core::model::{Content, Log, LogGroup, LogTag};
use logport_core::store::memory::{MemoryMetaStore, MemoryObjectStore};
use logport_core::store::{ObjectMeta, ObjectStore, PutMode, Result as StoreResult};
use logport_query::preaggregate::WEIGHT;
use logport_query::{GetLogsRequest, QueryOptions, explain, get_logs_with};
use prost::Message;

const START: u32 = 1_700_000_000;
const BATCHES: u32 = 8;
const PER_BATCH: u32 = 5000;

/// The memory store as a remote store would look: the same reads, but not `reads_locally`, so
/// the scan takes its other path (concurrent fetches in waves, then decoding).
#[derive(Debug, Default)]
struct Remote(MemoryObjectStore);

#[async_trait::async_trait]
impl ObjectStore for Remote {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> StoreResult<()> {
        self.0.put(key, data, mode).await
    }
    async fn get(&self, key: &str) -> StoreResult<Bytes> {
        self.0.get(key).await
    }
    async fn get_range(&self, key: &str, range: std::ops::Range<u64>) -> StoreResult<Bytes> {
        self.0.get_range(key, range).await
    }
    async fn list(&self, prefix: &str) -> StoreResult<Vec<ObjectMeta>> {
        self.0.list(prefix).await
    }
    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.0.delete(key).await
    }
}

async fn engine() -> Arc<Engine> {
    engine_over(Arc::new(MemoryObjectStore::default())).await
}

async fn engine_over(objects: Arc<dyn ObjectStore>) -> Arc<Engine> {
    let engine = Arc::new(Engine::new(objects, Arc::new(MemoryMetaStore::default())));
    engine.create_project("proj", ProjectSettings::default()).await.unwrap();
    let settings = LogstoreSettings { shard_count: 3, ..Default::default() };
    engine.create_logstore("proj", "store", settings).await.unwrap();
    for batch in 0..BATCHES {
        let group = LogGroup {
            topic: Some(["web", "api"][(batch % 2) as usize].into()),
            source: Some(format!("10.0.0.{}", batch % 3)),
            log_tags: vec![LogTag { key: "host".into(), value: format!("host-{}", batch % 4) }],
            logs: (0..PER_BATCH)
                .map(|i| {
                    let n = batch * PER_BATCH + i;
                    let mut contents = vec![
                        Content {
                            key: "status".into(),
                            value: ["200", "200", "304", "404", "500", "502"][(n % 6) as usize].into(),
                        },
                        Content {
                            key: "method".into(),
                            value: ["GET", "POST", "PUT"][(n % 3 + n % 2) as usize % 3].into(),
                        },
                        // Over 4096 distinct values per segment: a plain column.
                        Content { key: "id".into(), value: format!("req-{n}") },
                        Content { key: "bytes".into(), value: (n * 37 % 1000).to_string() },
                    ];
                    if n.is_multiple_of(5) {
                        contents.push(Content { key: "msg".into(), value: ["ok", "retry"][(n % 2) as usize].into() });
                    }
                    Log { time: START + n / 100, contents, time_ns: None }
                })
                .collect(),
            ..Default::default()
        };
        let batch = Batch::from_protobuf(group.encode_to_vec()).unwrap();
        engine.put_logs("proj", "store", ShardTarget::Balanced, batch, None).await.unwrap();
    }
    engine
}

/// Statements, and whether the plan shows the weight column (the weighted scan also serves
/// statements whose aggregates all ignore duplicates, `min`/`max`/`DISTINCT`, but the optimizer
/// then prunes the weight, so their plans do not show it).
const STATEMENTS: &[(&str, bool)] = &[
    ("* | select status, count(*) as c group by status order by status", true),
    ("* | select status, count(*) group by status", true),
    ("status:500 | select method, count(*) as c group by method order by c desc, method", true),
    ("* | select __time__ - __time__ % 60 as t, count(*) as c group by t order by t", true),
    ("* | select count(*) as c", true),
    ("* | select count(msg) as c, count(distinct msg) as d, count(1), count(null) as z", true),
    // Served by distinct rows; no aggregate needs the weight, so the plan does not show it.
    ("* | select min(status) as lo, max(bytes) as hi, approx_distinct(bytes) as u", false),
    ("* | select method, sum(cast(bytes as bigint)) as s group by method order by method", true),
    (
        "* | select \"__tag__:host\" as h, __topic__, __source__, count(*) as c group by h, __topic__, __source__ \
         order by h, __topic__, __source__",
        true,
    ),
    (
        "* | select status, count(*) as c where method = 'GET' group by status having count(*) > 10 order by status",
        true,
    ),
    ("* | select id, count(*) as c group by id order by c desc, id limit 5", true),
    ("* | select count(*) as c from (select * from log where status = '200') t", true),
    ("absent_keyword | select count(*) as c", true),
    ("* | select count(*) as c where status = 'nope'", true),
    ("* | select status, count(*) as c where status = 'nope' group by status", true),
    ("* | select msg, count(*) as c group by msg order by msg nulls first", true),
    ("* | select count(*) filter (where method = 'POST') as p, count(*) as c", true),
    ("* | select status, count(*) as c group by status order by c desc, status limit 3", true),
    // DataFusion turns it into a grouping by id under a count: duplicate-insensitive again.
    ("* | select count(distinct id) as d", false),
    ("msg:retry and not status:200 | select bytes, count(*) as c group by bytes order by c desc, bytes limit 7", true),
    ("* | select status, max(id) as m group by status order by status", false),
    ("* | select avg(cast(bytes as double)) as a", false),
    ("* | select status, count(*) as c, sum(cast(bytes as double)) as f group by status order by status", false),
    ("* | select random() < 2 as r, count(*) as c group by r", false),
    ("* | select status, id from log order by id limit 4", false),
];

fn explain_or(engine: &Arc<Engine>, request: &GetLogsRequest) -> String {
    let (engine, request) = (engine.clone(), request.clone());
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            explain(&engine, "proj", "store", &request, QueryOptions::default())
                .await
                .map_err(|error| error.to_string())
        })
    })
    .join()
    .unwrap()
    .unwrap_or_else(|error| error)
}

fn sorted(mut rows: Vec<serde_json::Map<String, serde_json::Value>>) -> Vec<String> {
    let mut rows: Vec<String> = rows.drain(..).map(|row| serde_json::to_string(&row).unwrap()).collect();
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_scans_answer_exactly_as_plain_scans() {
    // Both scans: a store that reads locally (memory) and one that does not.
    let (local, remote) = (engine().await, engine_over(Arc::new(Remote::default())).await);
    assert!(local.reads_locally() && !remote.reads_locally());
    let with = QueryOptions { pre_aggregate: true };
    let without = QueryOptions { pre_aggregate: false };
    let ranges = [(START as i64, (START + 1000) as i64), (START as i64 + 70, START as i64 + 250)];
    let mut answers = std::collections::HashMap::new();
    for ((from, to), engine) in ranges.into_iter().flat_map(|range| [(range, &local), (range, &remote)]) {
        for (query, weighted) in STATEMENTS {
            let request = GetLogsRequest {
                from,
                to,
                query: (*query).to_owned(),
                line: 100,
                offset: 0,
                reverse: false,
                topic: None,
            };
            let plain = get_logs_with(engine, "proj", "store", &request, without).await.unwrap();
            let fast = get_logs_with(engine, "proj", "store", &request, with)
                .await
                .unwrap_or_else(|error| panic!("{query}: {error}\n{}", explain_or(engine, &request)));
            assert_eq!(fast.meta.keys, plain.meta.keys, "{query}");
            assert_eq!(fast.meta.total_hits, plain.meta.total_hits, "{query}");
            assert_eq!(fast.meta.processed_rows, plain.meta.processed_rows, "{query}");
            assert_eq!(plain.data.is_empty(), query.contains("'nope' group by"), "{query}: {} rows", plain.data.len());
            if query.contains("order by") {
                assert_eq!(fast.data, plain.data, "{query}");
            }
            let rows = sorted(fast.data);
            assert_eq!(rows, sorted(plain.data), "{query}");
            // The same answer from both scans.
            let first = answers.entry((from, *query)).or_insert_with(|| rows.clone());
            assert_eq!(*first, rows, "{query}: local and remote scans disagree");
            let plan = explain(engine, "proj", "store", &request, with).await.unwrap();
            assert_eq!(plan.contains(WEIGHT), *weighted, "{query}:\n{plan}");
            let plan = explain(engine, "proj", "store", &request, without).await.unwrap();
            assert!(!plan.contains(WEIGHT), "{query}:\n{plan}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_are_right_against_the_data() {
    let engine = engine().await;
    let request = |query: &str| GetLogsRequest {
        from: START as i64,
        to: (START + 1000) as i64,
        query: query.to_owned(),
        line: 100,
        offset: 0,
        reverse: false,
        topic: None,
    };
    let total = BATCHES * PER_BATCH;
    let answer = get_logs_with(
        &engine,
        "proj",
        "store",
        &request("* | select status, count(*) as c group by status order by status"),
        QueryOptions::default(),
    )
    .await
    .unwrap();
    let expected: Vec<(String, u32)> = ["200", "304", "404", "500", "502"]
        .iter()
        .map(|status| {
            let count =
                (0..total).filter(|n| ["200", "200", "304", "404", "500", "502"][(n % 6) as usize] == *status).count();
            ((*status).to_owned(), count as u32)
        })
        .collect();
    let got: Vec<(String, u32)> = answer
        .data
        .iter()
        .map(|row| (row["status"].as_str().unwrap().to_owned(), row["c"].as_str().unwrap().parse().unwrap()))
        .collect();
    assert_eq!(got, expected);
    let empty = get_logs_with(
        &engine,
        "proj",
        "store",
        &request("absent_keyword | select count(*) as c"),
        QueryOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(empty.data[0]["c"], "0");
}
