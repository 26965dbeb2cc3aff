//! The part of a Spin application manifest (`spin.toml`, `spin_manifest_version = 2`) the host
//! serves: application variables, HTTP triggers (route → component) and components (source,
//! environment, variables, and Logport's caps).
//!
//! Variables reach a component as environment variables: each entry of
//! `[component.<id>.variables]` (its value a template such as `"{{ s3_bucket }}"`) becomes the
//! variable of the same name upper-cased, next to the literal `environment` table. Application
//! variables come from the host environment as `SPIN_VARIABLE_<NAME>` (what Spin's environment
//! provider reads), else their default; a `required` one that is unset stops the host at start.
//!
//! Routes follow Spin's syntax: an exact path, `:name` matching one segment, and a trailing
//! `/...` matching any rest (including none). The most specific route wins: an exact route over a
//! wildcard, then the most literal segments.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::{Limits, OutboundHostError, OutboundHosts};

/// A parsed manifest.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub spin_manifest_version: u32,
    #[serde(default)]
    pub application: Application,
    #[serde(default)]
    pub variables: BTreeMap<String, Variable>,
    #[serde(default)]
    pub trigger: Triggers,
    #[serde(default)]
    pub component: BTreeMap<String, ComponentSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Application {
    #[serde(default)]
    pub name: String,
}

/// An application variable: required, or with a default.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Variable {
    #[serde(default)]
    pub required: bool,
    pub default: Option<String>,
    #[serde(default)]
    pub secret: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Triggers {
    #[serde(default)]
    pub http: Vec<HttpTrigger>,
}

/// `[[trigger.http]]`: a route and the component serving it.
#[derive(Debug, Clone, Deserialize)]
pub struct HttpTrigger {
    pub route: String,
    pub component: String,
}

/// `[component.<id>]`.
#[derive(Debug, Clone, Deserialize)]
pub struct ComponentSpec {
    pub source: PathBuf,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    pub description: String,
    /// Logport's host only (Spin ignores unknown tables under `tool`): the caps.
    #[serde(default)]
    pub tool: Tool,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Tool {
    #[serde(default)]
    pub logport: LogportTool,
}

/// `[component.<id>.tool.logport]`: the caps per request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LogportTool {
    pub memory_mib: Option<usize>,
    pub cpu_ms: Option<u64>,
}

