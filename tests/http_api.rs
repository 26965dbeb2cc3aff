//! The HTTP API of a real `logport up` process: the SLS calls end to end, and bad input, each
//! answered by a clear 4xx that changes nothing stored.

mod support;

use logport_core::codec::Compression;
use logport_core::model::{Content, Log, LogGroup, LogTag};
use prost::Message;
use serde_json::json;
use support::{Client, KEY_ID, Server, first_value, sample_group};

fn started(extra: &[&str]) -> (tempfile::TempDir, Server, Client) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), extra);
    let client = server.client("proj");
    client.create_project().expect_ok();
    client.create_logstore("ls", 2).expect_ok();
    (dir, server, client)
}

#[test]
fn projects_logstores_shards_put_and_pull() {
    let (_dir, server, client) = started(&[]);
    let project = client.get("/", &[]).expect_ok().json();
    assert_eq!(project["projectName"], "proj");
    let listing = Client::new(&server.address, "", support::KEY_ID, support::KEY_SECRET)
        .get("/", &[("offset", "0"), ("size", "10")]);
    assert_eq!(listing.expect_ok().json()["projects"][0]["projectName"], "proj");
    assert_eq!(client.get("/logstores", &[]).expect_ok().json()["logstores"], json!(["ls"]));
    let shards = client.get("/logstores/ls/shards", &[]).expect_ok().json();
    assert_eq!(shards.as_array().unwrap().len(), 2);
    assert_eq!(shards[0]["exclusiveEndKey"], "80000000000000000000000000000000");

    // Routed puts land on the shard that owns the key; pulls give back the same logs, in order.
    for index in 0..5 {
        let group = sample_group(&format!("low-{index}"), 3);
        let reply = client.put_group("ls", &group, Some("00000000000000000000000000000abc"), &[]);
        assert_eq!(reply.expect_ok().header("x-logport-shard"), Some("0"));
    }
    client.put_group("ls", &sample_group("high", 2), Some("f0000000000000000000000000000000"), &[]).expect_ok();
    let low = client.pull_all("ls", 0);
    assert_eq!(
        low.iter().map(|g| first_value(g, "batch")).collect::<Vec<_>>(),
        ["low-0", "low-1", "low-2", "low-3", "low-4"]
    );
    assert_eq!(low[2], sample_group("low-2", 3), "field for field");
    assert_eq!(client.pull_all("ls", 1), vec![sample_group("high", 2)]);

    // Paging with count and an exact end cursor.
    let begin = client.cursor("ls", 0, "begin");
    let (first_two, next) = client.pull("ls", 0, &begin, 2, None);
    assert_eq!(first_two.len(), 2);
    let end = client.cursor("ls", 0, "end");
    let (rest, last) = client.pull("ls", 0, &next, 100, Some(&end));
    assert_eq!((rest.len(), last.as_str()), (3, end.as_str()));
    let time = client.get("/logstores/ls/shards/0", &[("type", "cursor_time"), ("cursor", &begin)]).expect_ok().json();
    assert!(time["cursor_time"].as_i64().unwrap() > 1_700_000_000);
    let future = client.cursor("ls", 0, "4000000000");
    assert_eq!(future, end);

    // The JSON form for curl users, both ways.
    let body = json!({"__topic__": "curl", "__tags__": {"k": "v"}, "__logs__": [{"__time__": 1700000000, "msg": "hi", "n": 5}]});
    let put = client.post_json("/logstores/ls/shards/lb", &body);
    let shard = put.expect_ok().header("x-logport-shard").unwrap().to_owned();
    let cursor = client.cursor("ls", shard.parse().unwrap(), "begin");
    let pulled = client.send(
        "GET",
        &format!("/logstores/ls/shards/{shard}"),
        &[("type", "log"), ("cursor", &cursor), ("count", "100")],
        &[("accept", "application/json")],
        b"",
    );
    let groups = pulled.expect_ok().json();
    let last = groups.as_array().unwrap().last().unwrap();
    assert_eq!((last["__topic__"].as_str(), last["__logs__"][0]["n"].as_str()), (Some("curl"), Some("5")));

    // zstd bodies are accepted too.
    let raw = sample_group("zstd", 2).encode_to_vec();
    let size = raw.len().to_string();
    let headers = [
        ("x-log-compresstype", "zstd"),
        ("x-log-bodyrawsize", size.as_str()),
        ("content-type", "application/x-protobuf"),
    ];
    client
        .send(
            "POST",
            "/logstores/ls/shards/route",
            &[("key", "00000000000000000000000000000001")],
            &headers,
            &Compression::Zstd.compress(&raw),
        )
        .expect_ok();
    assert_eq!(client.pull_all("ls", 0).last().unwrap(), &sample_group("zstd", 2));

    // Update and delete.
    client
        .send(
            "PUT",
            "/logstores/ls",
            &[],
            &[("content-type", "application/json")],
            br#"{"logstoreName":"ls","ttl":7,"shardCount":2}"#,
        )
        .expect_ok();
    assert_eq!(client.get("/logstores/ls", &[]).expect_ok().json()["ttl"], 7);
    client.create_logstore("gone", 1).expect_ok();
    client.send("DELETE", "/logstores/gone", &[], &[], b"").expect_ok();
    client.get("/logstores/gone", &[]).expect_error(404, "LogStoreNotExist");
}

