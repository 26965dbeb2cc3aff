//! Consumer groups end to end: the Rust consumer library against a real `logport up`, and
//! `logport consume` forwarding to real receivers — a HEC receiver written here (that checks the
//! token, the batch framing and the event JSON, and can refuse with 503), a TCP receiver of
//! octet-counted syslog frames, and rsyslog itself (TCP, TLS, UDP; `infra/rsyslog.sh` installs it).

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use logport_consumer::client::{Client as GroupClient, ClientConfig, StartPosition, UreqTransport};
use logport_consumer::{Processor, Worker, WorkerConfig};
use logport_core::model::{Content, Log, LogGroup};
use logport_core::view::GroupView;
use serde_json::Value;
use support::{KEY_ID, KEY_SECRET, Server};

const PROJECT: &str = "consumers";

/// Puts logs with `id` first..first+count, 50 per group, spread over `shards` by hash key.
fn put_ids(client: &support::Client, logstore: &str, shards: u32, first: u64, count: u64) {
    let per_group = 50;
    let mut next = first;
    let mut batch = 0u128;
    while next < first + count {
        let end = (next + per_group).min(first + count);
        let group = LogGroup {
            logs: (next..end)
                .map(|id| Log {
                    time: 1_700_000_000 + (id % 1000) as u32,
                    contents: vec![
                        Content { key: "id".into(), value: id.to_string() },
                        Content { key: "msg".into(), value: format!("user {id} logged in") },
                    ],
                    time_ns: None,
                })
                .collect(),
            topic: Some("auth".into()),
            source: Some("10.1.2.3".into()),
            ..Default::default()
        };
        let width = u128::MAX / u128::from(shards);
        let key = format!("{:032x}", (batch % u128::from(shards)) * width + width / 2);
        client.put_group(logstore, &group, Some(&key), &[]).expect_ok();
        batch += 1;
        next = end;
    }
}

