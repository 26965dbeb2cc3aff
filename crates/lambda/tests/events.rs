//! API Gateway v2 events (fixtures in `tests/data`, written by `make_fixtures.py`) through the
//! functions as `lambda_http::run` would run them, over one in-memory store shared by an `ingest`
//! and a `pull` function in dev mode (no signatures).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use logport_core::model::LogGroupList;
use logport_lambda::{Context, Function, Settings, Stores, gateway};
use prost::Message;
use serde_json::Value;

const CREATE_PROJECT: &str = include_str!("data/create_project.json");
const LIST_PROJECTS: &str = include_str!("data/list_projects.json");
const CREATE_LOGSTORE: &str = include_str!("data/create_logstore.json");
const CREATE_LOGSTORE_BAD_NAME: &str = include_str!("data/create_logstore_bad_name.json");
const PUT_LOGS_LZ4: &str = include_str!("data/put_logs_lz4.json");
const GET_CURSOR: &str = include_str!("data/get_cursor.json");
const PULL_LOGS_LZ4: &str = include_str!("data/pull_logs_lz4.json");
const PULL_LOGS_JSON_LZ4: &str = include_str!("data/pull_logs_json_lz4.json");

struct Functions {
    ingest: Context,
    pull: Context,
}

impl Functions {
    fn new() -> Self {
        let stores = Stores::memory();
        Self {
            ingest: Context::new(Function::Ingest, Settings::insecure(), stores.clone()),
            pull: Context::new(Function::Pull, Settings::insecure(), stores),
        }
    }

    /// A project `demo` with a one-shard logstore `web`, through the ingest function.
    fn with_logstore() -> Self {
        let functions = Self::new();
        expect_ok(&invoke(&functions.ingest, CREATE_PROJECT));
        expect_ok(&invoke(&functions.ingest, CREATE_LOGSTORE));
        functions
    }
}

/// The response JSON the function would return to the Lambda service.
fn invoke(context: &Context, event: &str) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let json = runtime.block_on(gateway::invoke(context, event.as_bytes())).expect("an API Gateway v2 event");
    serde_json::from_slice(&json).expect("the response is JSON")
}

fn expect_ok(response: &Value) {
    assert_eq!(response["statusCode"], 200, "{response}");
}

fn header<'a>(response: &'a Value, name: &str) -> &'a str {
    response["headers"][name].as_str().unwrap_or_else(|| panic!("no {name} header in {response}"))
}

/// The body of a response, decoded from base64 when it says so.
fn body(response: &Value) -> Vec<u8> {
    let text = response["body"].as_str().unwrap_or("");
    if response["isBase64Encoded"] == true { BASE64.decode(text).unwrap() } else { text.as_bytes().to_vec() }
}

fn put_and_get_cursor(functions: &Functions) -> String {
    let put = invoke(&functions.ingest, PUT_LOGS_LZ4);
    expect_ok(&put);
    assert_eq!(header(&put, "x-logport-shard"), "0");
    let cursor = invoke(&functions.pull, GET_CURSOR);
    expect_ok(&cursor);
    let cursor: Value = serde_json::from_slice(&body(&cursor)).unwrap();
    cursor["cursor"].as_str().unwrap().to_owned()
}

#[test]
fn create_project_in_dev_mode_answers_200_with_an_empty_text_body() {
    let functions = Functions::new();
    let created = invoke(&functions.ingest, CREATE_PROJECT);
    expect_ok(&created);
    assert_eq!(created["isBase64Encoded"], false);
    assert!(created.get("body").is_none_or(Value::is_null), "{created}");
    assert!(!header(&created, "x-log-requestid").is_empty());
    assert_eq!(header(&created, "server"), "logport");
}

#[test]
fn the_execute_api_host_names_no_project() {
    let functions = Functions::new();
    expect_ok(&invoke(&functions.ingest, CREATE_PROJECT));
    // `GET /` on abc123.execute-api... without x-log-project lists projects (the host is the API's
    // own name, not `<project>.<endpoint>`).
    let listed = invoke(&functions.ingest, LIST_PROJECTS);
    expect_ok(&listed);
    assert_eq!(listed["isBase64Encoded"], false);
    let listed: Value = serde_json::from_str(listed["body"].as_str().unwrap()).unwrap();
    assert_eq!(listed["projects"][0]["projectName"], "demo", "{listed}");
}

