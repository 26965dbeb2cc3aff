//! The agent as a WASI component (`logport agent run --component`, feature `wasm`) against a real
//! `logport up`: every line exactly once, and the host's hard caps (memory, CPU, send bandwidth)
//! measured from the host's own accounting (`--stats-file` and the JSON line it prints on exit).

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Client, KEY_ID, KEY_SECRET, Server};

/// The component built by `cargo build --profile release-wasm --target wasm32-wasip2 -p
/// logport-agent-component` (infra/test-all.sh does, and names it in LOGPORT_AGENT_WASM).
fn agent_wasm() -> PathBuf {
    let path = std::env::var_os("LOGPORT_AGENT_WASM").map(PathBuf::from).expect(
        "LOGPORT_AGENT_WASM names the agent component: cargo build --profile release-wasm \
         --target wasm32-wasip2 -p logport-agent-component",
    );
    assert!(path.exists(), "no component at {}", path.display());
    path
}

/// `poll_ms`: the agent reads one chunk per file per poll, so a short poll lets it catch up at the
/// speed its CPU allows.
fn write_config(dir: &Path, endpoint: &str, logs_dir: &Path, logstore: &str, poll_ms: u64) -> PathBuf {
    let state = dir.join("state");
    let text = format!(
        "[service]\nendpoint = \"{endpoint}\"\nproject = \"agentwasm\"\naccess_key_id = \"{KEY_ID}\"\n\
         access_key_secret = \"{KEY_SECRET}\"\n\n[agent]\nstate_dir = {state:?}\npoll_ms = {poll_ms}\nbatch_ms = 200\n\n\
         [[source]]\nname = \"app\"\nlogstore = \"{logstore}\"\ndir = {logs_dir:?}\npattern = \"app.log*\"\n\
         backfill = true\n[source.parse]\nmode = \"regex\"\nregex = '^seq=(?P<seq>\\d+) (?P<payload>.*)$'\n"
    );
    let path = dir.join("agent.toml");
    std::fs::write(&path, text).unwrap();
    path
}

struct Agent {
    child: Child,
    stats: PathBuf,
}

