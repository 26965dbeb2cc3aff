//! The shipper through the HTTP API of a real `logport up`: rules, bad settings, flush, tasks,
//! objects in `<data-dir>/buckets/<bucket>/`, a bucket that refuses writes (Unauthorized, then a
//! manual retry once fixed, nothing shipped twice) and a deleted rule (ConfigNotExist).

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use logport_core::model::{Content, Log, LogGroup};
use serde_json::{Value, json};
use support::{Client, Server};

fn started() -> (tempfile::TempDir, Server, Client) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let client = server.client("proj");
    client.create_project().expect_ok();
    client.create_logstore("web", 2).expect_ok();
    (dir, server, client)
}

fn rule(name: &str, bucket: &str, storage: Value, compress: &str) -> Value {
    json!({"shipperName": name, "targetType": "oss", "targetConfiguration": {
        "ossBucket": bucket, "ossPrefix": "shipped/web", "roleArn": "acs:ram::1:role/ship",
        "bufferInterval": 300, "bufferSize": 64, "compressType": compress,
        "pathFormat": "year=%Y/mon=%m/day=%d/%H%M", "storage": storage}})
}

fn nginx_group(start: usize, logs: usize) -> LogGroup {
    LogGroup {
        logs: (start..start + logs)
            .map(|i| Log {
                time: 1_763_800_000 + i as u32,
                contents: vec![
                    Content { key: "seq".into(), value: i.to_string() },
                    Content { key: "status".into(), value: ["200", "404", "oops"][i % 3].into() },
                    Content { key: "url".into(), value: format!("/api/{i}?q=\"x\",y") },
                ],
                time_ns: None,
            })
            .collect(),
        topic: Some("nginx".into()),
        source: Some("10.0.0.7".into()),
        ..Default::default()
    }
}

fn put_json(client: &Client, path: &str, body: &Value) -> support::Reply {
    client.send("PUT", path, &[], &[("content-type", "application/json")], body.to_string().as_bytes())
}

fn flush(client: &Client, name: &str) -> Value {
    let path = format!("/logstores/web/shipper/{name}");
    client.send("POST", &path, &[("type", "flush")], &[], b"").expect_ok().json()
}

