//! The SLS paths Logport serves, parsed from method + path + query.

use std::collections::BTreeMap;

use http::Method;

use crate::error::ApiError;

/// One API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    ListProjects,
    CreateProject,
    GetProject,
    UpdateProject,
    DeleteProject,
    CreateLogstore,
    ListLogstores,
    GetLogstore(String),
    UpdateLogstore(String),
    DeleteLogstore(String),
    ListShards(String),
    /// `POST /logstores/{ls}/shards/lb` or `.../shards/route?key=`.
    PutLogs {
        logstore: String,
        hash_key: Option<String>,
    },
    /// `GET /logstores/{ls}/shards/{id}?type=cursor&from=`.
    GetCursor {
        logstore: String,
        shard: u32,
    },
    /// `GET /logstores/{ls}/shards/{id}?type=cursor_time&cursor=`.
    GetCursorTime {
        logstore: String,
        shard: u32,
    },
    /// `GET /logstores/{ls}/shards/{id}?type=log&cursor=&count=[&end_cursor=]`.
    PullLogs {
        logstore: String,
        shard: u32,
    },
    /// `POST /logstores/{ls}/logs` (GetLogs v2, JSON body).
    GetLogs(String),
    /// `GET /logstores/{ls}?type=log&from=&to=&query=...` (GetLogs v1).
    GetLogsV1(String),
    /// `GET /logstores/{ls}?type=histogram&from=&to=&query=`.
    Histogram(String),
    /// `GET /logstores/{ls}?type=context_log&pack_meta=&back_lines=&forward_lines=`.
    Context(String),
    /// `/logstores/{ls}/shipper[/{name}[/tasks]]`: shipping rules and their tasks.
    Shipper {
        logstore: String,
        call: ShipperCall,
    },
    /// Consumer groups (`/logstores/{ls}/consumergroups[/{cg}]`).
    ConsumerGroup(ConsumerGroupCall),
    /// Machine groups, collection configs and agent polls (`/machinegroups`, `/configs`,
    /// `/agents/poll`).
    Collection(CollectionCall),
}

/// The collection calls: SLS's machine group and Logtail config API, plus Logport's agent poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectionCall {
    /// `POST /machinegroups`.
    CreateMachineGroup,
    /// `GET /machinegroups?offset&size&groupName`.
    ListMachineGroups,
    /// `GET /machinegroups/{g}`.
    GetMachineGroup(String),
    /// `PUT /machinegroups/{g}`.
    UpdateMachineGroup(String),
    /// `DELETE /machinegroups/{g}`.
    DeleteMachineGroup(String),
    /// `GET /machinegroups/{g}/machines`.
    ListMachines(String),
    /// `GET /machinegroups/{g}/configs`.
    AppliedConfigs(String),
    /// `PUT /machinegroups/{g}/configs/{c}`.
    ApplyConfig { group: String, config: String },
    /// `DELETE /machinegroups/{g}/configs/{c}`.
    RemoveConfig { group: String, config: String },
    /// `POST /configs`.
    CreateConfig,
    /// `GET /configs?offset&size&configName`.
    ListConfigs,
    /// `GET /configs/{c}`.
    GetConfig(String),
    /// `PUT /configs/{c}`.
    UpdateConfig(String),
    /// `DELETE /configs/{c}`.
    DeleteConfig(String),
    /// `GET /configs/{c}/machinegroups`.
    AppliedMachineGroups(String),
    /// `POST /agents/poll` (Logport): an agent's heartbeat, answered with its configs.
    AgentPoll,
}

/// One call of the shipper API (SLS's, plus Logport's `?type=flush`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShipperCall {
    /// `POST .../shipper`.
    Create,
    /// `GET .../shipper?offset&size`.
    List,
    /// `GET .../shipper/{name}`.
    Get(String),
    /// `PUT .../shipper/{name}`.
    Update(String),
    /// `DELETE .../shipper/{name}`.
    Delete(String),
    /// `POST .../shipper/{name}?type=flush` (Logport): close the open windows and ship now.
    Flush(String),
    /// `GET .../shipper/{name}/tasks?from&to&status&offset&size`.
    Tasks(String),
    /// `PUT .../shipper/{name}/tasks` with a JSON list of task ids (or `?all=true`): retry.
    Retry(String),
}

