//! The agent end to end: real `logport agent run` processes tailing real files into a real
//! `logport up`, checked by reading the logstore back with PullLogs.

mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use logport_core::model::{Log, LogGroup};
use support::{Client, KEY_ID, KEY_SECRET, Server};

fn start_agent(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_logport"))
        .args(["agent", "run", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the agent")
}

fn write_config(dir: &Path, endpoint: &str, agent_extra: &str, sources: &str) -> PathBuf {
    let state = dir.join("state");
    let text = format!(
        "[service]\nendpoint = \"{endpoint}\"\nproject = \"agent\"\naccess_key_id = \"{KEY_ID}\"\n\
         access_key_secret = \"{KEY_SECRET}\"\n\n[agent]\nstate_dir = {state:?}\npoll_ms = 50\n\
         batch_ms = 200\n{agent_extra}\n{sources}"
    );
    let path = dir.join("agent.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Waits until the agent has written its first status (its first poll is done: files it finds
/// from now on are new and read from their start).
fn wait_started(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(dir).is_null() {
        assert!(Instant::now() < deadline, "the agent wrote no status");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn status(dir: &Path) -> serde_json::Value {
    std::fs::read(dir.join("state/status.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(serde_json::Value::Null)
}

fn setup(server: &Server, logstores: &[&str]) -> Client {
    let client = server.client("agent");
    client.create_project().expect_ok();
    for logstore in logstores {
        client.create_logstore(logstore, 1).expect_ok();
    }
    client
}

fn logs_of(client: &Client, logstore: &str) -> Vec<(LogGroup, Log)> {
    let mut out = Vec::new();
    for mut group in client.pull_all(logstore, 0) {
        let logs = std::mem::take(&mut group.logs);
        for log in logs {
            out.push((group.clone(), log));
        }
    }
    out
}

/// Waits until the logstore holds at least `count` logs (or `timeout`), then a little longer so
/// that duplicates, if any, would show.
fn wait_for(client: &Client, logstore: &str, count: usize, timeout: Duration) -> Vec<(LogGroup, Log)> {
    let deadline = Instant::now() + timeout;
    loop {
        let logs = logs_of(client, logstore);
        if logs.len() >= count || Instant::now() > deadline {
            std::thread::sleep(Duration::from_secs(1));
            return logs_of(client, logstore);
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn value<'a>(log: &'a Log, key: &str) -> Option<&'a str> {
    log.contents.iter().find(|c| c.key == key).map(|c| c.value.as_str())
}

fn tag<'a>(group: &'a LogGroup, key: &str) -> Option<&'a str> {
    group.log_tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata")
}

/// (name, regex, time format, first line's time in unix seconds or None for formats without a year)
const LOGHUB: &[(&str, &str, &str, Option<u32>)] = &[
    (
        "Apache",
        r"^\[(?P<time>[^\]]+)\] \[(?P<level>[^\]]+)\] (?P<message>.*)$",
        "%a %b %d %H:%M:%S %Y",
        Some(1_133_671_664),
    ),
    (
        "HDFS",
        r"^(?P<time>\d{6} \d{6}) (?P<pid>\d+) (?P<level>\w+) (?P<component>[^:]+): (?P<message>.*)$",
        "%y%m%d %H%M%S",
        Some(1_226_262_975),
    ),
    (
        "Hadoop",
        r"^(?P<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) (?P<level>\w+) \[(?P<thread>[^\]]*)\] (?P<component>[^:]+): (?P<message>.*)$",
        "%Y-%m-%d %H:%M:%S,%3f",
        Some(1_445_191_307),
    ),
    (
        "Linux",
        r"^(?P<time>\w{3} [ \d]\d \d{2}:\d{2}:\d{2}) (?P<host>\S+) (?P<process>[^:\[]+)(\[(?P<pid>\d+)\])?: (?P<message>.*)$",
        "%b %d %H:%M:%S",
        None,
    ),
    (
        "OpenSSH",
        r"^(?P<time>\w{3} [ \d]\d \d{2}:\d{2}:\d{2}) (?P<host>\S+) (?P<process>\w+)\[(?P<pid>\d+)\]: (?P<message>.*)$",
        "%b %d %H:%M:%S",
        None,
    ),
    (
        "Spark",
        r"^(?P<time>\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) (?P<level>\w+) (?P<component>[^:]+): (?P<message>.*)$",
        "%y/%m/%d %H:%M:%S",
        Some(1_497_039_040),
    ),
    (
        "Zookeeper",
        r"^(?P<time>\S+ \S+) - (?P<level>\w+) +\[(?P<node>.*?)\] - (?P<message>.*)$",
        "%Y-%m-%d %H:%M:%S,%3f",
        Some(1_438_191_704),
    ),
];

#[test]
fn loghub_formats_and_java_multiline_are_parsed() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(&root.path().join("data"), &[]);
    let mut logstores: Vec<String> = LOGHUB.iter().map(|(name, ..)| name.to_lowercase()).collect();
    logstores.push("java".into());
    let names: Vec<&str> = logstores.iter().map(String::as_str).collect();
    let client = setup(&server, &names);
    let mut sources = String::new();
    let mut expected_lines = HashMap::new();
    for (name, regex, format, _) in LOGHUB {
        let dir = root.path().join("logs").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut text = std::fs::read_to_string(testdata().join(format!("loghub/{name}_2k.log"))).unwrap();
        if !text.ends_with('\n') {
            text.push('\n'); // a last line without newline is held back while the file is live
        }
        expected_lines.insert(*name, text.lines().map(str::to_owned).collect::<Vec<_>>());
        std::fs::write(dir.join(format!("{name}.log")), text).unwrap();
        sources.push_str(&format!(
            "[[source]]\nname = \"{name}\"\nlogstore = \"{}\"\ndir = {dir:?}\npattern = \"*.log\"\nbackfill = true\n\
             topic_from_path = '/([A-Za-z]+)\\.log$'\n[source.parse]\nmode = \"regex\"\nregex = '{regex}'\n\
             time_key = \"time\"\ntime_format = \"{format}\"\nunmatched = \"keep\"\n\n",
            name.to_lowercase()
        ));
    }
    let java_dir = root.path().join("logs/java");
    std::fs::create_dir_all(&java_dir).unwrap();
    let java = Command::new("python3")
        .arg(testdata().join("gen_logs.py"))
        .args(["--format", "java", "--lines", "3000", "--seed", "7"])
        .output()
        .expect("gen_logs.py");
    assert!(java.status.success());
    let java_text = String::from_utf8(java.stdout).unwrap();
    let java_records = java_text.lines().filter(|l| l.as_bytes().first().is_some_and(u8::is_ascii_digit)).count();
    std::fs::write(java_dir.join("app.log"), &java_text).unwrap();
    sources.push_str(&format!(
        "[[source]]\nname = \"java\"\nlogstore = \"java\"\ndir = {java_dir:?}\npattern = \"*.log\"\nbackfill = true\n\
         topic = \"app\"\n[source.parse]\nmode = \"regex\"\nfirst_line = '^\\d{{4}}-\\d{{2}}-\\d{{2}} '\n\
         regex = '(?s)^(?P<time>\\S+ \\S+) (?P<level>\\w+) \\[(?P<thread>[^\\]]+)\\] (?P<logger>\\S+) - (?P<message>.*)$'\n\
         time_key = \"time\"\ntime_format = \"%Y-%m-%d %H:%M:%S,%3f\"\nflush_ms = 500\n"
    ));
    let config = write_config(root.path(), &server.address, "", &sources);
    let agent = start_agent(&config);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32;
    for (name, _, _, first_time) in LOGHUB {
        let logstore = name.to_lowercase();
        let logs = wait_for(&client, &logstore, 2000, Duration::from_secs(60));
        let lines = &expected_lines[name];
        assert_eq!(logs.len(), lines.len(), "{name}: one log per line");
        for ((group, log), line) in logs.iter().zip(lines) {
            assert!(value(log, "content").is_none(), "{name}: unmatched line {line:?}");
            let message = value(log, "message").unwrap();
            assert!(line.ends_with(message), "{name}: {message:?} is the end of {line:?}");
            assert!(line.contains(value(log, "time").unwrap()));
            assert_eq!(group.topic.as_deref(), Some(*name), "topic from the path");
            assert_eq!(group.source.as_deref(), Some("127.0.0.1"));
            assert!(tag(group, "__path__").unwrap().ends_with(&format!("{name}/{name}.log")));
            assert!(!tag(group, "__hostname__").unwrap().is_empty());
            match first_time {
                // Times with a year are in the past; without one, within the last year.
                Some(_) => assert!(log.time < 1_600_000_000, "{name}: time {} of {line:?}", log.time),
                None => {
                    assert!(log.time <= now + 86_400 && log.time > now - 367 * 86_400, "{name}: {line:?}");
                    let hms: Vec<u32> =
                        value(log, "time").unwrap()[7..].split(':').map(|p| p.parse().unwrap()).collect();
                    assert_eq!(log.time % 86_400, hms[0] * 3600 + hms[1] * 60 + hms[2], "{name}: {line:?}");
                }
            }
        }
        if let Some(first_time) = first_time {
            assert_eq!(logs[0].1.time, *first_time, "{name}: {}", lines[0]);
        }
    }
    // Milliseconds are kept.
    let hadoop = logs_of(&client, "hadoop");
    assert_eq!(hadoop[0].1.time_ns, Some(978_000_000));
    // Java: one log per record, stack traces joined, every line accounted for.
    let java_logs = wait_for(&client, "java", java_records, Duration::from_secs(60));
    assert_eq!(java_logs.len(), java_records);
    let joined: usize = java_logs.iter().map(|(_, log)| value(log, "message").unwrap().lines().count()).sum();
    assert_eq!(joined, java_text.lines().count());
    let traces = java_logs.iter().filter(|(_, log)| value(log, "message").unwrap().contains("\n\tat ")).count();
    assert!(traces > 50, "{traces} stack traces");
    assert!(java_logs.iter().all(|(_, log)| value(log, "level").is_some() && log.time >= 1_699_999_000));
    support::stop_gracefully(agent, "the agent");
}

/// Appends numbered lines; `rotate` below renames or copies+truncates under the same lock.
struct Writer {
    path: PathBuf,
    file: std::fs::File,
    next: u64,
    /// After a rename, keep writing one more batch to the renamed file (as real programs do
    /// until they reopen), then reopen.
    reopen_after_next: bool,
}

impl Writer {
    fn write_batch(&mut self, lines: u64) {
        let mut text = String::new();
        for _ in 0..lines {
            text.push_str(&format!("seq={:09} the quick brown fox jumps over the lazy dog\n", self.next));
            self.next += 1;
        }
        self.file.write_all(text.as_bytes()).unwrap();
        if self.reopen_after_next {
            self.reopen_after_next = false;
            self.file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path).unwrap();
        }
    }
}

/// Runs of consecutive numbers, for messages.
fn ranges(seqs: &[u64]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &seq in seqs {
        match out.last_mut() {
            Some((_, end)) if *end + 1 == seq => *end = seq,
            _ => out.push((seq, seq)),
        }
    }
    out.truncate(20);
    out
}

fn seq_counts(logs: &[(LogGroup, Log)]) -> HashMap<u64, u32> {
    let mut counts = HashMap::new();
    for (_, log) in logs {
        let content = value(log, "content").unwrap();
        let seq: u64 = content[4..13].parse().unwrap();
        *counts.entry(seq).or_insert(0) += 1;
    }
    counts
}

/// Every line exactly once through ≥ 60 s of rotations at ≥ 5,000 lines/s, with the agent killed
/// (SIGKILL) and restarted three times.
#[test]
fn rotation_torture_every_line_exactly_once() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(&root.path().join("data"), &[]);
    let client = setup(&server, &["torture"]);
    let logs_dir = root.path().join("logs");
    std::fs::create_dir_all(&logs_dir).unwrap();
    let log = logs_dir.join("app.log");
    std::fs::write(&log, "").unwrap();
    let sources = format!(
        "[[source]]\nname = \"app\"\nlogstore = \"torture\"\ndir = {logs_dir:?}\npattern = \"app.log*\"\nidle_polls = 20\n"
    );
    let config = write_config(root.path(), &server.address, "", &sources);
    let mut agent = start_agent(&config);
    wait_started(root.path());
    let writer = Arc::new(Mutex::new(Writer {
        path: log.clone(),
        file: std::fs::OpenOptions::new().append(true).open(&log).unwrap(),
        next: 0,
        reopen_after_next: false,
    }));
    let running = Arc::new(AtomicBool::new(true));
    let write_thread = {
        let (writer, running) = (writer.clone(), running.clone());
        std::thread::spawn(move || {
            // 60 lines every 10 ms: 6,000 lines/s.
            let start = Instant::now();
            let mut batches = 0u64;
            while running.load(Ordering::Relaxed) {
                writer.lock().unwrap().write_batch(60);
                batches += 1;
                let due = start + Duration::from_millis(10 * batches);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
        })
    };
    let rotations = Arc::new(AtomicU64::new(0));
    let reused_inodes = Arc::new(AtomicU64::new(0));
    let rotate_thread = {
        let (writer, running, rotations, reused) =
            (writer.clone(), running.clone(), rotations.clone(), reused_inodes.clone());
        let logs_dir = logs_dir.clone();
        std::thread::spawn(move || {
            use std::os::unix::fs::MetadataExt;
            let mut n = 0u64;
            let mut rotated: Vec<(PathBuf, Instant)> = Vec::new();
            let mut freed = std::collections::HashSet::new();
            while running.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                n += 1;
                let target = logs_dir.join(format!("app.log.{n}"));
                {
                    let mut w = writer.lock().unwrap();
                    if n.is_multiple_of(4) {
                        // copytruncate
                        std::fs::copy(&w.path, &target).unwrap();
                        std::fs::OpenOptions::new().write(true).open(&w.path).unwrap().set_len(0).unwrap();
                    } else {
                        // rename + create
                        std::fs::rename(&w.path, &target).unwrap();
                        std::fs::write(&w.path, "").unwrap();
                        w.reopen_after_next = true;
                        if freed.contains(&std::fs::metadata(&w.path).unwrap().ino()) {
                            reused.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                if std::env::var_os("LOGPORT_AGENT_TRACE").is_some() {
                    let w = writer.lock().unwrap();
                    eprintln!(
                        "rotator: {} -> {} at seq {} ino={}",
                        if n.is_multiple_of(4) { "copy" } else { "rename" },
                        target.display(),
                        w.next,
                        std::fs::metadata(&target).unwrap().ino()
                    );
                }
                rotations.fetch_add(1, Ordering::Relaxed);
                rotated.push((target, Instant::now()));
                // Delete rotated files after 10 s (long read by then), freeing inodes for reuse.
                while rotated.first().is_some_and(|(_, at)| at.elapsed() > Duration::from_secs(10)) {
                    let (path, _) = rotated.remove(0);
                    freed.insert(std::fs::metadata(&path).unwrap().ino());
                    std::fs::remove_file(path).unwrap();
                }
            }
        })
    };
    let start = Instant::now();
    for kill_at in [15, 30, 45] {
        std::thread::sleep(Duration::from_secs(kill_at).saturating_sub(start.elapsed()));
        agent.kill().unwrap(); // SIGKILL
        agent.wait().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        agent = start_agent(&config);
    }
    std::thread::sleep(Duration::from_secs(62).saturating_sub(start.elapsed()));
    running.store(false, Ordering::Relaxed);
    write_thread.join().unwrap();
    rotate_thread.join().unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    let total = writer.lock().unwrap().next;
    // Wait for every distinct line, not for a count of logs: duplicates would make the count
    // reach `total` while lines still on their way are counted as missing.
    let deadline = Instant::now() + Duration::from_secs(120);
    while seq_counts(&logs_of(&client, "torture")).len() < total as usize && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(2)); // late duplicates, if any, would show
    let logs = logs_of(&client, "torture");
    let final_status = status(root.path());
    support::stop_gracefully(agent, "the agent");
    let counts = seq_counts(&logs);
    let missing: Vec<u64> = (0..total).filter(|seq| !counts.contains_key(seq)).collect();
    let duplicates: u32 = counts.values().map(|n| n - 1).sum();
    let mut repeated: Vec<u64> = counts.iter().filter(|(_, n)| **n > 1).map(|(seq, _)| *seq).collect();
    repeated.sort();
    eprintln!("torture: missing {:?}; repeated {:?}", ranges(&missing), ranges(&repeated));
    eprintln!(
        "torture: {total} lines in {elapsed:.1} s ({:.0} lines/s), {} rotations, {} reused inodes, 3 kill -9; \
         {} logs stored, {} missing, {duplicates} duplicates; status: {}",
        total as f64 / elapsed,
        rotations.load(Ordering::Relaxed),
        reused_inodes.load(Ordering::Relaxed),
        logs.len(),
        missing.len(),
        final_status["sources"][0]["tail"]
    );
    assert!(total as f64 / elapsed >= 5_000.0, "the writer was too slow for the test to count");
    assert!(missing.is_empty(), "missing lines, first: {:?}", &missing[..missing.len().min(10)]);
    assert!(counts.keys().all(|seq| *seq < total), "lines nobody wrote");
    // At-least-once across kill -9: duplicates are only allowed from the three kills, and few.
    assert!(duplicates <= 3 * 2000, "{duplicates} duplicates");
}

/// A TCP proxy in front of the server that can be switched off (connections refused or cut),
/// as the service being down looks to the agent.
struct Proxy {
    address: String,
    up: Arc<AtomicBool>,
}

impl Proxy {
    fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let up = Arc::new(AtomicBool::new(true));
        let flag = up.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(client) = stream else { continue };
                if !flag.load(Ordering::Relaxed) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else { continue };
                let flag = flag.clone();
                for (mut from, mut to) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                {
                    let flag = flag.clone();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 64 * 1024];
                        loop {
                            match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) if flag.load(Ordering::Relaxed) => {
                                    if to.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                                Ok(_) => break,
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy { address, up }
    }
}

#[test]
fn outage_loses_nothing_and_a_full_cache_says_what_it_dropped() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(&root.path().join("data"), &[]);
    let client = setup(&server, &["outage"]);
    let proxy = Proxy::start(server.address.clone());
    let logs_dir = root.path().join("logs");
    std::fs::create_dir_all(&logs_dir).unwrap();
    let log = logs_dir.join("app.log");
    std::fs::write(&log, "").unwrap();
    let sources =
        format!("[[source]]\nname = \"app\"\nlogstore = \"outage\"\ndir = {logs_dir:?}\npattern = \"app.log\"\n");
    let config = write_config(root.path(), &proxy.address, "", &sources);
    let agent = start_agent(&config);
    wait_started(root.path());
    let outage =
        Duration::from_secs(std::env::var("LOGPORT_TEST_OUTAGE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(20));
    let mut writer = Writer {
        path: log.clone(),
        file: std::fs::OpenOptions::new().append(true).open(&log).unwrap(),
        next: 0,
        reopen_after_next: false,
    };
    let mut cached_during_outage = 0;
    let start = Instant::now();
    let total_time = outage + Duration::from_secs(10);
    while start.elapsed() < total_time {
        let t = start.elapsed();
        let down = t >= Duration::from_secs(5) && t < Duration::from_secs(5) + outage;
        proxy.up.store(!down, Ordering::Relaxed);
        if down {
            let cached = status(root.path())["cache"]["batches"].as_u64().unwrap_or(0);
            cached_during_outage = cached_during_outage.max(cached);
        }
        writer.write_batch(50);
        std::thread::sleep(Duration::from_millis(20));
    }
    proxy.up.store(true, Ordering::Relaxed);
    let total = writer.next;
    let logs = wait_for(&client, "outage", total as usize, Duration::from_secs(120));
    let counts = seq_counts(&logs);
    let missing = (0..total).filter(|seq| !counts.contains_key(seq)).count();
    let duplicates: u32 = counts.values().map(|n| n - 1).sum();
    eprintln!(
        "outage: {total} lines, {} s down, up to {cached_during_outage} batches cached, {missing} missing, {duplicates} duplicates",
        outage.as_secs()
    );
    assert!(cached_during_outage > 0, "nothing went to the disk cache during the outage");
    assert_eq!((missing, duplicates), (0, 0));
    // The logs arrive in the order they were written (the cache is sent in order).
    let order: Vec<u64> = logs.iter().map(|(_, l)| value(l, "content").unwrap()[4..13].parse().unwrap()).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "out of order after the outage");
    support::stop_gracefully(agent, "the agent");

    // A cache too small for the outage: the oldest batches are dropped, counted and reported.
    let small = root.path().join("small");
    let small_logs = small.join("logs");
    std::fs::create_dir_all(&small_logs).unwrap();
    let small_log = small_logs.join("app.log");
    std::fs::write(&small_log, "").unwrap();
    let dead = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string(); // closed again
    let sources =
        format!("[[source]]\nname = \"app\"\nlogstore = \"outage\"\ndir = {small_logs:?}\npattern = \"app.log\"\n");
    let config = write_config(&small, &dead, "cache_max_bytes = 20000", &sources);
    let agent = start_agent(&config);
    wait_started(&small);
    let mut writer = Writer {
        path: small_log.clone(),
        file: std::fs::OpenOptions::new().append(true).open(&small_log).unwrap(),
        next: 0,
        reopen_after_next: false,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        writer.write_batch(200);
        std::thread::sleep(Duration::from_millis(100));
        let status = status(&small);
        if status["cache"]["dropped_batches"].as_u64().unwrap_or(0) > 0 {
            assert!(status["cache"]["dropped_bytes"].as_u64().unwrap() > 0);
            assert!(status["send"]["last_error"].as_str().unwrap().contains("cannot reach"));
            break;
        }
        assert!(Instant::now() < deadline, "no drop reported: {status}");
    }
    support::stop_gracefully(agent, "the agent");
}

#[test]
fn bad_input_is_reported_and_harms_nothing_else() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(&root.path().join("data"), &[]);
    let client = setup(&server, &["good", "bad"]);
    let logs_dir = root.path().join("logs");
    std::fs::create_dir_all(&logs_dir).unwrap();
    // Binary garbage (NUL, invalid UTF-8), a 10 MB line, and a FIFO that must not block discovery.
    let mut garbage: Vec<u8> = (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    garbage.push(b'\n');
    std::fs::write(logs_dir.join("garbage.log"), &garbage).unwrap();
    let mut huge = "x".repeat(10 << 20);
    huge.push_str("\nafter the huge line\n");
    std::fs::write(logs_dir.join("huge.log"), huge).unwrap();
    assert!(Command::new("mkfifo").arg(logs_dir.join("fifo.log")).status().unwrap().success());
    std::fs::write(logs_dir.join("good.log"), "one\ntwo\n").unwrap();
    let sources = format!(
        "[[source]]\nname = \"good\"\nlogstore = \"good\"\ndir = {logs_dir:?}\npattern = \"*.log\"\nbackfill = true\n\n\
         [[source]]\nname = \"bad_regex\"\nlogstore = \"bad\"\ndir = {logs_dir:?}\npattern = \"*.log\"\n\
         [source.parse]\nmode = \"regex\"\nregex = '(?P<a>[unclosed'\n\n\
         [[source]]\nname = \"bad_time\"\nlogstore = \"bad\"\ndir = {logs_dir:?}\npattern = \"*.log\"\n\
         [source.parse]\ntime_key = \"content\"\ntime_format = \"%Y-%Q\"\n\n\
         [[source]]\nname = \"missing_dir\"\nlogstore = \"bad\"\ndir = {:?}\npattern = \"*.log\"\n",
        root.path().join("nowhere")
    );
    let config = write_config(root.path(), &server.address, "", &sources);
    let mut agent = start_agent(&config);
    // garbage: 1 + lines in it; huge: 11 pieces + 1; good: 2.
    let garbage_lines = garbage.iter().filter(|&&b| b == b'\n').count();
    let expected = garbage_lines + 11 + 1 + 2;
    let logs = wait_for(&client, "good", expected, Duration::from_secs(60));
    assert_eq!(logs.len(), expected);
    let pieces: Vec<usize> = logs
        .iter()
        .filter(|(g, _)| tag(g, "__path__").unwrap().ends_with("huge.log"))
        .map(|(_, l)| value(l, "content").unwrap().len())
        .collect();
    assert_eq!(pieces.iter().sum::<usize>(), (10 << 20) + "after the huge line".len());
    assert!(pieces.iter().all(|&len| len <= 1_000_000));
    assert!(agent.try_wait().unwrap().is_none(), "the agent died");
    let status = status(root.path());
    let errors = status["errors"].to_string();
    assert!(errors.contains("invalid parse.regex"), "{errors}");
    assert!(errors.contains("invalid parse.time_format"), "{errors}");
    let missing = &status["sources"].as_array().unwrap().iter().find(|s| s["name"] == "missing_dir").unwrap()["tail"];
    assert!(missing["errors"].to_string().contains("cannot list"), "{missing}");
    assert!(logs_of(&client, "bad").is_empty());
    support::stop_gracefully(agent, "the agent");
}
