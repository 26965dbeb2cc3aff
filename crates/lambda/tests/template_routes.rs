//! `template.yaml` sends every call of the API to a function that serves it: API Gateway routes
//! by method and path only, the API splits by call, and the two must agree.
//!
//! The routes are read from the template's `HttpApi` events, written one per line as
//! `Properties: {ApiId: !Ref HttpApi, Method: M, Path: P}` (no Method and Path: the `$default`
//! route), and matched the way API Gateway does: the route with the most literal path segments
//! wins, an exact method before `ANY`, and `$default` takes the rest.

use http::Method;
use logport_api::route::{Params, RouteGroup, parse_query, route};
use logport_lambda::Function;

const TEMPLATE: &str = include_str!("../../../template.yaml");

#[derive(Debug)]
struct GatewayRoute {
    function: Function,
    method: Option<String>,
    path: Option<Vec<String>>,
}

fn gateway_routes() -> Vec<GatewayRoute> {
    let mut routes = Vec::new();
    let mut function = None;
    for line in TEMPLATE.lines() {
        // A resource: two spaces of indentation, then `Name:`.
        if line.len() > 2 && line.starts_with("  ") && !line.starts_with("   ") && line.ends_with(':') {
            function = match line.trim() {
                "IngestFunction:" => Some(Function::Ingest),
                "PullFunction:" => Some(Function::Pull),
                _ => None,
            };
        }
        let Some(properties) = line.trim().strip_prefix("Properties: {ApiId: !Ref HttpApi") else { continue };
        let function = function.unwrap_or_else(|| panic!("an HttpApi event outside the functions: {line}"));
        let properties = properties.strip_suffix('}').unwrap_or_else(|| panic!("not one line: {line}"));
        let field = |name: &str| {
            properties.split(',').find_map(|part| part.trim().strip_prefix(name)).map(|v| v.trim().trim_matches('"'))
        };
        let path = field("Path:").map(|path| path.split('/').filter(|s| !s.is_empty()).map(String::from).collect());
        routes.push(GatewayRoute { function, method: field("Method:").map(String::from), path });
    }
    routes
}

/// The function API Gateway invokes for a request.
fn function_for(routes: &[GatewayRoute], method: &Method, path: &str) -> Function {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let matches = |route: &GatewayRoute| {
        let (Some(route_method), Some(route_path)) = (&route.method, &route.path) else { return false };
        (route_method == "ANY" || route_method == method.as_str())
            && route_path.len() == segments.len()
            && route_path.iter().zip(&segments).all(|(want, got)| want.starts_with('{') || want == got)
    };
    let specificity = |route: &GatewayRoute| {
        let literals = route.path.iter().flatten().filter(|s| !s.starts_with('{')).count();
        (literals, route.method.as_deref() != Some("ANY"))
    };
    let best = routes.iter().filter(|route| matches(route)).max_by_key(|route| specificity(route));
    let fallback = || routes.iter().find(|route| route.method.is_none() && route.path.is_none());
    best.or_else(fallback).expect("a $default route").function
}

#[test]
fn every_call_reaches_a_function_that_serves_it() {
    let routes = gateway_routes();
    assert!(routes.len() >= 8, "{routes:?}");
    let calls = [
        ("GET", "/", "", false),
        ("GET", "/", "", true),
        ("POST", "/", "", true),
        ("PUT", "/", "", true),
        ("DELETE", "/", "", true),
        ("GET", "/logstores", "", true),
        ("POST", "/logstores", "", true),
        ("GET", "/logstores/ls", "", true),
        ("PUT", "/logstores/ls", "", true),
        ("DELETE", "/logstores/ls", "", true),
        ("GET", "/logstores/ls/shards", "", true),
        ("POST", "/logstores/ls/shards/lb", "", true),
        ("POST", "/logstores/ls/shards/route", "key=abc", true),
        ("GET", "/logstores/ls/shards/1", "type=cursor&from=begin", true),
        ("GET", "/logstores/ls/shards/1", "type=cursor_time&cursor=MA==", true),
        ("GET", "/logstores/ls/shards/1", "type=log&cursor=MA==&count=10", true),
    ];
    let mut groups_seen = Vec::new();
    for (method, path, query, has_project) in calls {
        let method: Method = method.parse().unwrap();
        let params: Params = parse_query(Some(query));
        let call = route(&method, path, &params, has_project).unwrap_or_else(|e| panic!("{method} {path}: {e:?}"));
        let function = function_for(&routes, &method, path);
        assert!(
            function.groups().contains(&call.group()),
            "{method} {path}?{query} ({call:?}, {:?}) goes to {function}",
            call.group()
        );
        groups_seen.push(call.group());
    }
    for group in [RouteGroup::Admin, RouteGroup::Write, RouteGroup::Read] {
        assert!(groups_seen.contains(&group), "no call of {group:?} checked");
    }
    // Anything else falls to the ingest function, which answers 404 RequestNotSupported.
    assert_eq!(function_for(&routes, &Method::PATCH, "/nowhere/at/all"), Function::Ingest);
}