/// The consumer-group calls (`sls-api.md` §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerGroupCall {
    /// `GET .../consumergroups`.
    List { logstore: String },
    /// `POST .../consumergroups`.
    Create { logstore: String },
    /// `PUT .../consumergroups/{cg}`.
    Update { logstore: String, group: String },
    /// `DELETE .../consumergroups/{cg}`.
    Delete { logstore: String, group: String },
    /// `POST .../consumergroups/{cg}?type=heartbeat&consumer=`.
    Heartbeat { logstore: String, group: String },
    /// `POST .../consumergroups/{cg}?type=checkpoint&consumer=&forceSuccess=`.
    UpdateCheckpoint { logstore: String, group: String },
    /// `POST .../consumergroups/{cg}?type=leave&consumer=` (Logport): the consumer leaves the group.
    Leave { logstore: String, group: String },
    /// `GET .../consumergroups/{cg}[?shard=]`.
    GetCheckpoint { logstore: String, group: String },
}

impl Route {
    /// Whether the call needs a project named by Host or `x-log-project`.
    pub fn needs_project(&self) -> bool {
        !matches!(self, Self::ListProjects)
    }

    /// The group the call belongs to.
    pub fn group(&self) -> RouteGroup {
        match self {
            Self::ListProjects | Self::GetProject | Self::ListLogstores | Self::GetLogstore(_) => RouteGroup::Describe,
            Self::CreateProject
            | Self::UpdateProject
            | Self::DeleteProject
            | Self::CreateLogstore
            | Self::UpdateLogstore(_)
            | Self::DeleteLogstore(_) => RouteGroup::Admin,
            Self::Shipper { .. } => RouteGroup::Ship,
            Self::PutLogs { .. } => RouteGroup::Write,
            Self::ListShards(_) | Self::GetCursor { .. } | Self::GetCursorTime { .. } | Self::PullLogs { .. } => {
                RouteGroup::Read
            }
            Self::GetLogs(_) | Self::GetLogsV1(_) | Self::Histogram(_) | Self::Context(_) => RouteGroup::Query,
            // Group state and checkpoints are metadata writes, served with the admin calls; so are
            // collection configs and agent polls.
            Self::ConsumerGroup(_) | Self::Collection(_) => RouteGroup::Admin,
        }
    }
}

/// Calls grouped by what they do, so that a deployment can split the API between processes (the
/// Lambda functions each serve some groups; `logport up` serves all of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RouteGroup {
    /// Projects and logstores: create, update, delete.
    Admin,
    /// Projects and logstores: get and list (read-only). Apart from `Admin` because
    /// `GET /logstores/{ls}` is both GetLogstore and, with `type=`, a query call: a deployment that
    /// routes by method and path alone sends it to the process that serves queries.
    Describe,
    /// PutLogs.
    Write,
    /// Shard listing, cursors and PullLogs.
    Read,
    /// Search and SQL over stored logs (GetLogs, histograms, context).
    Query,
    /// The shipper API: rules, tasks, retries, flush (`/logstores/{ls}/shipper...`). Its own group
    /// because serving it links the shipper (Arrow, Parquet): on Lambda, the shipper function.
    Ship,
}

impl RouteGroup {
    /// Every group.
    pub const ALL: &'static [RouteGroup] = &[
        RouteGroup::Admin,
        RouteGroup::Describe,
        RouteGroup::Write,
        RouteGroup::Read,
        RouteGroup::Query,
        RouteGroup::Ship,
    ];

    /// The group's name, for logs and messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Describe => "describe",
            Self::Write => "write",
            Self::Read => "read",
            Self::Query => "query",
            Self::Ship => "shipper",
        }
    }
}

/// Decoded query parameters (form-urlencoded: `+` is a space).
pub type Params = BTreeMap<String, String>;

/// Parses a query string.
pub fn parse_query(query: Option<&str>) -> Params {
    let mut params = Params::new();
    for pair in query.unwrap_or("").split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        params.insert(form_decode(key), form_decode(value));
    }
    params
}

fn form_decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

fn shard_id(text: &str) -> Result<u32, ApiError> {
    text.parse().map_err(|_| ApiError::parameter(format!("shard id must be a non-negative integer, not '{text}'")))
}

