//! GetLogs (v2 JSON body and v1 query string), histograms and context, over `logport-query`.

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use logport_core::codec::Compression;
use logport_core::engine::Engine;
use logport_query::{ContextRequest, GetLogsRequest, HistogramRequest, QueryError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{json_body, number_param};
use crate::Call;
use crate::error::ApiError;

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> Self {
        match error {
            QueryError::Engine(engine) => engine.into(),
            QueryError::Internal(message) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", message)
            }
            other => ApiError::parameter(other.to_string()),
        }
    }
}

/// GetLogs v2 body. Numbers may arrive as JSON numbers or strings.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GetLogsBody {
    from: Option<Value>,
    to: Option<Value>,
    query: Option<String>,
    line: Option<Value>,
    offset: Option<Value>,
    reverse: Option<Value>,
    topic: Option<String>,
}

fn integer(name: &str, value: Option<&Value>) -> Result<Option<i64>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => {
            number.as_i64().map(Some).ok_or_else(|| ApiError::parameter(format!("{name} must be an integer")))
        }
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => {
            text.parse().map(Some).map_err(|_| ApiError::parameter(format!("{name} must be an integer, not '{text}'")))
        }
        Some(other) => Err(ApiError::parameter(format!("{name} must be an integer, not {other}"))),
    }
}

fn boolean(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(text)) => text.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn count(name: &str, value: Option<i64>, default: usize) -> Result<usize, ApiError> {
    match value {
        None => Ok(default),
        Some(number) => {
            usize::try_from(number).map_err(|_| ApiError::parameter(format!("{name} must not be negative")))
        }
    }
}

fn required_time(name: &str, value: Option<i64>) -> Result<i64, ApiError> {
    value.ok_or_else(|| ApiError::parameter(format!("{name} (unix seconds) is required")))
}

/// A JSON answer, lz4-compressed when the caller accepts it (as the SDK asks).
fn json_answer(call: &Call<'_>, value: &Value, extra: &[(&str, String)]) -> Response<Bytes> {
    let raw = serde_json::to_vec(value).expect("JSON values serialize");
    let lz4 =
        call.header("accept-encoding").is_some_and(|accepted| accepted.split(',').any(|name| name.trim() == "lz4"));
    let mut builder = Response::builder().status(StatusCode::OK).header(header::CONTENT_TYPE, "application/json");
    for (name, value) in extra {
        builder = builder.header(*name, value.as_str());
    }
    let body = if lz4 {
        builder = builder.header("x-log-compresstype", "lz4").header("x-log-bodyrawsize", raw.len());
        Compression::Lz4.compress(&raw)
    } else {
        raw
    };
    builder.body(Bytes::from(body)).expect("valid headers")
}

pub async fn get_logs(engine: &Arc<Engine>, call: &Call<'_>, logstore: &str) -> Result<Response<Bytes>, ApiError> {
    let body: GetLogsBody = json_body(call)?;
    let request = GetLogsRequest {
        from: required_time("from", integer("from", body.from.as_ref())?)?,
        to: required_time("to", integer("to", body.to.as_ref())?)?,
        query: body.query.unwrap_or_default(),
        line: count("line", integer("line", body.line.as_ref())?, 100)?,
        offset: count("offset", integer("offset", body.offset.as_ref())?, 0)?,
        reverse: boolean(body.reverse.as_ref()),
        topic: body.topic.filter(|topic| !topic.is_empty()),
    };
    let answer = logport_query::get_logs(engine, call.project()?, logstore, &request).await?;
    let value = json!({"meta": answer.meta, "data": answer.data});
    Ok(json_answer(call, &value, &[]))
}

fn param_integer(call: &Call<'_>, name: &str) -> Result<Option<i64>, ApiError> {
    integer(name, call.param(name).map(|text| Value::String(text.to_owned())).as_ref())
}

pub async fn get_logs_v1(engine: &Arc<Engine>, call: &Call<'_>, logstore: &str) -> Result<Response<Bytes>, ApiError> {
    let request = GetLogsRequest {
        from: required_time("from", param_integer(call, "from")?)?,
        to: required_time("to", param_integer(call, "to")?)?,
        query: call.param("query").unwrap_or("").to_owned(),
        line: number_param(call, "line", 100)?,
        offset: number_param(call, "offset", 0)?,
        reverse: call.param("reverse").is_some_and(|flag| flag.eq_ignore_ascii_case("true")),
        topic: call.param("topic").filter(|topic| !topic.is_empty()).map(str::to_owned),
    };
    let answer = logport_query::get_logs(engine, call.project()?, logstore, &request).await?;
    let meta = &answer.meta;
    let headers = [
        ("x-log-progress", meta.progress.to_owned()),
        ("x-log-count", meta.count.to_string()),
        ("x-log-processed-rows", meta.processed_rows.to_string()),
        ("x-log-elapsed-millisecond", meta.elapsed_millisecond.to_string()),
        ("x-log-has-sql", meta.has_sql.to_string()),
        ("x-log-query-info", json!({"keys": meta.keys}).to_string()),
    ];
    Ok(json_answer(call, &Value::Array(answer.data.into_iter().map(Value::Object).collect()), &headers))
}

pub async fn histogram(engine: &Arc<Engine>, call: &Call<'_>, logstore: &str) -> Result<Response<Bytes>, ApiError> {
    let request = HistogramRequest {
        from: required_time("from", param_integer(call, "from")?)?,
        to: required_time("to", param_integer(call, "to")?)?,
        query: call.param("query").unwrap_or("").to_owned(),
        topic: call.param("topic").filter(|topic| !topic.is_empty()).map(str::to_owned),
        interval: param_integer(call, "interval")?,
    };
    let buckets = logport_query::histogram(engine, call.project()?, logstore, &request).await?;
    let total: u64 = buckets.iter().map(|bucket| bucket.count).sum();
    let headers = [("x-log-progress", "Complete".to_owned()), ("x-log-count", total.to_string())];
    Ok(json_answer(call, &serde_json::to_value(&buckets).expect("buckets serialize"), &headers))
}

pub async fn context(engine: &Arc<Engine>, call: &Call<'_>, logstore: &str) -> Result<Response<Bytes>, ApiError> {
    let request = ContextRequest {
        pack_meta: call.param("pack_meta").ok_or_else(|| ApiError::parameter("pack_meta is required"))?.to_owned(),
        back_lines: number_param(call, "back_lines", 10)?,
        forward_lines: number_param(call, "forward_lines", 10)?,
    };
    let answer = logport_query::context(engine, call.project()?, logstore, &request).await?;
    Ok(json_answer(call, &serde_json::to_value(&answer).expect("context serializes"), &[]))
}
