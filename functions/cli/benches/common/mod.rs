//! Helpers shared by the benchmarks: test data, a real `logport up`, the bench project.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};

use logport_core::codec::Compression;
use logport_core::model::{Content, Log, LogGroup};
use prost::Message;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub const SHARDS: u32 = 2;

pub fn generate(path: &Path, size: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/gen_logs.py");
    println!("generating {size} of nginx logs with {}", script.display());
    let output = std::fs::File::create(path).unwrap();
    let status = Command::new("python3")
        .arg(script)
        .args(["--format", "nginx", "--size", size, "--seed", "1"])
        .stdout(output)
        .status()
        .unwrap();
    assert!(status.success());
}

pub fn start_server(data_dir: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_logport"))
        .args(["up", "--listen", "127.0.0.1:0", "--insecure-no-auth", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let address = line.split("http://").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    (child, address)
}

pub fn setup(agent: &ureq::Agent, base: &str) {
    let create = |path: &str, body: &str| {
        let response = agent
            .post(format!("{base}{path}"))
            .header("x-log-project", "bench")
            .header("content-type", "application/json")
            .send(body)
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    };
    create("/", r#"{"projectName":"bench"}"#);
    create("/logstores", &format!(r#"{{"logstoreName":"bench","ttl":30,"shardCount":{SHARDS}}}"#));
}

pub fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            let meta = entry.metadata().unwrap();
            total += if meta.is_dir() { dir_size(&entry.path()) } else { meta.len() };
        }
    }
    total
}

/// A PutLogs body and its uncompressed size.
pub struct Prepared {
    pub body: Vec<u8>,
    pub raw_size: usize,
}

/// PutLogs bodies (lz4) of log groups of about `batch_bytes` raw bytes, one log per line (`content`).
pub fn build_batches(lines: &[&[u8]], batch_bytes: usize) -> Vec<Prepared> {
    let mut batches = Vec::new();
    let mut group = LogGroup { topic: Some("nginx".into()), source: Some("10.0.0.1".into()), ..Default::default() };
    let mut size = 0;
    for (index, line) in lines.iter().enumerate() {
        let text = String::from_utf8_lossy(line).into_owned();
        size += text.len() + 16;
        group.logs.push(Log {
            time: 1_700_000_000 + (index / 1000) as u32,
            contents: vec![Content { key: "content".into(), value: text }],
            time_ns: None,
        });
        if size >= batch_bytes {
            batches.push(prepare(&group));
            group.logs.clear();
            size = 0;
        }
    }
    if !group.logs.is_empty() {
        batches.push(prepare(&group));
    }
    batches
}

pub fn prepare(group: &LogGroup) -> Prepared {
    let raw = group.encode_to_vec();
    Prepared { body: Compression::Lz4.compress(&raw), raw_size: raw.len() }
}

/// User + system CPU seconds of a process so far.
pub fn cpu_seconds(pid: u32) -> f64 {
    let mut text = String::new();
    std::fs::File::open(format!("/proc/{pid}/stat")).unwrap().read_to_string(&mut text).unwrap();
    let fields: Vec<&str> = text.rsplit_once(')').unwrap().1.split_whitespace().collect();
    // After the command name: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}
