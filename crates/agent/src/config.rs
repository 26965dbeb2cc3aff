//! The agent's configuration file (TOML).
//!
//! ```toml
//! [service]
//! endpoint = "127.0.0.1:7000"   # host:port of the Logport (SLS) API, plain HTTP
//! project = "web"
//! access_key_id = "..."
//! access_key_secret = "..."
//!
//! [agent]
//! state_dir = "/var/lib/logport-agent"   # checkpoints, the send cache, status.json
//!
//! [[source]]
//! name = "nginx"
//! logstore = "access"
//! dir = "/var/log/nginx"
//! pattern = "access.log*"
//! [source.parse]
//! mode = "regex"
//! regex = '^(?P<ip>\S+) ...'
//! ```

use std::path::PathBuf;

use serde::Deserialize;

use crate::parse::{ParseSpec, Parser};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub service: ServiceConfig,
    pub agent: AgentConfig,
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub endpoint: String,
    pub project: String,
    pub access_key_id: String,
    pub access_key_secret: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    pub state_dir: PathBuf,
    /// How often files are discovered and read.
    #[serde(default = "d_poll_ms")]
    pub poll_ms: u64,
    /// A batch is sent when it reaches this size (raw protobuf bytes) ...
    #[serde(default = "d_batch_bytes")]
    pub batch_bytes: usize,
    /// ... or this age.
    #[serde(default = "d_batch_ms")]
    pub batch_ms: u64,
    /// Checkpoints are saved at most this often (and at least once a second) while offsets move.
    /// 0 (the default): right after every poll in which a batch was accepted or cached, so that a
    /// `kill -9` repeats only what was sent in the few milliseconds before it.
    #[serde(default = "d_checkpoint_ms")]
    pub checkpoint_ms: u64,
    #[serde(default = "d_cache_max_bytes")]
    pub cache_max_bytes: u64,
    #[serde(default = "d_cache_max_age_s")]
    pub cache_max_age_s: u64,
    /// `__source__`; by default the IP address the agent reaches the service from.
    pub source_ip: Option<String>,
    /// `__tag__:__hostname__`; by default the host's name.
    pub hostname: Option<String>,
    /// Central configuration: poll the service (`POST /agents/poll`) for the collection configs
    /// applied to this agent's machine groups, and run them besides the `[[source]]`s.
    #[serde(default)]
    pub central: bool,
    /// The user-defined identity a `userdefined` machine group lists.
    #[serde(default)]
    pub user_defined_id: String,
    /// How often the service is polled for configs (and sent a heartbeat).
    #[serde(default = "d_config_poll_ms")]
    pub config_poll_ms: u64,
    /// Absolute directories under which configs from the service may read (empty: anywhere the
    /// agent's user may). The agent component is granted these (read-only), and nothing else.
    #[serde(default)]
    pub central_roots: Vec<PathBuf>,
}

fn d_config_poll_ms() -> u64 {
    3000
}

fn d_poll_ms() -> u64 {
    100
}
fn d_batch_bytes() -> usize {
    512 * 1024
}
fn d_batch_ms() -> u64 {
    500
}
fn d_checkpoint_ms() -> u64 {
    0
}
fn d_cache_max_bytes() -> u64 {
    256 << 20
}
fn d_cache_max_age_s() -> u64 {
    86_400
}
fn d_max_line() -> usize {
    // Under the service's 1 MiB value limit.
    1_000_000
}
fn d_idle_polls() -> u32 {
    50
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub name: String,
    pub logstore: String,
    pub dir: PathBuf,
    pub pattern: String,
    #[serde(default)]
    pub max_depth: u32,
    #[serde(default)]
    pub backfill: bool,
    pub topic: Option<String>,
    /// A regex over the file's path whose first capture group is the topic.
    pub topic_from_path: Option<String>,
    #[serde(default = "d_max_line")]
    pub max_line_bytes: usize,
    #[serde(default = "d_idle_polls")]
    pub idle_polls: u32,
    #[serde(default)]
    pub parse: ParseSpec,
}

impl Config {
    /// Parses and checks a configuration; every error names what is wrong.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|error| format!("invalid agent config: {error}"))?;
        if let Some(root) = config.agent.central_roots.iter().find(|root| !root.is_absolute()) {
            return Err(format!("agent.central_roots: {} is not an absolute path", root.display()));
        }
        let mut names = std::collections::HashSet::new();
        for source in &config.sources {
            if !names.insert(source.name.as_str()) {
                return Err(format!("two sources are named {:?}", source.name));
            }
        }
        Ok(config)
    }
}

