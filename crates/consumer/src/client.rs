//! The HTTP calls a consumer makes (sls-api.md §5, §6, §9), signed with version 1, over a
//! blocking [`Transport`] so that the same code runs natively (ureq) and inside a WASI component
//! (wasi:http).

use std::time::{Duration, SystemTime};

use http::{HeaderValue, Method, Request, Response};
use logport_api::auth::{AccessKey, sign_v1};
use logport_core::codec::Compression;
use logport_core::view::{self, GroupView};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

/// Characters escaped in paths and query values (RFC 3986 unreserved ones are kept).
const ESCAPE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
/// Largest pulled body accepted after decompression.
const MAX_PULL_BYTES: usize = 256 << 20;

/// Sends one HTTP request and returns the whole answer. Errors are transport failures only
/// (connection refused, reset, timeout); any HTTP status is an `Ok` answer.
pub trait Transport: Send + Sync {
    fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, String>;
}

/// What a call can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The service could not be reached or did not answer.
    #[error("cannot reach the service: {0}")]
    Transport(String),
    /// The service answered with an SLS error.
    #[error("{status} {code}: {message}")]
    Api { status: u16, code: String, message: String },
    /// The answer was not what the protocol says.
    #[error("unexpected answer: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The SLS error code, if the service answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether trying again later may succeed (transport failures, 5xx, throttling).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Api { status, .. } => *status >= 500 || *status == 429,
            Self::Protocol(_) => false,
        }
    }
}

/// A shard granted by a heartbeat, with its fencing counter (0 when the service does not send
/// Logport's `x-logport-leases`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub shard: u32,
    pub lease: u64,
}

/// One GetCheckPoint entry; `cursor` is empty for a shard never checkpointed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Checkpoint {
    pub shard: u32,
    #[serde(rename = "checkpoint")]
    pub cursor: String,
    #[serde(default)]
    pub consumer: String,
}

/// What one PullLogs returned.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The serialized (uncompressed) `LogGroupList`; read it with [`Pulled::groups`].
    pub list: Vec<u8>,
    /// Where the next pull starts (equal to the request's cursor when nothing was returned).
    pub next_cursor: String,
    pub count: usize,
    /// Uncompressed protobuf bytes.
    pub raw_bytes: usize,
}

/// Where a shard without a checkpoint starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartPosition {
    Begin,
    End,
    /// The first log group received at or after this Unix time.
    Time(i64),
}

impl StartPosition {
    fn param(&self) -> String {
        match self {
            Self::Begin => "begin".into(),
            Self::End => "end".into(),
            Self::Time(time) => time.to_string(),
        }
    }
}

/// A client of one logstore and consumer group, for one consumer.
pub struct Client {
    transport: Box<dyn Transport>,
    endpoint: String,
    key: AccessKey,
    project: String,
    logstore: String,
    group: String,
    consumer: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("project", &self.project)
            .field("logstore", &self.logstore)
            .field("group", &self.group)
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

/// Everything a [`Client`] is built from.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `http://host:port` (a bare `host:port` means http).
    pub endpoint: String,
    pub access_key_id: String,
    pub access_key_secret: String,
    pub project: String,
    pub logstore: String,
    pub group: String,
    pub consumer: String,
}

