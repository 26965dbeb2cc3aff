//! Shared helpers of the integration tests: start and stop a real `logport up` process on a
//! free port, and an SLS client that signs requests (v1, HMAC-SHA1) the way the official SDK
//! does.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use logport_core::codec::Compression;
use logport_core::model::{LogGroup, LogGroupList};
use md5::{Digest, Md5};
use prost::Message;

pub const KEY_ID: &str = "LTAItestkey";
pub const KEY_SECRET: &str = "test-secret-0123456789";

/// A running `logport up`.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    pub address: String,
    pub data_dir: PathBuf,
}

impl Server {
    /// Starts `logport up` on a free port over `data_dir`, with the test key and `extra` flags.
    ///
    /// `LOGPORT_TEST_SERVER_BIN` names another binary that takes the same command line, to run a
    /// suite against it: `logport-lambda-local` serves the API through the Lambda functions' code.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let binary =
            std::env::var_os("LOGPORT_TEST_SERVER_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_logport").into());
        let mut child = Command::new(binary)
            .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(["--access-key-id", KEY_ID, "--access-key-secret", KEY_SECRET])
            .args(backend_args(data_dir))
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start logport");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("read the first line");
        let address = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        Server { child: Some(child), address, data_dir: data_dir.to_owned() }
    }

    /// Whether the server keeps its data on the AWS backend (`LOGPORT_TEST_BACKEND=aws`).
    pub fn on_aws() -> bool {
        std::env::var("LOGPORT_TEST_BACKEND").is_ok_and(|backend| backend == "aws")
    }

    /// Whether the server is `logport-lambda-local`: the API behind an emulated API Gateway,
    /// which answers some requests itself (a body over its 10 MB limit: 413 `{"message": ...}`).
    pub fn behind_api_gateway() -> bool {
        std::env::var_os("LOGPORT_TEST_SERVER_BIN")
            .is_some_and(|binary| Path::new(&binary).file_name().is_some_and(|name| name == "logport-lambda-local"))
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "logport did not stop within 60 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn client(&self, project: &str) -> Client {
        Client::new(&self.address, project, KEY_ID, KEY_SECRET)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The backend flags: none (the embedded store in the data directory), or with
/// `LOGPORT_TEST_BACKEND=aws` the AWS backend on the S3 + DynamoDB server the environment names
/// (`LOGPORT_S3_BUCKET`, `LOGPORT_AWS_ENDPOINT`, AWS credentials), in a table and key prefix of
/// this data directory's own, created when missing: each test gets a fresh store, and a restart
/// over the same directory finds its data again.
fn backend_args(data_dir: &Path) -> Vec<String> {
    if !Server::on_aws() {
        return Vec::new();
    }
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut hasher);
    let namespace = format!("{:016x}", hasher.finish());
    vec![
        "--backend".into(),
        "aws".into(),
        "--dynamodb-table".into(),
        format!("logport-test-{namespace}"),
        "--s3-prefix".into(),
        format!("test-{namespace}"),
        "--create-aws-resources".into(),
    ]
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts an SLS error answer and returns its message.
    pub fn expect_error(&self, status: u16, code: &str) -> String {
        let body = self.json();
        assert_eq!((self.status, body["errorCode"].as_str()), (status, Some(code)), "{body}");
        assert!(self.header("x-log-requestid").is_some_and(|id| !id.is_empty()));
        let message = body["errorMessage"].as_str().expect("errorMessage").to_owned();
        assert!(!message.is_empty());
        message
    }

    pub fn expect_ok(&self) -> &Self {
        assert_eq!(self.status, 200, "{}", String::from_utf8_lossy(&self.body));
        self
    }
}

/// An SLS client for one project, signing with v1 (HMAC-SHA1) like the official SDK.
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
    pub address: String,
    pub project: String,
    pub key_id: String,
    pub key_secret: String,
    /// Leave out the Authorization header.
    pub unsigned: bool,
}

impl Client {
    pub fn new(address: &str, project: &str, key_id: &str, key_secret: &str) -> Client {
        let config = ureq::Agent::config_builder().http_status_as_error(false).build();
        Client {
            agent: config.into(),
            address: address.to_owned(),
            project: project.to_owned(),
            key_id: key_id.to_owned(),
            key_secret: key_secret.to_owned(),
            unsigned: false,
        }
    }

