//! Central collection configuration, end to end: machine groups and Logtail-style configs created
//! over the signed HTTP API of a real `logport up`, a real agent that knows only the service and its
//! identity (native, or the agent component under `LOGPORT_AGENT_WASM`), a config change reaching
//! the running agent without a line lost or repeated, a config outside the agent's roots refused,
//! and the status listing.

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use logport_core::model::Log;
use serde_json::json;
use support::{Client, KEY_ID, KEY_SECRET, Server};

fn value<'a>(log: &'a Log, key: &str) -> Option<&'a str> {
    log.contents.iter().find(|c| c.key == key).map(|c| c.value.as_str())
}

fn logs_of(client: &Client, logstore: &str) -> Vec<Log> {
    client.pull_all(logstore, 0).into_iter().flat_map(|group| group.logs).collect()
}

fn config_body(name: &str, dir: &Path, regex: &str, keys: &[&str]) -> serde_json::Value {
    json!({
        "configName": name,
        "inputType": "file",
        "inputDetail": {"logType": "common_reg_log", "logPath": dir, "filePattern": "*.log", "maxDepth": 0,
            "regex": regex, "key": keys},
        "outputType": "LogService",
        "outputDetail": {"logstoreName": "app"},
    })
}

/// Starts an agent in central mode whose configs may read under `logs`: the native agent, or
/// with `LOGPORT_AGENT_WASM` (infra/test-all.sh's agent component step) the agent component in
/// `logport agent run --component`, which is granted `logs` (read-only) and nothing else of it.
fn start_agent(dir: &Path, endpoint: &str, logs: &Path) -> Child {
    let state = dir.join("state");
    let text = format!(
        "[service]\nendpoint = \"{endpoint}\"\nproject = \"central\"\naccess_key_id = \"{KEY_ID}\"\n\
         access_key_secret = \"{KEY_SECRET}\"\n\n[agent]\nstate_dir = {state:?}\npoll_ms = 50\nbatch_ms = 200\n\
         central = true\nuser_defined_id = \"host-a\"\nconfig_poll_ms = 1000\ncentral_roots = [{logs:?}]\n"
    );
    let path = dir.join("agent.toml");
    std::fs::write(&path, text).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_logport"));
    command.args(["agent", "run", "--config"]).arg(&path);
    // Empty counts as unset (a step may clear it).
    if let Some(wasm) = std::env::var_os("LOGPORT_AGENT_WASM").filter(|wasm| !wasm.is_empty()) {
        eprintln!("the agent component: {}", Path::new(&wasm).display());
        command.arg("--component").arg(wasm);
    }
    command.stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().expect("start the agent")
}

