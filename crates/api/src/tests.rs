//! In-process API tests over the memory backend, without signatures (the auth module has its
//! own tests; the integration suite drives a real server with signed requests).

use std::sync::Arc;

use bytes::Bytes;
use futures_executor::block_on;
use http::{Method, Request, Response, StatusCode};
use logport_core::codec::Compression;
use logport_core::engine::Engine;
use logport_core::model::{Content, Log, LogGroup, LogGroupList};
use logport_core::store::memory::{MemoryMetaStore, MemoryObjectStore};
use prost::Message;
use serde_json::Value;

use crate::{Api, ApiConfig};

fn api() -> Api {
    let engine = Engine::new(Arc::new(MemoryObjectStore::default()), Arc::new(MemoryMetaStore::default()));
    Api::new(Arc::new(engine), ApiConfig::default())
}

fn call(api: &Api, method: Method, uri: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Response<Bytes> {
    let mut request = Request::builder().method(method).uri(uri).header("host", "proj.127.0.0.1:8080");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    block_on(api.handle(request.body(body.into()).unwrap()))
}

fn json_of(response: &Response<Bytes>) -> Value {
    serde_json::from_slice(response.body()).unwrap()
}

fn setup() -> Api {
    let api = api();
    assert_eq!(call(&api, Method::POST, "/", &[], r#"{"projectName":"proj"}"#).status(), StatusCode::OK);
    let created = call(&api, Method::POST, "/logstores", &[], r#"{"logstoreName":"ls","ttl":7,"shardCount":2}"#);
    assert_eq!(created.status(), StatusCode::OK, "{:?}", created.body());
    api
}

fn sample() -> LogGroup {
    LogGroup {
        logs: vec![Log {
            time: 1_700_000_000,
            contents: vec![Content { key: "k".into(), value: "v".into() }],
            time_ns: Some(5),
        }],
        topic: Some("t".into()),
        ..Default::default()
    }
}

#[test]
fn put_lz4_then_pull_lz4() {
    let api = setup();
    let raw = sample().encode_to_vec();
    let size = raw.len().to_string();
    let put = call(
        &api,
        Method::POST,
        "/logstores/ls/shards/route?key=00000000000000000000000000000000",
        &[("x-log-compresstype", "lz4"), ("x-log-bodyrawsize", &size), ("content-type", "application/x-protobuf")],
        Compression::Lz4.compress(&raw),
    );
    assert_eq!(put.status(), StatusCode::OK);
    assert!(put.headers().contains_key("x-log-requestid"));
    let cursor = json_of(&call(&api, Method::GET, "/logstores/ls/shards/0?type=cursor&from=begin", &[], ""))["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let pulled = call(
        &api,
        Method::GET,
        &format!("/logstores/ls/shards/0?type=log&cursor={cursor}&count=10"),
        &[("accept-encoding", "lz4")],
        "",
    );
    assert_eq!(pulled.headers()["x-log-count"], "1");
    assert_eq!(pulled.headers()["x-log-compresstype"], "lz4");
    let raw_size: usize = pulled.headers()["x-log-bodyrawsize"].to_str().unwrap().parse().unwrap();
    let list = LogGroupList::decode(Compression::Lz4.decompress(pulled.body(), raw_size, 1 << 20).unwrap().as_slice())
        .unwrap();
    assert_eq!(list.log_groups, vec![sample()]);
}

#[test]
fn json_put_and_json_pull() {
    let api = setup();
    let body = r#"{"__topic__":"web","__logs__":[{"__time__":1700000000,"status":"200"}]}"#;
    let put = call(&api, Method::POST, "/logstores/ls/shards/lb", &[("content-type", "application/json")], body);
    assert_eq!(put.status(), StatusCode::OK, "{:?}", put.body());
    let shard = put.headers()["x-logport-shard"].to_str().unwrap().to_owned();
    let pulled = call(
        &api,
        Method::GET,
        &format!("/logstores/ls/shards/{shard}?type=log&cursor=MA==&count=10"),
        &[("accept", "application/json")],
        "",
    );
    let groups = json_of(&pulled);
    assert_eq!(groups[0]["__topic__"], "web");
    assert_eq!(groups[0]["__logs__"][0]["status"], "200");
}

#[test]
fn errors_have_sls_codes() {
    let api = setup();
    let cases: Vec<(Response<Bytes>, StatusCode, &str)> = vec![
        (call(&api, Method::GET, "/logstores/nope", &[], ""), StatusCode::NOT_FOUND, "LogStoreNotExist"),
        (
            call(&api, Method::GET, "/logstores/ls/shards/9?type=cursor&from=end", &[], ""),
            StatusCode::NOT_FOUND,
            "ShardNotExist",
        ),
        (
            call(&api, Method::GET, "/logstores/ls/shards/0?type=log&cursor=zz&count=1", &[], ""),
            StatusCode::BAD_REQUEST,
            "InvalidCursor",
        ),
        (
            call(&api, Method::POST, "/logstores/ls/shards/lb", &[], vec![0xffu8, 0xff]),
            StatusCode::BAD_REQUEST,
            "PostBodyInvalid",
        ),
        (
            call(
                &api,
                Method::POST,
                "/logstores/ls/shards/lb",
                &[("x-log-compresstype", "lz4"), ("x-log-bodyrawsize", "999")],
                Compression::Lz4.compress(&sample().encode_to_vec()),
            ),
            StatusCode::BAD_REQUEST,
            "PostBodyInvalid",
        ),
        (
            call(&api, Method::POST, "/", &[], r#"{"projectName":"proj"}"#),
            StatusCode::BAD_REQUEST,
            "ProjectAlreadyExist",
        ),
        (
            call(&api, Method::POST, "/logstores", &[], r#"{"logstoreName":"../x"}"#),
            StatusCode::BAD_REQUEST,
            "ParameterInvalid",
        ),
        (call(&api, Method::POST, "/logstores", &[], "{not json"), StatusCode::BAD_REQUEST, "PostBodyInvalid"),
        (call(&api, Method::PATCH, "/", &[], ""), StatusCode::NOT_FOUND, "RequestNotSupported"),
    ];
    for (response, status, code) in cases {
        assert_eq!(response.status(), status, "{:?}", response.body());
        let body = json_of(&response);
        assert_eq!(body["errorCode"], code);
        assert!(!body["errorMessage"].as_str().unwrap().is_empty());
    }
    let other_project = block_on(
        api.handle(Request::builder().uri("/logstores").header("host", "ghost.localhost").body(Bytes::new()).unwrap()),
    );
    assert_eq!(json_of(&other_project)["errorCode"], "ProjectNotExist");
}

#[test]
fn projects_logstores_and_shards_describe_themselves() {
    let api = setup();
    let shards = json_of(&call(&api, Method::GET, "/logstores/ls/shards", &[], ""));
    assert_eq!(shards[1]["inclusiveBeginKey"], "80000000000000000000000000000000");
    assert_eq!(shards[1]["exclusiveEndKey"], "ffffffffffffffffffffffffffffffff");
    let logstore = json_of(&call(&api, Method::GET, "/logstores/ls", &[], ""));
    assert_eq!((logstore["ttl"].as_u64(), logstore["shardCount"].as_u64()), (Some(7), Some(2)));
    let list =
        block_on(api.handle(
            Request::builder().uri("/?offset=0&size=10").header("host", "127.0.0.1").body(Bytes::new()).unwrap(),
        ));
    assert_eq!(json_of(&list)["projects"][0]["projectName"], "proj");
    let by_header = block_on(
        api.handle(
            Request::builder()
                .uri("/logstores")
                .header("host", "127.0.0.1")
                .header("x-log-project", "proj")
                .body(Bytes::new())
                .unwrap(),
        ),
    );
    assert_eq!(json_of(&by_header)["logstores"][0], "ls");
}

#[test]
fn an_api_serving_some_groups_refuses_the_others() {
    use crate::route::RouteGroup;
    let engine = Arc::new(Engine::new(Arc::new(MemoryObjectStore::default()), Arc::new(MemoryMetaStore::default())));
    let all = Api::new(engine.clone(), ApiConfig::default());
    let reader = Api::new(engine, ApiConfig { groups: &[RouteGroup::Read], ..ApiConfig::default() });
    assert_eq!(call(&all, Method::POST, "/", &[], r#"{"projectName":"proj"}"#).status(), StatusCode::OK);
    assert_eq!(call(&all, Method::POST, "/logstores", &[], r#"{"logstoreName":"ls"}"#).status(), StatusCode::OK);

    let refused = call(&reader, Method::POST, "/logstores/ls/shards/lb", &[], "");
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let body = json_of(&refused);
    assert_eq!(body["errorCode"], "RequestNotSupported");
    assert!(body["errorMessage"].as_str().unwrap().contains("write call"), "{body}");
    assert!(refused.headers().contains_key("x-log-requestid"));
    let refused = call(&reader, Method::GET, "/logstores", &[], "");
    assert_eq!(json_of(&refused)["errorCode"], "RequestNotSupported");

    let cursor = call(&reader, Method::GET, "/logstores/ls/shards/0?type=cursor&from=begin", &[], "");
    assert_eq!(cursor.status(), StatusCode::OK, "{:?}", cursor.body());
    // Errors of the call itself still come first from the engine, as for any served call.
    let missing = call(&reader, Method::GET, "/logstores/nope/shards", &[], "");
    assert_eq!(json_of(&missing)["errorCode"], "LogStoreNotExist");
}

#[test]
fn machine_groups_configs_and_agent_polls_over_http() {
    let api = setup();
    let ok = |response: Response<Bytes>| {
        assert_eq!(response.status(), StatusCode::OK, "{}", String::from_utf8_lossy(response.body()));
        response
    };
    let error = |response: Response<Bytes>, status: StatusCode, code: &str| {
        assert_eq!(response.status(), status, "{}", String::from_utf8_lossy(response.body()));
        let body = json_of(&response);
        assert_eq!(body["errorCode"], code, "{body}");
        assert!(!body["errorMessage"].as_str().unwrap().is_empty());
    };
    let group = r#"{"groupName":"web","machineIdentifyType":"userdefined","groupAttribute":{"groupTopic":"t"},
        "machineList":["blue","green"]}"#;
    ok(call(&api, Method::POST, "/machinegroups", &[], group));
    error(call(&api, Method::POST, "/machinegroups", &[], group), StatusCode::BAD_REQUEST, "MachineGroupAlreadyExist");
    let got = json_of(&ok(call(&api, Method::GET, "/machinegroups/web", &[], "")));
    assert_eq!(got["machineList"][0], "blue");
    assert_eq!(got["groupAttribute"]["groupTopic"], "t");
    let config = r#"{"configName":"app","inputType":"file","inputDetail":{"logType":"common_reg_log",
        "logPath":"/var/log","filePattern":"*.log","regex":"(\\w+) (.*)","key":["level","msg"]},
        "outputType":"LogService","outputDetail":{"logstoreName":"ls"}}"#;
    ok(call(&api, Method::POST, "/configs", &[], config));
    error(call(&api, Method::POST, "/configs", &[], config), StatusCode::BAD_REQUEST, "ConfigAlreadyExist");
    let bad_regex = config.replace("app", "bad").replace(r"(\\w+) (.*)", "(unclosed");
    error(call(&api, Method::POST, "/configs", &[], bad_regex), StatusCode::BAD_REQUEST, "ParameterInvalid");
    error(
        call(&api, Method::PUT, "/machinegroups/nope/configs/app", &[], ""),
        StatusCode::NOT_FOUND,
        "MachineGroupNotExist",
    );
    error(call(&api, Method::PUT, "/machinegroups/web/configs/nope", &[], ""), StatusCode::NOT_FOUND, "ConfigNotExist");
    error(call(&api, Method::GET, "/configs/nope", &[], ""), StatusCode::NOT_FOUND, "ConfigNotExist");
    ok(call(&api, Method::PUT, "/machinegroups/web/configs/app", &[], ""));
    let applied = json_of(&ok(call(&api, Method::GET, "/configs/app/machinegroups", &[], "")));
    assert_eq!(applied["machinegroups"], serde_json::json!(["web"]));
    let listed = json_of(&ok(call(&api, Method::GET, "/configs?size=10", &[], "")));
    assert_eq!((listed["total"].clone(), listed["configs"].clone()), (1.into(), serde_json::json!(["app"])));

    let poll = r#"{"ip":"10.0.0.7","userDefinedId":"blue","status":{"version":"0.1","files":2,"errors":["x"]}}"#;
    let answer = json_of(&ok(call(&api, Method::POST, "/agents/poll", &[], poll)));
    assert_eq!(answer["modified"], true);
    assert_eq!(answer["configs"][0]["inputDetail"]["filePattern"], "*.log");
    assert_eq!(answer["configs"][0]["outputDetail"]["projectName"], "proj");
    let again = format!(r#"{{"ip":"10.0.0.7","userDefinedId":"blue","etag":{}}}"#, answer["etag"]);
    assert_eq!(json_of(&ok(call(&api, Method::POST, "/agents/poll", &[], again)))["modified"], false);
    let machines = json_of(&ok(call(&api, Method::GET, "/machinegroups/web/machines", &[], "")));
    assert_eq!(machines["machines"][0]["ip"], "10.0.0.7");
    assert_eq!(machines["machines"][0]["userdefined-id"], "blue");
    // Machine lists page like the other lists.
    ok(call(&api, Method::POST, "/agents/poll", &[], r#"{"ip":"10.0.0.8","userDefinedId":"green"}"#));
    let all = json_of(&ok(call(&api, Method::GET, "/machinegroups/web/machines", &[], "")));
    assert_eq!((all["count"].clone(), all["total"].clone()), (2.into(), 2.into()));
    let second = json_of(&ok(call(&api, Method::GET, "/machinegroups/web/machines?offset=1&size=1", &[], "")));
    assert_eq!((second["count"].clone(), second["total"].clone()), (1.into(), 2.into()));
    assert_eq!(second["machines"][0]["ip"], all["machines"][1]["ip"]);
    error(
        call(&api, Method::GET, "/machinegroups/web/machines?size=501", &[], ""),
        StatusCode::BAD_REQUEST,
        "ParameterInvalid",
    );
    error(call(&api, Method::POST, "/agents/poll", &[], "{}"), StatusCode::BAD_REQUEST, "ParameterInvalid");
    error(
        call(&api, Method::GET, "/machinegroups/nope/machines", &[], ""),
        StatusCode::NOT_FOUND,
        "MachineGroupNotExist",
    );

    ok(call(&api, Method::DELETE, "/machinegroups/web/configs/app", &[], ""));
    ok(call(&api, Method::DELETE, "/configs/app", &[], ""));
    ok(call(&api, Method::DELETE, "/machinegroups/web", &[], ""));
    assert_eq!(json_of(&ok(call(&api, Method::GET, "/machinegroups", &[], "")))["total"], 0);
}