impl Client {
    pub fn new(config: ClientConfig, transport: Box<dyn Transport>) -> Self {
        let endpoint = config.endpoint.trim_end_matches('/');
        let endpoint = if endpoint.contains("://") { endpoint.to_owned() } else { format!("http://{endpoint}") };
        Client {
            transport,
            endpoint,
            key: AccessKey::new(config.access_key_id, config.access_key_secret),
            project: config.project,
            logstore: config.logstore,
            group: config.group,
            consumer: config.consumer,
        }
    }

    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    /// Sends a signed request; `query` values unencoded.
    fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Response<Vec<u8>>, ClientError> {
        let mut uri = format!("{}{path}", self.endpoint);
        for (index, (key, value)) in query.iter().enumerate() {
            uri.push(if index == 0 { '?' } else { '&' });
            uri.push_str(&utf8_percent_encode(key, ESCAPE).to_string());
            uri.push('=');
            uri.push_str(&utf8_percent_encode(value, ESCAPE).to_string());
        }
        let mut builder = Request::builder()
            .method(method)
            .uri(&uri)
            .header("x-log-apiversion", "0.6.0")
            .header("x-log-project", self.project.as_str())
            .header("x-log-bodyrawsize", body.len().to_string());
        if !body.is_empty() {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
        }
        for (name, value) in headers {
            builder = builder.header(*name, value.as_str());
        }
        let request = builder.body(()).map_err(|error| ClientError::Protocol(format!("request {uri}: {error}")))?;
        let (mut parts, ()) = request.into_parts();
        let date = httpdate::fmt_http_date(SystemTime::now());
        sign_v1(&self.key, &mut parts, &body, &date);
        let answer = self.transport.send(Request::from_parts(parts, body)).map_err(ClientError::Transport)?;
        if answer.status().is_success() {
            return Ok(answer);
        }
        let status = answer.status().as_u16();
        #[derive(Deserialize)]
        struct Error {
            #[serde(rename = "errorCode")]
            code: String,
            #[serde(rename = "errorMessage", default)]
            message: String,
        }
        match serde_json::from_slice::<Error>(answer.body()) {
            Ok(error) => Err(ClientError::Api { status, code: error.code, message: error.message }),
            Err(_) => Err(ClientError::Api {
                status,
                code: "Unknown".into(),
                message: String::from_utf8_lossy(&answer.body()[..answer.body().len().min(200)]).into_owned(),
            }),
        }
    }

    fn group_path(&self) -> String {
        format!(
            "/logstores/{}/consumergroups/{}",
            utf8_percent_encode(&self.logstore, ESCAPE),
            utf8_percent_encode(&self.group, ESCAPE)
        )
    }