/// Finds the route of a request, or explains why there is none.
pub fn route(method: &Method, path: &str, params: &Params, has_project: bool) -> Result<Route, ApiError> {
    // Split first, then decode: an encoded '/' stays inside its segment (and fails name checks).
    let decoded: Vec<String> = path
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(|segment| percent_encoding::percent_decode_str(segment).decode_utf8_lossy().into_owned())
        .collect();
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let kind = params.get("type").map(String::as_str);
    let unsupported = || ApiError::not_found(format!("no API at {method} {path}"));
    let route = match (method, segments.as_slice()) {
        (&Method::GET, []) if has_project => Route::GetProject,
        (&Method::GET, []) => Route::ListProjects,
        (&Method::POST, []) => Route::CreateProject,
        (&Method::PUT, []) => Route::UpdateProject,
        (&Method::DELETE, []) => Route::DeleteProject,
        (&Method::POST, ["logstores"]) => Route::CreateLogstore,
        (&Method::GET, ["logstores"]) => Route::ListLogstores,
        (&Method::GET, ["logstores", logstore]) => {
            let logstore = (*logstore).to_owned();
            match kind {
                None => Route::GetLogstore(logstore),
                Some("log" | "logs") => Route::GetLogsV1(logstore),
                Some("histogram") => Route::Histogram(logstore),
                Some("context_log") => Route::Context(logstore),
                Some(other) => {
                    return Err(ApiError::parameter(format!(
                        "unknown type '{other}' on a logstore (log, histogram, context_log)"
                    )));
                }
            }
        }
        (&Method::POST, ["logstores", logstore, "logs"]) => Route::GetLogs((*logstore).to_owned()),
        (&Method::PUT, ["logstores", logstore]) => Route::UpdateLogstore((*logstore).to_owned()),
        (&Method::DELETE, ["logstores", logstore]) => Route::DeleteLogstore((*logstore).to_owned()),
        (&Method::GET, ["logstores", logstore, "shards"]) => Route::ListShards((*logstore).to_owned()),
        (&Method::POST, ["logstores", logstore, "shards", "lb"]) => {
            Route::PutLogs { logstore: (*logstore).to_owned(), hash_key: None }
        }
        (&Method::POST, ["logstores", logstore, "shards", "route"]) => {
            let key = params.get("key").filter(|key| !key.is_empty());
            let key = key.ok_or_else(|| ApiError::parameter("route needs a non-empty key parameter"))?;
            Route::PutLogs { logstore: (*logstore).to_owned(), hash_key: Some(key.clone()) }
        }
        (&Method::GET, ["logstores", logstore, "shards", shard]) => {
            let (logstore, shard) = ((*logstore).to_owned(), shard_id(shard)?);
            match kind {
                Some("cursor") => Route::GetCursor { logstore, shard },
                Some("cursor_time") => Route::GetCursorTime { logstore, shard },
                Some("log" | "logs") => Route::PullLogs { logstore, shard },
                Some(other) => {
                    return Err(ApiError::parameter(format!("unknown type '{other}' (cursor, cursor_time, log)")));
                }
                None => return Err(ApiError::parameter("a shard call needs type=cursor, cursor_time or log")),
            }
        }
        (method, ["logstores", logstore, "shipper", rest @ ..]) => {
            let name = |name: &&str| (*name).to_owned();
            let call = match (method, rest) {
                (&Method::POST, []) => ShipperCall::Create,
                (&Method::GET, []) => ShipperCall::List,
                (&Method::GET, [shipper]) => ShipperCall::Get(name(shipper)),
                (&Method::PUT, [shipper]) => ShipperCall::Update(name(shipper)),
                (&Method::DELETE, [shipper]) => ShipperCall::Delete(name(shipper)),
                (&Method::POST, [shipper]) if kind == Some("flush") => ShipperCall::Flush(name(shipper)),
                (&Method::GET, [shipper, "tasks"]) => ShipperCall::Tasks(name(shipper)),
                (&Method::PUT, [shipper, "tasks"]) => ShipperCall::Retry(name(shipper)),
                _ => return Err(unsupported()),
            };
            Route::Shipper { logstore: (*logstore).to_owned(), call }
        }
        (_, ["logstores", logstore, "consumergroups", rest @ ..]) => {
            Route::ConsumerGroup(consumer_group_route(method, logstore, rest, kind).ok_or_else(unsupported)??)
        }
        (method, ["machinegroups" | "configs" | "agents", ..]) => {
            Route::Collection(collection_route(method, &segments).ok_or_else(unsupported)?)
        }
        _ => return Err(unsupported()),
    };
    Ok(route)
}

