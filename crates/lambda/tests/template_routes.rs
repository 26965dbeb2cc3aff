//! `template.yaml` sends every call of the API to a function that serves it: API Gateway routes
//! by method and path only, the API splits by call, and the two must agree.
//!
//! The routes are read from the template's `HttpApi` events, written one per line as
//! `Properties: {ApiId: !Ref HttpApi, Method: M, Path: P}` (no Method and Path: the `$default`
//! route), and must be exactly `logport_lambda::function::ROUTES`, whose matching
//! (`gateway_route`, API Gateway's rules) then decides where each call goes.

use std::collections::HashSet;

use http::Method;
use logport_api::route::{Params, RouteGroup, parse_query, route};
use logport_lambda::Function;
use logport_lambda::function::{ROUTES, Route};

const TEMPLATE: &str = include_str!("../../../template.yaml");

/// The `HttpApi` routes of the template, with the function each belongs to.
fn template_routes() -> Vec<(Function, Option<String>, Option<String>)> {
    let mut routes = Vec::new();
    let mut function = None;
    for line in TEMPLATE.lines() {
        // A resource: two spaces of indentation, then `Name:`.
        if line.len() > 2 && line.starts_with("  ") && !line.starts_with("   ") && line.ends_with(':') {
            let resource = line.trim().trim_end_matches(':');
            // `Globals: Function:` has the same indentation and names no function.
            // Other resources ending in `Function` name no `Function`: an HttpApi event under one
            // is then "outside the functions" below.
            function = resource
                .strip_suffix("Function")
                .filter(|name| !name.is_empty())
                .and_then(|name| name.to_ascii_lowercase().parse::<Function>().ok());
        }
        let Some(properties) = line.trim().strip_prefix("Properties: {ApiId: !Ref HttpApi") else { continue };
        let function = function.unwrap_or_else(|| panic!("an HttpApi event outside the functions: {line}"));
        let properties = properties.strip_suffix('}').unwrap_or_else(|| panic!("not one line: {line}"));
        let field = |name: &str| {
            properties
                .split(',')
                .find_map(|part| part.trim().strip_prefix(name))
                .map(|v| v.trim().trim_matches('"').to_owned())
        };
        routes.push((function, field("Method:"), field("Path:")));
    }
    routes
}

#[test]
fn the_template_has_exactly_the_routes_of_the_code() {
    let template: HashSet<(Function, Option<String>, Option<String>)> = template_routes()
        .into_iter()
        .map(|(function, method, path)| (function, method.filter(|m| m != "ANY"), path))
        .collect();
    let code: HashSet<(Function, Option<String>, Option<String>)> =
        ROUTES.iter().map(|r: &Route| (r.function, r.method.map(String::from), r.path.map(String::from))).collect();
    assert_eq!(template.len(), template_routes().len(), "a route appears twice in template.yaml");
    assert_eq!(template, code, "template.yaml and logport_lambda::function::ROUTES differ");
}

#[test]
fn every_call_reaches_a_function_that_serves_it() {
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
        ("GET", "/logstores/ls", "type=log&from=1&to=2&query=*", true),
        ("GET", "/logstores/ls", "type=histogram&from=1&to=2&query=*", true),
        ("GET", "/logstores/ls", "type=context_log&pack_meta=0|x|0&back_lines=1&forward_lines=1", true),
        ("POST", "/logstores/ls/logs", "", true),
        ("POST", "/logstores/ls/shipper", "", true),
        ("GET", "/logstores/ls/shipper", "offset=0&size=10", true),
        ("GET", "/logstores/ls/shipper/s1", "", true),
        ("PUT", "/logstores/ls/shipper/s1", "", true),
        ("DELETE", "/logstores/ls/shipper/s1", "", true),
        ("POST", "/logstores/ls/shipper/s1", "type=flush", true),
        ("GET", "/logstores/ls/shipper/s1/tasks", "from=1&to=2", true),
        ("PUT", "/logstores/ls/shipper/s1/tasks", "", true),
    ];
    let mut groups_seen = HashSet::new();
    let mut functions_seen = HashSet::new();
    for (method, path, query, has_project) in calls {
        let method: Method = method.parse().unwrap();
        let params: Params = parse_query(Some(query));
        let call = route(&method, path, &params, has_project).unwrap_or_else(|e| panic!("{method} {path}: {e:?}"));
        let function = Function::for_request(&method, path);
        assert!(
            function.groups().contains(&call.group()),
            "{method} {path}?{query} ({call:?}, {:?}) goes to {function}",
            call.group()
        );
        groups_seen.insert(call.group());
        functions_seen.insert(function);
    }
    for group in RouteGroup::ALL {
        assert!(groups_seen.contains(group), "no call of {group:?} checked");
    }
    for function in Function::DEPLOYED {
        assert!(functions_seen.contains(&function), "no call reaches {function}");
    }
    // Anything else falls to the ingest function, which answers 404 RequestNotSupported.
    assert_eq!(Function::for_request(&Method::PATCH, "/nowhere/at/all"), Function::Ingest);
}
