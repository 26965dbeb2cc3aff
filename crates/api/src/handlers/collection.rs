//! Machine groups and Logtail-style collection configs (SLS's API), and Logport's agent poll.
//!
//! `POST /agents/poll` (Logport) takes `{"ip", "userDefinedId", "etag", "status": {...}}` and
//! answers `{"modified": false, "etag"}` when the agent's configs are current, else
//! `{"modified": true, "etag", "configs": [<config as GetConfig returns it>, ...]}`.

use bytes::Bytes;
use http::Response;
use logport_core::engine::{AgentPoll, AgentStatus, CollectionConfig, Engine, MachineGroup, PollAnswer};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{json_body, number_param};
use crate::Call;
use crate::error::ApiError;
use crate::response;
use crate::route::CollectionCall;

/// Largest page of a list call (SLS's limit).
const MAX_PAGE: usize = 500;

pub(crate) async fn run(
    engine: &Engine,
    call: &Call<'_>,
    collection: CollectionCall,
) -> Result<Response<Bytes>, ApiError> {
    use CollectionCall as C;
    let project = call.project()?;
    match collection {
        C::CreateMachineGroup => {
            let group = group_body(call, None)?;
            let group = engine.create_machine_group(project, group).await?;
            tracing::info!(group = group.name, "machine group created");
            Ok(response::empty())
        }
        C::ListMachineGroups => {
            let names: Vec<String> =
                engine.list_machine_groups(project).await?.into_iter().map(|group| group.name).collect();
            page(call, names, "groupName", "machinegroups")
        }
        C::GetMachineGroup(name) => Ok(response::json(&group_json(&engine.machine_group(project, &name).await?))),
        C::UpdateMachineGroup(name) => {
            let group = group_body(call, Some(&name))?;
            engine.update_machine_group(project, group).await?;
            Ok(response::empty())
        }
        C::DeleteMachineGroup(name) => {
            engine.delete_machine_group(project, &name).await?;
            tracing::info!(group = name, "machine group deleted");
            Ok(response::empty())
        }
        C::ListMachines(name) => {
            let (offset, size) = paging(call)?;
            let machines = engine.list_machines(project, &name).await?;
            let total = machines.len();
            let now = engine.now();
            let machines: Vec<Value> = machines
                .iter()
                .skip(offset)
                .take(size)
                .map(|machine| {
                    json!({
                        "ip": machine.ip,
                        "machine-uniqueid": machine.user_defined_id,
                        "userdefined-id": machine.user_defined_id,
                        "lastHeartbeatTime": machine.last_heartbeat_time,
                        "heartbeatAgeSeconds": now - machine.last_heartbeat_time,
                        "etag": machine.etag,
                        "status": machine.status,
                    })
                })
                .collect();
            Ok(response::json(&json!({"count": machines.len(), "total": total, "machines": machines})))
        }
        C::AppliedConfigs(name) => {
            let configs = engine.applied_configs(project, &name).await?;
            Ok(response::json(&json!({"count": configs.len(), "configs": configs})))
        }
        C::ApplyConfig { group, config } => {
            engine.apply_config_to_group(project, &group, &config).await?;
            tracing::info!(group, config, "config applied to machine group");
            Ok(response::empty())
        }
        C::RemoveConfig { group, config } => {
            engine.remove_config_from_group(project, &group, &config).await?;
            tracing::info!(group, config, "config removed from machine group");
            Ok(response::empty())
        }
        C::CreateConfig => {
            let config = engine.create_config(project, config_body(call, None)?).await?;
            tracing::info!(config = config.name, "collection config created");
            Ok(response::empty())
        }
        C::ListConfigs => {
            let names: Vec<String> =
                engine.list_configs(project).await?.into_iter().map(|config| config.name).collect();
            page(call, names, "configName", "configs")
        }
        C::GetConfig(name) => Ok(response::json(&config_json(&engine.config(project, &name).await?))),
        C::UpdateConfig(name) => {
            engine.update_config(project, config_body(call, Some(&name))?).await?;
            tracing::info!(config = name, "collection config updated");
            Ok(response::empty())
        }
        C::DeleteConfig(name) => {
            engine.delete_config(project, &name).await?;
            tracing::info!(config = name, "collection config deleted");
            Ok(response::empty())
        }
        C::AppliedMachineGroups(name) => {
            let groups = engine.applied_machine_groups(project, &name).await?;
            Ok(response::json(&json!({"count": groups.len(), "machinegroups": groups})))
        }
        C::AgentPoll => poll(engine, call, project).await,
    }
}

