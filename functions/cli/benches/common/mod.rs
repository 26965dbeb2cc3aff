//! Helpers shared by the benchmarks: test data, a real `logport up`, the bench project.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
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