fn group_with(edit: impl FnOnce(&mut LogGroup)) -> LogGroup {
    let mut group = LogGroup {
        logs: vec![Log {
            time: 1_700_000_000,
            contents: vec![Content { key: "k".into(), value: "v".into() }],
            time_ns: None,
        }],
        ..Default::default()
    };
    edit(&mut group);
    group
}

fn key_is(key: &str) -> LogGroup {
    let key = key.to_owned();
    group_with(move |group| group.logs[0].contents[0].key = key)
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let (_dir, server, client) = started(&["--max-body-bytes", "2000000"]);
    let good = sample_group("good", 2);
    client.put_group("ls", &good, Some("00000000000000000000000000000000"), &[]).expect_ok();
    let before: Vec<_> = (0..2).map(|shard| client.pull_all("ls", shard)).collect();

    // Malformed protobuf, uncompressed and lz4.
    client
        .send(
            "POST",
            "/logstores/ls/shards/lb",
            &[],
            &[("content-type", "application/x-protobuf")],
            b"\x0a\xff\xff\xff",
        )
        .expect_error(400, "PostBodyInvalid");
    // An lz4 body whose x-log-bodyrawsize lies (too small, too large, not a number, missing).
    let raw = good.encode_to_vec();
    let packed = Compression::Lz4.compress(&raw);
    for lie in [raw.len() - 1, raw.len() + 1] {
        let size = lie.to_string();
        let headers = [("x-log-compresstype", "lz4"), ("x-log-bodyrawsize", size.as_str())];
        client.send("POST", "/logstores/ls/shards/lb", &[], &headers, &packed).expect_error(400, "PostBodyInvalid");
    }
    client
        .send(
            "POST",
            "/logstores/ls/shards/lb",
            &[],
            &[("x-log-compresstype", "lz4"), ("x-log-bodyrawsize", "many")],
            &packed,
        )
        .expect_error(400, "ParameterInvalid");
    client
        .send("POST", "/logstores/ls/shards/lb", &[], &[("x-log-compresstype", "lz4")], &packed)
        .expect_error(400, "ParameterInvalid");
    client
        .send(
            "POST",
            "/logstores/ls/shards/lb",
            &[],
            &[("x-log-compresstype", "gzip"), ("x-log-bodyrawsize", "10")],
            &packed,
        )
        .expect_error(400, "ParameterInvalid");
    // A raw size that claims more than the limit, and a body over the limit.
    let headers = [("x-log-compresstype", "lz4"), ("x-log-bodyrawsize", "4000000000")];
    client.send("POST", "/logstores/ls/shards/lb", &[], &headers, &packed).expect_error(413, "PostBodyTooLarge");
    // Bodies over the limit, a little and ten times: the client writes all of it before reading,
    // as the SDKs do, and must get the error, not a reset connection (the first fits in the
    // kernel's socket buffers; the second does not). API Gateway answers the second itself.
    client
        .send("POST", "/logstores/ls/shards/lb", &[], &[], &vec![b'x'; 2_500_000])
        .expect_error(413, "PostBodyTooLarge");
    let reply = client.send("POST", "/logstores/ls/shards/lb", &[], &[], &vec![b'x'; 20_000_000]);
    if Server::behind_api_gateway() {
        assert_eq!(reply.status, 413, "{}", String::from_utf8_lossy(&reply.body));
    } else {
        reply.expect_error(413, "PostBodyTooLarge");
    }

    // Every data-model rule.
    let violations = vec![
        ("topic over 128 bytes", group_with(|g| g.topic = Some("t".repeat(129)))),
        ("source over 128 bytes", group_with(|g| g.source = Some("s".repeat(129)))),
        ("empty key", key_is("")),
        ("key over 128 bytes", key_is(&"k".repeat(129))),
        ("key with '-'", key_is("bad-key")),
        ("key starting with a digit", key_is("1key")),
        ("key __time__", key_is("__time__")),
        ("key __source__", key_is("__source__")),
        ("key __topic__", key_is("__topic__")),
        ("key __partition_time__", key_is("__partition_time__")),
        ("key _extract_others_", key_is("_extract_others_")),
        ("key __extract_others__", key_is("__extract_others__")),
        ("value over 1 MiB", group_with(|g| g.logs[0].contents[0].value = "v".repeat((1 << 20) + 1))),
        ("empty tag key", group_with(|g| g.log_tags.push(LogTag { key: String::new(), value: "v".into() }))),
        ("no logs", LogGroup::default()),
    ];
    let mut messages = std::collections::HashSet::new();
    for (what, group) in violations {
        let reply = client.put_group("ls", &group, None, &[]);
        let message = reply.expect_error(400, "PostBodyInvalid");
        assert!(messages.insert(message.clone()), "{what}: the message should be distinct: {message}");
    }

    // Unknown project, logstore, shard; bad cursors and counts.
    server.client("nosuch").get("/logstores", &[]).expect_error(404, "ProjectNotExist");
    client.put_group("nosuch", &good, None, &[]).expect_error(404, "LogStoreNotExist");
    client.get("/logstores/ls/shards/7", &[("type", "cursor"), ("from", "begin")]).expect_error(404, "ShardNotExist");
    client
        .get("/logstores/ls/shards/0", &[("type", "log"), ("cursor", "not-a-cursor"), ("count", "10")])
        .expect_error(400, "InvalidCursor");
    let beyond = base64_of("99999");
    client
        .get("/logstores/ls/shards/0", &[("type", "log"), ("cursor", &beyond), ("count", "10")])
        .expect_error(400, "InvalidCursor");
    client
        .get("/logstores/ls/shards/0", &[("type", "cursor_time"), ("cursor", "%%%")])
        .expect_error(400, "InvalidCursor");
    client
        .get("/logstores/ls/shards/0", &[("type", "cursor"), ("from", "yesterday")])
        .expect_error(400, "ParameterInvalid");
    let begin = client.cursor("ls", 0, "begin");
    client
        .get("/logstores/ls/shards/0", &[("type", "log"), ("cursor", &begin), ("count", "0")])
        .expect_error(400, "ParameterInvalid");

    // Signatures: missing, wrong secret, unknown key, tampered body.
    let mut unsigned = server.client("proj");
    unsigned.unsigned = true;
    unsigned.get("/logstores", &[]).expect_error(401, "Unauthorized");
    let wrong = Client::new(&server.address, "proj", KEY_ID, "wrong-secret");
    wrong.get("/logstores", &[]).expect_error(401, "SignatureNotMatch");
    wrong.put_group("ls", &good, None, &[]).expect_error(401, "SignatureNotMatch");
    let stranger = Client::new(&server.address, "proj", "LTAIunknown", support::KEY_SECRET);
    let status = stranger.get("/logstores", &[]).status;
    assert_eq!(status, 401);

    // Names that could escape a directory.
    for name in ["../x", "..", "a/b", "x%2F..%2F..", "UPPER"] {
        let reply = client.post_json("/logstores", &json!({"logstoreName": name, "shardCount": 1}));
        reply.expect_error(400, "ParameterInvalid");
    }
    Client::new(&server.address, "../etc", KEY_ID, support::KEY_SECRET)
        .create_project()
        .expect_error(400, "ParameterInvalid");
    client.get("/logstores/..%2F..%2Fetc", &[]).expect_error(404, "LogStoreNotExist");
    client.create_logstore("ls", 2).expect_error(400, "LogStoreAlreadyExist");
    client.create_project().expect_error(400, "ProjectAlreadyExist");

    // Nothing stored changed.
    let after: Vec<_> = (0..2).map(|shard| client.pull_all("ls", shard)).collect();
    assert_eq!(before, after);
    assert_eq!(client.get("/logstores", &[]).expect_ok().json()["logstores"], json!(["ls"]));
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}