/// The `offset` and `size` (at most [`MAX_PAGE`], the default) of a listing.
fn paging(call: &Call<'_>) -> Result<(usize, usize), ApiError> {
    let offset = number_param(call, "offset", 0)?;
    let size = number_param(call, "size", MAX_PAGE)?;
    if size > MAX_PAGE {
        return Err(ApiError::parameter(format!("size must be at most {MAX_PAGE}")));
    }
    Ok((offset, size))
}

/// A page of names, filtered by the substring parameter `filter` (SLS's `groupName` /
/// `configName`).
fn page(call: &Call<'_>, names: Vec<String>, filter: &str, key: &str) -> Result<Response<Bytes>, ApiError> {
    let (offset, size) = paging(call)?;
    let needle = call.param(filter).unwrap_or_default();
    let names: Vec<String> = names.into_iter().filter(|name| name.contains(needle)).collect();
    let total = names.len();
    let names: Vec<String> = names.into_iter().skip(offset).take(size).collect();
    Ok(response::json(&json!({"count": names.len(), "total": total, key: names})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct GroupAttribute {
    external_name: String,
    group_topic: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct GroupBody {
    group_name: Option<String>,
    group_type: String,
    group_attribute: GroupAttribute,
    machine_identify_type: Option<String>,
    machine_list: Vec<String>,
}

/// A machine group from a create (`path_name` None) or update body.
fn group_body(call: &Call<'_>, path_name: Option<&str>) -> Result<MachineGroup, ApiError> {
    let body: GroupBody = json_body(call)?;
    let name = match (path_name, body.group_name) {
        (Some(path), Some(named)) if path != named => {
            return Err(ApiError::parameter(format!("groupName {named:?} differs from the path's {path:?}")));
        }
        (Some(path), _) => path.to_owned(),
        (None, Some(named)) => named,
        (None, None) => return Err(ApiError::parameter("groupName is missing")),
    };
    Ok(MachineGroup {
        name,
        machine_identify_type: body.machine_identify_type.unwrap_or_else(|| "ip".into()),
        group_type: body.group_type,
        external_name: body.group_attribute.external_name,
        group_topic: body.group_attribute.group_topic,
        machine_list: body.machine_list,
        create_time: 0,
        last_modify_time: 0,
        configs: Default::default(),
    })
}

fn group_json(group: &MachineGroup) -> Value {
    json!({
        "groupName": group.name,
        "groupType": group.group_type,
        "groupAttribute": {"externalName": group.external_name, "groupTopic": group.group_topic},
        "machineIdentifyType": group.machine_identify_type,
        "machineList": group.machine_list,
        "createTime": group.create_time,
        "lastModifyTime": group.last_modify_time,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ConfigBody {
    config_name: Option<String>,
    input_type: Option<String>,
    input_detail: Value,
    output_type: String,
    output_detail: Value,
    log_sample: String,
}

/// A config from a create (`path_name` None) or update body.
fn config_body(call: &Call<'_>, path_name: Option<&str>) -> Result<CollectionConfig, ApiError> {
    let body: ConfigBody = json_body(call)?;
    let name = match (path_name, body.config_name) {
        (Some(path), Some(named)) if path != named => {
            return Err(ApiError::parameter(format!("configName {named:?} differs from the path's {path:?}")));
        }
        (Some(path), _) => path.to_owned(),
        (None, Some(named)) => named,
        (None, None) => return Err(ApiError::parameter("configName is missing")),
    };
    Ok(CollectionConfig {
        name,
        input_type: body.input_type.unwrap_or_else(|| "file".into()),
        input_detail: body.input_detail,
        output_type: body.output_type,
        output_detail: body.output_detail,
        log_sample: body.log_sample,
        create_time: 0,
        last_modify_time: 0,
    })
}

fn config_json(config: &CollectionConfig) -> Value {
    serde_json::to_value(config).expect("a config serializes")
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PollBody {
    ip: String,
    user_defined_id: String,
    etag: Option<String>,
    status: AgentStatus,
}

async fn poll(engine: &Engine, call: &Call<'_>, project: &str) -> Result<Response<Bytes>, ApiError> {
    let body: PollBody = json_body(call)?;
    let poll = AgentPoll { ip: body.ip, user_defined_id: body.user_defined_id, etag: body.etag, status: body.status };
    let answer = match engine.agent_poll(project, poll).await? {
        PollAnswer::NotModified { etag } => json!({"modified": false, "etag": etag}),
        PollAnswer::Configs { etag, configs } => {
            let configs: Vec<Value> = configs.iter().map(config_json).collect();
            json!({"modified": true, "etag": etag, "configs": configs})
        }
    };
    Ok(response::json(&answer))
}