    /// CreateConsumerGroup; an existing group is fine (its settings are left as they are).
    pub fn ensure_group(&self, timeout: Duration, in_order: bool) -> Result<(), ClientError> {
        let body = serde_json::json!({
            "consumerGroup": self.group,
            "timeout": timeout.as_secs().max(1),
            "order": in_order,
        });
        let path = format!("/logstores/{}/consumergroups", utf8_percent_encode(&self.logstore, ESCAPE));
        match self.call(Method::POST, &path, &[], &[], body.to_string().into_bytes()) {
            Ok(_) => Ok(()),
            Err(error) if error.code() == Some("ConsumerGroupAlreadyExist") => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// ConsumerGroupHeartBeat: says which shards this consumer holds; answers the ones it should.
    pub fn heartbeat(&self, held: &[u32]) -> Result<Vec<Grant>, ClientError> {
        let body = serde_json::to_vec(held).expect("a list of numbers serializes");
        let answer = self.call(
            Method::POST,
            &self.group_path(),
            &[("type", "heartbeat"), ("consumer", &self.consumer)],
            &[],
            body,
        )?;
        let shards: Vec<u32> = serde_json::from_slice(answer.body())
            .map_err(|error| ClientError::Protocol(format!("heartbeat answer: {error}")))?;
        let leases: std::collections::HashMap<u32, u64> = answer
            .headers()
            .get("x-logport-leases")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .split(',')
            .filter_map(|pair| {
                let (shard, lease) = pair.split_once('=')?;
                Some((shard.trim().parse().ok()?, lease.trim().parse().ok()?))
            })
            .collect();
        Ok(shards.into_iter().map(|shard| Grant { shard, lease: leases.get(&shard).copied().unwrap_or(0) }).collect())
    }

    /// Logport's goodbye: this consumer leaves the group, its shards move at once.
    pub fn leave(&self) -> Result<(), ClientError> {
        self.call(
            Method::POST,
            &self.group_path(),
            &[("type", "leave"), ("consumer", &self.consumer)],
            &[],
            Vec::new(),
        )?;
        Ok(())
    }

    /// GetCheckPoint for one shard.
    pub fn checkpoint(&self, shard: u32) -> Result<Checkpoint, ClientError> {
        let shard_text = shard.to_string();
        let answer = self.call(Method::GET, &self.group_path(), &[("shard", &shard_text)], &[], Vec::new())?;
        let entries: Vec<Checkpoint> = serde_json::from_slice(answer.body())
            .map_err(|error| ClientError::Protocol(format!("checkpoint answer: {error}")))?;
        entries
            .into_iter()
            .find(|entry| entry.shard == shard)
            .ok_or_else(|| ClientError::Protocol(format!("no checkpoint entry for shard {shard}")))
    }

    /// ConsumerGroupUpdateCheckPoint, fenced by the grant's lease counter (when known): refused
    /// (`ConsumerNotMatch`) unless this consumer still holds the shard under that grant.
    pub fn update_checkpoint(&self, shard: u32, cursor: &str, lease: u64) -> Result<(), ClientError> {
        let body = serde_json::json!({"shard": shard, "checkpoint": cursor});
        let headers: Vec<(&str, String)> =
            if lease > 0 { vec![("x-logport-lease", lease.to_string())] } else { Vec::new() };
        self.call(
            Method::POST,
            &self.group_path(),
            &[("type", "checkpoint"), ("consumer", &self.consumer), ("forceSuccess", "false")],
            &headers,
            body.to_string().into_bytes(),
        )?;
        Ok(())
    }

    /// GetCursor.
    pub fn cursor(&self, shard: u32, from: &StartPosition) -> Result<String, ClientError> {
        let path = format!("/logstores/{}/shards/{shard}", utf8_percent_encode(&self.logstore, ESCAPE));
        let from = from.param();
        let answer = self.call(Method::GET, &path, &[("type", "cursor"), ("from", &from)], &[], Vec::new())?;
        #[derive(Deserialize)]
        struct Answer {
            cursor: String,
        }
        let answer: Answer = serde_json::from_slice(answer.body())
            .map_err(|error| ClientError::Protocol(format!("cursor answer: {error}")))?;
        Ok(answer.cursor)
    }

    /// PullLogs: up to `count` log groups from `cursor`, lz4-compressed on the wire.
    pub fn pull(&self, shard: u32, cursor: &str, count: usize) -> Result<Pulled, ClientError> {
        let path = format!("/logstores/{}/shards/{shard}", utf8_percent_encode(&self.logstore, ESCAPE));
        let count_text = count.to_string();
        let answer = self.call(
            Method::GET,
            &path,
            &[("type", "log"), ("cursor", cursor), ("count", &count_text)],
            &[("accept-encoding", "lz4".into()), ("accept", "application/x-protobuf".into())],
            Vec::new(),
        )?;
        let header = |name: &str| answer.headers().get(name).and_then(|value: &HeaderValue| value.to_str().ok());
        let next_cursor = header("x-log-cursor")
            .ok_or_else(|| ClientError::Protocol("a pull answer without x-log-cursor".into()))?
            .to_owned();
        let count: usize = header("x-log-count").and_then(|text| text.parse().ok()).unwrap_or(0);
        let compression = Compression::parse(header("x-log-compresstype").unwrap_or(""))
            .map_err(|error| ClientError::Protocol(error.to_string()))?;
        let raw_size: usize = match header("x-log-bodyrawsize") {
            Some(text) => text.parse().map_err(|_| ClientError::Protocol(format!("x-log-bodyrawsize '{text}'")))?,
            None => answer.body().len(),
        };
        let raw = compression
            .decompress(answer.body(), raw_size, MAX_PULL_BYTES)
            .map_err(|error| ClientError::Protocol(format!("pulled body: {error}")))?;
        Ok(Pulled { raw_bytes: raw.len(), list: raw, next_cursor, count })
    }
}

impl Pulled {
    /// The pulled log groups, borrowed from the pulled bytes (no string is copied).
    pub fn groups(&self) -> Result<Vec<GroupView<'_>>, ClientError> {
        view::list_groups(&self.list).map_err(|error| ClientError::Protocol(format!("pulled body: {error}")))
    }
}

/// [`Transport`] over ureq (blocking, HTTP/1.1, plain http).
#[cfg(feature = "native")]
#[derive(Debug)]
pub struct UreqTransport {
    agent: ureq::Agent,
}

#[cfg(feature = "native")]
impl UreqTransport {
    pub fn new(timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(timeout)).build();
        UreqTransport { agent: config.into() }
    }
}

#[cfg(feature = "native")]
impl Default for UreqTransport {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

#[cfg(feature = "native")]
impl Transport for UreqTransport {
    fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, String> {
        let mut answer = self.agent.run(request).map_err(|error| error.to_string())?;
        let body = answer.body_mut().with_config().limit(u64::MAX).read_to_vec().map_err(|error| error.to_string())?;
        let (parts, _) = answer.into_parts();
        Ok(Response::from_parts(parts, body))
    }
}
