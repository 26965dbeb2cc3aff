//! Central collection configuration: machine groups, Logtail-style collection configs applied to
//! them, and the agents that poll for their configs and report their status.
//!
//! # State
//! Everything lives in the metadata port, one item per thing, per project:
//! - a machine group ([`MachineGroup`], partition [`keys::machine_groups`]) names its members by
//!   IP or by user-defined identity and holds the names of the configs applied to it;
//! - a collection config ([`CollectionConfig`], partition [`keys::collection_configs`]) keeps SLS's
//!   shape (`inputType`, `inputDetail`, `outputType`, `outputDetail`) and is validated on write, so
//!   an agent never receives a regex that does not compile;
//! - an agent ([`MachineRecord`], partition [`keys::machines`]) is written at each poll with its
//!   last heartbeat time and the status it reported.
//!
//! Applying a config writes the group item conditioned on the version read and on the config
//! item's version, so a config deleted meanwhile is never applied.
//!
//! # Polls
//! An agent sends its identity and the ETag of the configs it runs. The answer is computed from the
//! groups it belongs to now: the configs applied to any of them, in name order, and their ETag (a
//! hash of their JSON). When the ETag matches, the answer is "not modified".

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{Condition, Query, StoreError, WriteOp};

use super::records;
use super::{Engine, EngineError, Result, keys};

/// How often a read-check-write loses a race before the call gives up.
const MAX_ATTEMPTS: usize = 64;
/// The log types a file config may name (SLS's Logtail `logType`).
pub const LOG_TYPES: &[&str] = &["common_reg_log", "json_log", "delimiter_log", "apsara_log"];
/// Deepest directory recursion a config may ask for.
pub const MAX_DEPTH: u64 = 1000;

/// A machine group: agents by IP or by user-defined identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineGroup {
    pub name: String,
    /// `ip` or `userdefined`.
    pub machine_identify_type: String,
    /// SLS's `groupType` (empty or `Armory`); stored and returned.
    #[serde(default)]
    pub group_type: String,
    #[serde(default)]
    pub external_name: String,
    /// Topic given to logs collected by this group's agents when a config says `group_topic`.
    #[serde(default)]
    pub group_topic: String,
    /// IPs or user-defined identities, per `machine_identify_type`.
    pub machine_list: Vec<String>,
    pub create_time: i64,
    pub last_modify_time: i64,
    /// Names of the configs applied to the group.
    #[serde(default)]
    pub configs: BTreeSet<String>,
}

impl MachineGroup {
    /// Whether an agent with this identity belongs to the group.
    pub fn contains(&self, ip: &str, user_defined_id: &str) -> bool {
        let identity = if self.machine_identify_type == "userdefined" { user_defined_id } else { ip };
        !identity.is_empty() && self.machine_list.iter().any(|member| member == identity)
    }
}

/// A collection config in SLS's Logtail shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionConfig {
    #[serde(rename = "configName")]
    pub name: String,
    #[serde(rename = "inputType")]
    pub input_type: String,
    #[serde(rename = "inputDetail")]
    pub input_detail: Value,
    #[serde(rename = "outputType")]
    pub output_type: String,
    #[serde(rename = "outputDetail")]
    pub output_detail: Value,
    #[serde(rename = "logSample", default)]
    pub log_sample: String,
    #[serde(rename = "createTime", default)]
    pub create_time: i64,
    #[serde(rename = "lastModifyTime", default)]
    pub last_modify_time: i64,
}

/// What an agent reports about itself at each poll.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AgentStatus {
    pub version: String,
    pub hostname: String,
    /// Files being tailed.
    pub files: u64,
    /// Bytes written to tailed files and not yet read.
    pub bytes_behind: u64,
    /// Batches dropped (cache limit or age) since the agent started.
    pub drops: u64,
    /// Recent errors, newest last.
    pub errors: Vec<String>,
}

/// One agent as the service last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineRecord {
    pub ip: String,
    pub user_defined_id: String,
    pub last_heartbeat_time: i64,
    /// The ETag of the configs last sent to it.
    pub etag: String,
    pub status: AgentStatus,
}

