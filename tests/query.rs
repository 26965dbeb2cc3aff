//! Query over the HTTP API of a real `logport up`: searches answered from the columnar index
//! (field conditions), from the log groups (full-text keywords) and SQL over both, each checked
//! against an answer computed here from the data as sent; and bad queries answered with a 400.

mod support;

use std::collections::BTreeMap;

use logport_core::model::{Content, Log, LogGroup, LogTag};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use support::{Client, Server};

const FROM: i64 = 1_700_000_000;

/// One sent log, flattened: time, topic, host tag, contents.
struct Sent {
    time: i64,
    topic: String,
    host: String,
    fields: BTreeMap<String, String>,
}

impl Sent {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }
}

/// 40 groups over 2 shards; one group of 5000 logs with a distinct `id` each, so that its
/// segment stores `id` as a plain column rather than a dictionary.
fn data() -> Vec<LogGroup> {
    let mut rng = StdRng::seed_from_u64(7);
    let statuses = ["200", "200", "200", "404", "500", "502"];
    let methods = ["GET", "POST", "DELETE"];
    let mut groups = Vec::new();
    for g in 0..40 {
        let count = if g == 13 { 5000 } else { rng.random_range(20..120) };
        let logs = (0..count)
            .map(|i| {
                let mut contents = vec![
                    Content { key: "method".into(), value: methods[rng.random_range(0..3)].into() },
                    Content { key: "url".into(), value: format!("/api/v{}/items/{}", rng.random_range(1..3), i % 50) },
                    Content { key: "request_time".into(), value: format!("{:.3}", rng.random::<f64>()) },
                ];
                if rng.random_range(0..10) > 0 {
                    contents.push(Content { key: "status".into(), value: statuses[rng.random_range(0..6)].into() });
                }
                if g == 13 {
                    contents.push(Content { key: "id".into(), value: format!("id-{i}") });
                }
                if rng.random_range(0..50) == 0 {
                    contents.push(Content { key: "message".into(), value: "upstream Connection reset by peer".into() });
                }
                Log { time: (FROM + rng.random_range(0..600)) as u32, contents, time_ns: None }
            })
            .collect();
        groups.push(LogGroup {
            logs,
            topic: Some(format!("t{}", g % 3)),
            source: Some("10.0.0.1".into()),
            log_tags: vec![LogTag { key: "host".into(), value: format!("web-{}", g % 2) }],
            ..Default::default()
        });
    }
    groups
}

fn flatten(groups: &[LogGroup]) -> Vec<Sent> {
    groups
        .iter()
        .flat_map(|group| {
            group.logs.iter().map(move |log| Sent {
                time: i64::from(log.time),
                topic: group.topic.clone().unwrap_or_default(),
                host: group.log_tags[0].value.clone(),
                fields: log.contents.iter().map(|content| (content.key.clone(), content.value.clone())).collect(),
            })
        })
        .collect()
}

fn get_logs(client: &Client, query: &str, from: i64, to: i64) -> Value {
    let body = json!({"from": from, "to": to, "query": query, "line": 100});
    client.post_json("/logstores/ls/logs", &body).expect_ok().json()
}

fn count(client: &Client, search: &str) -> u64 {
    let body = get_logs(client, &format!("{search} | select count(*) as c"), FROM, FROM + 600);
    body["data"][0]["c"].as_str().unwrap().parse().unwrap()
}

