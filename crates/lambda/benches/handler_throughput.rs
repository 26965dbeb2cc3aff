//! Ingest and pull throughput through the Lambda functions' handler code path, on S3 + DynamoDB
//! (moto) against the embedded store (files + SQLite), in one run: the ratio is the number.
//!
//! ```sh
//! eval "$(bash infra/local-aws.sh start)"
//! cargo bench -p logport-lambda --bench handler_throughput     # LOGPORT_BENCH_BATCHES=32 (1 MiB each)
//! ```
//!
//! Each request is what API Gateway would send: the HTTP request becomes the v2 event JSON and runs
//! through `gateway::invoke` (deserialize, `logport_lambda::handle`, serialize the response), the
//! code a deployed function runs minus the Runtime API's HTTP hop. Requests go one at a time, to
//! an ingest context and a pull context over the same store (as the two functions). The data:
//! synthetic nginx-style access log lines, one log per line (key `content`), in 1 MiB batches sent as
//! lz4 protobuf bodies, then every shard pulled back from `begin` with lz4. Wall-clock time, so the
//! store's own work counts (for moto: a Python process, one request at a time).

use std::sync::Arc;
use std::time::Instant;

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::Credentials;
use bytes::Bytes;
use logport_core::codec::Compression;
use logport_core::model::{Content, Log, LogGroup};
use logport_lambda::{Context, Function, Settings, Stores, gateway};
use prost::Message;

const BATCH_RAW_BYTES: usize = 1 << 20;
const SHARDS: u32 = 2;

fn main() {
    let batches: usize = std::env::var("LOGPORT_BENCH_BATCHES").ok().and_then(|n| n.parse().ok()).unwrap_or(32);
    let Ok(moto) = std::env::var("LOGPORT_MOTO_ENDPOINT") else {
        eprintln!("LOGPORT_MOTO_ENDPOINT is not set: eval \"$(bash infra/local-aws.sh start)\" first");
        std::process::exit(2);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let bodies = build_bodies(batches);
    let raw_mb = bodies.iter().map(|(_, raw)| *raw).sum::<usize>() as f64 / 1e6;
    println!("{batches} batches, {raw_mb:.1} MB of raw log, {SHARDS} shards");

    let dir = tempfile::tempdir().unwrap();
    let local = logport_store_local::LocalStore::open(dir.path()).unwrap();
    let embedded = Stores::new(local.objects, local.meta, "embedded");
    let aws = runtime.block_on(async {
        let suffix = &uuid_suffix();
        let config = logport_store_aws::AwsStoreConfig {
            bucket: format!("logport-bench-{suffix}"),
            prefix: String::new(),
            table: format!("logport-bench-{suffix}"),
            endpoint: Some(moto.clone()),
            region: Some("us-east-1".into()),
        };
        let credentials = Credentials::new("bench", "bench-secret", None, None, "bench");
        let loader = aws_config::defaults(BehaviorVersion::latest()).credentials_provider(credentials);
        let store = logport_store_aws::connect_with_loader(&config, loader).await.unwrap();
        store.create_resources().await.unwrap();
        Stores::new(store.objects, store.meta, "moto")
    });

    let mut results = Vec::new();
    for stores in [embedded, aws] {
        let name = stores.description.clone();
        let (ingest, pull) = runtime.block_on(run(stores, &bodies));
        println!(
            "{name:>8}: ingest {:.2} s ({:.1} MB/s), pull {:.2} s ({:.1} MB/s)",
            ingest,
            raw_mb / ingest,
            pull,
            raw_mb / pull
        );
        results.push((name, ingest, pull));
    }
    let (embedded, aws) = (&results[0], &results[1]);
    println!();
    println!("| store (through the handlers) | ingest MB/s | pull MB/s |");
    println!("|---|---|---|");
    for (name, ingest, pull) in &results {
        println!("| {name} | {:.1} | {:.1} |", raw_mb / ingest, raw_mb / pull);
    }
    println!("| moto / embedded | {:.2} | {:.2} |", embedded.1 / aws.1, embedded.2 / aws.2);
}

fn uuid_suffix() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{:x}", nanos & 0xffff_ffff_ffff)
}

