//! The shipper API (sls-api.md §10): rules (create, get, update, delete, list), their tasks
//! (list with filters, retry) and Logport's flush-now.

use bytes::Bytes;
use http::{Response, StatusCode};
use logport_core::cursor;
use logport_shipper::{RetryWhich, RuleRecord, Shipper, ShipperError, TaskFilter, TaskRecord, TaskStatus};
use serde_json::{Value, json};

use super::number_param;
use crate::Call;
use crate::error::ApiError;
use crate::response;
use crate::route::ShipperCall;

/// Most tasks one listing page returns.
const MAX_TASK_PAGE: usize = 500;

impl From<ShipperError> for ApiError {
    fn from(error: ShipperError) -> Self {
        let message = error.to_string();
        match error {
            ShipperError::InvalidConfig(_) => ApiError::parameter(message),
            ShipperError::ShipperNotExist(_) => ApiError::new(StatusCode::NOT_FOUND, "ShipperNotExist", message),
            ShipperError::ShipperAlreadyExist(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "ShipperAlreadyExist", message)
            }
            ShipperError::TaskNotExist(_) => ApiError::new(StatusCode::NOT_FOUND, "TaskNotExist", message),
            ShipperError::Engine(error) => error.into(),
            ShipperError::Storage(error) => logport_core::engine::EngineError::Storage(error).into(),
            _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", message),
        }
    }
}

pub(crate) async fn run(
    shipper: &Shipper,
    call: &Call<'_>,
    logstore: &str,
    shipper_call: &ShipperCall,
) -> Result<Response<Bytes>, ApiError> {
    let project = call.project()?;
    match shipper_call {
        ShipperCall::Create => {
            let rule = shipper.create_rule(project, logstore, &json_value(call)?).await?;
            tracing::info!(project, logstore, shipper = rule.config.name, "shipper created");
            Ok(response::empty())
        }
        ShipperCall::List => {
            let offset = number_param(call, "offset", 0)?;
            let size = number_param(call, "size", 500)?;
            let (names, total) = shipper.list_rules(project, logstore, offset, size).await?;
            Ok(response::json(&json!({"count": names.len(), "total": total, "shipper": names})))
        }
        ShipperCall::Get(name) => Ok(response::json(&rule_json(&shipper.rule(project, logstore, name).await?))),
        ShipperCall::Update(name) => {
            shipper.update_rule(project, logstore, name, &json_value(call)?).await?;
            Ok(response::empty())
        }
        ShipperCall::Delete(name) => {
            shipper.delete_rule(project, logstore, name).await?;
            tracing::info!(project, logstore, shipper = name, "shipper deleted");
            Ok(response::empty())
        }
        ShipperCall::Flush(name) => {
            let report = shipper.flush(project, logstore, name).await?;
            Ok(response::json(&serde_json::to_value(report).expect("reports serialize")))
        }
        ShipperCall::Tasks(name) => {
            let now = shipper.now();
            let from = time_param(call, "from", now - 2 * 86_400)?;
            let to = time_param(call, "to", now)?;
            let status = match call.param("status") {
                None | Some("") => None,
                Some(text) => Some(TaskStatus::parse(text).ok_or_else(|| {
                    ApiError::parameter(format!("status must be empty, running, success or fail, not '{text}'"))
                })?),
            };
            let offset = number_param(call, "offset", 0)?;
            let size = number_param(call, "size", 100)?;
            if size > MAX_TASK_PAGE {
                return Err(ApiError::parameter(format!("size must be at most {MAX_TASK_PAGE}, not {size}")));
            }
            let filter = TaskFilter { from, to, status, offset, size };
            let page = shipper.tasks(project, logstore, name, filter).await?;
            let tasks: Vec<Value> = page.tasks.iter().map(task_json).collect();
            Ok(response::json(&json!({
                "count": tasks.len(),
                "total": page.total,
                "statistics": {"running": page.running, "success": page.success, "fail": page.fail},
                "tasks": tasks,
            })))
        }
        ShipperCall::Retry(name) => {
            let which = if call.param("all").is_some_and(|all| all.eq_ignore_ascii_case("true")) {
                RetryWhich::AllFailed
            } else {
                let ids: Vec<String> = serde_json::from_slice(call.body).map_err(|error| {
                    ApiError::body_invalid(format!("the body must be a JSON list of task ids: {error}"))
                })?;
                RetryWhich::Ids(ids)
            };
            let retried = shipper.retry(project, logstore, name, which).await?;
            Ok(response::json(&json!({"retried": retried})))
        }
    }
}

fn json_value(call: &Call<'_>) -> Result<Value, ApiError> {
    serde_json::from_slice(call.body).map_err(|error| ApiError::body_invalid(format!("invalid JSON body: {error}")))
}

fn time_param(call: &Call<'_>, name: &str, default: i64) -> Result<i64, ApiError> {
    match call.param(name) {
        None | Some("") => Ok(default),
        Some(text) => {
            text.parse().map_err(|_| ApiError::parameter(format!("{name} must be unix seconds, not '{text}'")))
        }
    }
}

fn rule_json(rule: &RuleRecord) -> Value {
    let mut value = rule.config.to_json();
    value["createTime"] = json!(rule.create_time);
    value["lastModifyTime"] = json!(rule.last_modify_time);
    value
}

fn task_json(task: &TaskRecord) -> Value {
    let message =
        if task.error_code.is_empty() { String::new() } else { format!("{}: {}", task.error_code, task.error_message) };
    json!({
        "id": task.id,
        "taskStatus": task.status.name(),
        "taskMessage": message,
        "taskCode": task.error_code,
        "taskCreateTime": task.create_time,
        "taskLastDataReceiveTime": task.last_data_receive_time,
        "taskStartTime": task.start_time,
        "taskFinishTime": task.finish_time,
        "shard": task.shard,
        "startCursor": cursor::encode(task.start_position),
        "endCursor": cursor::encode(task.end_position),
        "attempts": task.attempts,
        "nextRetryTime": task.next_attempt.filter(|_| task.status == TaskStatus::Fail),
        "lines": task.lines,
        "objectKey": task.object_key,
        "objectBytes": task.object_bytes,
    })
}
