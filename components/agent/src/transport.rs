//! The agent's [`Sink`] over wasi:http (waki's blocking client): the host decides where it may
//! connect and how fast the body leaves (`logport agent run --component`).

use std::time::Duration;

use logport_agent::agent::{Outcome, Sink, outcome_of};
use logport_agent::sls::PutLogs;

#[derive(Debug)]
pub struct WasiHttpSink {
    /// `http://host:port`
    base: String,
    timeout: Duration,
}

impl WasiHttpSink {
    /// `endpoint` is the config's `host:port` (or a URL).
    pub fn new(endpoint: &str, timeout: Duration) -> WasiHttpSink {
        let endpoint = endpoint.trim_end_matches('/');
        let base = if endpoint.contains("://") { endpoint.to_owned() } else { format!("http://{endpoint}") };
        WasiHttpSink { base, timeout }
    }
}

impl Sink for WasiHttpSink {
    fn send(&mut self, request: &PutLogs) -> Outcome {
        let method = match request.method {
            "POST" => waki::Method::Post,
            "PUT" => waki::Method::Put,
            other => return Outcome::Reject(format!("method {other} is not used by the agent")),
        };
        let mut builder = waki::Client::new()
            .request(method, &format!("{}{}", self.base, request.path))
            .connect_timeout(self.timeout);
        for (name, value) in &request.headers {
            let (Ok(name), Ok(value)) =
                (http::HeaderName::from_bytes(name.as_bytes()), http::HeaderValue::from_str(value))
            else {
                return Outcome::Reject(format!("invalid header {name}: {value}"));
            };
            builder = builder.header(name, value);
        }
        let answer = match builder.body(request.body.clone()).send() {
            Ok(answer) => answer,
            Err(error) => return Outcome::Retry(format!("cannot reach {}: {error}", self.base)),
        };
        let status = answer.status_code();
        match answer.body() {
            Ok(body) => outcome_of(status, &body),
            Err(error) => Outcome::Retry(format!("{}: reading the answer: {error}", self.base)),
        }
    }
}