#[test]
fn lz4_put_logs_from_a_base64_event_then_pull_them_back_as_a_base64_binary_body() {
    let functions = Functions::with_logstore();
    let cursor = put_and_get_cursor(&functions);
    assert_eq!(cursor, "MA==", "the cursor in pull_logs_lz4.json");

    let pulled = invoke(&functions.pull, PULL_LOGS_LZ4);
    expect_ok(&pulled);
    assert_eq!(pulled["isBase64Encoded"], true, "{pulled}");
    assert_eq!(header(&pulled, "content-type"), "application/x-protobuf");
    assert_eq!(header(&pulled, "x-log-compresstype"), "lz4");
    assert_eq!(header(&pulled, "x-log-count"), "1");
    let raw_size: usize = header(&pulled, "x-log-bodyrawsize").parse().unwrap();
    let raw = lz4_flex::block::decompress(&body(&pulled), raw_size).unwrap();
    let list = LogGroupList::decode(raw.as_slice()).unwrap();
    let group = &list.log_groups[0];
    assert_eq!(group.logs.len(), 2);
    assert_eq!(group.topic.as_deref(), Some("nginx"));
    assert_eq!(group.logs[1].contents[1].value, "/missing");
    assert_eq!(group.log_tags[0].value, "web-1");
}

#[test]
fn compressed_json_pulls_travel_as_binary_and_arrive_intact() {
    let functions = Functions::with_logstore();
    put_and_get_cursor(&functions);
    let pulled = invoke(&functions.pull, PULL_LOGS_JSON_LZ4);
    expect_ok(&pulled);
    assert_eq!(header(&pulled, "content-type"), "application/json");
    assert_eq!(pulled["isBase64Encoded"], true, "lz4 bytes are not text: {pulled}");
    let raw_size: usize = header(&pulled, "x-log-bodyrawsize").parse().unwrap();
    let raw = lz4_flex::block::decompress(&body(&pulled), raw_size).unwrap();
    let groups: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(groups[0]["__logs__"][0]["url"], "/index.html", "{groups}");
}

#[test]
fn an_error_is_a_json_text_body_with_an_error_code() {
    let functions = Functions::with_logstore();
    let refused = invoke(&functions.ingest, CREATE_LOGSTORE_BAD_NAME);
    assert_eq!(refused["statusCode"], 400);
    assert_eq!(refused["isBase64Encoded"], false);
    assert_eq!(header(&refused, "content-type"), "application/json");
    let error: Value = serde_json::from_str(refused["body"].as_str().unwrap()).unwrap();
    assert_eq!(error["errorCode"], "ParameterInvalid");
    assert!(!error["errorMessage"].as_str().unwrap().is_empty());
}

#[test]
fn a_call_of_the_other_function_is_request_not_supported() {
    let functions = Functions::with_logstore();
    for (context, event, group) in [
        (&functions.ingest, GET_CURSOR, "read"),
        (&functions.pull, PUT_LOGS_LZ4, "write"),
        (&functions.pull, CREATE_PROJECT, "admin"),
    ] {
        let refused = invoke(context, event);
        assert_eq!(refused["statusCode"], 404, "{refused}");
        let error: Value = serde_json::from_str(refused["body"].as_str().unwrap()).unwrap();
        assert_eq!(error["errorCode"], "RequestNotSupported");
        assert!(error["errorMessage"].as_str().unwrap().contains(group), "{error}");
    }
    // Nothing was written by the refused PutLogs.
    let cursor = invoke(&functions.pull, GET_CURSOR);
    let end = include_str!("data/get_cursor.json").replace("from=begin", "from=end");
    assert_eq!(body(&cursor), body(&invoke(&functions.pull, &end)));
}

