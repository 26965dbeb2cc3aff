//! The agent tailing one nginx file with regex field extraction into `logport up`, against
//! rsyslog (`imfile` → `omfwd` TCP) on the same file, and the agent as a WASI component against
//! the native agent, in one run.
//!
//! ```sh
//! bash infra/rsyslog.sh                       # rsyslog, as the tests install it
//! cargo build --target wasm32-wasip2 --profile release-wasm -p logport-agent-component
//! LOGPORT_AGENT_WASM=$CARGO_TARGET_DIR/wasm32-wasip2/release-wasm/logport-agent.wasm \
//!   LOGPORT_BENCH_SIZE=1G cargo bench -p logport --features wasm --bench agent
//! ```
//!
//! Each reader starts on the whole file (the agent with `backfill = true`, rsyslog with
//! `freshStartTail="off"`) and the clock stops when the last line arrived: in the logstore (the
//! agent's `status.json` counts what the service acknowledged; the logstore's count is checked
//! after) or at the TCP sink (rsyslog). CPU is the reader's own process (`/proc/<pid>/stat`);
//! `logport up` and the sink are not counted. The agent extracts 10 fields with one regex and
//! parses the time; rsyslog extracts 4 with `re_extract` (RainerScript) and sends them as JSON.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{cpu_seconds, generate, start_server};

const REGEX: &str = r#"^(?P<ip>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<method>\S+) (?P<url>\S+) (?P<protocol>[^"]*)" (?P<status>\d+) (?P<length>\d+) "(?P<referer>[^"]*)" "(?P<agent>[^"]*)" (?P<request_time>\S+)$"#;
const TIME_FORMAT: &str = "%d/%b/%Y:%H:%M:%S %z";

struct Run {
    name: &'static str,
    seconds: f64,
    cpu: f64,
}

fn main() {
    let size = std::env::var("LOGPORT_BENCH_SIZE").unwrap_or_else(|_| "128M".into());
    let component = std::env::var_os("LOGPORT_AGENT_WASM").map(PathBuf::from);
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-agent");
    let _ = std::fs::remove_dir_all(&work);
    let logs = work.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let log_path = logs.join("access.log");
    generate(&log_path, &size);
    let (bytes, lines) = {
        let mut reader = BufReader::new(std::fs::File::open(&log_path).unwrap());
        let (mut bytes, mut lines, mut line) = (0u64, 0u64, Vec::new());
        while reader.read_until(b'\n', &mut line).unwrap() > 0 {
            bytes += line.len() as u64;
            lines += 1;
            line.clear();
        }
        (bytes, lines)
    };
    let mb = bytes as f64 / 1e6;
    println!("input: {mb:.1} MB of nginx logs, {lines} lines");

    let (mut server, address) = start_server(&work.join("data"));
    let base = format!("http://{address}");
    let http: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    create(&http, &base, "/", r#"{"projectName":"bench"}"#);

    // Each reader runs `LOGPORT_BENCH_RUNS` times (default 3); the run with the least CPU counts
    // (the others differ by what else the machine was doing).
    let repeat: usize = std::env::var("LOGPORT_BENCH_RUNS").ok().and_then(|n| n.parse().ok()).unwrap_or(3).max(1);
    let best = |runs: Vec<Run>| runs.into_iter().min_by(|a, b| a.cpu.total_cmp(&b.cpu)).unwrap();
    let setup = Setup { http: &http, base: &base, work: &work, logs: &logs };
    let mut runs = Vec::new();
    runs.push(best((0..repeat).map(|i| agent_run(&setup, "native", None, lines, i)).collect()));
    if let Some(component) = &component {
        // Compile the component into the cache first (an agent on an empty directory until the
        // cache holds it): the measured run loads it.
        let cache = work.join("wasm-cache");
        let empty = work.join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        create(&http, &base, "/logstores", r#"{"logstoreName":"warmup","ttl":30,"shardCount":1}"#);
        let config = write_config(&work.join("agent-warmup"), &base, &empty, "warmup");
        let mut warm = Command::new(env!("CARGO_BIN_EXE_logport"))
            .args(["agent", "run", "--config"])
            .arg(&config)
            .arg("--component")
            .arg(component)
            .arg("--cache-dir")
            .arg(&cache)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(300);
        while common::dir_size(&cache) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(500));
        Command::new("kill").args(["-TERM", &warm.id().to_string()]).status().unwrap();
        let _ = warm.wait();
        runs.push(best(
            (0..repeat).map(|i| agent_run(&setup, "component", Some((component, &cache)), lines, i)).collect(),
        ));
    } else {
        println!("component: skipped (LOGPORT_AGENT_WASM not set)");
    }
    runs.push(best((0..repeat).map(|i| rsyslog_run(&work, &log_path, lines, i)).collect()));
    let _ = server.kill();

    println!();
    println!("| reader | wall s | MB/s | CPU s | MB per CPU-second |");
    println!("|---|---|---|---|---|");
    for run in &runs {
        println!(
            "| {} | {:.2} | {:.1} | {:.2} | {:.1} |",
            run.name,
            run.seconds,
            mb / run.seconds,
            run.cpu,
            mb / run.cpu
        );
    }
    let find = |name: &str| runs.iter().find(|run| run.name == name);
    let native = find("native").unwrap();
    let rsyslog = find("rsyslog").unwrap();
    println!();
    println!("native agent / rsyslog, MB per CPU-second: **{:.2}** (goal >= 3)", rsyslog.cpu / native.cpu);
    if let Some(component) = find("component") {
        println!("component CPU / native CPU: **{:.2}** (goal <= 1.5)", component.cpu / native.cpu);
    }
}

fn create(http: &ureq::Agent, base: &str, path: &str, body: &str) {
    let response = http
        .post(format!("{base}{path}"))
        .header("x-log-project", "bench")
        .header("content-type", "application/json")
        .send(body)
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "POST {path}");
}