/// A poll: who asks, what it runs, how it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentPoll {
    pub ip: String,
    pub user_defined_id: String,
    /// The ETag of the configs the agent runs, if any.
    pub etag: Option<String>,
    pub status: AgentStatus,
}

/// The answer to a poll.
#[derive(Debug, Clone, PartialEq)]
pub enum PollAnswer {
    /// The agent's configs are current.
    NotModified { etag: String },
    /// The configs the agent should run now (possibly none), in name order.
    Configs { etag: String, configs: Vec<CollectionConfig> },
}

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::ParameterInvalid(message.into())
}

/// Names of groups and configs: 2-128 of `[a-zA-Z0-9_-]` (SLS's rule, without the `.` that
/// nothing here needs).
fn validate_name(kind: &str, name: &str) -> Result<()> {
    let valid = (2..=128).contains(&name.len())
        && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
    if valid { Ok(()) } else { Err(invalid(format!("invalid {kind} name {name:?}: 2-128 of a-z A-Z 0-9 _ -"))) }
}

/// An agent identity part: printable, no `#`, at most 128 bytes.
fn validate_identity(kind: &str, value: &str) -> Result<()> {
    let valid = value.len() <= 128 && value.chars().all(|c| !c.is_control() && c != '#');
    if valid { Ok(()) } else { Err(invalid(format!("invalid {kind} {value:?}"))) }
}

fn validate_group(group: &MachineGroup) -> Result<()> {
    validate_name("machine group", &group.name)?;
    if !matches!(group.machine_identify_type.as_str(), "ip" | "userdefined") {
        return Err(invalid(format!(
            "machineIdentifyType must be ip or userdefined, not {:?}",
            group.machine_identify_type
        )));
    }
    for member in &group.machine_list {
        if member.is_empty() {
            return Err(invalid("machineList holds an empty identity"));
        }
        validate_identity("machine identity", member)?;
    }
    Ok(())
}

fn string_field<'a>(detail: &'a Value, key: &str) -> Result<Option<&'a str>> {
    match detail.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(invalid(format!("inputDetail.{key} must be a string"))),
    }
}

fn compile(what: &str, pattern: &str) -> Result<regex::Regex> {
    regex::Regex::new(pattern).map_err(|error| invalid(format!("{what} {pattern:?} does not compile: {error}")))
}

/// Checks a config's input and output details (the logstore is checked by the caller).
pub fn validate_config(config: &CollectionConfig) -> Result<()> {
    validate_name("config", &config.name)?;
    if config.input_type != "file" {
        return Err(invalid(format!("inputType {:?} is not supported; Logport collects files", config.input_type)));
    }
    if !config.output_type.is_empty() && config.output_type != "LogService" {
        return Err(invalid(format!("outputType must be LogService, not {:?}", config.output_type)));
    }
    let detail = &config.input_detail;
    if !detail.is_object() {
        return Err(invalid("inputDetail must be an object"));
    }
    let log_path = string_field(detail, "logPath")?.unwrap_or_default();
    if !log_path.starts_with('/') {
        return Err(invalid(format!("inputDetail.logPath must be an absolute directory, not {log_path:?}")));
    }
    if string_field(detail, "filePattern")?.unwrap_or_default().is_empty() {
        return Err(invalid("inputDetail.filePattern is missing"));
    }
    if let Some(depth) = detail.get("maxDepth")
        && depth.as_u64().is_none_or(|depth| depth > MAX_DEPTH)
    {
        return Err(invalid(format!("inputDetail.maxDepth must be 0-{MAX_DEPTH}")));
    }
    let log_type = string_field(detail, "logType")?.unwrap_or("common_reg_log");
    if !LOG_TYPES.contains(&log_type) {
        return Err(invalid(format!("inputDetail.logType must be one of {LOG_TYPES:?}, not {log_type:?}")));
    }
    let keys: Vec<&str> = match detail.get("key") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().ok_or_else(|| invalid("inputDetail.key must be a list of strings")))
            .collect::<Result<_>>()?,
        Some(_) => return Err(invalid("inputDetail.key must be a list of strings")),
    };
    match log_type {
        "common_reg_log" => {
            let pattern = string_field(detail, "regex")?.unwrap_or("(.*)");
            let regex = compile("inputDetail.regex", pattern)?;
            let groups = regex.captures_len() - 1;
            if !keys.is_empty() && keys.len() != groups {
                return Err(invalid(format!(
                    "inputDetail.key names {} fields but the regex has {groups} capture groups",
                    keys.len()
                )));
            }
        }
        "delimiter_log" => {
            if string_field(detail, "separator")?.unwrap_or_default().is_empty() {
                return Err(invalid("inputDetail.separator is missing for delimiter_log"));
            }
            if keys.is_empty() {
                return Err(invalid("inputDetail.key is missing for delimiter_log"));
            }
        }
        _ => {}
    }
    if let Some(pattern) = string_field(detail, "logBeginRegex")? {
        compile("inputDetail.logBeginRegex", pattern)?;
    }
    match string_field(detail, "topicFormat")? {
        None | Some("" | "none" | "default" | "group_topic" | "global_topic") => {}
        Some(pattern) => {
            compile("inputDetail.topicFormat", pattern)?;
        }
    }
    if config.output_detail.get("logstoreName").and_then(Value::as_str).unwrap_or_default().is_empty() {
        return Err(invalid("outputDetail.logstoreName is missing"));
    }
    Ok(())
}