#[test]
fn an_event_that_is_not_from_api_gateway_v2_is_an_invocation_error() {
    let context = Functions::new().ingest;
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert!(runtime.block_on(gateway::invoke(&context, br#"{"detail-type":"Scheduled Event"}"#)).is_err());
}

#[test]
fn the_path_and_query_reach_the_api_exactly_as_sent() {
    // A URL parser would resolve `%2e%2e` as `..` and make this `/shards/0` (no such call); the API
    // sees the raw path, where `..` is the name of a logstore that does not exist.
    let functions = Functions::with_logstore();
    let event =
        GET_CURSOR.replace("\"rawPath\": \"/logstores/web/shards/0\"", "\"rawPath\": \"/logstores/%2e%2e/shards/0\"");
    let refused = invoke(&functions.pull, &event);
    let error: Value = serde_json::from_slice(&body(&refused)).unwrap();
    assert_eq!(error["errorCode"], "LogStoreNotExist", "{error}");
    assert!(error["errorMessage"].as_str().unwrap().contains("'..'"), "{error}");
    // A query value with '+' and '%2B': form decoding gives ' ' and '+'; a wrong cursor is refused
    // as a cursor, so the query arrived whole.
    let event = PULL_LOGS_LZ4.replace("cursor=MA%3D%3D", "cursor=a+b%2Bc");
    let refused = invoke(&functions.pull, &event);
    let error: Value = serde_json::from_slice(&body(&refused)).unwrap();
    assert_eq!(error["errorCode"], "InvalidCursor", "{error}");
}

/// `GET path` as a browser sends it, through `context`.
fn browse(context: &Context, path: &str) -> Value {
    let request = http::Request::get(path).header("accept", "text/html,*/*").body(bytes::Bytes::new()).unwrap();
    let event = gateway::event(&request, std::net::IpAddr::from([127, 0, 0, 1]));
    invoke(context, &event.to_string())
}

#[test]
fn the_ingest_function_serves_the_console_beside_the_api() {
    let functions = Functions::new();
    let page = browse(&functions.ingest, "/console/");
    expect_ok(&page);
    assert!(header(&page, "content-type").starts_with("text/html"), "{page}");
    assert!(String::from_utf8(body(&page)).unwrap().contains("<title>Logport console</title>"));
    let script = browse(&functions.ingest, "/console/agents.js");
    expect_ok(&script);
    assert!(String::from_utf8(body(&script)).unwrap().contains("export function agentsPage"));
    assert!(header(&script, "content-security-policy").contains("default-src 'self'"));
    // A browser's `GET /` goes to the console; the SDK's ListProjects (no text/html) still works.
    let root = browse(&functions.ingest, "/");
    assert_eq!(root["statusCode"], 302, "{root}");
    assert_eq!(header(&root, "location"), "/console/");
    expect_ok(&invoke(&functions.ingest, LIST_PROJECTS));
    // Only ingest serves it: on the others `/console/` is no call of theirs.
    let refused = browse(&functions.pull, "/console/");
    assert_eq!(refused["statusCode"], 404, "{refused}");
    assert_eq!(serde_json::from_slice::<Value>(&body(&refused)).unwrap()["errorCode"], "RequestNotSupported");
}

/// In-memory shipping targets: bucket `B` is one memory object store, created on first use.
#[cfg(all(feature = "runtime", feature = "shipper"))]
#[derive(Debug, Default)]
struct MemoryBuckets(
    std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<dyn logport_core::store::ObjectStore>>>,
);

#[cfg(all(feature = "runtime", feature = "shipper"))]
#[async_trait::async_trait]
impl logport_shipper::Buckets for MemoryBuckets {
    async fn open(
        &self,
        bucket: &str,
        _role_arn: &str,
    ) -> Result<std::sync::Arc<dyn logport_core::store::ObjectStore>, logport_shipper::BucketError> {
        let mut buckets = self.0.lock().unwrap();
        let store = buckets
            .entry(bucket.to_owned())
            .or_insert_with(|| std::sync::Arc::new(logport_core::store::memory::MemoryObjectStore::default()));
        Ok(store.clone())
    }
}

#[cfg(all(feature = "runtime", feature = "shipper"))]
#[test]
fn a_scheduled_invocation_ships_sweeps_and_collects_orphans_at_most_once_an_hour() {
    use std::sync::Arc;
    let stores = Stores::memory();
    let context = Context::new(Function::Shipper, Settings::insecure(), stores.clone());
    let shipper = Arc::new(logport_shipper::Shipper::new(
        context.engine().clone(),
        stores.meta.clone(),
        Arc::new(MemoryBuckets::default()),
    ));
    let context = context.with_shipper(shipper.clone());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // EventBridge Scheduler's default input.
    let scheduled = || {
        let event = lambda_http::LambdaEvent::new(serde_json::json!({}), lambda_http::Context::default());
        runtime.block_on(logport_lambda::handle_shipper(&context, &shipper, event)).expect("a scheduled pass")
    };
    let first = scheduled();
    assert_eq!(first["shipping"]["tasksRun"], 0, "{first}");
    assert_eq!(first["expired"]["segmentsDeleted"], 0, "{first}");
    assert_eq!(first["orphans"]["objectsDeleted"], 0, "{first}");
    // The next pass (5 minutes later on AWS) sweeps again but leaves orphans for the next hour.
    let second = scheduled();
    assert_eq!(second["expired"]["segmentsDeleted"], 0, "{second}");
    assert!(second["orphans"].is_null(), "{second}");
}