    /// Sends a request; `query` is raw `k=v` pairs (values unencoded).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        self.try_send(method, path, query, headers, body).expect("HTTP exchange")
    }

    /// Like [`Client::send`], but a failed connection is an `Err`, not a panic.
    pub fn try_send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Reply, String> {
        let mut all: Vec<(String, String)> =
            headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_string())).collect();
        all.push(("x-log-apiversion".into(), "0.6.0".into()));
        all.push(("x-log-signaturemethod".into(), "hmac-sha1".into()));
        if !self.project.is_empty() {
            all.push(("x-log-project".into(), self.project.clone()));
        }
        all.push(("date".into(), httpdate::fmt_http_date(std::time::SystemTime::now())));
        if !body.is_empty() {
            all.push(("content-md5".into(), hex::encode_upper(Md5::digest(body))));
        }
        if !self.unsigned {
            // The SDK signs the unencoded path.
            let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
            let signature = sign_v1(&self.key_secret, method, &decoded, query, &all);
            all.push(("authorization".into(), format!("LOG {}:{signature}", self.key_id)));
        }
        let encoded: Vec<String> = query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        let url = if encoded.is_empty() {
            format!("http://{}{path}", self.address)
        } else {
            format!("http://{}{path}?{}", self.address, encoded.join("&"))
        };
        let mut request = http_request(method, &url);
        for (name, value) in &all {
            request = request.header(name, value);
        }
        let request = request.body(body.to_vec()).expect("request");
        let mut response = self.agent.run(request).map_err(|error| error.to_string())?;
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or("").to_owned()))
            .collect();
        let status = response.status().as_u16();
        let body =
            response.body_mut().with_config().limit(u64::MAX).read_to_vec().map_err(|error| error.to_string())?;
        Ok(Reply { status, headers, body })
    }

    pub fn get(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        self.send("GET", path, query, &[], b"")
    }

    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> Reply {
        self.send("POST", path, &[], &[("content-type", "application/json")], body.to_string().as_bytes())
    }

    pub fn create_project(&self) -> Reply {
        self.post_json("/", &serde_json::json!({"projectName": self.project, "description": "test"}))
    }

    pub fn create_logstore(&self, name: &str, shards: u32) -> Reply {
        self.post_json("/logstores", &serde_json::json!({"logstoreName": name, "ttl": 30, "shardCount": shards}))
    }

    /// PutLogs of one group, lz4-compressed like the SDK, with extra headers.
    pub fn put_group(
        &self,
        logstore: &str,
        group: &LogGroup,
        hash_key: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.try_put_group(logstore, group, hash_key, headers).expect("HTTP exchange")
    }

    /// Like [`Client::put_group`], but a failed connection is an `Err`.
    pub fn try_put_group(
        &self,
        logstore: &str,
        group: &LogGroup,
        hash_key: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, String> {
        let raw = group.encode_to_vec();
        let size = raw.len().to_string();
        let mut all = vec![
            ("content-type", "application/x-protobuf"),
            ("x-log-compresstype", "lz4"),
            ("x-log-bodyrawsize", size.as_str()),
        ];
        all.extend_from_slice(headers);
        let body = Compression::Lz4.compress(&raw);
        match hash_key {
            Some(key) => {
                self.try_send("POST", &format!("/logstores/{logstore}/shards/route"), &[("key", key)], &all, &body)
            }
            None => self.try_send("POST", &format!("/logstores/{logstore}/shards/lb"), &[], &all, &body),
        }
    }

    pub fn cursor(&self, logstore: &str, shard: u32, from: &str) -> String {
        let reply = self.get(&format!("/logstores/{logstore}/shards/{shard}"), &[("type", "cursor"), ("from", from)]);
        reply.expect_ok().json()["cursor"].as_str().expect("cursor").to_owned()
    }

    /// One PullLogs call: (groups, next cursor).
    pub fn pull(
        &self,
        logstore: &str,
        shard: u32,
        cursor: &str,
        count: usize,
        end: Option<&str>,
    ) -> (Vec<LogGroup>, String) {
        let count = count.to_string();
        let mut query = vec![("type", "log"), ("cursor", cursor), ("count", count.as_str())];
        if let Some(end) = end {
            query.push(("end_cursor", end));
        }
        let reply = self.send(
            "GET",
            &format!("/logstores/{logstore}/shards/{shard}"),
            &query,
            &[("accept", "application/x-protobuf"), ("accept-encoding", "lz4")],
            b"",
        );
        reply.expect_ok();
        let raw_size: usize = reply.header("x-log-bodyrawsize").expect("bodyrawsize").parse().unwrap();
        let raw = match reply.header("x-log-compresstype") {
            Some("lz4") => Compression::Lz4.decompress(&reply.body, raw_size, usize::MAX).unwrap(),
            _ => reply.body.clone(),
        };
        let list = LogGroupList::decode(raw.as_slice()).expect("LogGroupList");
        assert_eq!(reply.header("x-log-count").unwrap(), list.log_groups.len().to_string());
        (list.log_groups, reply.header("x-log-cursor").expect("cursor").to_owned())
    }

    /// Every group of a shard, from begin to end.
    pub fn pull_all(&self, logstore: &str, shard: u32) -> Vec<LogGroup> {
        let mut cursor = self.cursor(logstore, shard, "begin");
        let mut groups = Vec::new();
        loop {
            let (batch, next) = self.pull(logstore, shard, &cursor, 1000, None);
            if batch.is_empty() {
                assert_eq!(next, cursor, "at the end the cursor stays");
                return groups;
            }
            groups.extend(batch);
            cursor = next;
        }
    }
}

