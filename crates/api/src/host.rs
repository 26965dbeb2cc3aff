//! Which project a request is for: the `x-log-project` header, or the first label of the Host
//! (`<project>.<endpoint>`), as the SLS SDKs address projects (sls-api.md §0).

use std::net::IpAddr;

use http::request::Parts;

/// A request extension a transport sets when it knows a host name that addresses the server
/// itself for this request only (API Gateway's `<api-id>.execute-api.<region>.amazonaws.com`),
/// in addition to the configured server names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerName(pub String);

/// The project a request names, if any. `server_names` are host names that address the server
/// itself (no project in them); `localhost`, IP literals and a [`ServerName`] extension always do.
pub fn project_of(parts: &Parts, server_names: &[String]) -> Option<String> {
    if let Some(project) = parts.headers.get("x-log-project").and_then(|value| value.to_str().ok()) {
        let project = project.trim();
        if !project.is_empty() {
            return Some(project.to_owned());
        }
    }
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| parts.uri.authority().map(|authority| authority.as_str()))?;
    match parts.extensions.get::<ServerName>() {
        Some(ServerName(name)) => {
            let names: Vec<String> = server_names.iter().cloned().chain([name.to_ascii_lowercase()]).collect();
            project_from_host(host, &names)
        }
        None => project_from_host(host, server_names),
    }
}

/// The project in a Host value.
pub fn project_from_host(host: &str, server_names: &[String]) -> Option<String> {
    let host = host.trim().to_ascii_lowercase();
    if host.starts_with('[') {
        return None; // An IPv6 literal.
    }
    let name = host.rsplit_once(':').map_or(host.as_str(), |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) { name } else { host.as_str() }
    });
    let name = name.trim_end_matches('.');
    if name.is_empty()
        || name == "localhost"
        || name.parse::<IpAddr>().is_ok()
        || server_names.iter().any(|server| server == name)
    {
        return None;
    }
    let (project, rest) = name.split_once('.')?;
    if rest.is_empty() { None } else { Some(project.to_owned()) }
}

#[cfg(test)]
mod tests {
    use super::{ServerName, project_from_host, project_of};

    #[test]
    fn a_server_name_extension_adds_to_the_configured_names() {
        let request = |host: &str| http::Request::builder().uri("/").header("host", host).body(()).unwrap();
        let api_host = "abc123.execute-api.eu-west-1.amazonaws.com";
        let (parts, ()) = request(api_host).into_parts();
        assert_eq!(project_of(&parts, &[]).as_deref(), Some("abc123"));
        let (mut parts, ()) = request(api_host).into_parts();
        parts.extensions.insert(ServerName(api_host.to_ascii_uppercase()));
        assert_eq!(project_of(&parts, &[]), None);
        let (mut parts, ()) = request(&format!("p1.{api_host}")).into_parts();
        parts.extensions.insert(ServerName(api_host.into()));
        assert_eq!(project_of(&parts, &[]).as_deref(), Some("p1"));
    }

    #[test]
    fn finds_the_project_label() {
        let servers = vec!["logport.example.com".to_string()];
        assert_eq!(project_from_host("p1.127.0.0.1", &servers).as_deref(), Some("p1"));
        assert_eq!(project_from_host("p1.127.0.0.1:8080", &servers).as_deref(), Some("p1"));
        assert_eq!(project_from_host("p1.localhost:8080", &servers).as_deref(), Some("p1"));
        assert_eq!(project_from_host("p1.logport.example.com", &servers).as_deref(), Some("p1"));
        assert_eq!(project_from_host("127.0.0.1", &servers), None);
        assert_eq!(project_from_host("127.0.0.1:8080", &servers), None);
        assert_eq!(project_from_host("localhost:8080", &servers), None);
        assert_eq!(project_from_host("logport.example.com", &servers), None);
        assert_eq!(project_from_host("[::1]:8080", &servers), None);
        assert_eq!(project_from_host("single", &servers), None);
    }
}