fn ids_of(groups: &[GroupView<'_>]) -> Vec<u64> {
    groups
        .iter()
        .flat_map(|group| group.logs.iter().map(move |log| group.contents(log)))
        .filter_map(|contents| contents.iter().find(|(key, _)| *key == "id").and_then(|(_, value)| value.parse().ok()))
        .collect()
}

/// Every id seen, with who saw it from which shard.
#[derive(Debug, Clone, Default)]
struct Seen(Arc<Mutex<SeenMap>>);

/// id -> (consumer, shard) of each time it was seen.
type SeenMap = BTreeMap<u64, Vec<(String, u32)>>;

impl Seen {
    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    fn duplicates(&self) -> usize {
        self.0.lock().unwrap().values().filter(|seen| seen.len() > 1).count()
    }
}

struct Recorder {
    name: String,
    seen: Seen,
}

impl Processor for Recorder {
    fn process(&mut self, shard: u32, groups: &[GroupView<'_>]) -> Result<(), String> {
        let mut seen = self.seen.0.lock().unwrap();
        for id in ids_of(groups) {
            seen.entry(id).or_default().push((self.name.clone(), shard));
        }
        Ok(())
    }
}

fn group_client(server: &Server, logstore: &str, group: &str, consumer: &str) -> GroupClient {
    GroupClient::new(
        ClientConfig {
            endpoint: server.address.clone(),
            access_key_id: KEY_ID.into(),
            access_key_secret: KEY_SECRET.into(),
            project: PROJECT.into(),
            logstore: logstore.into(),
            group: group.into(),
            consumer: consumer.into(),
        },
        Box::new(UreqTransport::default()),
    )
}

fn quick_config() -> WorkerConfig {
    WorkerConfig {
        heartbeat_interval: Duration::from_millis(500),
        group_timeout: Duration::from_secs(3),
        fetch_interval: Duration::from_millis(100),
        checkpoint_interval: Duration::from_millis(500),
        ..WorkerConfig::default()
    }
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn setup(dir: &Path, logstore: &str, shards: u32) -> Server {
    let server = Server::start(&dir.join("data"), &[]);
    let client = server.client(PROJECT);
    let _ = client.create_project();
    client.create_logstore(logstore, shards).expect_ok();
    server
}

struct Running {
    stop: Arc<AtomicBool>,
    held: Arc<Mutex<Vec<u32>>>,
    thread: std::thread::JoinHandle<logport_consumer::WorkerStats>,
}

fn start_worker(server: &Server, logstore: &str, name: &str, seen: &Seen) -> Running {
    let client = group_client(server, logstore, "readers", name);
    let mut worker = Worker::new(client, quick_config(), Recorder { name: name.into(), seen: seen.clone() });
    let held = worker.held_view();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || worker.run(&flag).expect("the worker runs"));
    Running { stop, held, thread }
}

fn held(running: &Running) -> BTreeSet<u32> {
    running.held.lock().unwrap().iter().copied().collect()
}

#[test]
fn two_workers_share_the_shards_and_see_every_log_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = setup(dir.path(), "shared", 4);
    let client = server.client(PROJECT);
    put_ids(&client, "shared", 4, 0, 3000);

    let seen = Seen::default();
    let a = start_worker(&server, "shared", "worker-a", &seen);
    let b = start_worker(&server, "shared", "worker-b", &seen);
    let watch = watch_overlap(&a, &b);
    wait_for("two shards each", Duration::from_secs(20), || held(&a).len() == 2 && held(&b).len() == 2);
    assert!(held(&a).is_disjoint(&held(&b)));
    put_ids(&client, "shared", 4, 3000, 2000);
    wait_for("every log", Duration::from_secs(30), || seen.count() == 5000);
    assert_eq!(seen.duplicates(), 0);

    // b stops: it checkpoints and leaves the group, so a takes its shards at a's next heartbeat and
    // resumes from b's checkpoints.
    let b_shards = held(&b);
    b.stop.store(true, Ordering::Relaxed);
    let stats = b.thread.join().unwrap();
    assert_eq!(stats.shards_released, stats.shards_taken);
    let stopped = Instant::now();
    wait_for("a holding all four", Duration::from_secs(5), || held(&a).len() == 4);
    println!("hand-over after a goodbye took {:?}", stopped.elapsed());
    put_ids(&client, "shared", 4, 5000, 2000);
    wait_for("every log", Duration::from_secs(30), || seen.count() == 7000);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(seen.duplicates(), 0, "nothing is seen twice across the hand-over");
    let moved: BTreeSet<u32> = seen
        .0
        .lock()
        .unwrap()
        .range(5000..)
        .flat_map(|(_, where_)| where_.iter().filter(|(name, _)| name == "worker-a").map(|(_, shard)| *shard))
        .collect();
    assert!(b_shards.is_subset(&moved), "a read b's shards after the hand-over: {moved:?}");
    let (samples, overlaps) = watch.finish();
    assert!(samples > 100, "the watcher sampled the hand-overs ({samples} samples)");
    assert!(overlaps.is_empty(), "no shard is ever held by both workers: {overlaps:?}");
    a.stop.store(true, Ordering::Relaxed);
    a.thread.join().unwrap();
}

/// Samples two workers' held shards every 2 ms until finished; a shard counts as held twice when
/// it is in a's set, then b's, then a's again (three reads in a row, so a hand-over between two
/// reads is not mistaken for one).
struct OverlapWatch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(usize, Vec<u32>)>,
}

fn watch_overlap(a: &Running, b: &Running) -> OverlapWatch {
    let (a, b) = (a.held.clone(), b.held.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        let read = |view: &Arc<Mutex<Vec<u32>>>| -> BTreeSet<u32> { view.lock().unwrap().iter().copied().collect() };
        let (mut samples, mut overlaps) = (0, Vec::new());
        while !flag.load(Ordering::Relaxed) {
            let (first, second, third) = (read(&a), read(&b), read(&a));
            overlaps.extend(first.intersection(&second).filter(|shard| third.contains(shard)));
            samples += 1;
            std::thread::sleep(Duration::from_millis(2));
        }
        (samples, overlaps)
    });
    OverlapWatch { stop, thread }
}