/// The ETag of a set of configs (in name order).
pub fn configs_etag(configs: &[CollectionConfig]) -> String {
    let encoded = serde_json::to_vec(configs).expect("configs serialize");
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&encoded))
}

impl Engine {
    async fn machine_group_item(&self, project: &str, name: &str) -> Result<(MachineGroup, u64)> {
        let item = self.meta.get(&keys::machine_groups(project), name).await?;
        let item = item.ok_or_else(|| EngineError::MachineGroupNotExist(name.to_owned()))?;
        Ok((records::decode("machine group", &item.value)?, item.version))
    }

    async fn config_item(&self, project: &str, name: &str) -> Result<(CollectionConfig, u64)> {
        let item = self.meta.get(&keys::collection_configs(project), name).await?;
        let item = item.ok_or_else(|| EngineError::ConfigNotExist(name.to_owned()))?;
        Ok((records::decode("collection config", &item.value)?, item.version))
    }

    /// CreateMachineGroup (`configs`, `create_time` and `last_modify_time` are set here).
    pub async fn create_machine_group(&self, project: &str, mut group: MachineGroup) -> Result<MachineGroup> {
        self.project(project).await?;
        validate_group(&group)?;
        let now = self.now();
        group.create_time = now;
        group.last_modify_time = now;
        group.configs.clear();
        let written = self
            .meta
            .put(&keys::machine_groups(project), &group.name, records::encode(&group), None, Condition::Absent)
            .await;
        match written {
            Ok(_) => Ok(group),
            Err(StoreError::Conflict { .. }) => Err(EngineError::MachineGroupAlreadyExist(group.name)),
            Err(error) => Err(error.into()),
        }
    }

    /// GetMachineGroup.
    pub async fn machine_group(&self, project: &str, name: &str) -> Result<MachineGroup> {
        self.project(project).await?;
        Ok(self.machine_group_item(project, name).await?.0)
    }

    /// ListMachineGroup, in name order.
    pub async fn list_machine_groups(&self, project: &str) -> Result<Vec<MachineGroup>> {
        self.project(project).await?;
        let items = self.meta.query(Query::partition(keys::machine_groups(project))).await?;
        items.iter().map(|item| records::decode("machine group", &item.value)).collect()
    }

    /// UpdateMachineGroup: replaces the settings and members; the applied configs stay.
    pub async fn update_machine_group(&self, project: &str, update: MachineGroup) -> Result<MachineGroup> {
        self.project(project).await?;
        validate_group(&update)?;
        self.modify_machine_group(project, &update.name.clone(), |group| {
            group.machine_identify_type.clone_from(&update.machine_identify_type);
            group.group_type.clone_from(&update.group_type);
            group.external_name.clone_from(&update.external_name);
            group.group_topic.clone_from(&update.group_topic);
            group.machine_list.clone_from(&update.machine_list);
            Ok(None)
        })
        .await
    }