/// One agent (native, or the component with its cache) from the start of the file until the
/// service acknowledged every line.
/// Where the agents run: the service, the work directory and the directory of the log file.
struct Setup<'a> {
    http: &'a ureq::Agent,
    base: &'a str,
    work: &'a Path,
    logs: &'a Path,
}

fn agent_run(
    setup: &Setup,
    name: &'static str,
    component: Option<(&PathBuf, &PathBuf)>,
    lines: u64,
    attempt: usize,
) -> Run {
    let Setup { http, base, work, logs } = *setup;
    let logstore = format!("{name}{attempt}");
    create(http, base, "/logstores", &format!(r#"{{"logstoreName":"{logstore}","ttl":30,"shardCount":2}}"#));
    let dir = work.join(format!("agent-{logstore}"));
    let config = write_config(&dir, base, logs, &logstore);
    let state = dir.join("state");
    let mut command = Command::new(env!("CARGO_BIN_EXE_logport"));
    command.args(["agent", "run", "--config"]).arg(&config);
    if let Some((component, cache)) = component {
        command.arg("--component").arg(component).arg("--memory-mib").arg("256").arg("--cache-dir").arg(cache);
    }
    let started = Instant::now();
    let child = command.env("RUST_LOG", "warn").stdout(Stdio::null()).spawn().unwrap();
    let status = state.join("status.json");
    let sent = || -> u64 {
        let text = std::fs::read_to_string(&status).unwrap_or_default();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        value["send"]["logs_sent"].as_u64().unwrap_or(0)
    };
    let run = finish(name, child, started, || sent() >= lines);
    // What the logstore holds, counted by the service.
    let query = "* | select count(*) as n";
    let response = http
        .get(format!("{base}/logstores/{logstore}"))
        .query("type", "log")
        .query("from", "0")
        .query("to", "4000000000")
        .query("query", query)
        .header("x-log-project", "bench")
        .call()
        .unwrap();
    let body: serde_json::Value = serde_json::from_reader(response.into_body().into_reader()).unwrap();
    let n = &body[0]["n"];
    let stored = n.as_u64().or_else(|| n.as_str().and_then(|n| n.parse().ok())).unwrap_or(u64::MAX);
    assert_eq!(stored, lines, "{name}: the logstore holds every line once ({body})");
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&status).unwrap_or_default()).unwrap_or_default();
    assert_eq!(value["send"]["logs_unmatched"].as_u64(), Some(0), "{name}: every line matched the regex");
    println!("{name}: {lines} lines in the logstore in {:.2} s, {:.2} CPU s", run.seconds, run.cpu);
    run
}

