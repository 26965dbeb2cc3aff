//! Parsing: lines into events (single-line, or multiline by a first-line regex with a flush
//! timeout), and events into fields (raw line, regex named groups, delimiter/CSV, JSON), with the
//! log time taken from a field by a strftime-style format (chrono), falling back to the read time.

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use logport_core::model::{Content, Log, MAX_KEY_BYTES, RESERVED_KEYS};
use regex::Regex;
use serde::Deserialize;

/// How a source's lines become logs (the `[source.parse]` table of the agent config).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ParseSpec {
    /// `line` (the whole event under `raw_key`), `regex`, `delimiter` or `json`.
    #[serde(default = "default_mode")]
    pub mode: String,
    /// For `regex`: named groups become fields.
    pub regex: Option<String>,
    /// A regex matching the first line of each event; other lines join the event before them.
    pub first_line: Option<String>,
    /// A multiline event is sent once no line has joined it for this long.
    #[serde(default = "default_flush_ms")]
    pub flush_ms: u64,
    /// For `delimiter`: the separator (one byte), the quote character, and the field names.
    pub delimiter: Option<String>,
    pub quote: Option<String>,
    #[serde(default)]
    pub keys: Vec<String>,
    /// What to do with an event the parser does not match: `keep` (under `raw_key`) or `drop`.
    #[serde(default = "default_unmatched")]
    pub unmatched: String,
    #[serde(default = "default_raw_key")]
    pub raw_key: String,
    /// The field holding the log time, and its strftime-style format (`%Y-%m-%d %H:%M:%S%.3f`,
    /// `%b %d %H:%M:%S` without a year, `%d/%b/%Y:%H:%M:%S %z` with a zone, `%s` epoch seconds).
    pub time_key: Option<String>,
    pub time_format: Option<String>,
    /// The zone of times without one, as an offset such as `+08:00` (default UTC).
    pub time_zone: Option<String>,
}

fn default_mode() -> String {
    "line".into()
}
fn default_flush_ms() -> u64 {
    3000
}
fn default_unmatched() -> String {
    "keep".into()
}
fn default_raw_key() -> String {
    "content".into()
}

impl Default for ParseSpec {
    fn default() -> Self {
        ParseSpec {
            mode: default_mode(),
            regex: None,
            first_line: None,
            flush_ms: default_flush_ms(),
            delimiter: None,
            quote: None,
            keys: Vec::new(),
            unmatched: default_unmatched(),
            raw_key: default_raw_key(),
            time_key: None,
            time_format: None,
            time_zone: None,
        }
    }
}

#[derive(Debug, Clone)]
enum Mode {
    Line,
    Regex(Regex, Vec<String>),
    Delimiter { delimiter: u8, quote: Option<u8>, keys: Vec<String> },
    Json,
}

/// A checked, compiled [`ParseSpec`].
#[derive(Debug, Clone)]
pub struct Parser {
    mode: Mode,
    pub first_line: Option<Regex>,
    pub flush_ms: u64,
    keep_unmatched: bool,
    raw_key: String,
    time_key: Option<String>,
    time_format: Option<TimeFormat>,
}

#[derive(Debug, Clone)]
struct TimeFormat {
    format: String,
    has_year: bool,
    has_zone: bool,
    epoch: bool,
    zone: FixedOffset,
}

/// Turns any text into a valid content key (`[A-Za-z0-9_]`, not starting with a digit, not reserved).
pub fn sanitize_key(key: &str) -> String {
    let mut out: String =
        key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).take(MAX_KEY_BYTES).collect();
    if out.is_empty() || out.as_bytes()[0].is_ascii_digit() || RESERVED_KEYS.contains(&out.as_str()) {
        out.insert(0, 'k');
        out.truncate(MAX_KEY_BYTES);
    }
    out
}

