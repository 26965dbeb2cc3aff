//! The HTTP API as wasm components (`logport serve-wasm`, one instance per request) against the
//! native server (`logport up --backend aws`), on the same S3 + DynamoDB endpoint in one run.
//!
//! ```sh
//! eval "$(bash infra/local-aws.sh start)"     # moto; or any S3 + DynamoDB endpoint
//! cargo build --target wasm32-wasip2 --profile release-wasm -p logport-component-ingest -p logport-component-pull
//! LOGPORT_WASM_COMPONENTS=$CARGO_TARGET_DIR/wasm32-wasip2/release-wasm \
//!   cargo bench -p logport --features wasm,aws --bench edge
//! ```
//!
//! Both servers share one bucket and one table (projects `edge-native` and `edge-wasm`). Each gets
//! the same PutLogs batches (nginx lines, lz4, ~64 KB raw) from two keep-alive senders, then every
//! shard is pulled back (lz4, 20 log groups per call). Reported per server: requests/s and MB/s
//! (wall clock, which the storage endpoint dominates), the server process's CPU per MB (the
//! function's own cost), p50/p99 latency; then the ratios components / native. In the same run,
//! in process: each component's instantiation time (`HttpFunction::time_instantiation`, what
//! every request pays on top of its handler).

mod common;

use common::{Prepared, SHARDS, build_batches, cpu_seconds, generate};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use logport_core::codec::Compression;

const BATCH_RAW_BYTES: usize = 64 << 10;
/// Concurrent PutLogs senders (`LOGPORT_BENCH_SENDERS` overrides).
const SENDERS: usize = 2;
const INSTANTIATIONS: usize = 300;

struct Measured {
    requests: usize,
    mb: f64,
    wall: f64,
    cpu: f64,
    latencies: Vec<Duration>,
}

impl Measured {
    fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[index].as_secs_f64() * 1e3
    }
}

