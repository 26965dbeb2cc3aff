//! PutLogs, GetCursor, GetCursorTime and PullLogs, with SLS's body compression.

use bytes::Bytes;
use http::{Response, StatusCode, header};
use logport_core::codec::Compression;
use logport_core::engine::{Batch, CursorFrom, Engine, ShardTarget};
use logport_core::json::{group_to_json, groups_from_json};
use logport_core::model::LogGroupList;
use prost::Message;
use serde_json::{Value, json};

use super::number_param;
use crate::Call;
use crate::error::ApiError;
use crate::response;

/// Header carrying a client-chosen idempotency key (a Logport extension; SLS has none).
pub const IDEMPOTENCY_HEADER: &str = "x-log-idempotency-key";

/// The request body, decompressed as `x-log-compresstype` + `x-log-bodyrawsize` say.
fn raw_body(call: &Call<'_>, limit: usize) -> Result<Vec<u8>, ApiError> {
    let compression = Compression::parse(call.header("x-log-compresstype").unwrap_or(""))
        .map_err(|error| ApiError::parameter(error.to_string()))?;
    if compression == Compression::None {
        if call.body.len() > limit {
            return Err(ApiError::too_large(format!("the body is {} bytes, the limit is {limit}", call.body.len())));
        }
        return Ok(call.body.to_vec());
    }
    let raw_size = call
        .header("x-log-bodyrawsize")
        .ok_or_else(|| ApiError::parameter("x-log-bodyrawsize is required with x-log-compresstype"))?;
    let raw_size: usize = raw_size
        .trim()
        .parse()
        .map_err(|_| ApiError::parameter(format!("x-log-bodyrawsize must be a byte count, not '{raw_size}'")))?;
    compression.decompress(call.body, raw_size, limit).map_err(|error| match error {
        logport_core::codec::CodecError::TooLarge { .. } => ApiError::too_large(error.to_string()),
        other => ApiError::body_invalid(other.to_string()),
    })
}

pub async fn put_logs(
    engine: &Engine,
    call: &Call<'_>,
    logstore: &str,
    hash_key: Option<String>,
) -> Result<Response<Bytes>, ApiError> {
    let project = call.project()?;
    let raw = raw_body(call, engine.limits().max_batch_bytes)?;
    let is_json = call.header("content-type").is_some_and(|kind| kind.starts_with("application/json"));
    let batch = if is_json {
        let now = u32::try_from(engine.now()).unwrap_or(0);
        let groups = groups_from_json(&raw, now).map_err(|error| ApiError::body_invalid(error.to_string()))?;
        Batch::from_groups(&groups)?
    } else {
        Batch::from_protobuf(raw)?
    };
    let target = hash_key.map_or(ShardTarget::Balanced, ShardTarget::HashKey);
    let outcome = engine.put_logs(project, logstore, target, batch, call.header(IDEMPOTENCY_HEADER)).await?;
    let mut response = response::empty();
    let headers = response.headers_mut();
    headers.insert("x-logport-shard", outcome.shard.into());
    headers.insert("x-logport-position", outcome.position.into());
    if outcome.duplicate {
        headers.insert("x-logport-duplicate", http::HeaderValue::from_static("true"));
    }
    Ok(response)
}

pub async fn get_cursor(
    engine: &Engine,
    call: &Call<'_>,
    logstore: &str,
    shard: u32,
) -> Result<Response<Bytes>, ApiError> {
    let from = call.param("from").ok_or_else(|| ApiError::parameter("from is required: begin, end or unix seconds"))?;
    let cursor = engine.cursor(call.project()?, logstore, shard, CursorFrom::parse(from)?).await?;
    Ok(response::json(&json!({"cursor": cursor})))
}

pub async fn get_cursor_time(
    engine: &Engine,
    call: &Call<'_>,
    logstore: &str,
    shard: u32,
) -> Result<Response<Bytes>, ApiError> {
    let cursor = call.param("cursor").ok_or_else(|| ApiError::parameter("cursor is required"))?;
    let time = engine.cursor_time(call.project()?, logstore, shard, cursor).await?;
    Ok(response::json(&json!({"cursor_time": time})))
}

/// The compression a puller asked for; unknown encodings (curl's `gzip, deflate`) get none.
fn accepted_compression(call: &Call<'_>) -> Compression {
    let accepted = call.header("accept-encoding").unwrap_or("");
    accepted.split(',').find_map(|name| Compression::parse(name).ok()).unwrap_or(Compression::None)
}

pub async fn pull_logs(
    engine: &Engine,
    call: &Call<'_>,
    logstore: &str,
    shard: u32,
) -> Result<Response<Bytes>, ApiError> {
    let cursor = call.param("cursor").ok_or_else(|| ApiError::parameter("cursor is required"))?;
    let count = number_param(call, "count", 1000)?;
    let end_cursor = call.param("end_cursor").or_else(|| call.param("endCursor")).filter(|end| !end.is_empty());
    let outcome = engine.pull_logs(call.project()?, logstore, shard, cursor, count, end_cursor).await?;

    let wants_json = call.header("accept").is_some_and(|accept| accept.contains("application/json"));
    let (raw, content_type) = if wants_json {
        let list = LogGroupList::decode(outcome.list.as_slice()).map_err(|error| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", error.to_string())
        })?;
        let groups: Vec<Value> = list.log_groups.iter().map(group_to_json).collect();
        (serde_json::to_vec(&groups).expect("JSON values serialize"), "application/json")
    } else {
        (outcome.list, "application/x-protobuf")
    };
    let compression = if raw.is_empty() { Compression::None } else { accepted_compression(call) };
    let body = compression.compress(&raw);
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header("x-log-cursor", outcome.next_cursor.as_str())
        .header("x-log-count", outcome.count)
        .header("x-log-bodyrawsize", raw.len());
    if let Some(name) = compression.header_value() {
        builder = builder.header("x-log-compresstype", name);
    }
    Ok(builder.body(Bytes::from(body)).expect("valid headers"))
}