impl Parser {
    /// Compiles `spec`; every mistake is a message naming the setting.
    pub fn new(spec: &ParseSpec) -> Result<Parser, String> {
        let mode = match spec.mode.as_str() {
            "line" => Mode::Line,
            "regex" => {
                let text = spec.regex.as_deref().ok_or("parse.mode = \"regex\" needs parse.regex")?;
                let regex = Regex::new(text).map_err(|error| format!("invalid parse.regex: {error}"))?;
                let names: Vec<String> = regex.capture_names().flatten().map(sanitize_key).collect();
                if names.is_empty() {
                    return Err("parse.regex has no named groups (?P<name>...)".into());
                }
                Mode::Regex(regex, names)
            }
            "delimiter" | "csv" => {
                let delimiter = spec.delimiter.as_deref().unwrap_or(",");
                let delimiter = match delimiter.as_bytes() {
                    [byte] => *byte,
                    _ if delimiter == "\\t" => b'\t',
                    _ => return Err(format!("parse.delimiter must be one byte, not {delimiter:?}")),
                };
                let quote = match spec.quote.as_deref() {
                    None => Some(b'"'),
                    Some("") => None,
                    Some(q) if q.len() == 1 => Some(q.as_bytes()[0]),
                    Some(q) => return Err(format!("parse.quote must be one byte, not {q:?}")),
                };
                if spec.keys.is_empty() {
                    return Err("parse.mode = \"delimiter\" needs parse.keys".into());
                }
                Mode::Delimiter { delimiter, quote, keys: spec.keys.iter().map(|k| sanitize_key(k)).collect() }
            }
            "json" => Mode::Json,
            other => return Err(format!("unknown parse.mode {other:?} (line, regex, delimiter or json)")),
        };
        let first_line = spec
            .first_line
            .as_deref()
            .map(Regex::new)
            .transpose()
            .map_err(|error| format!("invalid parse.first_line: {error}"))?;
        let zone = match spec.time_zone.as_deref() {
            None | Some("UTC") | Some("Z") => FixedOffset::east_opt(0).expect("zero offset"),
            Some(text) => parse_offset(text).ok_or_else(|| format!("invalid parse.time_zone {text:?} (use +08:00)"))?,
        };
        let time_format = match (&spec.time_key, &spec.time_format) {
            (Some(_), Some(format)) => {
                let items: Vec<Item> = StrftimeItems::new(format).collect();
                if items.iter().any(|item| matches!(item, Item::Error)) {
                    return Err(format!("invalid parse.time_format {format:?}"));
                }
                let has = |spec: &str| format.contains(spec);
                Some(TimeFormat {
                    format: format.clone(),
                    has_year: has("%Y") || has("%y") || has("%G") || has("%F") || has("%c") || has("%D") || has("%x"),
                    has_zone: has("%z") || has("%:z") || has("%#z"),
                    epoch: has("%s"),
                    zone,
                })
            }
            (None, None) => None,
            _ => return Err("parse.time_key and parse.time_format go together".into()),
        };
        Ok(Parser {
            mode,
            first_line,
            flush_ms: spec.flush_ms,
            keep_unmatched: match spec.unmatched.as_str() {
                "keep" => true,
                "drop" => false,
                other => return Err(format!("parse.unmatched must be keep or drop, not {other:?}")),
            },
            raw_key: sanitize_key(&spec.raw_key),
            time_key: spec.time_key.as_deref().map(sanitize_key),
            time_format,
        })
    }

    /// Parses one event read at `read_time` (unix seconds). `None`: unmatched and dropped.
    /// The bool says whether the event matched the parser.
    pub fn parse(&self, text: &str, read_time: u32) -> (Option<Log>, bool) {
        let mut contents = Vec::new();
        let matched = match &self.mode {
            Mode::Line => {
                contents.push(Content { key: self.raw_key.clone(), value: text.to_owned() });
                true
            }
            Mode::Regex(regex, names) => match regex.captures(text) {
                Some(captures) => {
                    for (index, name) in regex.capture_names().enumerate() {
                        if name.is_none() {
                            continue;
                        }
                        let key = &names[regex.capture_names().take(index).flatten().count()];
                        let value = captures.get(index).map_or("", |m| m.as_str());
                        contents.push(Content { key: key.clone(), value: value.to_owned() });
                    }
                    true
                }
                None => false,
            },
            Mode::Delimiter { delimiter, quote, keys } => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .delimiter(*delimiter)
                    .quoting(quote.is_some())
                    .quote(quote.unwrap_or(b'"'))
                    .flexible(true)
                    .from_reader(text.as_bytes());
                let mut record = csv::StringRecord::new();
                match reader.read_record(&mut record) {
                    Ok(true) if record.len() == keys.len() => {
                        for (key, value) in keys.iter().zip(record.iter()) {
                            contents.push(Content { key: key.clone(), value: value.to_owned() });
                        }
                        true
                    }
                    _ => false,
                }
            }
            Mode::Json => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(serde_json::Value::Object(map)) => {
                    for (key, value) in map {
                        let value = match value {
                            serde_json::Value::String(s) => s,
                            other => other.to_string(),
                        };
                        contents.push(Content { key: sanitize_key(&key), value });
                    }
                    true
                }
                _ => false,
            },
        };
        if !matched {
            if !self.keep_unmatched {
                return (None, false);
            }
            contents.clear();
            contents.push(Content { key: self.raw_key.clone(), value: text.to_owned() });
        }
        let mut time = read_time;
        let mut time_ns = None;
        if matched
            && let (Some(key), Some(format)) = (&self.time_key, &self.time_format)
            && let Some(content) = contents.iter().find(|c| &c.key == key)
            && let Some(parsed) = format.parse(&content.value, read_time)
        {
            time = parsed.timestamp().clamp(0, u32::MAX as i64) as u32;
            time_ns = Some(parsed.timestamp_subsec_nanos());
        }
        (Some(Log { time, contents, time_ns }), matched)
    }
}