/// The consumer-group call at `.../consumergroups/<rest>`, `None` when there is none.
fn consumer_group_route(
    method: &Method,
    logstore: &str,
    rest: &[&str],
    kind: Option<&str>,
) -> Option<Result<ConsumerGroupCall, ApiError>> {
    let logstore = logstore.to_owned();
    let call = match (method, rest) {
        (&Method::GET, []) => ConsumerGroupCall::List { logstore },
        (&Method::POST, []) => ConsumerGroupCall::Create { logstore },
        (&Method::PUT, [group]) => ConsumerGroupCall::Update { logstore, group: (*group).to_owned() },
        (&Method::DELETE, [group]) => ConsumerGroupCall::Delete { logstore, group: (*group).to_owned() },
        (&Method::GET, [group]) => ConsumerGroupCall::GetCheckpoint { logstore, group: (*group).to_owned() },
        (&Method::POST, [group]) => {
            let group = (*group).to_owned();
            match kind {
                Some("heartbeat") => ConsumerGroupCall::Heartbeat { logstore, group },
                Some("checkpoint") => ConsumerGroupCall::UpdateCheckpoint { logstore, group },
                Some("leave") => ConsumerGroupCall::Leave { logstore, group },
                other => {
                    return Some(Err(ApiError::parameter(format!(
                        "a consumer group POST needs type=heartbeat, type=checkpoint or type=leave, not {other:?}"
                    ))));
                }
            }
        }
        _ => return None,
    };
    Some(Ok(call))
}