/// lz4 PutLogs bodies of about `BATCH_RAW_BYTES` of log lines each, with their raw sizes.
fn build_bodies(count: usize) -> Vec<(Vec<u8>, usize)> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let paths = ["/", "/index.html", "/api/v1/items", "/login", "/static/app.js", "/img/logo.png"];
    let agents = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "Go-http-client/1.1"];
    (0..count)
        .map(|_| {
            let mut logs = Vec::new();
            let mut raw = 0;
            while raw < BATCH_RAW_BYTES {
                let n = next();
                let line = format!(
                    "10.{}.{}.{} - - [22/Nov/2026:10:{:02}:{:02} +0000] \"GET {} HTTP/1.1\" {} {} \"-\" \"{}\"",
                    n % 256,
                    (n >> 8) % 256,
                    (n >> 16) % 256,
                    (n >> 24) % 60,
                    (n >> 30) % 60,
                    paths[(n >> 36) as usize % paths.len()],
                    [200, 200, 200, 304, 404, 500][(n >> 40) as usize % 6],
                    (n >> 44) % 50_000,
                    agents[(n >> 52) as usize % agents.len()],
                );
                raw += line.len();
                logs.push(Log {
                    time: 1_795_000_000 + (n % 600) as u32,
                    contents: vec![Content { key: "content".into(), value: line }],
                    time_ns: None,
                });
            }
            let group = LogGroup { logs, topic: Some("nginx".into()), ..Default::default() }.encode_to_vec();
            (Compression::Lz4.compress(&group), group.len())
        })
        .collect()
}

async fn invoke(context: &Context, request: http::Request<Bytes>) -> http::Response<Bytes> {
    let event = serde_json::to_vec(&gateway::event(&request, "127.0.0.1".parse().unwrap())).unwrap();
    let json = gateway::invoke(context, &event).await.unwrap();
    gateway::response(&json).unwrap()
}

fn request(method: &str, uri: &str) -> http::request::Builder {
    http::Request::builder().method(method).uri(uri).header("x-log-project", "bench")
}

/// Ingests every body, then pulls every shard back; returns the seconds of each phase.
async fn run(stores: Stores, bodies: &[(Vec<u8>, usize)]) -> (f64, f64) {
    let ingest = Arc::new(Context::new(Function::Ingest, Settings::insecure(), stores.clone()));
    let pull = Context::new(Function::Pull, Settings::insecure(), stores);
    let create = |uri: &str, body: String| request("POST", uri).body(Bytes::from(body)).unwrap();
    assert_eq!(invoke(&ingest, create("/", r#"{"projectName":"bench"}"#.into())).await.status(), 200);
    let logstore = format!(r#"{{"logstoreName":"bench","shardCount":{SHARDS},"ttl":30}}"#);
    assert_eq!(invoke(&ingest, create("/logstores", logstore)).await.status(), 200);

    let started = Instant::now();
    for (body, raw) in bodies {
        let put = request("POST", "/logstores/bench/shards/lb")
            .header("content-type", "application/x-protobuf")
            .header("x-log-compresstype", "lz4")
            .header("x-log-bodyrawsize", raw.to_string())
            .body(Bytes::from(body.clone()))
            .unwrap();
        let response = invoke(&ingest, put).await;
        assert_eq!(response.status(), 200, "{:?}", response.body());
    }
    let ingest_secs = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut groups = 0;
    for shard in 0..SHARDS {
        let uri = format!("/logstores/bench/shards/{shard}?type=cursor&from=begin");
        let answer = invoke(&pull, request("GET", &uri).body(Bytes::new()).unwrap()).await;
        let json: serde_json::Value = serde_json::from_slice(answer.body()).unwrap();
        let mut cursor = json["cursor"].as_str().unwrap().to_owned();
        loop {
            let uri = format!("/logstores/bench/shards/{shard}?type=log&count=1000&cursor={cursor}");
            let get = request("GET", &uri).header("accept-encoding", "lz4").body(Bytes::new()).unwrap();
            let answer = invoke(&pull, get).await;
            assert_eq!(answer.status(), 200);
            let header = |name: &str| answer.headers()[name].to_str().unwrap().to_owned();
            let count: usize = header("x-log-count").parse().unwrap();
            if count == 0 {
                break;
            }
            let raw: usize = header("x-log-bodyrawsize").parse().unwrap();
            Compression::Lz4.decompress(answer.body(), raw, usize::MAX).unwrap();
            groups += count;
            cursor = header("x-log-cursor");
        }
    }
    assert_eq!(groups, bodies.len(), "every batch comes back once");
    (ingest_secs, started.elapsed().as_secs_f64())
}