impl OverlapWatch {
    fn finish(self) -> (usize, Vec<u32>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

#[test]
fn a_stale_consumers_checkpoint_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let server = setup(dir.path(), "fenced", 1);
    let client = server.client(PROJECT);
    put_ids(&client, "fenced", 1, 0, 100);
    let a = group_client(&server, "fenced", "g1", "a");
    let b = group_client(&server, "fenced", "g1", "b");
    a.ensure_group(Duration::from_secs(1), false).unwrap();
    let grant_a = a.heartbeat(&[]).unwrap();
    assert_eq!(grant_a.len(), 1);
    assert!(grant_a[0].lease > 0, "the server sends lease counters");
    let cursor = a.cursor(0, &StartPosition::End).unwrap();
    a.update_checkpoint(0, &cursor, grant_a[0].lease).unwrap();

    // a goes silent past the timeout (1 s, checked in whole seconds): b gets the shard.
    std::thread::sleep(Duration::from_millis(2500));
    let grant_b = b.heartbeat(&[]).unwrap();
    assert_eq!(grant_b.iter().map(|g| g.shard).collect::<Vec<_>>(), vec![0]);
    assert!(grant_b[0].lease > grant_a[0].lease);
    let begin = b.cursor(0, &StartPosition::Begin).unwrap();
    let error = a.update_checkpoint(0, &begin, grant_a[0].lease).unwrap_err();
    assert_eq!(error.code(), Some("ConsumerNotMatch"), "{error}");
    // a comes back: it may not write with its old grant even if it gets the shard again.
    b.heartbeat(&[]).unwrap(); // b releases the shard (lists nothing)
    let regrant = a.heartbeat(&[0]).unwrap();
    if let Some(grant) = regrant.iter().find(|g| g.shard == 0) {
        assert!(grant.lease > grant_b[0].lease);
        let error = a.update_checkpoint(0, &begin, grant_a[0].lease).unwrap_err();
        assert_eq!(error.code(), Some("ConsumerNotMatch"), "{error}");
        a.update_checkpoint(0, &begin, grant.lease).unwrap();
    }
    // The checkpoint a stale consumer tried to write did not land.
    let entry = b.checkpoint(0).unwrap();
    assert!(entry.cursor == cursor || entry.cursor == begin && !regrant.is_empty(), "{entry:?}");

    // Bad input: unknown group, bad consumer name, a cursor that is not one.
    let unknown = group_client(&server, "fenced", "nosuch", "a");
    assert_eq!(unknown.heartbeat(&[]).unwrap_err().code(), Some("ConsumerGroupNotExist"));
    let bad_name = group_client(&server, "fenced", "g1", "bad name/with slash");
    let error = bad_name.heartbeat(&[]).unwrap_err();
    assert_eq!(error.code(), Some("ParameterInvalid"), "{error}");
    let error = b.update_checkpoint(0, "bm90LWEtY3Vyc29y", 0).unwrap_err();
    assert_eq!(error.code(), Some("InvalidCursor"), "{error}");
    let error = b.update_checkpoint(7, &begin, 0).unwrap_err();
    assert_eq!(error.code(), Some("ShardNotExist"), "{error}");
}

// ------------------------------------------------------------------------------------------------
// `logport consume` and its receivers

fn write_config(dir: &Path, server: &Server, logstore: &str, consumer: &str, sink: &str) -> PathBuf {
    let path = dir.join(format!("{consumer}.toml"));
    let text = format!(
        "endpoint = \"http://{}\"\naccess_key_id = \"{KEY_ID}\"\naccess_key_secret = \"{KEY_SECRET}\"\n\
         project = \"{PROJECT}\"\nlogstore = \"{logstore}\"\ngroup = \"siem\"\nconsumer = \"{consumer}\"\n\
         heartbeat_secs = 0.5\ntimeout_secs = 3\nfetch_interval_secs = 0.1\ncheckpoint_secs = 0.5\n\n[sink]\n{sink}\n",
        server.address
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A `logport consume` process, killed if the test ends without stopping it.
struct Consumer(Option<Child>);

impl Drop for Consumer {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn consume(config: &Path) -> Consumer {
    let child = Command::new(env!("CARGO_BIN_EXE_logport"))
        .args(["consume", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start logport consume");
    Consumer(Some(child))
}

/// SIGTERM, then the counters line it prints.
fn stop_consumer(mut consumer: Consumer) -> Value {
    let mut child = consumer.0.take().unwrap();
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "logport consume exited with {status}");
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("counters line: {out:?}"))
}

/// A HEC receiver: checks the token and framing, refuses the first `refuse` requests with 503.
/// With indexer acknowledgement on (`acks`), events count only once acknowledged.
struct HecReceiver {
    address: String,
    /// Events received (with acknowledgement: indexed, i.e. acknowledged).
    events: Arc<Mutex<Vec<Value>>>,
    requests: Arc<AtomicUsize>,
    problems: Arc<Mutex<Vec<String>>>,
    acks: Option<Arc<Mutex<AckState>>>,
}

/// Splunk's indexer acknowledgement, as a receiver keeps it: every accepted batch gets an
/// `ackId`; a batch is indexed at the second poll of its id, except the first `lose` batches,
/// which an indexer "lost": never acknowledged.
#[derive(Default)]
struct AckState {
    next: u64,
    lose: u64,
    pending: HashMap<u64, (Vec<Value>, u32)>,
    polls: usize,
}

impl HecReceiver {
    fn start(token: &'static str, refuse: usize) -> HecReceiver {
        Self::start_with(token, refuse, None)
    }

    fn with_acks(token: &'static str, lose: u64) -> HecReceiver {
        Self::start_with(token, 0, Some(AckState { lose, ..Default::default() }))
    }

    fn start_with(token: &'static str, refuse: usize, acks: Option<AckState>) -> HecReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let events = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let problems = Arc::new(Mutex::new(Vec::new()));
        let acks = acks.map(|acks| Arc::new(Mutex::new(acks)));
        let (e, r, p, a) = (events.clone(), requests.clone(), problems.clone(), acks.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (e, r, p, a) = (e.clone(), r.clone(), p.clone(), a.clone());
                std::thread::spawn(move || serve_hec(stream, token, refuse, &e, &r, &p, a.as_deref()));
            }
        });
        HecReceiver { address, events, requests, problems, acks }
    }
}

/// The answer to `POST /services/collector/ack`: each asked id, acknowledged or not.
fn answer_acks(state: &mut AckState, body: &[u8], events: &Mutex<Vec<Value>>) -> String {
    state.polls += 1;
    let asked: Value = serde_json::from_slice(body).unwrap_or_default();
    let mut answer = serde_json::Map::new();
    for id in asked["acks"].as_array().into_iter().flatten().filter_map(Value::as_u64) {
        let indexed = match state.pending.get_mut(&id) {
            Some((_, polls)) if id >= state.lose => {
                *polls += 1;
                *polls >= 2
            }
            _ => false,
        };
        if indexed {
            let (batch, _) = state.pending.remove(&id).unwrap();
            events.lock().unwrap().extend(batch);
        }
        answer.insert(id.to_string(), Value::Bool(indexed));
    }
    serde_json::json!({ "acks": answer }).to_string()
}

fn serve_hec(
    stream: TcpStream,
    token: &str,
    refuse: usize,
    events: &Mutex<Vec<Value>>,
    requests: &AtomicUsize,
    problems: &Mutex<Vec<String>>,
    acks: Option<&Mutex<AckState>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
            }
        }
        let mut body = Vec::new();
        if headers.get("transfer-encoding").is_some_and(|coding| coding.eq_ignore_ascii_case("chunked")) {
            // What the component's outgoing requests (wasi:http) send: chunks, then a 0 chunk.
            loop {
                let mut size = String::new();
                reader.read_line(&mut size).unwrap();
                let size = usize::from_str_radix(size.trim_end().split(';').next().unwrap(), 16).unwrap();
                if size == 0 {
                    reader.read_line(&mut String::new()).unwrap();
                    break;
                }
                let mut chunk = vec![0; size + 2];
                reader.read_exact(&mut chunk).unwrap();
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            body.resize(length, 0);
            reader.read_exact(&mut body).unwrap();
        }
        let number = requests.fetch_add(1, Ordering::SeqCst);
        let channel = headers.get("x-splunk-request-channel");
        let (status, answer) = if acks.is_some() && channel.is_none_or(|channel| channel.len() != 36) {
            problems.lock().unwrap().push(format!("no request channel on {request_line:?}"));
            (400, r#"{"text":"Data channel is missing","code":10}"#.to_owned())
        } else if let Some(acks) = acks
            && request_line.starts_with("POST /services/collector/ack ")
        {
            (200, answer_acks(&mut acks.lock().unwrap(), &body, events))
        } else if !request_line.starts_with("POST /services/collector/event ") {
            problems.lock().unwrap().push(format!("unexpected request {request_line:?}"));
            (404, r#"{"text":"not found","code":404}"#.to_owned())
        } else if headers.get("authorization").map(String::as_str) != Some(&format!("Splunk {token}")) {
            problems.lock().unwrap().push(format!("bad authorization {:?}", headers.get("authorization")));
            (401, r#"{"text":"Invalid token","code":4}"#.to_owned())
        } else if number < refuse {
            (503, r#"{"text":"Server is busy","code":9}"#.to_owned())
        } else {
            // A batch is event objects one after another.
            let mut batch = Vec::new();
            for event in serde_json::Deserializer::from_slice(&body).into_iter::<Value>() {
                match event {
                    Ok(event) => batch.push(event),
                    Err(error) => problems.lock().unwrap().push(format!("bad batch framing: {error}")),
                }
            }
            match acks {
                Some(acks) => {
                    let mut acks = acks.lock().unwrap();
                    let id = acks.next;
                    acks.next += 1;
                    acks.pending.insert(id, (batch, 0));
                    (200, format!(r#"{{"text":"Success","code":0,"ackId":{id}}}"#))
                }
                None => {
                    events.lock().unwrap().extend(batch);
                    (200, r#"{"text":"Success","code":0}"#.to_owned())
                }
            }
        };
        let reason = if status == 200 { "OK" } else { "Error" };
        let response = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn hec_outage_pauses_consumption_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = setup(dir.path(), "to-hec", 2);
    put_ids(&server.client(PROJECT), "to-hec", 2, 0, 2000);
    // The first 12 requests get 503: more than one batch's retries, so the worker pauses shards.
    let hec = HecReceiver::start("s3cr3t-token", 12);
    let sink = format!(
        "type = \"hec\"\nurl = \"http://{}\"\ntoken = \"s3cr3t-token\"\nsourcetype = \"logport\"\nindex = \"main\"\n\
         batch_bytes = 65536\nattempts = 3",
        hec.address
    );
    let child = consume(&write_config(dir.path(), &server, "to-hec", "hec-1", &sink));
    wait_for("every event at the receiver", Duration::from_secs(60), || hec.events.lock().unwrap().len() >= 2000);
    std::thread::sleep(Duration::from_millis(500));
    let counters = stop_consumer(child);
    assert_eq!(hec.problems.lock().unwrap().as_slice(), &[] as &[String]);
    let events = hec.events.lock().unwrap();
    let mut ids: Vec<u64> = events.iter().map(|e| e["event"]["id"].as_str().unwrap().parse().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..2000).collect::<Vec<_>>(), "every log once: none lost, none doubled");
    let first = &events[0];
    assert_eq!(first["sourcetype"], "logport");
    assert_eq!(first["index"], "main");
    assert_eq!(first["host"], "10.1.2.3");
    assert_eq!(first["source"], "auth");
    assert!(first["time"].as_f64().unwrap() >= 1_700_000_000.0);
    assert!(hec.requests.load(Ordering::SeqCst) > 12);
    assert!(counters["refused"].as_u64().unwrap() >= 1, "the outage paused the shards: {counters}");
    assert_eq!(counters["logs"], 2000);
}

/// With indexer acknowledgement on, a batch counts as delivered only once the indexer says so:
/// a batch it never acknowledges times out and is sent again, so every log is indexed (at least
/// once) and the checkpoint never passes a log that is not.
fn hec_acknowledgement(component: Option<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let logstore = if component.is_some() { "hec-acks-wasm" } else { "hec-acks" };
    let server = setup(dir.path(), logstore, 1);
    let total = 1500u64;
    put_ids(&server.client(PROJECT), logstore, 1, 0, total);
    // The indexer loses the first batch: its ackId is never acknowledged.
    let hec = HecReceiver::with_acks("ack-token", 1);
    let sink = format!(
        "type = \"hec\"\nurl = \"http://{}\"\ntoken = \"ack-token\"\nbatch_bytes = 32768\nattempts = 2\n\
         ack_channel = \"0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b\"\nack_timeout_secs = 1",
        hec.address
    );
    let config = write_config(dir.path(), &server, logstore, "hec-ack", &sink);
    let mut command = Command::new(env!("CARGO_BIN_EXE_logport"));
    command.args(["consume", "--config"]).arg(&config);
    if let Some(wasm) = &component {
        command.arg("--component").arg(wasm).arg("--cache-dir").arg(dir.path().join("wasm-cache"));
    }
    let child = command.env("RUST_LOG", "warn").stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let consumer = Consumer(Some(child));
    let indexed_ids = || -> BTreeSet<u64> {
        hec.events.lock().unwrap().iter().map(|e| e["event"]["id"].as_str().unwrap().parse().unwrap()).collect()
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    while (indexed_ids().len() as u64) < total {
        if Instant::now() > deadline {
            let acks = hec.acks.as_ref().unwrap().lock().unwrap();
            panic!(
                "not every log indexed after 90 s: {} of {total}; {} requests, {} batches, {} ack polls, problems {:?}",
                indexed_ids().len(),
                hec.requests.load(Ordering::SeqCst),
                acks.next,
                acks.polls,
                hec.problems.lock().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let counters = stop_consumer(consumer);
    assert_eq!(hec.problems.lock().unwrap().as_slice(), &[] as &[String]);
    assert_eq!(indexed_ids(), (0..total).collect::<BTreeSet<_>>(), "every log indexed");
    let acks = hec.acks.as_ref().unwrap().lock().unwrap();
    assert!(acks.next >= 2 && acks.polls >= 2, "batches were acknowledged one by one");
    // The lost batch's logs were sent again: refused (timed out) once, delivered after.
    assert!(counters["refused"].as_u64().unwrap() >= 1, "the lost batch paused the shard: {counters}");
    assert!(hec.events.lock().unwrap().len() as u64 >= total);
}

#[test]
fn hec_acknowledgement_holds_logs_until_indexed() {
    hec_acknowledgement(None);
}

/// A TCP receiver of octet-counted syslog frames; keeps every message. It reads about
/// `per_second` messages a second (a slow SIEM), so that a stream takes a while.
fn syslog_tcp_receiver(per_second: usize) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let messages = Arc::new(Mutex::new(Vec::new()));
    let kept = messages.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let kept = kept.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                loop {
                    let mut length = Vec::new();
                    if reader.read_until(b' ', &mut length).unwrap_or(0) == 0 {
                        return;
                    }
                    let Ok(length) = std::str::from_utf8(&length[..length.len() - 1]).unwrap().parse::<usize>() else {
                        return;
                    };
                    let mut message = vec![0; length];
                    if reader.read_exact(&mut message).is_err() {
                        return;
                    }
                    let count = {
                        let mut kept = kept.lock().unwrap();
                        kept.push(String::from_utf8(message).unwrap());
                        kept.len()
                    };
                    if count % 100 == 0 {
                        std::thread::sleep(Duration::from_millis((100_000 / per_second) as u64));
                    }
                }
            });
        }
    });
    (address, messages)
}

fn id_in(message: &str) -> u64 {
    let start = message.find("id=").unwrap_or_else(|| panic!("no id in {message:?}")) + 3;
    message[start..].split("||").next().unwrap().parse().unwrap()
}

#[test]
fn a_consumer_killed_mid_stream_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = setup(dir.path(), "killed", 4);
    let total = 20_000;
    put_ids(&server.client(PROJECT), "killed", 4, 0, total);
    let (address, messages) = syslog_tcp_receiver(4000);
    let sink = format!("type = \"syslog\"\naddress = \"{address}\"\nprotocol = \"tcp\"");
    let mut first = consume(&write_config(dir.path(), &server, "killed", "first", &sink));
    let observer = group_client(&server, "killed", "siem", "observer");
    wait_for("part of the stream, checkpointed", Duration::from_secs(30), || {
        messages.lock().unwrap().len() >= 3000
            && (0..4).filter(|shard| observer.checkpoint(*shard).is_ok_and(|entry| !entry.cursor.is_empty())).count()
                == 4
    });
    let mut killed = first.0.take().unwrap();
    killed.kill().unwrap(); // SIGKILL: no checkpoint, no goodbye
    killed.wait().unwrap();
    let at_kill = messages.lock().unwrap().len();
    let second = consume(&write_config(dir.path(), &server, "killed", "second", &sink));
    wait_for("every id", Duration::from_secs(60), || {
        let seen: BTreeSet<u64> = messages.lock().unwrap().iter().map(|m| id_in(m)).collect();
        seen.len() as u64 == total
    });
    stop_consumer(second);
    let messages = messages.lock().unwrap();
    let distinct: BTreeSet<u64> = messages.iter().map(|m| id_in(m)).collect();
    assert_eq!(distinct, (0..total).collect());
    let duplicates = messages.len() - distinct.len();
    println!("kill -9 after {at_kill} of {total} forwarded: {duplicates} forwarded twice (at-least-once)");
    assert!(duplicates < at_kill, "only what was not yet checkpointed comes again");
    assert!(messages.iter().all(|m| m.starts_with("<134>1 ")), "RFC 5424 with the default facility/severity");
}

// ------------------------------------------------------------------------------------------------
// rsyslog as the real receiver

struct Rsyslog {
    child: Child,
    output: PathBuf,
    tcp: u16,
    udp: u16,
    tls: u16,
    ca: PathBuf,
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl").args(args).current_dir(dir).stderr(Stdio::null()).status().expect("openssl");
    assert!(status.success(), "openssl {args:?}");
}

/// Starts rsyslogd in the foreground with imtcp (plain), imtcp (TLS, gtls) and imudp on
/// 127.0.0.1, writing every message as `[protocol] HOSTNAME APP-NAME MSGID MSG` to one file.
fn start_rsyslog(dir: &Path) -> Rsyslog {
    let rsyslogd = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"].into_iter().find(|path| Path::new(path).exists());
    let rsyslogd = rsyslogd.expect("rsyslogd is not installed: infra/rsyslog.sh installs rsyslog and rsyslog-gnutls");
    // A CA and a server certificate for 127.0.0.1.
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=logport test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ],
    );
    let (tcp, udp, tls) = (free_port(), free_port(), free_port());
    let output = dir.join("received.log");
    let d = dir.display();
    let config = format!(
        r#"global(workDirectory="{d}" maxMessageSize="64k"
       DefaultNetstreamDriver="gtls"
       DefaultNetstreamDriverCAFile="{d}/ca.pem"
       DefaultNetstreamDriverCertFile="{d}/server.pem"
       DefaultNetstreamDriverKeyFile="{d}/server.key")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
module(load="imudp")
template(name="fields" type="string" string="[%inputname%] %HOSTNAME% %APP-NAME% %MSGID% %msg%\n")
input(type="imtcp" port="{tls}" address="127.0.0.1" name="tls" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
input(type="imtcp" port="{tcp}" address="127.0.0.1" name="tcp" StreamDriver.Name="ptcp" StreamDriver.Mode="0")
input(type="imudp" port="{udp}" address="127.0.0.1" name="udp" rcvbufSize="8m")
action(type="omfile" file="{output}" template="fields")
"#,
        output = output.display()
    );
    std::fs::write(dir.join("rsyslog.conf"), config).unwrap();
    let check = Command::new(rsyslogd).args(["-N1", "-f"]).arg(dir.join("rsyslog.conf")).output().unwrap();
    assert!(check.status.success(), "rsyslog config: {}", String::from_utf8_lossy(&check.stderr));
    let child = Command::new(rsyslogd)
        .args(["-n", "-i"])
        .arg(dir.join("rsyslogd.pid"))
        .arg("-f")
        .arg(dir.join("rsyslog.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start rsyslogd");
    wait_for("rsyslog listening", Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", tcp)).is_ok() && TcpStream::connect(("127.0.0.1", tls)).is_ok()
    });
    Rsyslog { child, output, tcp, udp, tls, ca: dir.join("ca.pem") }
}

/// Lines rsyslog wrote for `input`.
fn received(rsyslog: &Rsyslog, input: &str) -> Vec<String> {
    let text = std::fs::read_to_string(&rsyslog.output).unwrap_or_default();
    let prefix = format!("[{input}] ");
    text.lines().filter(|line| line.starts_with(&prefix)).map(str::to_owned).collect()
}

#[test]
fn rsyslog_receives_every_log_over_tcp_tls_and_udp() {
    let dir = tempfile::tempdir().unwrap();
    let rsyslog_dir = dir.path().join("rsyslog");
    std::fs::create_dir(&rsyslog_dir).unwrap();
    let rsyslog = start_rsyslog(&rsyslog_dir);
    let server = setup(dir.path(), "to-syslog", 2);
    let total = 1000u64;
    put_ids(&server.client(PROJECT), "to-syslog", 2, 0, total);

    for (input, port, extra) in [
        ("tcp", rsyslog.tcp, String::new()),
        ("tls", rsyslog.tls, format!("ca_file = \"{}\"\n", rsyslog.ca.display())),
        ("udp", rsyslog.udp, String::new()),
    ] {
        // One consumer group per protocol, so that each reads the logstore from the start.
        let sink = format!(
            "type = \"syslog\"\naddress = \"127.0.0.1:{port}\"\nprotocol = \"{input}\"\nhostname = \"fw-{input}\"\n\
             app_name = \"logport\"\nmsg_id = \"auth\"\n{extra}"
        );
        let config = write_config(dir.path(), &server, "to-syslog", &format!("to-{input}"), &sink);
        let text =
            std::fs::read_to_string(&config).unwrap().replace("group = \"siem\"", &format!("group = \"siem-{input}\""));
        std::fs::write(&config, text).unwrap();
        let child = consume(&config);
        wait_for(&format!("{total} logs over {input}"), Duration::from_secs(60), || {
            received(&rsyslog, input).len() as u64 >= total
        });
        std::thread::sleep(Duration::from_millis(500));
        stop_consumer(child);
        let lines = received(&rsyslog, input);
        let ids: BTreeSet<u64> = lines.iter().map(|line| id_in(line)).collect();
        assert_eq!(ids.len() as u64, total, "{input}: every log");
        assert_eq!(lines.len() as u64, total, "{input}: every log once");
        // rsyslog parsed the RFC 5424 header: hostname, app-name and msgid are its fields.
        for line in &lines {
            let expected = format!("[{input}] fw-{input} logport auth id=");
            assert!(line.starts_with(&expected), "{line:?} does not start with {expected:?}");
            assert!(line.contains("||msg=user ") && line.contains("||__topic__=auth||__source__=10.1.2.3"), "{line:?}");
        }
    }
}

// ------------------------------------------------------------------------------------------------
// The consumer as a WASI component (`logport consume --component`, feature `wasm`)

/// The component built by `cargo build --profile release-wasm --target wasm32-wasip2 -p
/// logport-consumer-component` (infra/test-all.sh does, and names it in LOGPORT_CONSUMER_WASM).
#[cfg(feature = "wasm")]
fn consumer_wasm() -> PathBuf {
    let path = std::env::var_os("LOGPORT_CONSUMER_WASM").map(PathBuf::from).expect(
        "LOGPORT_CONSUMER_WASM names the consumer component: cargo build --profile release-wasm \
         --target wasm32-wasip2 -p logport-consumer-component",
    );
    assert!(path.exists(), "no component at {}", path.display());
    path
}

#[cfg(feature = "wasm")]
#[test]
fn the_component_holds_hec_logs_until_indexed() {
    hec_acknowledgement(Some(consumer_wasm()));
}

#[cfg(feature = "wasm")]
#[test]
fn the_component_forwards_the_same_bytes_as_the_native_consumer() {
    let dir = tempfile::tempdir().unwrap();
    let server = setup(dir.path(), "identical", 1);
    let total = 3000u64;
    put_ids(&server.client(PROJECT), "identical", 1, 0, total);
    let mut outputs = Vec::new();
    let stats = dir.path().join("capped-stats.json");
    // The third run: the component under a CPU cap of half a core, with the host's accounting.
    let capped = ["--cpu".to_owned(), "0.5".to_owned(), "--stats-file".to_owned(), stats.display().to_string()];
    for (name, component, caps) in [
        ("native", None, &[][..]),
        ("component", Some(consumer_wasm()), &[][..]),
        ("capped", Some(consumer_wasm()), &capped[..]),
    ] {
        let (address, messages) = syslog_tcp_receiver(1_000_000);
        let sink = format!("type = \"syslog\"\naddress = \"{address}\"\nprotocol = \"tcp\"\nformat = \"json\"");
        let config = write_config(dir.path(), &server, "identical", name, &sink);
        let text =
            std::fs::read_to_string(&config).unwrap().replace("group = \"siem\"", &format!("group = \"{name}\""));
        std::fs::write(&config, text).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_logport"));
        command.args(["consume", "--config"]).arg(&config);
        if let Some(wasm) = &component {
            command.arg("--component").arg(wasm).arg("--cache-dir").arg(dir.path().join("wasm-cache")).args(caps);
        }
        let child = command.env("RUST_LOG", "warn").stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        let consumer = Consumer(Some(child));
        wait_for(&format!("{total} logs from the {name} consumer"), Duration::from_secs(120), || {
            messages.lock().unwrap().len() as u64 >= total
        });
        let counters = stop_consumer(consumer);
        assert_eq!(counters["logs"], total, "{name}: {counters}");
        outputs.push(messages.lock().unwrap().clone());
    }
    assert_eq!(outputs[0].len() as u64, total);
    assert!(outputs[0] == outputs[1], "the component's frames differ from the native consumer's");
    assert!(outputs[0] == outputs[2], "the capped component's frames differ from the native consumer's");
    // The host accounted for the capped run, and kept it within its share (a run this short may
    // not reach the cap: then it was never suspended).
    let usage: serde_json::Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    let share = usage["cpu_share"].as_f64().unwrap();
    assert!(usage["cpu_seconds"].as_f64().unwrap() > 0.0 && share <= 0.5 + 0.05, "{usage}");
    assert!(usage["peak_memory_bytes"].as_u64().unwrap() > 0, "{usage}");
    assert!(usage["cpu_throttles"].as_u64().unwrap() > 0 || share < 0.45, "{usage}");
}