#[test]
fn searches_and_sql_agree_with_an_independent_count() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let client = server.client("proj");
    client.create_project().expect_ok();
    client.create_logstore("ls", 2).expect_ok();
    let groups = data();
    for group in &groups {
        client.put_group("ls", group, None, &[]).expect_ok();
    }
    let logs = flatten(&groups);
    let numeric = |log: &Sent, key: &str| log.get(key).and_then(|value| value.parse::<f64>().ok());
    type Check = Box<dyn Fn(&Sent) -> bool>;
    let cases: Vec<(&str, Check)> = vec![
        ("*", Box::new(|_| true)),
        ("status:500", Box::new(|log| log.get("status") == Some("500"))),
        (
            "status:500 and method:GET",
            Box::new(|log| log.get("status") == Some("500") && log.get("method") == Some("GET")),
        ),
        ("status:500 or status:502", Box::new(|log| matches!(log.get("status"), Some("500" | "502")))),
        ("not status:200", Box::new(|log| log.get("status") != Some("200"))),
        (
            "status in [400 499]",
            Box::new(move |log| numeric(log, "status").is_some_and(|s| (400.0..=499.0).contains(&s))),
        ),
        ("request_time > 0.5", Box::new(move |log| numeric(log, "request_time").is_some_and(|t| t > 0.5))),
        ("url:/api/v2/*", Box::new(|log| log.get("url").is_some_and(|url| url.starts_with("/api/v2/")))),
        ("__topic__:t1", Box::new(|log| log.topic == "t1")),
        ("__tag__:host:web-1 and status:404", Box::new(|log| log.host == "web-1" && log.get("status") == Some("404"))),
        ("id:id-4999", Box::new(|log| log.get("id") == Some("id-4999"))),
        (
            "id:id-4?9",
            Box::new(|log| {
                log.get("id").is_some_and(|id| id.len() == 6 && id.starts_with("id-4") && id.ends_with('9'))
            }),
        ),
        ("nosuchkey:x", Box::new(|_| false)),
        // Full-text keywords: evaluated on the log groups.
        ("reset", Box::new(|log| log.get("message").is_some())),
        (
            "DELETE and status:500",
            Box::new(|log| log.get("method") == Some("DELETE") && log.get("status") == Some("500")),
        ),
    ];
    for (search, check) in &cases {
        let expected = logs.iter().filter(|log| check(log)).count() as u64;
        assert_eq!(count(&client, search), expected, "{search}");
    }

    // Group by over a dictionary column, with a missing value as null.
    let body = get_logs(&client, "* | select status, count(*) as c group by status", FROM, FROM + 600);
    let mut answered = BTreeMap::new();
    for row in body["data"].as_array().unwrap() {
        answered.insert(row["status"].as_str().unwrap().to_owned(), row["c"].as_str().unwrap().parse::<u64>().unwrap());
    }
    let mut expected = BTreeMap::new();
    for log in &logs {
        *expected.entry(log.get("status").unwrap_or("null").to_owned()).or_insert(0u64) += 1;
    }
    assert_eq!(answered, expected);

    // A plain column in SQL, with a narrower time range.
    let body = get_logs(&client, "id:id-1* | select count(distinct id) as c", FROM, FROM + 300);
    let expected = logs
        .iter()
        .filter(|log| log.time < FROM + 300 && log.get("id").is_some_and(|id| id.starts_with("id-1")))
        .map(|log| log.get("id").unwrap())
        .collect::<std::collections::HashSet<_>>()
        .len();
    assert_eq!(body["data"][0]["c"].as_str().unwrap(), expected.to_string());

    // The histogram: 10-second buckets of a field search.
    let reply = client.get(
        "/logstores/ls",
        &[
            ("type", "histogram"),
            ("from", &FROM.to_string()),
            ("to", &(FROM + 600).to_string()),
            ("query", "status:404"),
            ("interval", "10"),
        ],
    );
    let buckets = reply.expect_ok().json();
    let buckets = buckets.as_array().unwrap();
    assert_eq!(buckets.len(), 60);
    for bucket in buckets {
        let start = bucket["from"].as_i64().unwrap();
        let expected = logs
            .iter()
            .filter(|log| log.time >= start && log.time < start + 10 && log.get("status") == Some("404"))
            .count();
        assert_eq!(bucket["count"].as_u64().unwrap(), expected as u64, "bucket {start}");
    }

    // Without SQL: the page of logs and the total.
    let body = get_logs(&client, "status:502 and method:POST", FROM, FROM + 600);
    let expected =
        logs.iter().filter(|log| log.get("status") == Some("502") && log.get("method") == Some("POST")).count();
    assert_eq!(body["data"].as_array().unwrap().len(), expected.min(100));
    for row in body["data"].as_array().unwrap() {
        assert_eq!(row["status"], "502");
        assert_eq!(row["method"], "POST");
    }
}

#[test]
fn bad_queries_are_400_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let client = server.client("proj");
    client.create_project().expect_ok();
    client.create_logstore("ls", 1).expect_ok();
    client.put_group("ls", &support::sample_group("a", 10), None, &[]).expect_ok();
    let post = |body: Value| client.post_json("/logstores/ls/logs", &body);
    let message = post(json!({"from": FROM, "to": FROM + 60, "query": "*", "line": 1_000_000}))
        .expect_error(400, "ParameterInvalid");
    assert!(message.contains("line"), "{message}");
    let message = post(json!({"from": FROM + 60, "to": FROM, "query": "*"})).expect_error(400, "ParameterInvalid");
    assert!(message.contains("from"), "{message}");
    let message =
        post(json!({"from": FROM, "to": FROM + 60, "query": "status:(500"})).expect_error(400, "ParameterInvalid");
    assert!(message.contains("column"), "{message}");
    post(json!({"from": FROM, "to": FROM + 60, "query": "* | select count(* from"}))
        .expect_error(400, "ParameterInvalid");
    let message = post(json!({"from": FROM, "to": FROM + 60, "query": "* | select nosuchcolumn"}))
        .expect_error(400, "ParameterInvalid");
    assert!(message.contains("nosuchcolumn"), "{message}");
    // Nothing stored was touched: the logs are all still there.
    let body = post(json!({"from": FROM, "to": FROM + 60, "query": "* | select count(*) as c"})).expect_ok().json();
    assert_eq!(body["data"][0]["c"], "10");
}
