//! Which part of the API each Lambda function serves, and which function API Gateway invokes for
//! a request.
//!
//! The split follows what a function may do to the store and what it must link, so that each gets
//! the least IAM privilege and the smallest binary: `ingest` writes (PutLogs, and the project and
//! logstore calls, which create and delete), `pull` only reads (shard listing, cursors, PullLogs),
//! `query` only reads and is the one function with DataFusion (GetLogs, histograms, context). API
//! Gateway routes by method and path ([`ROUTES`], the same as `template.yaml`, which a test
//! checks); the API checks again by call, so a request that reaches the wrong function is
//! `404 RequestNotSupported`, never served with the wrong rights.
//!
//! API Gateway cannot route on the query string, and `GET /logstores/{ls}` is GetLogstore
//! without `type=` and a query call with it: that route goes to `query`, which therefore also
//! serves the read-only project and logstore calls (`RouteGroup::Describe`). Consumer-group calls
//! (`/logstores/{ls}/consumergroups...`) and the collection calls (`/machinegroups...`,
//! `/configs...`, `POST /agents/poll`) are admin calls: they reach `ingest` by the `$default` route,
//! as do the web console's static files (`/console/...`), which `ingest` serves beside the API.
//!
//! The fourth function, `shipper`, runs on a schedule (due windows, tasks and retries) and also
//! serves the shipper API (`/logstores/{ls}/shipper...`: rules, tasks, retry, flush), the only
//! function that links the shipper's writers (Arrow, Parquet).

use std::fmt;
use std::str::FromStr;

use http::Method;
use logport_api::route::RouteGroup;

/// A Logport Lambda function behind API Gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// PutLogs, and projects and logstores: create, get, update, delete, list.
    Ingest,
    /// Shard listing, cursors (`type=cursor`, `type=cursor_time`) and PullLogs.
    Pull,
    /// GetLogs (v1 and v2), histograms, context; and getting and listing projects and logstores.
    Query,
    /// The shipper API (rules, tasks, retries, flush); also invoked on a schedule.
    Shipper,
    /// Every call. Not a deployed function: for local use.
    All,
}

impl Function {
    /// The functions `template.yaml` deploys behind the HTTP API.
    pub const DEPLOYED: [Function; 4] = [Function::Ingest, Function::Pull, Function::Query, Function::Shipper];

    /// The groups of calls the function answers.
    pub fn groups(self) -> &'static [RouteGroup] {
        match self {
            Self::Ingest => &[RouteGroup::Admin, RouteGroup::Describe, RouteGroup::Write],
            Self::Pull => &[RouteGroup::Read],
            Self::Query => &[RouteGroup::Query, RouteGroup::Describe],
            Self::Shipper => &[RouteGroup::Ship],
            Self::All => RouteGroup::ALL,
        }
    }

    /// Whether the function serves the web console's static files (`/console/...`, and a
    /// browser's `GET /` redirected there): `ingest`, which has API Gateway's `$default` route
    /// and `ANY /`.
    pub fn serves_console(self) -> bool {
        matches!(self, Self::Ingest | Self::All)
    }

    /// The function's name, as in `--function` (the template's resource is `<Name>Function`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Ingest => "ingest",
            Self::Pull => "pull",
            Self::Query => "query",
            Self::Shipper => "shipper",
            Self::All => "all",
        }
    }

    /// The function API Gateway invokes for a request with this method and path, by [`ROUTES`].
    pub fn for_request(method: &Method, path: &str) -> Function {
        gateway_route(method, path).function
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Function {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "ingest" => Ok(Self::Ingest),
            "pull" => Ok(Self::Pull),
            "query" => Ok(Self::Query),
            "shipper" => Ok(Self::Shipper),
            "all" => Ok(Self::All),
            other => Err(format!("unknown function '{other}' (ingest, pull, query, shipper, all)")),
        }
    }
}

/// One route of the HTTP API: `method` `None` is `ANY`; `path` `None` is the `$default` route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Route {
    pub function: Function,
    pub method: Option<&'static str>,
    pub path: Option<&'static str>,
}

const fn route(function: Function, method: Option<&'static str>, path: &'static str) -> Route {
    Route { function, method, path: Some(path) }
}

