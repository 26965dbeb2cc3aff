//! Splunk HTTP Event Collector: `POST {url}/services/collector/event` with
//! `Authorization: Splunk <token>`, many event objects concatenated in one body. With an ack
//! channel (`X-Splunk-Request-Channel`), a batch counts as delivered only once
//! `/services/collector/ack` says its `ackId` was indexed.

use std::time::{Duration, Instant};

use http::{Method, Request};
use logport_core::view::{GroupView, LogView};
use serde_json::{Map, Value, json};

use super::{Sink, SinkError, backoff, json_fields};
use crate::client::Transport;

/// Settings of a HEC sink.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HecConfig {
    /// `http://host:8088` (the collector paths are appended).
    pub url: String,
    pub token: String,
    /// `host` of every event; default: the log group's source.
    #[serde(default)]
    pub host: Option<String>,
    /// `source` of every event; default: the log group's topic.
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub sourcetype: Option<String>,
    #[serde(default)]
    pub index: Option<String>,
    /// Largest request body, in bytes (a single larger event is sent alone).
    #[serde(default = "default_batch_bytes")]
    pub batch_bytes: usize,
    /// Attempts per request before the batch is given back to the worker (which tries again later).
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// Indexer acknowledgement: the channel id (a GUID) to send as `X-Splunk-Request-Channel`.
    #[serde(default)]
    pub ack_channel: Option<String>,
    /// How long to wait for an acknowledgement, in seconds.
    #[serde(default = "default_ack_timeout")]
    pub ack_timeout_secs: u64,
}

fn default_batch_bytes() -> usize {
    1 << 20
}
fn default_attempts() -> u32 {
    5
}
fn default_ack_timeout() -> u64 {
    60
}

/// A Splunk HEC sink.
pub struct HecSink {
    config: HecConfig,
    transport: Box<dyn Transport>,
    /// Events delivered (accepted, and acknowledged when acks are on).
    pub delivered: u64,
}

impl std::fmt::Debug for HecSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HecSink").field("url", &self.config.url).field("delivered", &self.delivered).finish()
    }
}

impl HecSink {
    pub fn new(config: HecConfig, transport: Box<dyn Transport>) -> Self {
        HecSink { config, transport, delivered: 0 }
    }

    /// One event object of the HEC protocol.
    pub fn event(&self, group: &GroupView<'_>, log: &LogView) -> Value {
        let mut event = Map::new();
        let time = f64::from(log.time) + f64::from(log.time_ns.unwrap_or(0) % 1_000_000_000) / 1e9;
        event.insert("time".into(), json!((time * 1000.0).round() / 1000.0));
        let host = self.config.host.clone().or_else(|| (!group.source.is_empty()).then(|| group.source.to_owned()));
        let source = self.config.source.clone().or_else(|| (!group.topic.is_empty()).then(|| group.topic.to_owned()));
        for (key, value) in [("host", host), ("source", source), ("sourcetype", self.config.sourcetype.clone())] {
            if let Some(value) = value {
                event.insert(key.into(), Value::String(value));
            }
        }
        if let Some(index) = &self.config.index {
            event.insert("index".into(), Value::String(index.clone()));
        }
        event.insert("event".into(), Value::Object(json_fields(group, log)));
        Value::Object(event)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.url.trim_end_matches('/'))
    }

    fn request(&self, path: &str, body: Vec<u8>) -> Request<Vec<u8>> {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(self.url(path))
            .header("authorization", format!("Splunk {}", self.config.token))
            .header("content-type", "application/json");
        if let Some(channel) = &self.config.ack_channel {
            builder = builder.header("x-splunk-request-channel", channel.as_str());
        }
        builder.body(body).expect("valid request")
    }

    /// Posts one body, retrying transport failures and 5xx/429 with backoff; answers the body of
    /// the 200.
    fn post(&self, path: &str, body: &[u8]) -> Result<Vec<u8>, SinkError> {
        let mut last = String::new();
        for attempt in 0..self.config.attempts.max(1) {
            if attempt > 0 {
                std::thread::sleep(backoff(attempt, Duration::from_secs(5)));
            }
            match self.transport.send(self.request(path, body.to_vec())) {
                Ok(answer) if answer.status().is_success() => return Ok(answer.into_body()),
                Ok(answer) => {
                    let status = answer.status().as_u16();
                    last = format!("HEC answered {status}: {}", String::from_utf8_lossy(answer.body()));
                    if !(status >= 500 || status == 429) {
                        // A refusal (bad token, bad event) does not heal by retrying at once.
                        return Err(SinkError(last));
                    }
                }
                Err(error) => last = format!("HEC unreachable: {error}"),
            }
        }
        Err(SinkError(last))
    }

    /// Waits until the indexer acknowledges `ack_id`.
    fn wait_for_ack(&self, ack_id: u64) -> Result<(), SinkError> {
        let deadline = Instant::now() + Duration::from_secs(self.config.ack_timeout_secs);
        let body = json!({"acks": [ack_id]}).to_string().into_bytes();
        let mut attempt = 0;
        loop {
            let answer = self.post("/services/collector/ack", &body)?;
            let answer: Value = serde_json::from_slice(&answer)
                .map_err(|error| SinkError(format!("HEC ack answer is not JSON: {error}")))?;
            if answer["acks"][ack_id.to_string()].as_bool() == Some(true) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(SinkError(format!("HEC did not acknowledge ackId {ack_id} in time")));
            }
            attempt += 1;
            std::thread::sleep(backoff(attempt, Duration::from_secs(2)));
        }
    }

    fn flush(&mut self, body: &mut Vec<u8>, events: &mut u64) -> Result<(), SinkError> {
        if body.is_empty() {
            return Ok(());
        }
        let answer = self.post("/services/collector/event", body)?;
        if self.config.ack_channel.is_some() {
            let answer: Value = serde_json::from_slice(&answer)
                .map_err(|error| SinkError(format!("HEC answer is not JSON: {error}")))?;
            let ack_id = answer["ackId"]
                .as_u64()
                .ok_or_else(|| SinkError(format!("HEC answer without ackId (is acknowledgement on?): {answer}")))?;
            self.wait_for_ack(ack_id)?;
        }
        self.delivered += *events;
        body.clear();
        *events = 0;
        Ok(())
    }
}