fn tasks(client: &Client, name: &str, status: &str) -> Value {
    let path = format!("/logstores/web/shipper/{name}/tasks");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (from, to) = ((now - 3600).to_string(), (now + 60).to_string());
    client
        .get(&path, &[("from", &from), ("to", &to), ("status", status), ("offset", "0"), ("size", "100")])
        .expect_ok()
        .json()
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn rules_are_validated_listed_and_shipped_on_flush() {
    let (dir, _server, client) = started();
    let bucket = dir.path().join("buckets/bk1");
    std::fs::create_dir_all(&bucket).unwrap();

    // Bad settings: a clear 4xx each, nothing created.
    let good = rule("ship-json", "bk1", json!({"format": "json"}), "none");
    let mut cases = Vec::new();
    for (field, value) in [
        ("bufferInterval", json!(100)),
        ("bufferSize", json!(1000)),
        ("compressType", json!("zip")),
        ("pathFormat", json!("/%Y")),
        ("ossBucket", json!("Bad_Bucket")),
        ("storage", json!({"format": "parquet", "detail": {"columns": [{"name": "a", "type": "date"}]}})),
        ("storage", json!({"format": "csv", "detail": {"columns": []}})),
    ] {
        let mut body = good.clone();
        body["targetConfiguration"][field] = value;
        cases.push(body);
    }
    let mut bad_name = good.clone();
    bad_name["shipperName"] = json!("X");
    cases.push(bad_name);
    for body in cases {
        let message = client.post_json("/logstores/web/shipper", &body).expect_error(400, "ParameterInvalid");
        assert!(!message.is_empty());
    }
    client.send("POST", "/logstores/web/shipper", &[], &[], b"{not json").expect_error(400, "PostBodyInvalid");
    client.post_json("/logstores/nope/shipper", &good).expect_error(404, "LogStoreNotExist");
    assert_eq!(client.get("/logstores/web/shipper", &[]).expect_ok().json()["total"], 0);

    // Create, conflict, get, list, update.
    client.post_json("/logstores/web/shipper", &good).expect_ok();
    client.post_json("/logstores/web/shipper", &good).expect_error(400, "ShipperAlreadyExist");
    let got = client.get("/logstores/web/shipper/ship-json", &[]).expect_ok().json();
    assert_eq!(got["targetConfiguration"]["ossBucket"], "bk1");
    assert_eq!(got["targetConfiguration"]["storage"]["format"], "json");
    assert!(got["createTime"].as_i64().unwrap() > 0);
    client.get("/logstores/web/shipper/nope", &[]).expect_error(404, "ShipperNotExist");
    let listing = client.get("/logstores/web/shipper", &[("offset", "0"), ("size", "10")]).expect_ok().json();
    assert_eq!(listing, json!({"count": 1, "total": 1, "shipper": ["ship-json"]}));
    let mut updated = good.clone();
    updated["targetConfiguration"]["bufferInterval"] = json!(600);
    put_json(&client, "/logstores/web/shipper/ship-json", &updated).expect_ok();
    let got = client.get("/logstores/web/shipper/ship-json", &[]).expect_ok().json();
    assert_eq!(got["targetConfiguration"]["bufferInterval"], 600);
    updated["targetConfiguration"]["bufferInterval"] = json!(1);
    put_json(&client, "/logstores/web/shipper/ship-json", &updated).expect_error(400, "ParameterInvalid");

    // Ingest on both shards, flush: one task per shard, every row once.
    for batch in 0..4 {
        client.put_group("web", &nginx_group(batch * 50, 50), None, &[]).expect_ok();
    }
    let report = flush(&client, "ship-json");
    assert_eq!((report["tasksCreated"].as_u64(), report["linesShipped"].as_u64()), (Some(2), Some(200)));
    let listed = tasks(&client, "ship-json", "");
    assert_eq!(listed["total"], 2);
    assert_eq!(listed["statistics"], json!({"running": 0, "success": 2, "fail": 0}));
    assert!(listed["tasks"].as_array().unwrap().iter().all(|t| t["taskStatus"] == "success" && t["taskMessage"] == ""));
    assert_eq!(tasks(&client, "ship-json", "fail")["total"], 0);
    client.get("/logstores/web/shipper/ship-json/tasks", &[("status", "bad")]).expect_error(400, "ParameterInvalid");

    let files = files_under(&bucket);
    assert_eq!(files.len(), 2, "{files:?}");
    let mut seqs = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&bucket).unwrap().to_str().unwrap();
        assert!(relative.starts_with("shipped/web/year="), "{relative}");
        assert!(!relative.ends_with(".snappy"), "uncompressed JSON has no suffix");
        for line in std::fs::read_to_string(file).unwrap().lines() {
            let row: Value = serde_json::from_str(line).unwrap();
            assert_eq!((row["__topic__"].as_str(), row["__source__"].as_str()), (Some("nginx"), Some("10.0.0.7")));
            seqs.push(row["seq"].as_str().unwrap().parse::<usize>().unwrap());
        }
    }
    seqs.sort();
    assert_eq!(seqs, (0..200).collect::<Vec<_>>(), "rows shipped = rows ingested, none twice");
    // Nothing new: a second flush ships nothing.
    assert_eq!(flush(&client, "ship-json")["tasksCreated"], 0);

    client.send("DELETE", "/logstores/web/shipper/ship-json", &[], &[], b"").expect_ok();
    client.get("/logstores/web/shipper/ship-json", &[]).expect_error(404, "ShipperNotExist");
}

/// Makes `dir` refuse new entries, even for root (an immutable directory), until dropped.
struct DenyWrites(PathBuf);

impl DenyWrites {
    fn new(dir: &Path) -> Self {
        let run = |program: &str, args: &[&str]| {
            std::process::Command::new(program).args(args).arg(dir).status().is_ok_and(|status| status.success())
        };
        run("chmod", &["0555"]);
        let probe = dir.join("probe");
        if std::fs::write(&probe, b"x").is_ok() {
            // Root ignores permissions: use the immutable attribute.
            std::fs::remove_file(&probe).unwrap();
            assert!(run("chattr", &["+i"]), "cannot make {} refuse writes (chattr +i failed)", dir.display());
            assert!(std::fs::write(&probe, b"x").is_err(), "{} still accepts writes", dir.display());
        }
        Self(dir.to_owned())
    }
}

impl Drop for DenyWrites {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr").arg("-i").arg(&self.0).status();
        let _ = std::process::Command::new("chmod").arg("0755").arg(&self.0).status();
    }
}