impl SourceConfig {
    /// Checks what can only be checked by compiling (regexes, time formats).
    pub fn compile(&self) -> Result<(Parser, Option<regex::Regex>), String> {
        let parser = Parser::new(&self.parse).map_err(|error| format!("source {:?}: {error}", self.name))?;
        let topic = self
            .topic_from_path
            .as_deref()
            .map(regex::Regex::new)
            .transpose()
            .map_err(|error| format!("source {:?}: invalid topic_from_path: {error}", self.name))?;
        if self.pattern.is_empty() || self.pattern.contains('/') {
            return Err(format!("source {:?}: pattern must be a file name pattern without '/'", self.name));
        }
        Ok((parser, topic))
    }
}

/// Names SLS's positional capture groups: the n-th unnamed `(` of `regex` becomes
/// `(?P<keys[n]>` (keys made valid field names). Escapes and character classes are skipped;
/// `(?...)` groups are left alone. Errors when the counts differ.
fn name_sls_groups(regex: &str, keys: &[String]) -> Result<String, String> {
    let mut out = String::with_capacity(regex.len() + keys.len() * 8);
    let mut chars = regex.chars().peekable();
    let mut class_depth = 0usize;
    let mut next_key = keys.iter();
    let mut groups = 0usize;
    while let Some(c) = chars.next() {
        out.push(c);
        match c {
            '\\' => {
                if let Some(escaped) = chars.next() {
                    out.push(escaped);
                }
            }
            '[' => {
                class_depth += 1;
                // A ']' (or '^]') right after the opening bracket is a literal.
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().expect("peeked"));
                }
                if chars.peek() == Some(&']') {
                    out.push(chars.next().expect("peeked"));
                }
            }
            ']' if class_depth > 0 => class_depth -= 1,
            '(' if class_depth == 0 && chars.peek() != Some(&'?') => {
                groups += 1;
                if let Some(key) = next_key.next() {
                    out.push_str(&format!("?P<{}>", crate::parse::sanitize_key(key)));
                }
            }
            _ => {}
        }
    }
    if groups != keys.len() {
        return Err(format!("the regex has {groups} capture groups but key names {} fields", keys.len()));
    }
    Ok(out)
}

/// Converts a collection config in SLS's Logtail shape (as the service's `GetConfig` and agent
/// poll return it) into a source. Errors name the setting.
pub fn source_from_sls(config: &serde_json::Value) -> Result<SourceConfig, String> {
    use serde_json::Value;
    let name = config.get("configName").and_then(Value::as_str).ok_or("the config has no configName")?;
    let fail = |message: String| format!("config {name:?}: {message}");
    if config.get("inputType").and_then(Value::as_str).unwrap_or("file") != "file" {
        return Err(fail("only inputType \"file\" is collected".into()));
    }
    let detail =
        config.get("inputDetail").filter(|detail| detail.is_object()).ok_or_else(|| fail("no inputDetail".into()))?;
    let text = |key: &str| detail.get(key).and_then(Value::as_str).filter(|text| !text.is_empty());
    let logstore = config
        .pointer("/outputDetail/logstoreName")
        .and_then(Value::as_str)
        .ok_or_else(|| fail("no outputDetail.logstoreName".into()))?;
    let dir = text("logPath").ok_or_else(|| fail("no inputDetail.logPath".into()))?;
    let pattern = text("filePattern").ok_or_else(|| fail("no inputDetail.filePattern".into()))?;
    let max_depth = match detail.get("maxDepth") {
        None | Some(Value::Null) => 0,
        Some(depth) => depth
            .as_u64()
            .and_then(|depth| u32::try_from(depth).ok())
            .ok_or_else(|| fail("inputDetail.maxDepth must be a non-negative integer".into()))?,
    };
    let keys: Vec<String> = match detail.get("key") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str().map(str::to_owned).ok_or_else(|| fail("inputDetail.key holds a non-string".into()))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(fail("inputDetail.key must be a list".into())),
    };
    let mut parse = ParseSpec::default();
    match text("logType").unwrap_or("common_reg_log") {
        "common_reg_log" => match text("regex") {
            // No regex, or SLS's whole-line default: the line under `content`.
            None | Some("(.*)") if keys.len() <= 1 => {
                if let Some(key) = keys.first() {
                    parse.raw_key = crate::parse::sanitize_key(key);
                }
            }
            regex => {
                parse.mode = "regex".into();
                parse.regex = Some(name_sls_groups(regex.unwrap_or("(.*)"), &keys).map_err(fail)?);
            }
        },
        "json_log" => parse.mode = "json".into(),
        "delimiter_log" => {
            parse.mode = "delimiter".into();
            parse.delimiter = text("separator").map(str::to_owned);
            parse.quote = Some(detail.get("quote").and_then(Value::as_str).unwrap_or("\"").to_owned());
            parse.keys = keys.clone();
        }
        other => {
            return Err(fail(format!("logType {other:?} is not supported (common_reg_log, json_log, delimiter_log)")));
        }
    }
    // SLS's default begin regex `.*` makes every line an event: no multiline.
    parse.first_line = text("logBeginRegex").filter(|regex| *regex != ".*").map(str::to_owned);
    if detail.get("discardUnmatch").and_then(Value::as_bool) == Some(true) {
        parse.unmatched = "drop".into();
    }
    if let Some(format) = text("timeFormat") {
        parse.time_format = Some(format.to_owned());
        // SLS takes the time from the field named `time` unless `timeKey` says otherwise.
        parse.time_key = Some(crate::parse::sanitize_key(text("timeKey").unwrap_or("time")));
    }
    parse.time_zone = text("timeZone").map(|zone| zone.trim_start_matches("GMT").to_owned());
    let topic_from_path = match text("topicFormat") {
        None | Some("none" | "default" | "group_topic" | "global_topic") => None,
        Some(regex) => Some(regex.to_owned()),
    };
    let source = SourceConfig {
        name: name.to_owned(),
        logstore: logstore.to_owned(),
        dir: PathBuf::from(dir),
        pattern: pattern.to_owned(),
        max_depth,
        backfill: false,
        topic: None,
        topic_from_path,
        max_line_bytes: d_max_line(),
        idle_polls: d_idle_polls(),
        parse,
    };
    source.compile()?;
    Ok(source)
}

