//! Consumer groups (`sls-api.md` §9): create, update, list, delete, heartbeat, checkpoints.
//!
//! Logport extensions, ignored by SLS clients: a heartbeat answer carries
//! `x-logport-leases: <shard>=<counter>,...` (the fencing counter of each grant), and a checkpoint
//! may carry `x-logport-lease: <counter>` so that it is refused unless it comes from that grant;
//! `POST .../consumergroups/{cg}?type=leave&consumer=` removes a consumer that stops (its shards
//! move at the others' next heartbeats instead of after the group timeout).

use bytes::Bytes;
use http::Response;
use logport_core::engine::{ConsumerGroupSettings, Engine};
use serde::Deserialize;
use serde_json::{Value, json};

use super::json_body;
use crate::Call;
use crate::error::ApiError;
use crate::response;
use crate::route::ConsumerGroupCall;

/// Response header listing the fencing counter of each shard granted by a heartbeat.
pub const LEASES_HEADER: &str = "x-logport-leases";
/// Request header naming the grant a checkpoint comes from.
pub const LEASE_HEADER: &str = "x-logport-lease";

pub(crate) async fn run(
    engine: &Engine,
    call: &Call<'_>,
    consumer_call: ConsumerGroupCall,
) -> Result<Response<Bytes>, ApiError> {
    match consumer_call {
        ConsumerGroupCall::List { logstore } => list(engine, call, &logstore).await,
        ConsumerGroupCall::Create { logstore } => create(engine, call, &logstore).await,
        ConsumerGroupCall::Update { logstore, group } => update(engine, call, &logstore, &group).await,
        ConsumerGroupCall::Delete { logstore, group } => {
            engine.delete_consumer_group(call.project()?, &logstore, &group).await?;
            tracing::info!(logstore, group, "consumer group deleted");
            Ok(response::empty())
        }
        ConsumerGroupCall::Heartbeat { logstore, group } => heartbeat(engine, call, &logstore, &group).await,
        ConsumerGroupCall::UpdateCheckpoint { logstore, group } => {
            update_checkpoint(engine, call, &logstore, &group).await
        }
        ConsumerGroupCall::Leave { logstore, group } => {
            let consumer = consumer_param(call)?;
            engine.leave_consumer_group(call.project()?, &logstore, &group, consumer).await?;
            tracing::info!(logstore, group, consumer, "consumer left its group");
            Ok(response::empty())
        }
        ConsumerGroupCall::GetCheckpoint { logstore, group } => get_checkpoint(engine, call, &logstore, &group).await,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GroupBody {
    #[serde(rename = "consumerGroup")]
    consumer_group: Option<String>,
    timeout: Option<u32>,
    order: Option<bool>,
}

async fn list(engine: &Engine, call: &Call<'_>, logstore: &str) -> Result<Response<Bytes>, ApiError> {
    let groups = engine.list_consumer_groups(call.project()?, logstore).await?;
    let groups: Vec<Value> = groups
        .iter()
        .map(|group| json!({"name": group.name, "timeout": group.timeout, "order": group.order}))
        .collect();
    Ok(response::json(&Value::Array(groups)))
}

async fn create(engine: &Engine, call: &Call<'_>, logstore: &str) -> Result<Response<Bytes>, ApiError> {
    let body: GroupBody = json_body(call)?;
    let name = body.consumer_group.ok_or_else(|| ApiError::parameter("consumerGroup is missing"))?;
    let timeout = body.timeout.ok_or_else(|| ApiError::parameter("timeout is missing"))?;
    let settings = ConsumerGroupSettings { timeout, order: body.order.unwrap_or(false) };
    engine.create_consumer_group(call.project()?, logstore, &name, settings).await?;
    tracing::info!(logstore, group = name, timeout, "consumer group created");
    Ok(response::empty())
}

async fn update(engine: &Engine, call: &Call<'_>, logstore: &str, group: &str) -> Result<Response<Bytes>, ApiError> {
    let body: GroupBody = json_body(call)?;
    if body.timeout.is_none() && body.order.is_none() {
        return Err(ApiError::parameter("an update names timeout, order or both"));
    }
    engine.update_consumer_group(call.project()?, logstore, group, body.timeout, body.order).await?;
    Ok(response::empty())
}

/// The consumer name a heartbeat or checkpoint is sent for.
fn consumer_param<'a>(call: &'a Call<'_>) -> Result<&'a str, ApiError> {
    call.param("consumer").ok_or_else(|| ApiError::parameter("consumer is required"))
}

/// The held shards: a bare JSON array (what the SDK sends), or `{"shards": [...]}`.
fn held_shards(call: &Call<'_>) -> Result<Vec<u32>, ApiError> {
    if call.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Held {
        Bare(Vec<u32>),
        Wrapped { shards: Vec<u32> },
    }
    match serde_json::from_slice::<Held>(call.body) {
        Ok(Held::Bare(shards) | Held::Wrapped { shards }) => Ok(shards),
        Err(_) => Err(ApiError::body_invalid(
            "a heartbeat body is a JSON array of the shard ids the consumer holds (or {\"shards\": [...]})",
        )),
    }
}

async fn heartbeat(engine: &Engine, call: &Call<'_>, logstore: &str, group: &str) -> Result<Response<Bytes>, ApiError> {
    let consumer = consumer_param(call)?;
    let held = held_shards(call)?;
    let assignments = engine.consumer_heartbeat(call.project()?, logstore, group, consumer, &held).await?;
    let shards: Vec<u32> = assignments.iter().map(|assignment| assignment.shard).collect();
    let leases: Vec<String> =
        assignments.iter().map(|assignment| format!("{}={}", assignment.shard, assignment.counter)).collect();
    let mut answer = response::json(&json!(shards));
    let leases = http::HeaderValue::from_str(&leases.join(",")).expect("digits, '=' and ',' are a header value");
    answer.headers_mut().insert(LEASES_HEADER, leases);
    Ok(answer)
}

#[derive(Debug, Deserialize)]
struct CheckpointBody {
    shard: u32,
    checkpoint: String,
}

fn flag(call: &Call<'_>, name: &str) -> Result<bool, ApiError> {
    match call.param(name) {
        None | Some("") => Ok(false),
        Some(text) if text.eq_ignore_ascii_case("true") => Ok(true),
        Some(text) if text.eq_ignore_ascii_case("false") => Ok(false),
        Some(text) => Err(ApiError::parameter(format!("{name} must be true or false, not '{text}'"))),
    }
}

async fn update_checkpoint(
    engine: &Engine,
    call: &Call<'_>,
    logstore: &str,
    group: &str,
) -> Result<Response<Bytes>, ApiError> {
    let consumer = call.param("consumer").unwrap_or("");
    let force_success = flag(call, "forceSuccess")?;
    let body: CheckpointBody = serde_json::from_slice(call.body).map_err(|error| {
        ApiError::body_invalid(format!(
            "a checkpoint body is {{\"shard\": <id>, \"checkpoint\": \"<cursor>\"}}: {error}"
        ))
    })?;
    let lease = match call.header(LEASE_HEADER) {
        None => None,
        Some(text) => Some(
            text.trim()
                .parse::<u64>()
                .map_err(|_| ApiError::parameter(format!("{LEASE_HEADER} must be a lease counter, not '{text}'")))?,
        ),
    };
    engine
        .update_checkpoint(
            call.project()?,
            logstore,
            group,
            consumer,
            body.shard,
            &body.checkpoint,
            force_success,
            lease,
        )
        .await?;
    Ok(response::empty())
}

async fn get_checkpoint(
    engine: &Engine,
    call: &Call<'_>,
    logstore: &str,
    group: &str,
) -> Result<Response<Bytes>, ApiError> {
    let shard = match call.param("shard") {
        None | Some("") | Some("-1") => None,
        Some(text) => Some(
            text.parse::<u32>().map_err(|_| ApiError::parameter(format!("shard must be a shard id, not '{text}'")))?,
        ),
    };
    let entries = engine.checkpoints(call.project()?, logstore, group, shard).await?;
    let entries: Vec<Value> = entries
        .iter()
        .map(|entry| {
            json!({
                "shard": entry.shard,
                "checkpoint": entry.cursor,
                "updateTime": entry.update_time_us,
                "consumer": entry.consumer,
            })
        })
        .collect();
    Ok(response::json(&Value::Array(entries)))
}