fn wait_for(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "not done within 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_bucket_that_refuses_writes_fails_with_unauthorized_and_a_retry_ships_once() {
    let (dir, _server, client) = started();
    let bucket = dir.path().join("buckets/locked");
    std::fs::create_dir_all(&bucket).unwrap();
    let storage = json!({"format": "csv", "detail": {"columns": ["seq", "url"], "header": true}});
    client.post_json("/logstores/web/shipper", &rule("ship-csv", "locked", storage, "snappy")).expect_ok();
    client.put_group("web", &nginx_group(0, 30), Some("00000000000000000000000000000001"), &[]).expect_ok();

    let guard = DenyWrites::new(&bucket);
    let report = flush(&client, "ship-csv");
    assert_eq!((report["tasksCreated"].as_u64(), report["tasksFailed"].as_u64()), (Some(1), Some(1)));
    let failed = tasks(&client, "ship-csv", "fail");
    assert_eq!(failed["total"], 1);
    let task = &failed["tasks"][0];
    assert_eq!(task["taskCode"], "Unauthorized", "{task}");
    assert!(task["taskMessage"].as_str().unwrap().starts_with("Unauthorized: "));
    let (created, next) = (task["taskCreateTime"].as_i64().unwrap(), task["nextRetryTime"].as_i64().unwrap());
    assert!(next - task["taskFinishTime"].as_i64().unwrap() == 15 * 60 && next > created, "{task}");
    let id = task["id"].as_str().unwrap().to_owned();

    // Retry while still refused: fails again, still nothing in the bucket.
    let path = "/logstores/web/shipper/ship-csv/tasks";
    let retried = put_json(&client, path, &json!([id])).expect_ok().json();
    assert_eq!(retried["retried"], 1);
    wait_for(|| tasks(&client, "ship-csv", "fail")["tasks"][0]["attempts"] == 2);
    assert!(files_under(&bucket).is_empty());

    // Fixed: a retry ships it, once.
    drop(guard);
    put_json(&client, path, &json!([id])).expect_ok();
    wait_for(|| tasks(&client, "ship-csv", "success")["total"] == 1);
    let files = files_under(&bucket);
    assert_eq!(files.len(), 1);
    assert!(files[0].to_str().unwrap().ends_with(&format!("_{id}.snappy.csv")), "{files:?}");
    let compressed = std::fs::read(&files[0]).unwrap();
    let text = String::from_utf8(snap::raw::Decoder::new().decompress_vec(&compressed).unwrap()).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("seq,url"));
    assert_eq!(lines.count(), 30);
    assert!(text.contains("\"/api/0?q=\"\"x\"\",y\""), "{text}");

    // Bad retries: not failed, unknown, too many, not a list.
    put_json(&client, path, &json!([id])).expect_error(400, "ParameterInvalid");
    put_json(&client, path, &json!(["nope"])).expect_error(404, "TaskNotExist");
    put_json(&client, path, &json!(vec!["a"; 11])).expect_error(400, "ParameterInvalid");
    client.send("PUT", path, &[], &[], b"{}").expect_error(400, "PostBodyInvalid");
}

#[test]
fn a_missing_bucket_and_a_deleted_rule_are_task_errors() {
    let (_dir, _server, client) = started();
    let json_storage = json!({"format": "json"});
    client.post_json("/logstores/web/shipper", &rule("ship-x", "absent", json_storage.clone(), "none")).expect_ok();
    client.put_group("web", &nginx_group(0, 5), None, &[]).expect_ok();
    flush(&client, "ship-x");
    let task = tasks(&client, "ship-x", "fail")["tasks"][0].clone();
    assert_eq!(task["taskCode"], "InvalidOssBucket", "{task}");

    // Deleted, then created again under the same name: the old task is ConfigNotExist and is
    // never retried, even when asked to retry every failed task.
    client.send("DELETE", "/logstores/web/shipper/ship-x", &[], &[], b"").expect_ok();
    client.post_json("/logstores/web/shipper", &rule("ship-x", "absent", json_storage, "none")).expect_ok();
    let old = tasks(&client, "ship-x", "fail")["tasks"][0].clone();
    assert_eq!((old["id"].clone(), old["taskCode"].as_str()), (task["id"].clone(), Some("ConfigNotExist")));
    assert_eq!(old["nextRetryTime"], Value::Null);
    let retried = client.send("PUT", "/logstores/web/shipper/ship-x/tasks", &[("all", "true")], &[], b"");
    assert_eq!(retried.expect_ok().json()["retried"], 1);
    wait_for(|| tasks(&client, "ship-x", "fail")["tasks"][0]["attempts"] == 2);
    let old = tasks(&client, "ship-x", "fail")["tasks"][0].clone();
    assert_eq!(old["taskCode"], "ConfigNotExist");
}
