//! Forwarding throughput of a consumer: `logport consume` (the consumer library, native) against
//! the official SDK's Python `ConsumerWorker` (`benches/consume_sdk.py`), both turning a logstore
//! into the same RFC 5424 syslog frames (octet counting, `k=v||k=v`) sent over TCP to one discarding
//! receiver, in the same run, each in a consumer group of its own starting at `begin`.
//!
//! `cargo bench -p logport --features wasm --bench consume` (size with `LOGPORT_BENCH_SIZE`,
//! default 200M; `LOGPORT_BENCH_PEER=0` skips the Python peer). With the `wasm` feature it also
//! runs the consumer WASI component (`logport consume --component`, built here with the
//! `release-wasm` profile; its compiled code cached before the run) and prints its CPU against the
//! native consumer's. nginx logs from `gen_logs.py` are put in log
//! groups of ~256 KB (one log per line, key `content`). The figures per CPU-second use each
//! consumer process's own CPU time (`/proc/<pid>/stat`), not the server's.

mod common;

use common::{SHARDS, build_batches, cpu_seconds, generate, setup, start_server};

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const GROUP_BYTES: usize = 256 << 10;

/// A receiver that reads octet-counted frames and discards them, counting frames and bytes.
struct Discard {
    address: String,
    frames: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

fn discard() -> Discard {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (frames, bytes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (f, b) = (frames.clone(), bytes.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (f, b) = (f.clone(), b.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::with_capacity(1 << 20, stream);
                let mut length = Vec::new();
                let mut sink = vec![0u8; 1 << 16];
                loop {
                    length.clear();
                    if reader.read_until(b' ', &mut length).unwrap_or(0) == 0 {
                        return;
                    }
                    let Ok(mut left) = std::str::from_utf8(&length[..length.len() - 1]).unwrap_or("x").parse::<usize>()
                    else {
                        eprintln!("bad frame header {length:?}");
                        return;
                    };
                    b.fetch_add((left + length.len()) as u64, Ordering::Relaxed);
                    while left > 0 {
                        let chunk = left.min(sink.len());
                        if reader.read_exact(&mut sink[..chunk]).is_err() {
                            return;
                        }
                        left -= chunk;
                    }
                    f.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    Discard { address, frames, bytes }
}

struct Run {
    seconds: f64,
    cpu: f64,
    bytes: u64,
}

/// Waits until the receiver has `lines` more frames, then stops the consumer; wall and CPU time.
fn measure(name: &str, mut child: Child, sink: &Discard, lines: u64) -> Run {
    let (frames0, bytes0) = (sink.frames.load(Ordering::Relaxed), sink.bytes.load(Ordering::Relaxed));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(1800);
    while sink.frames.load(Ordering::Relaxed) - frames0 < lines {
        assert!(Instant::now() < deadline, "{name}: not done after 30 minutes");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{name} exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(child.id());
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let _ = child.wait();
    let bytes = sink.bytes.load(Ordering::Relaxed) - bytes0;
    let frames = sink.frames.load(Ordering::Relaxed) - frames0;
    assert_eq!(frames, lines, "{name}: every log forwarded once");
    Run { seconds, cpu, bytes }
}

fn main() {
    let size = std::env::var("LOGPORT_BENCH_SIZE").unwrap_or_else(|_| "200M".into());
    let with_peer = std::env::var("LOGPORT_BENCH_PEER").map_or(true, |value| value != "0");
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-consume");
    std::fs::create_dir_all(&work).unwrap();
    let log_path = work.join(format!("nginx-{size}.log"));
    if !log_path.exists() {
        generate(&log_path, &size);
    }
    let raw = std::fs::read(&log_path).unwrap();
    let lines: Vec<&[u8]> = raw.split(|b| *b == b'\n').filter(|line| !line.is_empty()).collect();
    let total = lines.len() as u64;
    println!("input: {} MB of nginx logs, {total} lines, log groups of ~{} KB", raw.len() >> 20, GROUP_BYTES >> 10);

    let data_dir = work.join("data");
    let _ = std::fs::remove_dir_all(&data_dir);
    let (mut server, address) = start_server(&data_dir);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let base = format!("http://{address}");
    setup(&agent, &base);
    for batch in build_batches(&lines, GROUP_BYTES) {
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
    drop(raw);
    println!("ingested into {SHARDS} shards");

    let sink = discard();
    let config = work.join("consumer.toml");
    std::fs::write(
        &config,
        format!(
            "endpoint = \"{base}\"\naccess_key_id = \"bench\"\naccess_key_secret = \"bench\"\nproject = \"bench\"\n\
             logstore = \"bench\"\ngroup = \"native\"\nconsumer = \"native-1\"\nheartbeat_secs = 2\n\
             fetch_interval_secs = 0.1\nbatch_groups = 10\n\n[sink]\ntype = \"syslog\"\naddress = \"{}\"\n\
             protocol = \"tcp\"\n",
            sink.address
        ),
    )
    .unwrap();
    let native = Command::new(env!("CARGO_BIN_EXE_logport"))
        .args(["consume", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let native = measure("logport consume", native, &sink, total);
    report("logport consume (native)", &native);

    #[cfg(feature = "wasm")]
    {
        let wasm = build_component();
        let cache = work.join("wasm-cache");
        let component_config = work.join("component.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        // Compile once into the cache (this run fails fast on a group of a project that does not exist).
        std::fs::write(&component_config, text.replace("project = \"bench\"", "project = \"no-such-project\""))
            .unwrap();
        let warm = Command::new(env!("CARGO_BIN_EXE_logport"))
            .args(["consume", "--config"])
            .arg(&component_config)
            .arg("--component")
            .arg(&wasm)
            .arg("--cache-dir")
            .arg(&cache)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(!warm.success());
        std::fs::write(&component_config, text.replace("group = \"native\"", "group = \"component\"")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_logport"))
            .args(["consume", "--config"])
            .arg(&component_config)
            .arg("--component")
            .arg(&wasm)
            .arg("--cache-dir")
            .arg(&cache)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let component = measure("logport consume --component", child, &sink, total);
        report("logport consume --component (WASI)", &component);
        println!(
            "component CPU / native CPU: {:.2}  (goal <= 1.5)",
            (component.cpu / component.bytes as f64) / (native.cpu / native.bytes as f64)
        );
    }

    if with_peer {
        let python = python();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/consume_sdk.py");
        let peer = Command::new(python)
            .arg(script)
            .args([address.as_str(), "bench", "bench", "sdk", sink.address.as_str()])
            .env("HTTP_PROXY", &base)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let peer = measure("SDK ConsumerWorker", peer, &sink, total);
        report("SDK ConsumerWorker (Python)", &peer);
        let per_core = |run: &Run| run.bytes as f64 / run.cpu;
        println!(
            "ratio (MB per CPU-second, native / Python SDK): {:.1}  (goal >= 10); wall-clock MB/s ratio: {:.1}",
            per_core(&native) / per_core(&peer),
            (native.bytes as f64 / native.seconds) / (peer.bytes as f64 / peer.seconds)
        );
    }
    let _ = server.kill();
    let _ = server.wait();
}

fn report(name: &str, run: &Run) {
    let mb = run.bytes as f64 / 1e6;
    println!(
        "{name}: {mb:.0} MB of syslog frames in {:.2} s = {:.1} MB/s; {:.2} CPU-s = {:.1} MB per CPU-second",
        run.seconds,
        mb / run.seconds,
        run.cpu,
        mb / run.cpu
    );
}

/// Builds the consumer component (release-wasm profile) and returns its path.
#[cfg(feature = "wasm")]
fn build_component() -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--profile", "release-wasm", "--target", "wasm32-wasip2", "-p", "logport-consumer-component"])
        .current_dir(&repo)
        .status()
        .unwrap();
    assert!(status.success(), "building the consumer component");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo.join("target"), PathBuf::from);
    target.join("wasm32-wasip2/release-wasm/logport-consumer.wasm")
}

/// The project venv's python with the SDK (tests/sdk/requirements.txt), installed on first use.
fn python() -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = std::env::var_os("LOGPORT_VENV").map_or_else(|| repo.join(".venv"), PathBuf::from);
    let python = venv.join("bin/python");
    let has_sdk = python.exists()
        && Command::new(&python)
            .args(["-c", "import aliyun.log"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !has_sdk {
        if !python.exists() {
            assert!(Command::new("python3").arg("-m").arg("venv").arg(&venv).status().unwrap().success());
        }
        let status = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "-r"])
            .arg(repo.join("tests/sdk/requirements.txt"))
            .status()
            .unwrap();
        assert!(status.success(), "pip install of the SDK");
    }
    python
}
