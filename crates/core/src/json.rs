//! The JSON form of log groups, for curl users and for JSON pulls. It is SLS's web-tracking
//! shape:
//!
//! ```json
//! {"__topic__": "web", "__source__": "10.0.0.1", "__tags__": {"env": "prod"},
//!  "__logs__": [{"__time__": 1700000000, "status": "200", "url": "/"}]}
//! ```
//!
//! A body may also be a JSON array of such groups. Values that are numbers or booleans are
//! stored as their text; objects and arrays as their JSON text. A log without `__time__` gets
//! the receive time; `__time_ns__` sets the nanoseconds.

use serde_json::{Map, Value};

use crate::model::{Content, Log, LogGroup, LogTag};

/// Why a JSON body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON log group: {0}")]
pub struct JsonError(pub String);

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn unix_field(log: usize, key: &str, value: &Value, max: u64) -> Result<u32, JsonError> {
    let number = match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.parse().ok(),
        _ => None,
    };
    number
        .filter(|number| *number <= max)
        .map(|number| number as u32)
        .ok_or_else(|| JsonError(format!("log {log}: {key} must be an integer 0-{max}, not {value}")))
}

fn group_from_json(value: &Value, now: u32) -> Result<LogGroup, JsonError> {
    let object = value.as_object().ok_or_else(|| JsonError("a log group must be a JSON object".into()))?;
    let mut group = LogGroup::default();
    for (key, value) in object {
        match key.as_str() {
            "__topic__" => group.topic = Some(text_of(value)),
            "__source__" => group.source = Some(text_of(value)),
            "__tags__" => {
                let tags = value.as_object().ok_or_else(|| JsonError("__tags__ must be an object".into()))?;
                group.log_tags =
                    tags.iter().map(|(key, value)| LogTag { key: key.clone(), value: text_of(value) }).collect();
            }
            "__logs__" => {
                let logs = value.as_array().ok_or_else(|| JsonError("__logs__ must be an array".into()))?;
                for (index, log) in logs.iter().enumerate() {
                    group.logs.push(log_from_json(index, log, now)?);
                }
            }
            other => {
                return Err(JsonError(format!(
                    "unknown field '{other}' (use __topic__, __source__, __tags__, __logs__)"
                )));
            }
        }
    }
    if group.logs.is_empty() {
        return Err(JsonError("__logs__ must hold at least one log".into()));
    }
    Ok(group)
}

fn log_from_json(index: usize, value: &Value, now: u32) -> Result<Log, JsonError> {
    let object = value.as_object().ok_or_else(|| JsonError(format!("log {index} must be a JSON object")))?;
    let mut log = Log { time: now, contents: Vec::with_capacity(object.len()), time_ns: None };
    for (key, value) in object {
        match key.as_str() {
            "__time__" => log.time = unix_field(index, key, value, u64::from(u32::MAX))?,
            "__time_ns__" => log.time_ns = Some(unix_field(index, key, value, 999_999_999)?),
            _ => log.contents.push(Content { key: key.clone(), value: text_of(value) }),
        }
    }
    Ok(log)
}

/// Parses a JSON body: one group object or an array of them. `now` is the default log time.
pub fn groups_from_json(body: &[u8], now: u32) -> Result<Vec<LogGroup>, JsonError> {
    let value: Value = serde_json::from_slice(body).map_err(|error| JsonError(error.to_string()))?;
    match &value {
        Value::Array(groups) if !groups.is_empty() => groups.iter().map(|group| group_from_json(group, now)).collect(),
        Value::Array(_) => Err(JsonError("the array holds no log group".into())),
        other => Ok(vec![group_from_json(other, now)?]),
    }
}

/// Renders a log group in the JSON form (contents keep their order).
pub fn group_to_json(group: &LogGroup) -> Value {
    let mut object = Map::new();
    object.insert("__topic__".into(), Value::String(group.topic.clone().unwrap_or_default()));
    object.insert("__source__".into(), Value::String(group.source.clone().unwrap_or_default()));
    let tags: Map<String, Value> =
        group.log_tags.iter().map(|tag| (tag.key.clone(), Value::String(tag.value.clone()))).collect();
    object.insert("__tags__".into(), Value::Object(tags));
    let logs = group
        .logs
        .iter()
        .map(|log| {
            let mut fields = Map::new();
            fields.insert("__time__".into(), Value::from(log.time));
            if let Some(nanos) = log.time_ns {
                fields.insert("__time_ns__".into(), Value::from(nanos));
            }
            for content in &log.contents {
                fields.insert(content.key.clone(), Value::String(content.value.clone()));
            }
            Value::Object(fields)
        })
        .collect();
    object.insert("__logs__".into(), Value::Array(logs));
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_web_tracking_shape_and_round_trips() {
        let body = br#"{"__topic__":"web","__source__":"10.0.0.1","__tags__":{"env":"prod"},
            "__logs__":[{"__time__":1700000000,"status":200,"url":"/","ok":true},{"msg":"no time"}]}"#;
        let groups = groups_from_json(body, 42).unwrap();
        assert_eq!(groups.len(), 1);
        let group = &groups[0];
        assert_eq!(group.topic.as_deref(), Some("web"));
        assert_eq!(group.log_tags, vec![LogTag { key: "env".into(), value: "prod".into() }]);
        assert_eq!(group.logs[0].time, 1_700_000_000);
        assert_eq!(group.logs[0].contents[0], Content { key: "status".into(), value: "200".into() });
        assert_eq!(group.logs[0].contents[2].value, "true");
        assert_eq!(group.logs[1].time, 42);
        let again = groups_from_json(group_to_json(group).to_string().as_bytes(), 0).unwrap();
        assert_eq!(&again[0], group);
    }

    #[test]
    fn refuses_bad_shapes_with_a_reason() {
        for (body, needle) in [
            (&b"nope"[..], "expected"),
            (br#"{"__logs__":[]}"#, "at least one"),
            (br#"{"__logs__":[{"__time__":-1}]}"#, "__time__"),
            (br#"{"__logs__":[{"__time__":"soon"}]}"#, "__time__"),
            (br#"{"__logs__":"x"}"#, "array"),
            (br#"{"logs":[]}"#, "unknown field"),
            (br#"[]"#, "no log group"),
        ] {
            let error = groups_from_json(body, 0).unwrap_err();
            assert!(error.0.contains(needle), "{error} should mention {needle}");
        }
    }
}
