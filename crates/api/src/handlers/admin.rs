//! Projects, logstores and shards.

use bytes::Bytes;
use http::Response;
use logport_core::engine::records::LogstoreRecord;
use logport_core::engine::{Engine, LogstoreSettings, ProjectSettings};
use logport_core::shard::HashRange;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{json_body, number_param};
use crate::Call;
use crate::error::ApiError;
use crate::response;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ProjectBody {
    project_name: Option<String>,
    description: Option<String>,
}

fn project_json(record: &logport_core::engine::records::ProjectRecord) -> Value {
    json!({
        "projectName": record.name,
        "description": record.description,
        "status": "Normal",
        "region": "local",
        "owner": "",
        "createTime": record.create_time.to_string(),
        "lastModifyTime": record.last_modify_time.to_string(),
    })
}

pub async fn list_projects(engine: &Engine, call: &Call<'_>) -> Result<Response<Bytes>, ApiError> {
    let offset = number_param(call, "offset", 0)?;
    let size = number_param(call, "size", 100)?;
    let filter = call.param("projectName").unwrap_or("");
    let (all, _) = engine.list_projects(0, usize::MAX).await?;
    let matching: Vec<_> = all.iter().filter(|project| project.name.contains(filter)).collect();
    let page: Vec<Value> = matching.iter().skip(offset).take(size).map(|project| project_json(project)).collect();
    Ok(response::json(&json!({"count": page.len(), "total": matching.len(), "projects": page})))
}

pub async fn create_project(engine: &Engine, call: &Call<'_>) -> Result<Response<Bytes>, ApiError> {
    let body: ProjectBody = json_body(call)?;
    let name = match (body.project_name, call.project.clone()) {
        (Some(named), Some(host)) if named != host => {
            return Err(ApiError::parameter(format!(
                "projectName '{named}' differs from the project '{host}' in the Host"
            )));
        }
        (Some(named), _) => named,
        (None, Some(host)) => host,
        (None, None) => return Err(ApiError::parameter("projectName is missing")),
    };
    engine.create_project(&name, ProjectSettings { description: body.description.unwrap_or_default() }).await?;
    tracing::info!(project = name, "project created");
    Ok(response::empty())
}

pub async fn get_project(engine: &Engine, call: &Call<'_>) -> Result<Response<Bytes>, ApiError> {
    let record = engine.project(call.project()?).await?;
    Ok(response::json(&project_json(&record)))
}

pub async fn update_project(engine: &Engine, call: &Call<'_>) -> Result<Response<Bytes>, ApiError> {
    let body: ProjectBody = json_body(call)?;
    let settings = ProjectSettings { description: body.description.unwrap_or_default() };
    engine.update_project(call.project()?, settings).await?;
    Ok(response::empty())
}

pub async fn delete_project(engine: &Engine, call: &Call<'_>) -> Result<Response<Bytes>, ApiError> {
    let project = call.project()?;
    engine.delete_project(project).await?;
    tracing::info!(project, "project deleted");
    Ok(response::empty())
}

/// CreateLogstore / UpdateLogstore bodies. SLS spells most fields in camelCase but a few in
/// snake_case (`enable_tracking`); both spellings are accepted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LogstoreBody {
    #[serde(rename = "logstoreName")]
    logstore_name: Option<String>,
    ttl: Option<u32>,
    #[serde(rename = "shardCount")]
    shard_count: Option<u32>,
    #[serde(alias = "enableTracking")]
    enable_tracking: Option<bool>,
    #[serde(rename = "autoSplit")]
    auto_split: Option<bool>,
    #[serde(rename = "maxSplitShard")]
    max_split_shard: Option<u32>,
    #[serde(rename = "appendMeta")]
    append_meta: Option<bool>,
    #[serde(rename = "telemetryType")]
    telemetry_type: Option<String>,
}

impl LogstoreBody {
    fn settings(self, base: LogstoreSettings) -> LogstoreSettings {
        LogstoreSettings {
            ttl: self.ttl.unwrap_or(base.ttl),
            shard_count: self.shard_count.unwrap_or(base.shard_count),
            enable_tracking: self.enable_tracking.unwrap_or(base.enable_tracking),
            auto_split: self.auto_split.unwrap_or(base.auto_split),
            max_split_shard: self.max_split_shard.unwrap_or(base.max_split_shard),
            append_meta: self.append_meta.unwrap_or(base.append_meta),
            telemetry_type: self.telemetry_type.unwrap_or(base.telemetry_type),
        }
    }
}