fn parse_offset(text: &str) -> Option<FixedOffset> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (hours, minutes) = rest.split_once(':').unwrap_or((rest.get(..2)?, rest.get(2..).unwrap_or("0")));
    let seconds = hours.parse::<i32>().ok()? * 3600 + minutes.parse::<i32>().ok()? * 60;
    FixedOffset::east_opt(sign * seconds)
}

impl TimeFormat {
    fn parse(&self, value: &str, read_time: u32) -> Option<DateTime<FixedOffset>> {
        let value = value.trim();
        if self.epoch {
            return DateTime::parse_from_str(value, &self.format).ok().or_else(|| {
                NaiveDateTime::parse_from_str(value, &self.format).ok().map(|n| n.and_utc().fixed_offset())
            });
        }
        if self.has_zone {
            return DateTime::parse_from_str(value, &self.format).ok();
        }
        if self.has_year {
            let naive = NaiveDateTime::parse_from_str(value, &self.format)
                .ok()
                .or_else(|| NaiveDate::parse_from_str(value, &self.format).ok().and_then(|d| d.and_hms_opt(0, 0, 0)))?;
            return self.zone.from_local_datetime(&naive).single();
        }
        // No year (syslog): this year, or last year if that would put it more than a day ahead.
        let now = DateTime::from_timestamp(read_time as i64, 0)?.with_timezone(&self.zone);
        for year in [now.year(), now.year() - 1] {
            let naive =
                NaiveDateTime::parse_from_str(&format!("{year} {value}"), &format!("%Y {}", self.format)).ok()?;
            let local = self.zone.from_local_datetime(&naive).single()?;
            if local.timestamp() <= read_time as i64 + 86_400 {
                return Some(local);
            }
        }
        None
    }
}

/// An event assembled from lines, with the file offset just after its last line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub text: String,
    pub end: u64,
}

/// Joins lines into events for one file stream.
#[derive(Debug, Default)]
pub struct Assembler {
    pending: Option<(String, u64, u64)>, // text, end offset, time of the last line (ms)
}

impl Assembler {
    /// Adds one line read at `now_ms`; returns the events it completes.
    pub fn push(&mut self, first_line: Option<&Regex>, line: &[u8], end: u64, now_ms: u64, out: &mut Vec<Event>) {
        let mut text = String::from_utf8_lossy(line).into_owned();
        if text.ends_with('\r') {
            text.pop();
        }
        let Some(first_line) = first_line else {
            out.push(Event { text, end });
            return;
        };
        match &mut self.pending {
            Some((pending, pending_end, at)) if !first_line.is_match(&text) => {
                pending.push('\n');
                pending.push_str(&text);
                *pending_end = end;
                *at = now_ms;
            }
            _ => {
                if let Some((pending, pending_end, _)) = self.pending.take() {
                    out.push(Event { text: pending, end: pending_end });
                }
                self.pending = Some((text, end, now_ms));
            }
        }
    }