fn start_agent(dir: &Path, config: &Path, caps: &[&str]) -> Agent {
    let stats = dir.join("stats.json");
    let child = Command::new(env!("CARGO_BIN_EXE_logport"))
        .args(["agent", "run", "--config"])
        .arg(config)
        .arg("--component")
        .arg(agent_wasm())
        .arg("--cache-dir")
        .arg(dir.join("wasm-cache"))
        .arg("--stats-file")
        .arg(&stats)
        .args(caps)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the agent component");
    // Started: its first status is written (the component is compiled and has polled once).
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.join("state/status.json").exists() {
        assert!(Instant::now() < deadline, "the agent component wrote no status in 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    Agent { child, stats }
}

impl Agent {
    /// The host's accounting so far (from the stats file).
    fn usage(&self) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(value) = std::fs::read(&self.stats).ok().and_then(|b| serde_json::from_slice(&b).ok()) {
                return value;
            }
            assert!(Instant::now() < deadline, "no stats file");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, then the JSON line the host prints on exit.
    fn stop(mut self) -> serde_json::Value {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill");
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.child.try_wait().expect("wait").is_none() {
            assert!(Instant::now() < deadline, "the agent component did not stop within 60 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut out = String::new();
        std::io::Read::read_to_string(self.child.stdout.as_mut().unwrap(), &mut out).unwrap();
        assert!(self.child.wait().unwrap().success(), "the agent component failed; stdout: {out}");
        serde_json::from_str(out.lines().last().expect("a stats line")).expect("the stats line is JSON")
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn setup(server: &Server, logstore: &str) -> Client {
    let client = server.client("agentwasm");
    client.create_project().expect_ok();
    client.create_logstore(logstore, 1).expect_ok();
    client
}

/// How many times each `seq` is in the logstore.
fn seq_counts(client: &Client, logstore: &str) -> HashMap<u64, u32> {
    let mut counts = HashMap::new();
    for group in client.pull_all(logstore, 0) {
        for log in &group.logs {
            let seq = log.contents.iter().find(|c| c.key == "seq").expect("parsed seq").value.parse().unwrap();
            *counts.entry(seq).or_insert(0) += 1;
        }
    }
    counts
}

fn wait_all(client: &Client, logstore: &str, total: u64, timeout: Duration) -> HashMap<u64, u32> {
    let deadline = Instant::now() + timeout;
    loop {
        let counts = seq_counts(client, logstore);
        if counts.len() as u64 >= total || Instant::now() > deadline {
            return counts;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn assert_exactly_once(counts: &HashMap<u64, u32>, total: u64) {
    let missing = (0..total).filter(|seq| !counts.contains_key(seq)).count();
    let repeated = counts.values().filter(|&&n| n > 1).count();
    assert_eq!((missing, repeated), (0, 0), "{total} lines: {missing} missing, {repeated} repeated");
    assert_eq!(counts.len() as u64, total);
}

/// Appends lines `from..to` (`seq=N payload`, ~`width` bytes each) to `file`.
fn append(file: &Path, from: u64, to: u64, width: usize, random: bool) {
    let mut out = std::io::BufWriter::with_capacity(
        1 << 20,
        std::fs::OpenOptions::new().create(true).append(true).open(file).unwrap(),
    );
    let mut state = from.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for seq in from..to {
        let mut line = format!("seq={seq} ");
        while line.len() < width {
            if random {
                // xorshift: a payload lz4 cannot shrink much (for the bandwidth cap).
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                line.push_str(&format!("{state:016x}"));
            } else {
                line.push_str("GET /index.html HTTP/1.1 200 612 Mozilla/5.0 ");
            }
        }
        line.truncate(width);
        line.push('\n');
        out.write_all(line.as_bytes()).unwrap();
    }
    out.flush().unwrap();
}

/// 32 MiB and 0.2 core while input arrives much faster than 0.2 core can parse and send it: the
/// agent falls behind, stays under both caps (the host's accounting), catches up, and every line
/// is in the logstore exactly once, across a rename rotation.
#[test]
fn the_component_stays_under_32_mib_and_a_fifth_of_a_core_and_loses_nothing() {
    let root = tempfile::tempdir().unwrap();
    let mut server = Server::start(&root.path().join("data"), &[]);
    let client = setup(&server, "caps");
    let logs = root.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let config = write_config(root.path(), &server.address, &logs, "caps", 5);
    let agent = start_agent(root.path(), &config, &["--memory-mib", "32", "--cpu", "0.2"]);

    // 48 MB in two files (a rename rotation halfway), written as fast as this machine can.
    let (total, width) = (240_000u64, 200usize);
    let written = Instant::now();
    append(&logs.join("app.log"), 0, total / 2, width, false);
    std::fs::rename(logs.join("app.log"), logs.join("app.log.1")).unwrap();
    append(&logs.join("app.log"), total / 2, total, width, false);
    let write_seconds = written.elapsed().as_secs_f64();
    let input_mb_per_s = (total as usize * width) as f64 / 1e6 / write_seconds;
    // Behind: when the writer is done, the logstore is far from complete.
    let behind = seq_counts(&client, "caps").len() as u64;
    assert!(behind < total / 2, "the capped agent kept up with {input_mb_per_s:.0} MB/s of input ({behind} lines in)");

    let counts = wait_all(&client, "caps", total, Duration::from_secs(240));
    let caught_up = agent.usage();
    if counts.len() as u64 != total || counts.values().any(|&n| n != 1) {
        let status = std::fs::read_to_string(root.path().join("state/status.json")).unwrap_or_default();
        eprintln!("caps: the agent's status: {status}");
    }
    assert_exactly_once(&counts, total);
    let usage = agent.stop();
    eprintln!(
        "caps: {total} lines ({} MB) written at {input_mb_per_s:.0} MB/s; {behind} in the logstore when the \
         writer finished; caught up after {:.1} s: {caught_up}; at exit: {usage}",
        total as usize * width / 1_000_000,
        caught_up["wall_seconds"].as_f64().unwrap()
    );
    for (when, usage) in [("caught up", &caught_up), ("exit", &usage)] {
        let share = usage["cpu_share"].as_f64().unwrap();
        assert!(share <= 0.2 + 0.02, "{when}: CPU share {share:.3} over the 0.2 cap: {usage}");
        let peak = usage["peak_memory_bytes"].as_u64().unwrap();
        assert!(peak > 0 && peak <= 32 << 20, "{when}: peak memory {peak} over the 32 MiB cap: {usage}");
    }
    // The cap did bite (without it the agent would have used more than a fifth of a core) -
    // unless the machine was too busy to give it even that (then it never reached the cap).
    let share = usage["cpu_share"].as_f64().unwrap();
    assert!(
        usage["cpu_throttles"].as_u64().unwrap() > 0 || share < 0.18,
        "the agent used {share:.3} of a core but the CPU cap never suspended it: {usage}"
    );
    assert!(usage["cpu_seconds"].as_f64().unwrap() > 1.0, "{usage}");
    server.stop();
}

/// A send cap of 256 kB/s: the request bodies that leave the host stay under it, the agent slows
/// down instead of failing, and every line arrives exactly once.
#[test]
fn the_component_sends_no_faster_than_its_bandwidth_cap() {
    let root = tempfile::tempdir().unwrap();
    let mut server = Server::start(&root.path().join("data"), &[]);
    let client = setup(&server, "bandwidth");
    let logs = root.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let config = write_config(root.path(), &server.address, &logs, "bandwidth", 50);
    let cap = 256_000u64;
    let agent = start_agent(root.path(), &config, &["--bandwidth", &cap.to_string()]);

    // ~3 MB that lz4 cannot shrink much: ≥ 10 s at the cap.
    let (total, width) = (12_000u64, 256usize);
    append(&logs.join("app.log"), 0, total, width, true);
    let counts = wait_all(&client, "bandwidth", total, Duration::from_secs(120));
    let busy = agent.usage();
    assert_exactly_once(&counts, total);
    let usage = agent.stop();
    eprintln!("bandwidth: busy {busy}; at exit {usage}");

    let sent = busy["http_body_bytes_sent"].as_u64().unwrap() as f64;
    let seconds = busy["wall_seconds"].as_f64().unwrap();
    assert!(sent >= (total as usize * width) as f64 * 0.5, "only {sent} bytes sent for {total} lines: {busy}");
    // The bucket holds a tenth of a second's worth at most (≥ 16 KiB): that is the only burst.
    let allowed = cap as f64 * seconds + (cap as f64 / 10.0).max(16.0 * 1024.0);
    assert!(sent <= allowed, "{sent} bytes in {seconds:.1} s: over the {cap} B/s cap: {busy}");
    assert!(sent / seconds > cap as f64 * 0.5, "the cap held the agent far below it: {busy}");
    assert!(busy["send_wait_seconds"].as_f64().unwrap() > 1.0, "the cap never held a body back: {busy}");
    server.stop();
}

/// A memory cap below what the agent needs: the host stops it with an error that names the cap
/// and the refused allocations (not an anonymous trap), and exits non-zero.
#[test]
fn an_agent_over_its_memory_cap_is_reported_as_such() {
    let root = tempfile::tempdir().unwrap();
    let mut server = Server::start(&root.path().join("data"), &[]);
    setup(&server, "memory");
    let logs = root.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let config = write_config(root.path(), &server.address, &logs, "memory", 50);
    let mut child = Command::new(env!("CARGO_BIN_EXE_logport"))
        .args(["agent", "run", "--config"])
        .arg(&config)
        .arg("--component")
        .arg(agent_wasm())
        .arg("--cache-dir")
        .arg(root.path().join("wasm-cache"))
        .args(["--memory-mib", "1"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the agent component");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the agent component ran for 60 s within 1 MiB");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "stdout: {stdout}");
    assert!(stderr.contains("memory cap (1 MiB) refused"), "stderr: {stderr}");
    let usage: serde_json::Value = serde_json::from_str(stdout.lines().last().expect("the stats line")).unwrap();
    assert!(usage["memory_denied"].as_u64().unwrap() > 0, "{usage}");
    assert!(usage["peak_memory_bytes"].as_u64().unwrap() <= 1 << 20, "{usage}");
    server.stop();
}