#[cfg(test)]
mod sls_tests {
    use serde_json::json;

    use super::*;

    fn sls(detail: serde_json::Value) -> serde_json::Value {
        json!({"configName": "nginx", "inputType": "file", "inputDetail": detail,
            "outputType": "LogService", "outputDetail": {"projectName": "p", "logstoreName": "access"}})
    }

    #[test]
    fn names_positional_groups_and_skips_classes_and_escapes() {
        let keys = ["ip".to_owned(), "user-agent".to_owned()];
        let named = name_sls_groups(r"^(\S+) \(x\) [()\]] (?:a|b) (.*)$", &keys).unwrap();
        assert_eq!(named, r"^(?P<ip>\S+) \(x\) [()\]] (?:a|b) (?P<user_agent>.*)$");
        assert!(name_sls_groups("(a)(b)", &keys[..1]).unwrap_err().contains("2 capture groups"));
    }

    #[test]
    fn converts_a_regex_config_and_parses_with_it() {
        let source = source_from_sls(&sls(json!({"logType": "common_reg_log", "logPath": "/var/log/nginx",
            "filePattern": "access*.log", "maxDepth": 2, "regex": "(\\S+) (\\d+) (.*)",
            "key": ["ip", "time", "msg"], "timeFormat": "%s", "topicFormat": "/var/log/(\\w+)/.*"})))
        .unwrap();
        assert_eq!((source.logstore.as_str(), source.max_depth), ("access", 2));
        assert_eq!(source.dir, PathBuf::from("/var/log/nginx"));
        assert_eq!(source.parse.mode, "regex");
        assert_eq!(source.parse.time_key.as_deref(), Some("time"));
        assert_eq!(source.topic_from_path.as_deref(), Some("/var/log/(\\w+)/.*"));
        let (parser, _) = source.compile().unwrap();
        let (log, matched) = parser.parse("1.2.3.4 1700000000 hello there", 5);
        let log = log.expect("a matching line is kept");
        assert!(matched);
        assert_eq!(log.time, 1_700_000_000);
        let fields: Vec<(&str, &str)> =
            log.contents.iter().map(|content| (content.key.as_str(), content.value.as_str())).collect();
        assert!(fields.contains(&("ip", "1.2.3.4")) && fields.contains(&("msg", "hello there")), "{fields:?}");
    }

    #[test]
    fn converts_json_and_delimiter_and_refuses_what_it_cannot_run() {
        let json_source =
            source_from_sls(&sls(json!({"logType": "json_log", "logPath": "/a", "filePattern": "*.json"})));
        assert_eq!(json_source.unwrap().parse.mode, "json");
        let csv = source_from_sls(&sls(json!({"logType": "delimiter_log", "logPath": "/a", "filePattern": "*.csv",
            "separator": "|", "key": ["a", "b"], "discardUnmatch": true})))
        .unwrap();
        assert_eq!((csv.parse.delimiter.as_deref(), csv.parse.unmatched.as_str()), (Some("|"), "drop"));
        let bad = [
            json!({"logType": "common_reg_log", "logPath": "/a", "filePattern": "*", "regex": "(x", "key": ["k"]}),
            json!({"logType": "apsara_log", "logPath": "/a", "filePattern": "*"}),
            json!({"logPath": "/a"}),
            json!({"logType": "json_log", "logPath": "/a", "filePattern": "a/b"}),
        ];
        for detail in bad {
            assert!(source_from_sls(&sls(detail.clone())).is_err(), "{detail}");
        }
    }
}