/// The collection call at `segments`, `None` when there is none.
fn collection_route(method: &Method, segments: &[&str]) -> Option<CollectionCall> {
    use CollectionCall as C;
    let own = |name: &&str| (*name).to_owned();
    let call = match (method, segments) {
        (&Method::POST, ["machinegroups"]) => C::CreateMachineGroup,
        (&Method::GET, ["machinegroups"]) => C::ListMachineGroups,
        (&Method::GET, ["machinegroups", group]) => C::GetMachineGroup(own(group)),
        (&Method::PUT, ["machinegroups", group]) => C::UpdateMachineGroup(own(group)),
        (&Method::DELETE, ["machinegroups", group]) => C::DeleteMachineGroup(own(group)),
        (&Method::GET, ["machinegroups", group, "machines"]) => C::ListMachines(own(group)),
        (&Method::GET, ["machinegroups", group, "configs"]) => C::AppliedConfigs(own(group)),
        (&Method::PUT, ["machinegroups", group, "configs", config]) => {
            C::ApplyConfig { group: own(group), config: own(config) }
        }
        (&Method::DELETE, ["machinegroups", group, "configs", config]) => {
            C::RemoveConfig { group: own(group), config: own(config) }
        }
        (&Method::POST, ["configs"]) => C::CreateConfig,
        (&Method::GET, ["configs"]) => C::ListConfigs,
        (&Method::GET, ["configs", config]) => C::GetConfig(own(config)),
        (&Method::PUT, ["configs", config]) => C::UpdateConfig(own(config)),
        (&Method::DELETE, ["configs", config]) => C::DeleteConfig(own(config)),
        (&Method::GET, ["configs", config, "machinegroups"]) => C::AppliedMachineGroups(own(config)),
        (&Method::POST, ["agents", "poll"]) => C::AgentPoll,
        _ => return None,
    };
    Some(call)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(method: Method, path: &str, query: &str) -> Result<Route, ApiError> {
        route(&method, path, &parse_query(Some(query)), true)
    }

    #[test]
    fn routes_the_sls_paths() {
        assert_eq!(route(&Method::GET, "/", &Params::new(), false).unwrap(), Route::ListProjects);
        assert_eq!(at(Method::GET, "/", "").unwrap(), Route::GetProject);
        assert_eq!(at(Method::POST, "/logstores", "").unwrap(), Route::CreateLogstore);
        assert_eq!(
            at(Method::POST, "/logstores/ls/shards/route", "key=abc").unwrap(),
            Route::PutLogs { logstore: "ls".into(), hash_key: Some("abc".into()) }
        );
        assert_eq!(
            at(Method::GET, "/logstores/ls/shards/1", "type=cursor&from=begin").unwrap(),
            Route::GetCursor { logstore: "ls".into(), shard: 1 }
        );
        assert_eq!(
            at(Method::GET, "/logstores/ls/shards/0", "type=logs").unwrap(),
            Route::PullLogs { logstore: "ls".into(), shard: 0 }
        );
        assert!(at(Method::GET, "/logstores/ls/shards/x", "type=log").is_err());
        assert!(at(Method::GET, "/logstores/ls/shards/0", "").is_err());
        assert!(at(Method::POST, "/logstores/ls/shards/route", "").is_err());
        assert_eq!(at(Method::PATCH, "/nowhere", "").unwrap_err().code, "RequestNotSupported");
    }

    #[test]
    fn routes_the_shipper_paths() {
        let shipper = |method, path, query| match at(method, path, query).unwrap() {
            Route::Shipper { logstore, call } => {
                assert_eq!(logstore, "ls");
                call
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(shipper(Method::POST, "/logstores/ls/shipper", ""), ShipperCall::Create);
        assert_eq!(shipper(Method::GET, "/logstores/ls/shipper", "offset=0"), ShipperCall::List);
        assert_eq!(shipper(Method::GET, "/logstores/ls/shipper/s1", ""), ShipperCall::Get("s1".into()));
        assert_eq!(shipper(Method::PUT, "/logstores/ls/shipper/s1", ""), ShipperCall::Update("s1".into()));
        assert_eq!(shipper(Method::DELETE, "/logstores/ls/shipper/s1", ""), ShipperCall::Delete("s1".into()));
        assert_eq!(shipper(Method::POST, "/logstores/ls/shipper/s1", "type=flush"), ShipperCall::Flush("s1".into()));
        assert_eq!(shipper(Method::GET, "/logstores/ls/shipper/s1/tasks", ""), ShipperCall::Tasks("s1".into()));
        assert_eq!(shipper(Method::PUT, "/logstores/ls/shipper/s1/tasks", ""), ShipperCall::Retry("s1".into()));
        assert!(at(Method::POST, "/logstores/ls/shipper/s1", "").is_err());
        assert!(at(Method::GET, "/logstores/ls/shipper/s1/other", "").is_err());
        assert_eq!(at(Method::GET, "/logstores/ls/shipper", "").unwrap().group(), RouteGroup::Ship);
    }

    #[test]
    fn groups_calls_by_what_they_do() {
        let group = |method, path, query| at(method, path, query).unwrap().group();
        assert_eq!(route(&Method::GET, "/", &Params::new(), false).unwrap().group(), RouteGroup::Describe);
        assert_eq!(group(Method::GET, "/", ""), RouteGroup::Describe);
        assert_eq!(group(Method::GET, "/logstores", ""), RouteGroup::Describe);
        assert_eq!(group(Method::GET, "/logstores/ls", ""), RouteGroup::Describe);
        assert_eq!(group(Method::GET, "/logstores/ls", "type=log&from=1&to=2"), RouteGroup::Query);
        assert_eq!(group(Method::GET, "/logstores/ls", "type=histogram&from=1&to=2"), RouteGroup::Query);
        assert_eq!(group(Method::GET, "/logstores/ls", "type=context_log"), RouteGroup::Query);
        assert_eq!(group(Method::POST, "/logstores/ls/logs", ""), RouteGroup::Query);
        assert_eq!(group(Method::POST, "/", ""), RouteGroup::Admin);
        assert_eq!(group(Method::PUT, "/logstores/ls", ""), RouteGroup::Admin);
        assert_eq!(group(Method::DELETE, "/logstores/ls", ""), RouteGroup::Admin);
        assert_eq!(group(Method::POST, "/logstores/ls/shards/lb", ""), RouteGroup::Write);
        assert_eq!(group(Method::POST, "/logstores/ls/shards/route", "key=k"), RouteGroup::Write);
        assert_eq!(group(Method::GET, "/logstores/ls/shards", ""), RouteGroup::Read);
        assert_eq!(group(Method::GET, "/logstores/ls/shards/0", "type=cursor&from=end"), RouteGroup::Read);
        assert_eq!(group(Method::GET, "/logstores/ls/shards/0", "type=cursor_time&cursor=MA=="), RouteGroup::Read);
        assert_eq!(group(Method::GET, "/logstores/ls/shards/0", "type=log&cursor=MA=="), RouteGroup::Read);
    }

    #[test]
    fn routes_consumer_groups() {
        let cg = |method, path, query| match at(method, path, query) {
            Ok(Route::ConsumerGroup(call)) => call,
            other => panic!("{other:?}"),
        };
        let (ls, g) = ("ls".to_owned(), "g".to_owned());
        assert_eq!(
            cg(Method::GET, "/logstores/ls/consumergroups", ""),
            ConsumerGroupCall::List { logstore: ls.clone() }
        );
        assert_eq!(
            cg(Method::POST, "/logstores/ls/consumergroups", ""),
            ConsumerGroupCall::Create { logstore: ls.clone() }
        );
        assert_eq!(
            cg(Method::POST, "/logstores/ls/consumergroups/g", "type=heartbeat&consumer=c"),
            ConsumerGroupCall::Heartbeat { logstore: ls.clone(), group: g.clone() }
        );
        assert_eq!(
            cg(Method::POST, "/logstores/ls/consumergroups/g", "type=checkpoint&consumer=c&forceSuccess=True"),
            ConsumerGroupCall::UpdateCheckpoint { logstore: ls.clone(), group: g.clone() }
        );
        assert_eq!(
            cg(Method::GET, "/logstores/ls/consumergroups/g", "shard=1"),
            ConsumerGroupCall::GetCheckpoint { logstore: ls.clone(), group: g.clone() }
        );
        assert_eq!(
            cg(Method::DELETE, "/logstores/ls/consumergroups/g", ""),
            ConsumerGroupCall::Delete { logstore: ls.clone(), group: g.clone() }
        );
        assert_eq!(
            cg(Method::PUT, "/logstores/ls/consumergroups/g", ""),
            ConsumerGroupCall::Update { logstore: ls, group: g }
        );
        assert_eq!(at(Method::POST, "/logstores/ls/consumergroups/g", "").unwrap_err().code, "ParameterInvalid");
        assert_eq!(at(Method::PUT, "/logstores/ls/consumergroups", "").unwrap_err().code, "RequestNotSupported");
        assert_eq!(at(Method::GET, "/logstores/ls/consumergroups/g/x", "").unwrap_err().code, "RequestNotSupported");
    }

    #[test]
    fn routes_collection_calls() {
        use CollectionCall as C;
        let call = |method: Method, path: &str| match at(method, path, "") {
            Ok(Route::Collection(call)) => Ok(call),
            Ok(other) => panic!("{path} routed to {other:?}"),
            Err(error) => Err(error.code),
        };
        assert_eq!(call(Method::POST, "/machinegroups"), Ok(C::CreateMachineGroup));
        assert_eq!(call(Method::GET, "/machinegroups/web/machines"), Ok(C::ListMachines("web".into())));
        assert_eq!(
            call(Method::PUT, "/machinegroups/web/configs/app"),
            Ok(C::ApplyConfig { group: "web".into(), config: "app".into() })
        );
        assert_eq!(call(Method::GET, "/configs/app/machinegroups"), Ok(C::AppliedMachineGroups("app".into())));
        assert_eq!(call(Method::DELETE, "/configs/app"), Ok(C::DeleteConfig("app".into())));
        assert_eq!(call(Method::POST, "/agents/poll"), Ok(C::AgentPoll));
        assert_eq!(call(Method::GET, "/agents/poll"), Err("RequestNotSupported"));
        assert_eq!(call(Method::POST, "/configs/app"), Err("RequestNotSupported"));
    }

    #[test]
    fn decodes_queries_as_forms() {
        let params = parse_query(Some("a=1+2&b=%2Fx&empty=&bare"));
        assert_eq!(params["a"], "1 2");
        assert_eq!(params["b"], "/x");
        assert_eq!(params["empty"], "");
        assert_eq!(params["bare"], "");
    }
}