fn main() {
    let endpoint = std::env::var("LOGPORT_AWS_ENDPOINT")
        .expect("LOGPORT_AWS_ENDPOINT: start moto with `eval \"$(bash infra/local-aws.sh start)\"`");
    let components = PathBuf::from(
        std::env::var("LOGPORT_WASM_COMPONENTS").expect("LOGPORT_WASM_COMPONENTS: the release-wasm build directory"),
    );
    let size = std::env::var("LOGPORT_BENCH_SIZE").unwrap_or_else(|_| "8M".into());
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench");
    std::fs::create_dir_all(&work).unwrap();
    let log_path = work.join(format!("nginx-{size}.log"));
    if !log_path.exists() {
        generate(&log_path, &size);
    }
    let raw = std::fs::read(&log_path).unwrap();
    let lines: Vec<&[u8]> = raw.split(|b| *b == b'\n').filter(|line| !line.is_empty()).collect();
    let batches = Arc::new(build_batches(&lines, BATCH_RAW_BYTES));
    let sent_raw: usize = batches.iter().map(|batch| batch.raw_size).sum();
    println!("input: {} MB of nginx logs in {} PutLogs batches", raw.len() >> 20, batches.len());

    let bucket = std::env::var("LOGPORT_S3_BUCKET").unwrap_or_else(|_| "logport-bench".into());
    let table = format!("logport-bench-edge-{}", std::process::id());
    let aws_env = [
        ("AWS_ACCESS_KEY_ID", std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "test".into())),
        ("AWS_SECRET_ACCESS_KEY", std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "test".into())),
        ("AWS_REGION", std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into())),
    ];

    // The native server creates the bucket and the table; the components use them too.
    let native = start(
        Command::new(env!("CARGO_BIN_EXE_logport"))
            .args(["up", "--listen", "127.0.0.1:0", "--insecure-no-auth", "--backend", "aws", "--create-aws-resources"])
            .args(["--s3-bucket", &bucket, "--dynamodb-table", &table, "--aws-endpoint", &endpoint])
            .args(["--data-dir"])
            .arg(work.join("edge-native"))
            .envs(aws_env.iter().map(|(k, v)| (*k, v.as_str()))),
    );
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spin.toml");
    let wasm = start(
        Command::new(env!("CARGO_BIN_EXE_logport"))
            .args(["serve-wasm", "--listen", "127.0.0.1:0", "--allow-missing", "--manifest"])
            .arg(&manifest)
            .arg("--components-dir")
            .arg(&components)
            .env("SPIN_VARIABLE_S3_BUCKET", &bucket)
            .env("SPIN_VARIABLE_DYNAMODB_TABLE", &table)
            .env("SPIN_VARIABLE_AWS_ENDPOINT", &endpoint)
            .env("SPIN_VARIABLE_AWS_REGION", &aws_env[2].1)
            .env("SPIN_VARIABLE_AWS_ACCESS_KEY_ID", &aws_env[0].1)
            .env("SPIN_VARIABLE_AWS_SECRET_ACCESS_KEY", &aws_env[1].1)
            .env("SPIN_VARIABLE_INSECURE_NO_AUTH", "true"),
    );

    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut results = Vec::new();
    for (name, server, project) in [("native", &native, "edge-native"), ("components", &wasm, "edge-wasm")] {
        let base = format!("http://{}", server.1);
        setup(&agent, &base, project);
        let put = put_all(&agent, &base, project, &batches, server.0.id());
        let pull = pull_all(&agent, &base, project, server.0.id(), sent_raw);
        println!(
            "{name}: put {} requests in {:.1} s, pull {} requests in {:.1} s",
            put.requests, put.wall, pull.requests, pull.wall
        );
        results.push((name, put, pull));
    }

    println!();
    println!("| server | call | requests/s | MB/s (wall) | server CPU s/MB | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|---|---|");
    for (name, put, pull) in &results {
        for (call, measured) in [("PutLogs", put), ("PullLogs", pull)] {
            println!(
                "| {name} | {call} | {:.0} | {:.1} | {:.4} | {:.1} | {:.1} |",
                measured.requests as f64 / measured.wall,
                measured.mb / measured.wall,
                measured.cpu / measured.mb,
                measured.percentile(0.5),
                measured.percentile(0.99)
            );
        }
    }
    let (native_put, native_pull) = (&results[0].1, &results[0].2);
    let (wasm_put, wasm_pull) = (&results[1].1, &results[1].2);
    println!();
    println!("| components / native | PutLogs | PullLogs |");
    println!("|---|---|---|");
    println!(
        "| throughput (wall) | **{:.2}** | **{:.2}** |",
        native_put.wall / wasm_put.wall,
        native_pull.wall / wasm_pull.wall
    );
    println!(
        "| server CPU per MB | {:.2} | {:.2} |",
        (wasm_put.cpu / wasm_put.mb) / (native_put.cpu / native_put.mb),
        (wasm_pull.cpu / wasm_pull.mb) / (native_pull.cpu / native_pull.mb)
    );
    println!(
        "| p50 latency | {:.2} | {:.2} |",
        wasm_put.percentile(0.5) / native_put.percentile(0.5),
        wasm_pull.percentile(0.5) / native_pull.percentile(0.5)
    );
    println!(
        "| p99 latency | {:.2} | {:.2} |",
        wasm_put.percentile(0.99) / native_put.percentile(0.99),
        wasm_pull.percentile(0.99) / native_pull.percentile(0.99)
    );

    instantiation(&components);

    for mut server in [native, wasm] {
        Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status().unwrap();
        let _ = server.0.wait();
    }
}

fn start(command: &mut Command) -> (Child, String) {
    let mut child = command.env("RUST_LOG", "warn").stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    (child, address)
}