/// What is wrong with a manifest or its variables.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error("reading {path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("parsing the manifest: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("spin_manifest_version {0} is not supported (2 is)")]
    Version(u32),
    #[error("trigger route '{route}' names component '{component}', which is not defined")]
    UnknownComponent { route: String, component: String },
    #[error("route '{0}' must start with '/'")]
    BadRoute(String),
    #[error("variable '{0}' is required: set SPIN_VARIABLE_{upper}", upper = .0.to_ascii_uppercase())]
    MissingVariable(String),
    #[error("component '{component}' uses variable '{variable}', which [variables] does not declare")]
    UndeclaredVariable { component: String, variable: String },
    #[error("component '{component}': {error}")]
    OutboundHost { component: String, error: OutboundHostError },
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let manifest: Manifest = toml::from_str(text)?;
        if manifest.spin_manifest_version != 2 {
            return Err(ManifestError::Version(manifest.spin_manifest_version));
        }
        for trigger in &manifest.trigger.http {
            if !trigger.route.starts_with('/') {
                return Err(ManifestError::BadRoute(trigger.route.clone()));
            }
            if !manifest.component.contains_key(&trigger.component) {
                return Err(ManifestError::UnknownComponent {
                    route: trigger.route.clone(),
                    component: trigger.component.clone(),
                });
            }
        }
        for (id, component) in &manifest.component {
            for template in component.variables.values().chain(&component.allowed_outbound_hosts) {
                for variable in template_names(template) {
                    if !manifest.variables.contains_key(&variable) {
                        return Err(ManifestError::UndeclaredVariable { component: id.clone(), variable });
                    }
                }
            }
            // Entries without variables are checked now; the others once expanded.
            let literal: Vec<&String> =
                component.allowed_outbound_hosts.iter().filter(|entry| template_names(entry).is_empty()).collect();
            OutboundHosts::parse(&literal)
                .map_err(|error| ManifestError::OutboundHost { component: id.clone(), error })?;
        }
        Ok(manifest)
    }

    pub fn read(path: &Path) -> Result<Self, ManifestError> {
        let text =
            std::fs::read_to_string(path).map_err(|error| ManifestError::Read { path: path.to_owned(), error })?;
        Self::parse(&text)
    }

    /// The application variables' values, read through `lookup` (`SPIN_VARIABLE_<NAME>`).
    pub fn resolve_variables(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<BTreeMap<String, String>, ManifestError> {
        let mut values = BTreeMap::new();
        for (name, variable) in &self.variables {
            let value = lookup(&format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase())).or(variable.default.clone());
            match value {
                Some(value) => values.insert(name.clone(), value),
                None if variable.required => return Err(ManifestError::MissingVariable(name.clone())),
                None => None,
            };
        }
        Ok(values)
    }

    /// A component's environment: its `environment`, then its variables (upper-cased names,
    /// templates expanded; an unset optional variable expands to nothing).
    pub fn environment(&self, id: &str, values: &BTreeMap<String, String>) -> Vec<(String, String)> {
        let Some(component) = self.component.get(id) else { return Vec::new() };
        let mut env: Vec<(String, String)> =
            component.environment.iter().map(|(name, value)| (name.clone(), value.clone())).collect();
        for (name, template) in &component.variables {
            env.push((name.to_ascii_uppercase(), expand(template, values)));
        }
        env
    }

    /// Where a component may send HTTP requests: its `allowed_outbound_hosts`, variables
    /// expanded (an entry that expands to nothing grants nothing; none at all: no outbound).
    pub fn outbound_hosts(&self, id: &str, values: &BTreeMap<String, String>) -> Result<OutboundHosts, ManifestError> {
        let entries: Vec<String> = self
            .component
            .get(id)
            .map(|component| component.allowed_outbound_hosts.iter().map(|entry| expand(entry, values)).collect())
            .unwrap_or_default();
        OutboundHosts::parse(&entries).map_err(|error| ManifestError::OutboundHost { component: id.to_owned(), error })
    }

    /// A component's caps: its `tool.logport` settings over `defaults`.
    pub fn limits(&self, id: &str, defaults: Limits) -> Limits {
        let Some(tool) = self.component.get(id).map(|component| &component.tool.logport) else { return defaults };
        Limits {
            memory_bytes: tool.memory_mib.map_or(defaults.memory_bytes, |mib| mib << 20),
            cpu_time: tool.cpu_ms.map_or(defaults.cpu_time, Duration::from_millis),
        }
    }

    /// The component serving `path` (without the query), by the most specific matching route.
    pub fn route(&self, path: &str) -> Option<&str> {
        self.trigger
            .http
            .iter()
            .filter_map(|trigger| route_specificity(&trigger.route, path).map(|rank| (rank, trigger)))
            .max_by_key(|(rank, _)| *rank)
            .map(|(_, trigger)| trigger.component.as_str())
    }
}

/// How specifically `route` matches `path` (higher is more specific), or `None`.
fn route_specificity(route: &str, path: &str) -> Option<(bool, usize, usize)> {
    let (pattern, wildcard) = match route.strip_suffix("/...") {
        Some(prefix) => (prefix, true),
        None => (route, false),
    };
    let wanted: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let got: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if got.len() < wanted.len() || (!wildcard && got.len() != wanted.len()) {
        return None;
    }
    let mut literals = 0;
    for (want, have) in wanted.iter().zip(&got) {
        if want.starts_with(':') {
            continue;
        }
        if want != have {
            return None;
        }
        literals += 1;
    }
    Some((!wildcard, literals, wanted.len()))
}

/// The variable names in a template (`{{ name }}`).
fn template_names(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}") else { break };
        names.push(rest[start + 2..start + end].trim().to_owned());
        rest = &rest[start + end + 2..];
    }
    names
}