    /// Reads, changes and writes back a group; `change` may name a config item that must still
    /// exist at the version it read.
    async fn modify_machine_group(
        &self,
        project: &str,
        name: &str,
        mut change: impl FnMut(&mut MachineGroup) -> Result<Option<(String, u64)>>,
    ) -> Result<MachineGroup> {
        let pk = keys::machine_groups(project);
        for _ in 0..MAX_ATTEMPTS {
            let (mut group, version) = self.machine_group_item(project, name).await?;
            let checked = change(&mut group)?;
            group.last_modify_time = self.now();
            let mut ops = vec![WriteOp::Put {
                pk: pk.clone(),
                sk: name.to_owned(),
                value: records::encode(&group),
                expires_at: None,
                condition: Condition::Version(version),
            }];
            if let Some((config, config_version)) = checked {
                ops.push(WriteOp::Check {
                    pk: keys::collection_configs(project),
                    sk: config,
                    condition: Condition::Version(config_version),
                });
            }
            match self.meta.transact(ops).await {
                Ok(()) => return Ok(group),
                Err(StoreError::Conflict { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(EngineError::Storage(StoreError::Unavailable("machine group update lost too many races".into())))
    }

    /// DeleteMachineGroup.
    pub async fn delete_machine_group(&self, project: &str, name: &str) -> Result<()> {
        self.project(project).await?;
        for _ in 0..MAX_ATTEMPTS {
            let (_, version) = self.machine_group_item(project, name).await?;
            match self.meta.delete(&keys::machine_groups(project), name, Condition::Version(version)).await {
                Ok(()) => return Ok(()),
                // Changed (or deleted) meanwhile: read it again.
                Err(StoreError::Conflict { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(EngineError::Storage(StoreError::Unavailable("machine group deletion lost too many races".into())))
    }

    async fn checked_config(&self, project: &str, mut config: CollectionConfig) -> Result<CollectionConfig> {
        self.project(project).await?;
        validate_config(&config)?;
        let logstore = config.output_detail.get("logstoreName").and_then(Value::as_str).unwrap_or_default();
        self.logstore(project, logstore).await?;
        if let Some(named) = config.output_detail.get("projectName").and_then(Value::as_str)
            && named != project
        {
            return Err(invalid(format!("outputDetail.projectName {named:?} is not this project ({project:?})")));
        }
        if let Value::Object(output) = &mut config.output_detail {
            output.insert("projectName".into(), Value::String(project.to_owned()));
        }
        config.output_type = "LogService".into();
        Ok(config)
    }

    /// CreateConfig: validated (regexes compile, the logstore exists).
    pub async fn create_config(&self, project: &str, config: CollectionConfig) -> Result<CollectionConfig> {
        let mut config = self.checked_config(project, config).await?;
        let now = self.now();
        config.create_time = now;
        config.last_modify_time = now;
        let pk = keys::collection_configs(project);
        match self.meta.put(&pk, &config.name, records::encode(&config), None, Condition::Absent).await {
            Ok(_) => Ok(config),
            Err(StoreError::Conflict { .. }) => Err(EngineError::ConfigAlreadyExist(config.name)),
            Err(error) => Err(error.into()),
        }
    }

    /// GetConfig.
    pub async fn config(&self, project: &str, name: &str) -> Result<CollectionConfig> {
        self.project(project).await?;
        Ok(self.config_item(project, name).await?.0)
    }

    /// ListConfig, in name order.
    pub async fn list_configs(&self, project: &str) -> Result<Vec<CollectionConfig>> {
        self.project(project).await?;
        let items = self.meta.query(Query::partition(keys::collection_configs(project))).await?;
        items.iter().map(|item| records::decode("collection config", &item.value)).collect()
    }

    /// UpdateConfig: replaces the config (same name), validated like a new one.
    pub async fn update_config(&self, project: &str, config: CollectionConfig) -> Result<CollectionConfig> {
        let mut config = self.checked_config(project, config).await?;
        let pk = keys::collection_configs(project);
        for _ in 0..MAX_ATTEMPTS {
            let (old, version) = self.config_item(project, &config.name).await?;
            config.create_time = old.create_time;
            config.last_modify_time = self.now();
            match self.meta.put(&pk, &config.name, records::encode(&config), None, Condition::Version(version)).await {
                Ok(_) => return Ok(config),
                Err(StoreError::Conflict { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(EngineError::Storage(StoreError::Unavailable("config update lost too many races".into())))
    }

    /// DeleteConfig: removed from every group it is applied to, then deleted.
    pub async fn delete_config(&self, project: &str, name: &str) -> Result<()> {
        self.project(project).await?;
        self.config_item(project, name).await?;
        for group in self.list_machine_groups(project).await? {
            if group.configs.contains(name) {
                self.remove_config_from_group(project, &group.name, name).await?;
            }
        }
        self.meta.delete(&keys::collection_configs(project), name, Condition::Always).await?;
        Ok(())
    }

    /// ApplyConfigToMachineGroup (idempotent).
    pub async fn apply_config_to_group(&self, project: &str, group: &str, config: &str) -> Result<()> {
        self.project(project).await?;
        self.machine_group_item(project, group).await?;
        let (_, config_version) = self.config_item(project, config).await?;
        self.modify_machine_group(project, group, |record| {
            record.configs.insert(config.to_owned());
            Ok(Some((config.to_owned(), config_version)))
        })
        .await
        .map(drop)
    }

    /// RemoveConfigFromMachineGroup.
    pub async fn remove_config_from_group(&self, project: &str, group: &str, config: &str) -> Result<()> {
        self.project(project).await?;
        self.modify_machine_group(project, group, |record| {
            if record.configs.remove(config) {
                Ok(None)
            } else {
                Err(EngineError::ConfigNotExist(format!("{config}' in machine group '{group}")))
            }
        })
        .await
        .map(drop)
    }

    /// GetAppliedConfigs of a group, in name order.
    pub async fn applied_configs(&self, project: &str, group: &str) -> Result<Vec<String>> {
        Ok(self.machine_group(project, group).await?.configs.into_iter().collect())
    }

    /// GetAppliedMachineGroups of a config, in name order.
    pub async fn applied_machine_groups(&self, project: &str, config: &str) -> Result<Vec<String>> {
        self.config(project, config).await?;
        let groups = self.list_machine_groups(project).await?;
        Ok(groups.into_iter().filter(|group| group.configs.contains(config)).map(|group| group.name).collect())
    }

    /// ListMachines of a group: the member agents that ever polled, with their last heartbeat.
    pub async fn list_machines(&self, project: &str, group: &str) -> Result<Vec<MachineRecord>> {
        let group = self.machine_group(project, group).await?;
        let items = self.meta.query(Query::partition(keys::machines(project))).await?;
        let mut machines = Vec::new();
        for item in items {
            let machine: MachineRecord = records::decode("machine", &item.value)?;
            if group.contains(&machine.ip, &machine.user_defined_id) {
                machines.push(machine);
            }
        }
        Ok(machines)
    }

    /// An agent's poll: records its heartbeat and status, answers its configs.
    pub async fn agent_poll(&self, project: &str, poll: AgentPoll) -> Result<PollAnswer> {
        self.project(project).await?;
        if poll.ip.is_empty() {
            return Err(invalid("an agent names its IP"));
        }
        validate_identity("ip", &poll.ip)?;
        validate_identity("user-defined id", &poll.user_defined_id)?;
        let groups = self.list_machine_groups(project).await?;
        let names: BTreeSet<&String> = groups
            .iter()
            .filter(|group| group.contains(&poll.ip, &poll.user_defined_id))
            .flat_map(|group| &group.configs)
            .collect();
        let mut configs = BTreeMap::new();
        for name in names {
            match self.config_item(project, name).await {
                Ok((config, _)) => {
                    configs.insert(name.clone(), config);
                }
                // Deleted between the group read and now: no longer applied.
                Err(EngineError::ConfigNotExist(_)) => {}
                Err(error) => return Err(error),
            }
        }
        let configs: Vec<CollectionConfig> = configs.into_values().collect();
        let etag = configs_etag(&configs);
        let machine = MachineRecord {
            ip: poll.ip.clone(),
            user_defined_id: poll.user_defined_id.clone(),
            last_heartbeat_time: self.now(),
            etag: etag.clone(),
            status: poll.status,
        };
        let sk = keys::machine_sk(&poll.ip, &poll.user_defined_id);
        self.meta.put(&keys::machines(project), &sk, records::encode(&machine), None, Condition::Always).await?;
        if poll.etag.as_deref() == Some(etag.as_str()) {
            Ok(PollAnswer::NotModified { etag })
        } else {
            Ok(PollAnswer::Configs { etag, configs })
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(detail: Value) -> CollectionConfig {
        CollectionConfig {
            name: "nginx-access".into(),
            input_type: "file".into(),
            input_detail: detail,
            output_type: "LogService".into(),
            output_detail: json!({"logstoreName": "access"}),
            log_sample: String::new(),
            create_time: 0,
            last_modify_time: 0,
        }
    }

    #[test]
    fn accepts_the_sls_shapes() {
        let regex = json!({"logType": "common_reg_log", "logPath": "/var/log", "filePattern": "*.log",
            "regex": "(\\S+) (\\S+)", "key": ["ip", "verb"], "maxDepth": 3, "timeFormat": "%d/%b/%Y:%H:%M:%S"});
        validate_config(&config(regex)).unwrap();
        let json_log = json!({"logType": "json_log", "logPath": "/a", "filePattern": "x.json"});
        validate_config(&config(json_log)).unwrap();
        let csv = json!({"logType": "delimiter_log", "logPath": "/a", "filePattern": "*.csv",
            "separator": ",", "key": ["a", "b"]});
        validate_config(&config(csv)).unwrap();
    }

    #[test]
    fn refuses_bad_configs_with_reasons() {
        let cases = [
            (json!({"logPath": "/a", "filePattern": "*", "regex": "(unclosed"}), "does not compile"),
            (json!({"logPath": "/a", "filePattern": "*", "regex": "(a)(b)", "key": ["x"]}), "2 capture groups"),
            (json!({"logPath": "relative", "filePattern": "*"}), "absolute"),
            (json!({"logPath": "/a"}), "filePattern"),
            (json!({"logPath": "/a", "filePattern": "*", "logType": "syslog"}), "logType"),
            (json!({"logPath": "/a", "filePattern": "*", "maxDepth": 5000}), "maxDepth"),
            (json!({"logPath": "/a", "filePattern": "*", "logType": "delimiter_log", "key": ["a"]}), "separator"),
            (json!({"logPath": "/a", "filePattern": "*", "topicFormat": "/a/(x"}), "topicFormat"),
        ];
        for (detail, reason) in cases {
            let error = validate_config(&config(detail.clone())).unwrap_err().to_string();
            assert!(error.contains(reason), "{detail}: {error}");
        }
        let mut other = config(json!({"logPath": "/a", "filePattern": "*"}));
        other.input_type = "plugin".into();
        assert!(validate_config(&other).is_err());
        other.input_type = "file".into();
        other.output_detail = json!({});
        assert!(validate_config(&other).unwrap_err().to_string().contains("logstoreName"));
    }

    #[test]
    fn membership_follows_the_identify_type() {
        let mut group = MachineGroup {
            name: "web".into(),
            machine_identify_type: "ip".into(),
            group_type: String::new(),
            external_name: String::new(),
            group_topic: String::new(),
            machine_list: vec!["10.0.0.1".into(), "web-a".into()],
            create_time: 0,
            last_modify_time: 0,
            configs: BTreeSet::new(),
        };
        assert!(group.contains("10.0.0.1", ""));
        assert!(!group.contains("10.0.0.2", "web-a"));
        group.machine_identify_type = "userdefined".into();
        assert!(group.contains("10.0.0.2", "web-a"));
        assert!(!group.contains("10.0.0.1", ""));
    }

    #[test]
    fn etag_changes_with_content() {
        let a = config(json!({"logPath": "/a", "filePattern": "*"}));
        let mut b = a.clone();
        assert_eq!(configs_etag(std::slice::from_ref(&a)), configs_etag(std::slice::from_ref(&b)));
        b.input_detail["filePattern"] = json!("*.log");
        assert_ne!(configs_etag(std::slice::from_ref(&a)), configs_etag(&[b]));
        assert_ne!(configs_etag(&[a]), configs_etag(&[]));
    }
}