fn http_request(method: &str, url: &str) -> ureq::http::request::Builder {
    ureq::http::Request::builder().method(method).uri(url)
}

fn encode(text: &str) -> String {
    const SET: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(text, SET).to_string()
}

/// The v1 signature (sls-api.md §1).
pub fn sign_v1(secret: &str, method: &str, path: &str, query: &[(&str, &str)], headers: &[(String, String)]) -> String {
    let find = |name: &str| headers.iter().find(|(key, _)| key == name).map_or("", |(_, value)| value.as_str());
    let mut text = format!("{method}\n{}\n{}\n{}\n", find("content-md5"), find("content-type"), find("date"));
    let mut signed: Vec<&(String, String)> = headers
        .iter()
        .filter(|(key, _)| (key.starts_with("x-log-") && !key.starts_with("x-log-meta-")) || key.starts_with("x-acs-"))
        .collect();
    signed.sort();
    for (key, value) in signed {
        text.push_str(&format!("{key}:{value}\n"));
    }
    text.push_str(path);
    if !query.is_empty() {
        let mut pairs: Vec<_> = query.to_vec();
        pairs.sort();
        let joined: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        text.push('?');
        text.push_str(&joined.join("&"));
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A log group of `logs` logs with recognisable contents.
pub fn sample_group(tag: &str, logs: usize) -> LogGroup {
    use logport_core::model::{Content, Log, LogTag};
    LogGroup {
        logs: (0..logs)
            .map(|i| Log {
                time: 1_700_000_000 + i as u32,
                contents: vec![
                    Content { key: "batch".into(), value: tag.into() },
                    Content { key: "index".into(), value: i.to_string() },
                    Content { key: "message".into(), value: format!("GET /api/{i} 200 ünïcode") },
                ],
                time_ns: Some(i as u32),
            })
            .collect(),
        topic: Some("test".into()),
        source: Some("10.0.0.1".into()),
        log_tags: vec![LogTag { key: "host".into(), value: "web-1".into() }],
        ..Default::default()
    }
}

/// The value of content `key` in the first log of a group.
pub fn first_value(group: &LogGroup, key: &str) -> String {
    group.logs[0]
        .contents
        .iter()
        .find(|content| content.key == key)
        .map(|content| content.value.clone())
        .unwrap_or_default()
}

/// Sends SIGTERM to `child` and waits (at most 60 s) for it to exit, as a clean stop of `what`.
pub fn stop_gracefully(mut child: Child, what: &str) {
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "{what} did not stop within 60 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}