fn settings_of(record: &LogstoreRecord) -> LogstoreSettings {
    LogstoreSettings {
        ttl: record.ttl,
        shard_count: record.shard_count,
        enable_tracking: record.enable_tracking,
        auto_split: record.auto_split,
        max_split_shard: record.max_split_shard,
        append_meta: record.append_meta,
        telemetry_type: record.telemetry_type.clone(),
    }
}

pub async fn create_logstore(engine: &Engine, call: &Call<'_>) -> Result<Response<Bytes>, ApiError> {
    let body: LogstoreBody = json_body(call)?;
    let name = body.logstore_name.clone().ok_or_else(|| ApiError::parameter("logstoreName is missing"))?;
    let project = call.project()?;
    let record = engine.create_logstore(project, &name, body.settings(LogstoreSettings::default())).await?;
    tracing::info!(project, logstore = name, shards = record.shard_count, ttl = record.ttl, "logstore created");
    Ok(response::empty())
}

pub async fn list_logstores(engine: &Engine, call: &Call<'_>) -> Result<Response<Bytes>, ApiError> {
    let offset = number_param(call, "offset", 0)?;
    let size = number_param(call, "size", 200)?;
    let filter = call.param("logstoreName").unwrap_or("");
    let (all, _) = engine.list_logstores(call.project()?, 0, usize::MAX).await?;
    let matching: Vec<&String> = all.iter().filter(|name| name.contains(filter)).collect();
    let page: Vec<&String> = matching.iter().skip(offset).take(size).copied().collect();
    Ok(response::json(&json!({"count": page.len(), "total": matching.len(), "logstores": page})))
}

pub async fn get_logstore(engine: &Engine, call: &Call<'_>, logstore: &str) -> Result<Response<Bytes>, ApiError> {
    let record = engine.logstore(call.project()?, logstore).await?;
    Ok(response::json(&json!({
        "logstoreName": record.name,
        "ttl": record.ttl,
        "shardCount": record.shard_count,
        "enable_tracking": record.enable_tracking,
        "autoSplit": record.auto_split,
        "maxSplitShard": record.max_split_shard,
        "appendMeta": record.append_meta,
        "telemetryType": record.telemetry_type,
        "createTime": record.create_time,
        "lastModifyTime": record.last_modify_time,
    })))
}

pub async fn update_logstore(engine: &Engine, call: &Call<'_>, logstore: &str) -> Result<Response<Bytes>, ApiError> {
    let body: LogstoreBody = json_body(call)?;
    if body.logstore_name.as_deref().is_some_and(|named| named != logstore) {
        return Err(ApiError::parameter("logstoreName in the body differs from the one in the path"));
    }
    let project = call.project()?;
    let current = engine.logstore(project, logstore).await?;
    engine.update_logstore(project, logstore, body.settings(settings_of(&current))).await?;
    Ok(response::empty())
}

pub async fn delete_logstore(engine: &Engine, call: &Call<'_>, logstore: &str) -> Result<Response<Bytes>, ApiError> {
    let project = call.project()?;
    engine.delete_logstore(project, logstore).await?;
    tracing::info!(project, logstore, "logstore deleted");
    Ok(response::empty())
}

pub async fn list_shards(engine: &Engine, call: &Call<'_>, logstore: &str) -> Result<Response<Bytes>, ApiError> {
    let record = engine.logstore(call.project()?, logstore).await?;
    let shards: Vec<Value> = (0..record.shard_count)
        .map(|shard| {
            let range = HashRange::of_shard(shard, record.shard_count);
            json!({
                "shardID": shard,
                "status": "readwrite",
                "inclusiveBeginKey": range.begin_hex(),
                "exclusiveEndKey": range.end_hex(),
                "createTime": record.create_time,
            })
        })
        .collect();
    Ok(response::json(&Value::Array(shards)))
}