/// The HTTP API's routes, as in `template.yaml` (`crates/lambda/tests/template_routes.rs` checks
/// that they are the same).
pub const ROUTES: &[Route] = &[
    route(Function::Ingest, None, "/"),
    route(Function::Ingest, None, "/logstores"),
    route(Function::Ingest, None, "/logstores/{logstore}"),
    route(Function::Ingest, Some("POST"), "/logstores/{logstore}/shards/lb"),
    route(Function::Ingest, Some("POST"), "/logstores/{logstore}/shards/route"),
    Route { function: Function::Ingest, method: None, path: None },
    route(Function::Pull, Some("GET"), "/logstores/{logstore}/shards"),
    route(Function::Pull, Some("GET"), "/logstores/{logstore}/shards/{shard}"),
    route(Function::Query, Some("GET"), "/logstores/{logstore}"),
    route(Function::Query, Some("POST"), "/logstores/{logstore}/logs"),
    route(Function::Shipper, None, "/logstores/{logstore}/shipper"),
    route(Function::Shipper, None, "/logstores/{logstore}/shipper/{shipper}"),
    route(Function::Shipper, None, "/logstores/{logstore}/shipper/{shipper}/tasks"),
];

/// The route API Gateway selects for a request: among the routes whose path matches (segment by
/// segment, `{name}` matching any one segment), one with the request's own method before one with
/// `ANY` (which matches "all methods that you haven't defined for a resource"), the path with the
/// most literal segments first; the `$default` route when none matches.
pub fn gateway_route(method: &Method, path: &str) -> Route {
    let segments: Vec<&str> = path.split('/').filter(|segment| !segment.is_empty()).collect();
    let route_segments = |route: &Route| route.path.map(|path| path.split('/').filter(|s| !s.is_empty()).collect());
    let matches = |route: &&Route| {
        let Some(wanted): Option<Vec<&str>> = route_segments(route) else { return false };
        route.method.is_none_or(|m| m == method.as_str())
            && wanted.len() == segments.len()
            && wanted.iter().zip(&segments).all(|(want, got)| want.starts_with('{') || want == got)
    };
    let specificity = |route: &&Route| {
        let literals = route_segments(route).map_or(0, |s: Vec<&str>| s.iter().filter(|s| !s.starts_with('{')).count());
        (route.method.is_some(), literals)
    };
    ROUTES
        .iter()
        .filter(matches)
        .max_by_key(specificity)
        .or_else(|| ROUTES.iter().find(|route| route.path.is_none()))
        .copied()
        .expect("ROUTES has a $default route")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deployed_functions_cover_every_group() {
        for group in RouteGroup::ALL {
            let serving: Vec<Function> =
                Function::DEPLOYED.into_iter().filter(|f| f.groups().contains(group)).collect();
            // Describe calls are served where API Gateway may send them: `GET /logstores/{ls}`
            // goes to query, the other project and logstore paths to ingest.
            let expected = if *group == RouteGroup::Describe { 2 } else { 1 };
            assert_eq!(serving.len(), expected, "{group:?} is served by {serving:?}");
        }
        for function in [Function::Ingest, Function::Pull, Function::Query, Function::Shipper, Function::All] {
            assert_eq!(function.name().parse::<Function>().unwrap(), function);
        }
        assert!("sweeper".parse::<Function>().is_err());
    }

    #[test]
    fn routes_as_api_gateway_does() {
        let at = |method: &str, path: &str| Function::for_request(&method.parse().unwrap(), path);
        assert_eq!(at("GET", "/logstores/web"), Function::Query);
        assert_eq!(at("PUT", "/logstores/web"), Function::Ingest);
        assert_eq!(at("DELETE", "/logstores/web"), Function::Ingest);
        assert_eq!(at("POST", "/logstores/web/logs"), Function::Query);
        assert_eq!(at("GET", "/logstores/web/logs"), Function::Ingest);
        assert_eq!(at("GET", "/logstores/web/shards/0"), Function::Pull);
        assert_eq!(at("POST", "/logstores/web/shards/lb"), Function::Ingest);
        assert_eq!(at("POST", "/logstores/web/shipper"), Function::Shipper);
        assert_eq!(at("PUT", "/logstores/web/shipper/s3-daily/tasks"), Function::Shipper);
        assert_eq!(at("GET", "/logstores/web/shipper/a/b/c"), Function::Ingest);
        assert_eq!(at("GET", "/"), Function::Ingest);
        assert_eq!(at("PATCH", "/nowhere/at/all"), Function::Ingest);
        assert_eq!(gateway_route(&Method::PATCH, "/x/y").path, None);
    }
}
