//! The HTTP API served by the wasm components (`logport serve-wasm --manifest spin.toml`, through
//! infra/serve-wasm-up.sh as LOGPORT_TEST_SERVER_BIN, on moto): projects, logstores, PutLogs,
//! shards, cursors and PullLogs end to end through the ingest and pull components, signatures
//! checked, bad input answered 4xx. Run by infra/test-all.sh; without LOGPORT_TEST_SERVER_BIN it
//! runs against `logport up` (the same answers are expected from both).

mod support;

use support::{Client, KEY_ID, Server, first_value, sample_group};

#[test]
fn put_and_pull_through_the_components() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let client = server.client("edge");
    client.create_project().expect_ok();
    client.create_logstore("ls", 2).expect_ok();
    assert_eq!(client.get("/", &[]).expect_ok().json()["projectName"], "edge");
    assert_eq!(client.get("/logstores", &[]).expect_ok().json()["logstores"], serde_json::json!(["ls"]));
    let shards = client.get("/logstores/ls/shards", &[]).expect_ok().json();
    assert_eq!(shards.as_array().unwrap().len(), 2);

    for index in 0..3 {
        let group = sample_group(&format!("edge-{index}"), 4);
        let reply = client.put_group("ls", &group, Some("00000000000000000000000000000abc"), &[]);
        assert_eq!(reply.expect_ok().header("x-logport-shard"), Some("0"));
    }
    let pulled = client.pull_all("ls", 0);
    assert_eq!(pulled.len(), 3);
    assert_eq!(pulled.iter().map(|group| group.logs.len()).sum::<usize>(), 12);
    assert_eq!(first_value(&pulled[0], "batch"), "edge-0");
    assert!(client.pull_all("ls", 1).is_empty());

    // Bad input: a wrong signature, a missing logstore, a bad body; nothing stored changes.
    let stranger = Client::new(&server.address, "edge", KEY_ID, "wrong-secret");
    stranger.get("/logstores", &[]).expect_error(401, "SignatureNotMatch");
    client.get("/logstores/nope/shards", &[]).expect_error(404, "LogStoreNotExist");
    let reply = client.send("POST", "/logstores/ls/shards/lb", &[], &[("x-log-bodyrawsize", "3")], b"xyz");
    assert!((400..500).contains(&reply.status), "{reply:?}");
    assert_eq!(client.pull_all("ls", 0).len(), 3);
}