/// A template with its variables replaced by their values.
fn expand(template: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}") else { break };
        out.push_str(&rest[..start]);
        let name = rest[start + 2..start + end].trim();
        out.push_str(values.get(name).map_or("", String::as_str));
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
bucket = { required = true }
prefix = { default = "p/" }
endpoint = { default = "" }
[[trigger.http]]
route = "/..."
component = "a"
[[trigger.http]]
route = "/logstores/:ls/shards/..."
component = "b"
[[trigger.http]]
route = "/logstores/:ls"
component = "c"
[component.a]
source = "a.wasm"
environment = { FIXED = "1" }
[component.a.variables]
logport_s3_bucket = "s3://{{ bucket }}/{{prefix}}"
[component.a.tool.logport]
memory_mib = 64
cpu_ms = 500
[component.b]
source = "b.wasm"
allowed_outbound_hosts = ["https://*.amazonaws.com", "{{ prefix }}", "{{ endpoint }}"]
[component.c]
source = "c.wasm"
"#;

    #[test]
    fn routes_to_the_most_specific() {
        let manifest = Manifest::parse(MANIFEST).unwrap();
        assert_eq!(manifest.route("/"), Some("a"));
        assert_eq!(manifest.route("/logstores"), Some("a"));
        assert_eq!(manifest.route("/logstores/web"), Some("c"));
        assert_eq!(manifest.route("/logstores/web/shards"), Some("b"));
        assert_eq!(manifest.route("/logstores/web/shards/0"), Some("b"));
        assert_eq!(manifest.route("/logstores/web/index"), Some("a"));
    }

    #[test]
    fn variables_become_the_environment() {
        let manifest = Manifest::parse(MANIFEST).unwrap();
        let error = manifest.resolve_variables(|_| None).unwrap_err().to_string();
        assert!(error.contains("SPIN_VARIABLE_BUCKET"), "{error}");
        let values =
            manifest.resolve_variables(|name| (name == "SPIN_VARIABLE_BUCKET").then(|| "logs".to_owned())).unwrap();
        let env = manifest.environment("a", &values);
        assert!(env.contains(&("FIXED".into(), "1".into())));
        assert!(env.contains(&("LOGPORT_S3_BUCKET".into(), "s3://logs/p/".into())));
        let limits = manifest.limits("a", Limits::default());
        assert_eq!(limits.memory_bytes, 64 << 20);
        assert_eq!(limits.cpu_time, Duration::from_millis(500));
        assert_eq!(manifest.limits("b", Limits::default()), Limits::default());
    }

    #[test]
    fn outbound_hosts_expand_variables() {
        let manifest = Manifest::parse(MANIFEST).unwrap();
        let mut values =
            manifest.resolve_variables(|name| (name == "SPIN_VARIABLE_BUCKET").then(|| "b".into())).unwrap();
        // `prefix` expands to "p/", which is no host: refused with the component and the entry.
        let error = manifest.outbound_hosts("b", &values).unwrap_err().to_string();
        assert!(error.contains("component 'b'") && error.contains("'p/'"), "{error}");
        values.insert("prefix".into(), String::new());
        let hosts = manifest.outbound_hosts("b", &values).unwrap();
        assert!(hosts.allows("https", "s3.amazonaws.com", 443));
        assert!(!hosts.allows("http", "127.0.0.1", 4566), "an empty endpoint grants nothing");
        values.insert("endpoint".into(), "http://127.0.0.1:4566".into());
        assert!(manifest.outbound_hosts("b", &values).unwrap().allows("http", "127.0.0.1", 4566));
        // No list: no outbound at all.
        assert!(!manifest.outbound_hosts("a", &values).unwrap().allows("https", "s3.amazonaws.com", 443));
    }

    #[test]
    fn rejects_broken_manifests() {
        assert!(Manifest::parse("spin_manifest_version = 1").is_err());
        let unknown = MANIFEST.replace("component = \"b\"", "component = \"zz\"");
        assert!(matches!(Manifest::parse(&unknown), Err(ManifestError::UnknownComponent { .. })));
        let undeclared = MANIFEST.replace("{{prefix}}", "{{ nope }}");
        assert!(matches!(Manifest::parse(&undeclared), Err(ManifestError::UndeclaredVariable { .. })));
        assert!(Manifest::parse("not toml [").is_err());
        let bad_host = MANIFEST.replace("https://*.amazonaws.com", "ftp://x");
        assert!(matches!(Manifest::parse(&bad_host), Err(ManifestError::OutboundHost { .. })));
        let undeclared = MANIFEST.replace("{{ endpoint }}", "{{ nope }}");
        assert!(matches!(Manifest::parse(&undeclared), Err(ManifestError::UndeclaredVariable { .. })));
    }
}