    /// Emits the pending event if nothing joined it for `flush_ms`, or always if `force`.
    pub fn flush(&mut self, now_ms: u64, flush_ms: u64, force: bool, out: &mut Vec<Event>) {
        if let Some((_, _, at)) = &self.pending
            && (force || now_ms.saturating_sub(*at) >= flush_ms)
        {
            let (text, end, _) = self.pending.take().expect("pending");
            out.push(Event { text, end });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(mode: &str) -> ParseSpec {
        ParseSpec { mode: mode.into(), ..ParseSpec::default() }
    }

    fn fields(log: &Log) -> Vec<(&str, &str)> {
        log.contents.iter().map(|c| (c.key.as_str(), c.value.as_str())).collect()
    }

    #[test]
    fn regex_fields_and_time_with_zone() {
        let parser = Parser::new(&ParseSpec {
            regex: Some(r#"^(?P<ip>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d+)"#.into()),
            time_key: Some("time".into()),
            time_format: Some("%d/%b/%Y:%H:%M:%S %z".into()),
            ..spec("regex")
        })
        .unwrap();
        let (log, matched) = parser.parse(r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200"#, 5);
        let log = log.unwrap();
        assert!(matched);
        assert_eq!(
            fields(&log),
            [
                ("ip", "1.2.3.4"),
                ("time", "10/Oct/2000:13:55:36 -0700"),
                ("request", "GET / HTTP/1.0"),
                ("status", "200")
            ]
        );
        assert_eq!(log.time, 971_211_336);
        // Unmatched: kept raw with the read time, or dropped.
        let (log, matched) = parser.parse("garbage", 5);
        assert!(!matched);
        assert_eq!(fields(log.as_ref().unwrap()), [("content", "garbage")]);
        assert_eq!(log.unwrap().time, 5);
        let dropping =
            Parser::new(&ParseSpec { unmatched: "drop".into(), regex: Some("(?P<a>x)".into()), ..spec("regex") });
        assert!(dropping.unwrap().parse("yyy", 5).0.is_none());
    }

    #[test]
    fn times_without_year_with_millis_and_zones() {
        let parser = |format: &str, zone: Option<&str>| {
            Parser::new(&ParseSpec {
                regex: Some("^(?P<t>.*)$".into()),
                time_key: Some("t".into()),
                time_format: Some(format.into()),
                time_zone: zone.map(str::to_owned),
                ..spec("regex")
            })
            .unwrap()
        };
        let at = |p: &Parser, text: &str, now: u32| {
            let log = p.parse(text, now).0.unwrap();
            (log.time, log.time_ns)
        };
        // 2024-06-01T00:00:00Z = 1717200000.
        assert_eq!(
            at(&parser("%Y-%m-%d %H:%M:%S%.3f", None), "2024-06-01 00:00:01.250", 0),
            (1_717_200_001, Some(250_000_000))
        );
        assert_eq!(at(&parser("%Y-%m-%d %H:%M:%S", Some("+08:00")), "2024-06-01 08:00:00", 0).0, 1_717_200_000);
        // Syslog without a year: the read time's year, or the year before for a December line read in January.
        assert_eq!(at(&parser("%b %d %H:%M:%S", None), "Jun  1 00:00:00", 1_717_300_000).0, 1_717_200_000);
        let jan_2025 = 1_735_689_600 + 3600; // 2025-01-01T01:00Z
        assert_eq!(at(&parser("%b %d %H:%M:%S", None), "Dec 31 23:00:00", jan_2025).0, 1_735_686_000);
        assert_eq!(at(&parser("%s", None), "1717200000", 0).0, 1_717_200_000);
        // A value the format does not fit: the read time.
        assert_eq!(at(&parser("%Y-%m-%d", None), "yesterday", 42), (42, None));
    }

    #[test]
    fn bad_configs_are_clear_errors() {
        let error = |s: ParseSpec| Parser::new(&s).unwrap_err();
        assert!(error(ParseSpec { regex: Some("(?P<a>[".into()), ..spec("regex") }).contains("invalid parse.regex"));
        assert!(error(ParseSpec { regex: Some("abc".into()), ..spec("regex") }).contains("named groups"));
        assert!(error(spec("xml")).contains("unknown parse.mode"));
        assert!(
            error(ParseSpec { time_key: Some("t".into()), time_format: Some("%Y-%Q".into()), ..spec("line") })
                .contains("invalid parse.time_format")
        );
        assert!(error(ParseSpec { first_line: Some("(".into()), ..spec("line") }).contains("parse.first_line"));
        assert!(error(ParseSpec { time_zone: Some("Mars".into()), ..spec("line") }).contains("time_zone"));
    }

    #[test]
    fn delimiter_and_json() {
        let csv =
            Parser::new(&ParseSpec { keys: vec!["a".into(), "b c".into(), "3".into()], ..spec("delimiter") }).unwrap();
        assert_eq!(fields(&csv.parse(r#"x,"y,z",w"#, 0).0.unwrap()), [("a", "x"), ("b_c", "y,z"), ("k3", "w")]);
        assert!(!csv.parse("only,two", 0).1);
        let json = Parser::new(&spec("json")).unwrap();
        let log = json.parse(r#"{"level":"info","n":3,"__time__":"x","a-b":{"c":1}}"#, 0).0.unwrap();
        assert_eq!(fields(&log), [("level", "info"), ("n", "3"), ("k__time__", "x"), ("a_b", r#"{"c":1}"#)]);
        assert!(!json.parse("[1,2]", 0).1);
    }

    #[test]
    fn multiline_by_first_line_with_flush_timeout() {
        let first = Regex::new(r"^\d{4}-").unwrap();
        let mut assembler = Assembler::default();
        let mut out = Vec::new();
        let lines = ["2024-01-01 ERROR boom", "java.lang.X: y", "\tat a.b(C.java:1)", "2024-01-01 INFO next"];
        let mut end = 0;
        for line in lines {
            end += line.len() as u64 + 1;
            assembler.push(Some(&first), line.as_bytes(), end, 100, &mut out);
        }
        assert_eq!(out, [Event { text: lines[..3].join("\n"), end: 55 }]);
        assembler.flush(1000, 3000, false, &mut out);
        assert_eq!(out.len(), 1);
        assembler.flush(3100, 3000, false, &mut out);
        assert_eq!(out[1], Event { text: lines[3].into(), end });
        assert!(assembler.is_empty());
    }
}