fn setup(agent: &ureq::Agent, base: &str, project: &str) {
    let create = |path: &str, body: &str| {
        let mut response = agent
            .post(format!("{base}{path}"))
            .header("x-log-project", project)
            .header("content-type", "application/json")
            .send(body)
            .unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        assert!(status == 200 || text.contains("AlreadyExist"), "{path}: {status} {text}");
    };
    create("/", &format!(r#"{{"projectName":"{project}"}}"#));
    create("/logstores", &format!(r#"{{"logstoreName":"bench","ttl":30,"shardCount":{SHARDS}}}"#));
}

fn put_all(agent: &ureq::Agent, base: &str, project: &str, batches: &Arc<Vec<Prepared>>, pid: u32) -> Measured {
    let cpu_before = cpu_seconds(pid);
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let senders = std::env::var("LOGPORT_BENCH_SENDERS").ok().and_then(|n| n.parse().ok()).unwrap_or(SENDERS);
    let senders: Vec<_> = (0..senders.max(1))
        .map(|_| {
            let (agent, base, project) = (agent.clone(), base.to_owned(), project.to_owned());
            let (batches, next, latencies) = (batches.clone(), next.clone(), latencies.clone());
            std::thread::spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(batch) = batches.get(index) else { break };
                    let sent = Instant::now();
                    let mut response = agent
                        .post(format!("{base}/logstores/bench/shards/lb"))
                        .header("x-log-project", &project)
                        .header("content-type", "application/x-protobuf")
                        .header("x-log-compresstype", "lz4")
                        .header("x-log-bodyrawsize", batch.raw_size.to_string())
                        .send(&batch.body[..])
                        .unwrap();
                    let status = response.status().as_u16();
                    let text = response.body_mut().read_to_string().unwrap_or_default();
                    assert_eq!(status, 200, "{text}");
                    latencies.lock().unwrap().push(sent.elapsed());
                }
            })
        })
        .collect();
    senders.into_iter().for_each(|sender| sender.join().unwrap());
    let latencies = std::mem::take(&mut *latencies.lock().unwrap());
    Measured {
        requests: latencies.len(),
        mb: batches.iter().map(|batch| batch.raw_size).sum::<usize>() as f64 / 1e6,
        wall: started.elapsed().as_secs_f64(),
        cpu: cpu_seconds(pid) - cpu_before,
        latencies,
    }
}

fn pull_all(agent: &ureq::Agent, base: &str, project: &str, pid: u32, sent_raw: usize) -> Measured {
    let cpu_before = cpu_seconds(pid);
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut pulled_raw = 0usize;
    for shard in 0..SHARDS {
        let mut response = agent
            .get(format!("{base}/logstores/bench/shards/{shard}?type=cursor&from=begin"))
            .header("x-log-project", project)
            .call()
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap();
        let mut cursor = body["cursor"].as_str().unwrap().to_owned();
        loop {
            let sent = Instant::now();
            let mut response = agent
                .get(format!("{base}/logstores/bench/shards/{shard}?type=log&count=20&cursor={cursor}"))
                .header("x-log-project", project)
                .header("accept-encoding", "lz4")
                .call()
                .unwrap();
            assert_eq!(response.status().as_u16(), 200);
            let header = |name: &str| response.headers().get(name).unwrap().to_str().unwrap().to_owned();
            let count: usize = header("x-log-count").parse().unwrap();
            let next = header("x-log-cursor");
            let raw_size: usize = header("x-log-bodyrawsize").parse().unwrap();
            let body = response.body_mut().with_config().limit(u64::MAX).read_to_vec().unwrap();
            latencies.push(sent.elapsed());
            if count == 0 {
                break;
            }
            pulled_raw += Compression::Lz4.decompress(&body, raw_size, usize::MAX).unwrap().len();
            cursor = next;
        }
    }
    assert!(pulled_raw >= sent_raw, "every byte comes back ({pulled_raw} < {sent_raw})");
    Measured {
        requests: latencies.len(),
        mb: sent_raw as f64 / 1e6,
        wall: started.elapsed().as_secs_f64(),
        cpu: cpu_seconds(pid) - cpu_before,
        latencies,
    }
}

/// Each built component's instantiation time, in process: what a request pays before its handler.
fn instantiation(components: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let host = logport_wasm_host::Host::new(None).unwrap();
    println!();
    println!("| component | size | instantiation p50 | p99 | mean |");
    println!("|---|---|---|---|---|");
    for name in ["logport_component_ingest", "logport_component_pull", "logport_component_query"] {
        let path = components.join(format!("{name}.wasm"));
        let Ok(meta) = std::fs::metadata(&path) else {
            println!("| {name} | not built | | | |");
            continue;
        };
        let function =
            logport_wasm_host::HttpFunction::load(&host, name, &path, Vec::new(), Default::default()).unwrap();
        let mut times: Vec<Duration> = runtime.block_on(async {
            let mut times = Vec::new();
            for _ in 0..INSTANTIATIONS {
                times.push(function.time_instantiation().await.unwrap());
            }
            times
        });
        let mean = times.iter().sum::<Duration>().as_secs_f64() / times.len() as f64;
        times.sort();
        let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e6;
        println!(
            "| {name} | {:.2} MB | {:.0} µs | {:.0} µs | {:.0} µs |",
            meta.len() as f64 / 1e6,
            at(0.5),
            at(0.99),
            mean * 1e6
        );
    }
}