impl Sink for HecSink {
    fn send(&mut self, groups: &[GroupView<'_>]) -> Result<(), SinkError> {
        let mut body = Vec::new();
        let mut events = 0u64;
        for group in groups {
            for log in &group.logs {
                let event = serde_json::to_vec(&self.event(group, log)).expect("JSON values serialize");
                if !body.is_empty() && body.len() + event.len() > self.config.batch_bytes {
                    self.flush(&mut body, &mut events)?;
                }
                body.extend_from_slice(&event);
                events += 1;
            }
        }
        self.flush(&mut body, &mut events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    type Seen = Arc<Mutex<Vec<Request<Vec<u8>>>>>;
    type Script = Vec<Result<(u16, String), String>>;

    /// A transport answering from a script, recording the requests.
    struct Scripted {
        answers: Mutex<Script>,
        seen: Seen,
    }

    impl Transport for Scripted {
        fn send(&self, request: Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, String> {
            self.seen.lock().unwrap().push(request);
            let (status, body) = self.answers.lock().unwrap().remove(0)?;
            Ok(http::Response::builder().status(status).body(body.into_bytes()).unwrap())
        }
    }

    fn sink(answers: Script, ack: bool) -> (HecSink, Seen) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let config = HecConfig {
            url: "http://hec:8088/".into(),
            token: "t0k".into(),
            host: None,
            source: None,
            sourcetype: Some("logport".into()),
            index: Some("main".into()),
            batch_bytes: 1 << 20,
            attempts: 3,
            ack_channel: ack.then(|| "11111111-2222-3333-4444-555555555555".into()),
            ack_timeout_secs: 5,
        };
        (HecSink::new(config, Box::new(Scripted { answers: Mutex::new(answers), seen: seen.clone() })), seen)
    }

    #[test]
    fn sends_events_with_metadata_and_retries_503() {
        let ok = Ok((200, r#"{"text":"Success","code":0}"#.to_owned()));
        let (mut hec, seen) = sink(vec![Ok((503, "busy".into())), Err("reset".into()), ok], false);
        let bytes = crate::sink::tests::sample_bytes();
        hec.send(&crate::sink::tests::views(&bytes)).unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3, "two retries");
        let request = &seen[2];
        assert_eq!(request.uri(), "http://hec:8088/services/collector/event");
        assert_eq!(request.headers()["authorization"], "Splunk t0k");
        let event: Value = serde_json::from_slice(request.body()).unwrap();
        assert_eq!(event["time"], json!(1_700_000_000.123));
        assert_eq!(event["host"], "10.0.0.1");
        assert_eq!(event["source"], "nginx");
        assert_eq!(event["sourcetype"], "logport");
        assert_eq!(event["index"], "main");
        assert_eq!(event["event"]["status"], "500");
        assert_eq!(event["event"]["__tag__:host"], "web-1");
        assert_eq!(hec.delivered, 1);
    }

    #[test]
    fn a_refusal_is_not_retried_and_not_delivered() {
        let (mut hec, seen) = sink(vec![Ok((403, r#"{"text":"Invalid token","code":4}"#.into()))], false);
        let bytes = crate::sink::tests::sample_bytes();
        let error = hec.send(&crate::sink::tests::views(&bytes)).unwrap_err();
        assert!(error.0.contains("403"), "{error}");
        assert_eq!(seen.lock().unwrap().len(), 1);
        assert_eq!(hec.delivered, 0);
    }

    #[test]
    fn waits_for_the_acknowledgement() {
        let answers = vec![
            Ok((200, r#"{"text":"Success","code":0,"ackId":7}"#.into())),
            Ok((200, r#"{"acks":{"7":false}}"#.into())),
            Ok((200, r#"{"acks":{"7":true}}"#.into())),
        ];
        let (mut hec, seen) = sink(answers, true);
        let bytes = crate::sink::tests::sample_bytes();
        hec.send(&crate::sink::tests::views(&bytes)).unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(seen[1].uri(), "http://hec:8088/services/collector/ack");
        assert_eq!(seen[0].headers()["x-splunk-request-channel"], "11111111-2222-3333-4444-555555555555");
        assert_eq!(serde_json::from_slice::<Value>(seen[2].body()).unwrap(), json!({"acks": [7]}));
        assert_eq!(hec.delivered, 1);
    }
}