/// An agent config in `dir` (state in `dir/state`): every file named access.log in `logs`, from
/// its start, parsed by [`REGEX`] into `logstore`.
fn write_config(dir: &Path, base: &str, logs: &Path, logstore: &str) -> PathBuf {
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[service]\nendpoint = \"{base}\"\nproject = \"bench\"\naccess_key_id = \"bench\"\n\
             access_key_secret = \"bench\"\n\n[agent]\nstate_dir = {state:?}\n\n[[source]]\nname = \"nginx\"\n\
             logstore = \"{logstore}\"\ndir = {logs:?}\npattern = \"access.log\"\nbackfill = true\n\
             [source.parse]\nmode = \"regex\"\nregex = '{REGEX}'\ntime_key = \"time\"\ntime_format = \"{TIME_FORMAT}\"\n"
        ),
    )
    .unwrap();
    config
}

/// Waits for `done`, then takes the process's CPU time and stops it.
fn finish(name: &'static str, mut child: Child, started: Instant, done: impl Fn() -> bool) -> Run {
    let deadline = started + Duration::from_secs(1800);
    while !done() {
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
    Run { name, seconds, cpu }
}

/// rsyslogd in the foreground: imfile on the file from its start, four fields by regex, JSON
/// lines over TCP to a sink here that counts them.
fn rsyslog_run(work: &Path, log_path: &Path, lines: u64, attempt: usize) -> Run {
    let rsyslogd = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"]
        .into_iter()
        .find(|path| Path::new(path).exists())
        .expect("rsyslogd is not installed: bash infra/rsyslog.sh");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut buffer = vec![0u8; 1 << 16];
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0 {
                        return;
                    }
                    let newlines = buffer[..n].iter().filter(|b| **b == b'\n').count();
                    counter.fetch_add(newlines as u64, Ordering::Relaxed);
                }
            });
        }
    });
    let dir = work.join(format!("rsyslog{attempt}"));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display();
    let file = log_path.display();
    let config = format!(
        r#"global(workDirectory="{d}" maxMessageSize="64k")
module(load="imfile")
template(name="json" type="list") {{
  property(name="$!all-json")
  constant(value="\n")
}}
ruleset(name="nginx") {{
  set $!ip = re_extract($msg, "^([^ ]+) ", 0, 1, "");
  set $!time = re_extract($msg, "\\[([^]]+)\\]", 0, 1, "");
  set $!request = re_extract($msg, "\"([^\"]*)\"", 0, 1, "");
  set $!status = re_extract($msg, "\" ([0-9]+) ", 0, 1, "");
  action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp" template="json")
}}
input(type="imfile" file="{file}" tag="nginx" ruleset="nginx" freshStartTail="off" readMode="0")
"#
    );
    std::fs::write(dir.join("rsyslog.conf"), config).unwrap();
    let check = Command::new(rsyslogd).args(["-N1", "-f"]).arg(dir.join("rsyslog.conf")).output().unwrap();
    assert!(check.status.success(), "rsyslog config: {}", String::from_utf8_lossy(&check.stderr));
    let started = Instant::now();
    let child = Command::new(rsyslogd)
        .args(["-n", "-i"])
        .arg(dir.join("rsyslogd.pid"))
        .arg("-f")
        .arg(dir.join("rsyslog.conf"))
        .stdout(Stdio::null())
        .spawn()
        .expect("start rsyslogd");
    let run = finish("rsyslog", child, started, || received.load(Ordering::Relaxed) >= lines);
    println!("rsyslog: {lines} lines at the sink in {:.2} s, {:.2} CPU s", run.seconds, run.cpu);
    run
}
