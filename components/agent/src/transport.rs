//! The agent's [`Sink`] over wasi:http (waki's blocking client): the host decides where it may
//! connect and how fast the body leaves (`logport agent run --component`).

use std::time::Duration;

use logport_agent::agent::{Outcome, Sink, outcome_of};
use logport_agent::run::Transport;
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

impl Transport for WasiHttpSink {
    fn call(&mut self, request: &PutLogs, limit: u64) -> Result<Option<(u16, Vec<u8>)>, String> {
        let method = match request.method {
            "POST" => waki::Method::Post,
            "PUT" => waki::Method::Put,
            _ => return Ok(None),
        };
        let mut builder = waki::Client::new()
            .request(method, &format!("{}{}", self.base, request.path))
            .connect_timeout(self.timeout);
        for (name, value) in &request.headers {
            let (Ok(name), Ok(value)) =
                (http::HeaderName::from_bytes(name.as_bytes()), http::HeaderValue::from_str(value))
            else {
                return Ok(None);
            };
            builder = builder.header(name, value);
        }
        let answer = builder
            .body(request.body.clone())
            .send()
            .map_err(|error| format!("cannot reach {}: {error}", self.base))?;
        let status = answer.status_code();
        let mut body = answer.body().map_err(|error| format!("{}: reading the answer: {error}", self.base))?;
        body.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(Some((status, body)))
    }
}

impl Sink for WasiHttpSink {
    fn send(&mut self, request: &PutLogs) -> Outcome {
        match self.call(request, 64 * 1024) {
            Ok(Some((status, body))) => outcome_of(status, &body),
            Ok(None) => Outcome::Reject(format!("cannot build the {} {} request", request.method, request.path)),
            Err(error) => Outcome::Retry(error),
        }
    }
}