/// Whether the agent's status file lists a source named `name`.
fn runs_source(dir: &Path, name: &str) -> bool {
    let status: serde_json::Value = std::fs::read(dir.join("state/status.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    status["sources"].as_array().into_iter().flatten().any(|source| source["name"] == name)
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    started.elapsed()
}

#[test]
fn configs_from_the_service_reach_a_running_agent() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(&root.path().join("data"), &[]);
    let client = server.client("central");
    client.create_project().expect_ok();
    client.create_logstore("app", 1).expect_ok();
    let logs = root.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();

    // Bad input is refused with SLS's codes.
    let group = json!({"groupName": "web", "machineIdentifyType": "userdefined", "machineList": ["host-a"]});
    client.post_json("/machinegroups", &group).expect_ok();
    client.post_json("/machinegroups", &group).expect_error(400, "MachineGroupAlreadyExist");
    let bad_regex = config_body("broken", &logs, "(\\w+ (\\d+)", &["level", "seq"]);
    client.post_json("/configs", &bad_regex).expect_error(400, "ParameterInvalid");
    let wrong_keys = config_body("broken", &logs, "(\\w+) (\\d+)", &["level"]);
    client.post_json("/configs", &wrong_keys).expect_error(400, "ParameterInvalid");
    let first = config_body("app", &logs, "(\\w+) (\\d+) (.*)", &["level", "seq", "msg"]);
    client.post_json("/configs", &first).expect_ok();
    client.post_json("/configs", &first).expect_error(400, "ConfigAlreadyExist");
    client.send("PUT", "/machinegroups/nope/configs/app", &[], &[], b"").expect_error(404, "MachineGroupNotExist");
    client.send("PUT", "/machinegroups/web/configs/nope", &[], &[], b"").expect_error(404, "ConfigNotExist");
    client.send("PUT", "/machinegroups/web/configs/app", &[], &[], b"").expect_ok();

    let agent = start_agent(root.path(), &server.address, &logs);
    let startup = wait_until("the agent runs the config", Duration::from_secs(15), || runs_source(root.path(), "app"));
    eprintln!("config reached the new agent in {startup:?}");

    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(logs.join("a.log")).unwrap();
    let mut next = 0u64;
    let mut write = |file: &mut std::fs::File, count: u64| {
        for _ in 0..count {
            writeln!(file, "INFO {next} hello number {next}").unwrap();
            next += 1;
        }
        file.flush().unwrap();
    };
    write(&mut file, 100);
    wait_until("100 lines arrive", Duration::from_secs(20), || logs_of(&client, "app").len() >= 100);
    let parsed = logs_of(&client, "app");
    assert_eq!(value(&parsed[0], "level"), Some("INFO"));
    assert_eq!(value(&parsed[0], "seq"), Some("0"));
    assert_eq!(value(&parsed[0], "msg"), Some("hello number 0"));

    // A changed regex reaches the running agent within 10 s, while lines keep coming.
    let second = config_body("app", &logs, "(\\w+) (\\d+) (\\w+) (.*)", &["level", "seq", "word", "rest"]);
    client
        .send("PUT", "/configs/app", &[], &[("content-type", "application/json")], second.to_string().as_bytes())
        .expect_ok();
    let changed = Instant::now();
    let applied = loop {
        write(&mut file, 5);
        let logs = logs_of(&client, "app");
        if logs.iter().any(|log| value(log, "word") == Some("hello")) {
            break changed.elapsed();
        }
        assert!(changed.elapsed() < Duration::from_secs(10), "the changed config did not apply within 10 s");
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!("a config change was applied by the running agent in {applied:?}");
    write(&mut file, 50);
    let total = next;
    wait_until("every line arrives", Duration::from_secs(20), || logs_of(&client, "app").len() as u64 >= total);
    std::thread::sleep(Duration::from_secs(1));
    let mut seen: HashMap<u64, u32> = HashMap::new();
    for log in logs_of(&client, "app") {
        *seen.entry(value(&log, "seq").unwrap().parse().unwrap()).or_default() += 1;
    }
    let missing: Vec<u64> = (0..total).filter(|seq| !seen.contains_key(seq)).collect();
    let repeated: Vec<u64> = seen.iter().filter(|(_, count)| **count > 1).map(|(seq, _)| *seq).collect();
    assert!(missing.is_empty() && repeated.is_empty(), "missing {missing:?}, repeated {repeated:?}");

    // The status listing shows the agent with its heartbeat.
    let machines = client.get("/machinegroups/web/machines", &[]);
    machines.expect_ok();
    let machines = machines.json();
    assert_eq!(machines["count"], 1, "{machines}");
    let machine = &machines["machines"][0];
    assert_eq!(machine["userdefined-id"], "host-a");
    assert!(machine["heartbeatAgeSeconds"].as_i64().unwrap() <= 5, "{machine}");
    assert_eq!(machine["status"]["files"], 1, "{machine}");
    assert!(!machine["status"]["version"].as_str().unwrap().is_empty());

    // A config reading outside the agent's central roots is refused by the agent, which says so
    // in its heartbeat; the other config keeps running.
    let outside = root.path().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    client.post_json("/configs", &config_body("outside", &outside, "(.*)", &["content"])).expect_ok();
    client.send("PUT", "/machinegroups/web/configs/outside", &[], &[], b"").expect_ok();
    wait_until("the heartbeat reports the refused config", Duration::from_secs(10), || {
        let machines = client.get("/machinegroups/web/machines", &[]).json();
        machines["machines"][0]["status"]["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|error| error.as_str().is_some_and(|error| error.contains("outside agent.central_roots")))
    });
    assert!(runs_source(root.path(), "app") && !runs_source(root.path(), "outside"));

    // A removed config stops its tailer: the agent drops the source.
    client.send("DELETE", "/machinegroups/web/configs/app", &[], &[], b"").expect_ok();
    wait_until("the agent drops the config", Duration::from_secs(10), || !runs_source(root.path(), "app"));
    support::stop_gracefully(agent, "the agent");
}
