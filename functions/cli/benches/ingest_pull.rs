//! Ingest and pull throughput of a real `logport up` over loopback, per second of *server* CPU.
//!
//! `cargo bench -p logport --bench ingest_pull` (size with `LOGPORT_BENCH_SIZE`, default 1G):
//! generates nginx access logs with `../shared/testdata/gen_logs.py`, cuts them into 2 MB
//! PutLogs batches (one log per line, key `content`, lz4 bodies as the SDK sends them), sends
//! them over two keep-alive connections, then pulls every shard back with lz4. The server's CPU
//! time comes from `/proc/<pid>/stat`, so the client's own work does not count. In the same run
//! it times lz4 block compression of the same bytes on one core: the ceiling ratio.

mod common;

use common::{SHARDS, build_batches, cpu_seconds, dir_size, generate, setup, start_server};

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use logport_core::codec::Compression;

const BATCH_RAW_BYTES: usize = 2 << 20;
const SENDERS: usize = 2;

fn main() {
    let size = std::env::var("LOGPORT_BENCH_SIZE").unwrap_or_else(|_| "1G".into());
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench");
    std::fs::create_dir_all(&work).unwrap();
    let log_path = work.join(format!("nginx-{size}.log"));
    if !log_path.exists() {
        generate(&log_path, &size);
    }
    let raw = std::fs::read(&log_path).unwrap();
    let lines: Vec<&[u8]> = raw.split(|b| *b == b'\n').filter(|line| !line.is_empty()).collect();
    println!("input: {} MB of nginx logs, {} lines", raw.len() >> 20, lines.len());

    let batches = build_batches(&lines, BATCH_RAW_BYTES);
    let body_bytes: usize = batches.iter().map(|batch| batch.body.len()).sum();
    println!("batches: {} of ~{} MB raw ({} MB as lz4 bodies)", batches.len(), BATCH_RAW_BYTES >> 20, body_bytes >> 20);

    let data_dir = work.join("data");
    let _ = std::fs::remove_dir_all(&data_dir);
    let mut server = start_server(&data_dir);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let base = format!("http://{}", server.1);
    setup(&agent, &base);

    // Ingest.
    let cpu_before = cpu_seconds(server.0.id());
    let started = Instant::now();
    let batches = Arc::new(batches);
    let next = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (agent, base, batches, next) = (agent.clone(), base.clone(), batches.clone(), next.clone());
            std::thread::spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(batch) = batches.get(index) else { break };
                    let response = agent
                        .post(format!("{base}/logstores/bench/shards/lb"))
                        .header("x-log-project", "bench")
                        .header("content-type", "application/x-protobuf")
                        .header("x-log-compresstype", "lz4")
                        .header("x-log-bodyrawsize", batch.raw_size.to_string())
                        .send(&batch.body[..])
                        .unwrap();
                    assert_eq!(response.status().as_u16(), 200);
                }
            })
        })
        .collect();
    senders.into_iter().for_each(|sender| sender.join().unwrap());
    let ingest_wall = started.elapsed().as_secs_f64();
    let ingest_cpu = cpu_seconds(server.0.id()) - cpu_before;
    let log_mb = raw.len() as f64 / 1e6;

    // Pull everything back.
    let cpu_before = cpu_seconds(server.0.id());
    let started = Instant::now();
    let mut pulled_groups = 0usize;
    let mut pulled_raw = 0usize;
    for shard in 0..SHARDS {
        let mut cursor =
            get_json(&agent, &format!("{base}/logstores/bench/shards/{shard}?type=cursor&from=begin"))["cursor"]
                .as_str()
                .unwrap()
                .to_owned();
        loop {
            let mut response = agent
                .get(format!("{base}/logstores/bench/shards/{shard}?type=log&count=1000&cursor={cursor}"))
                .header("x-log-project", "bench")
                .header("accept-encoding", "lz4")
                .call()
                .unwrap();
            let header = |name: &str| response.headers().get(name).unwrap().to_str().unwrap().to_owned();
            let count: usize = header("x-log-count").parse().unwrap();
            let next = header("x-log-cursor");
            let raw_size: usize = header("x-log-bodyrawsize").parse().unwrap();
            let body = response.body_mut().with_config().limit(u64::MAX).read_to_vec().unwrap();
            if count == 0 {
                break;
            }
            let raw_list = Compression::Lz4.decompress(&body, raw_size, usize::MAX).unwrap();
            pulled_groups += count;
            pulled_raw += raw_list.len();
            cursor = next;
        }
    }
    let pull_wall = started.elapsed().as_secs_f64();
    let pull_cpu = cpu_seconds(server.0.id()) - cpu_before;
    assert_eq!(pulled_groups, batches.len(), "every batch comes back once");
    let sent_raw: usize = batches.iter().map(|batch| batch.raw_size).sum();
    assert!(pulled_raw >= sent_raw, "every byte comes back");

    // The ceiling: lz4 block compression of the same bytes on one core.
    let started = Instant::now();
    let mut compressed = 0usize;
    for chunk in raw.chunks(BATCH_RAW_BYTES) {
        compressed += lz4_flex::block::compress(chunk).len();
    }
    let lz4_secs = started.elapsed().as_secs_f64();
    let lz4_rate = log_mb / lz4_secs;
    let stored = dir_size(&data_dir);

    let ingest_rate = log_mb / ingest_cpu;
    let pull_rate = log_mb / pull_cpu;
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!("| raw log | {log_mb:.0} MB in {} batches |", batches.len());
    println!("| ingest: wall | {ingest_wall:.1} s ({:.0} MB/s) |", log_mb / ingest_wall);
    println!("| ingest: server CPU | {ingest_cpu:.1} s -> **{ingest_rate:.0} MB/s per server core** |");
    println!("| pull: wall | {pull_wall:.1} s ({:.0} MB/s) |", log_mb / pull_wall);
    println!("| pull: server CPU | {pull_cpu:.1} s -> **{pull_rate:.0} MB/s per server core** |");
    println!(
        "| lz4 block compress, same bytes, 1 core | {lz4_rate:.0} MB/s (ratio {:.2}) |",
        raw.len() as f64 / compressed as f64
    );
    println!("| ingest / lz4 ceiling | {:.2} |", ingest_rate / lz4_rate);
    println!("| pull / lz4 ceiling | {:.2} |", pull_rate / lz4_rate);
    println!("| stored on disk | {} MB |", stored >> 20);

    Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status().unwrap();
    assert!(server.0.wait().unwrap().success());
    let _ = std::fs::remove_dir_all(&data_dir);
}

fn get_json(agent: &ureq::Agent, url: &str) -> serde_json::Value {
    let mut response = agent.get(url).header("x-log-project", "bench").call().unwrap();
    serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap()
}
