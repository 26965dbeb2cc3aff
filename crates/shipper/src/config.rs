//! A shipping rule: SLS's CreateShipper JSON, parsed with S3-flavoured aliases, validated once,
//! and written back in SLS's shape.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::ShipperError;
use crate::partition;

/// Shipping interval bounds and default, in seconds.
pub const MIN_INTERVAL_SECS: u32 = 300;
pub const MAX_INTERVAL_SECS: u32 = 900;
pub const DEFAULT_INTERVAL_SECS: u32 = 300;
/// Shipping size bounds and default, in MB of uncompressed data.
pub const MIN_SIZE_MB: u32 = 5;
pub const MAX_SIZE_MB: u32 = 256;
pub const DEFAULT_SIZE_MB: u32 = 256;
/// The partition format when none is given.
pub const DEFAULT_PATH_FORMAT: &str = "%Y/%m/%d/%H/%M";

/// Compression of the shipped objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compress {
    None,
    Snappy,
}

/// A Parquet column type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    String,
    Boolean,
    Int32,
    Int64,
    Float,
    Double,
}

impl ColumnType {
    fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_lowercase().as_str() {
            "string" => Self::String,
            "boolean" => Self::Boolean,
            "int32" => Self::Int32,
            "int64" => Self::Int64,
            "float" => Self::Float,
            "double" => Self::Double,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Int32 => "int32",
            Self::Int64 => "int64",
            Self::Float => "float",
            Self::Double => "double",
        }
    }
}

/// One Parquet column: a log key (or `__time__`, `__topic__`, `__source__`, `__tag__:k`) and its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: ColumnType,
}

/// The CSV dialect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvSettings {
    pub columns: Vec<String>,
    pub delimiter: u8,
    pub quote: u8,
    /// Escapes the quote inside quoted fields; equal to `quote` means doubling (`""`).
    pub escape: u8,
    /// Written for a key the log does not have.
    pub null_identifier: String,
    /// A first line with the column names.
    pub header: bool,
    /// `\n` or `\r\n`.
    pub line_feed: String,
}

/// The stored format and its settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "lowercase")]
pub enum Storage {
    Json { enable_tag: bool },
    Csv(CsvSettings),
    Parquet { columns: Vec<Column> },
}

impl Storage {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Json { .. } => "json",
            Self::Csv(_) => "csv",
            Self::Parquet { .. } => "parquet",
        }
    }
}

/// A validated shipping rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipperConfig {
    pub name: String,
    /// `oss` or `s3` (the same thing in Logport), echoed back as given.
    pub target_type: String,
    pub bucket: String,
    /// Empty, or `/`-separated key segments without a leading or trailing `/`.
    pub prefix: String,
    /// Who writes to the bucket: passed to the bucket resolver (empty: the service's own rights).
    pub role_arn: String,
    pub buffer_interval: u32,
    pub buffer_size_mb: u32,
    pub compress: Compress,
    pub path_format: String,
    pub storage: Storage,
}

impl ShipperConfig {
    /// The uncompressed bytes that close a window.
    pub fn buffer_size_bytes(&self) -> u64 {
        u64::from(self.buffer_size_mb) << 20
    }

    /// The suffix of shipped objects: by format and compression.
    pub fn suffix(&self) -> &'static str {
        match (&self.storage, self.compress) {
            (Storage::Json { .. }, Compress::None) => "",
            (Storage::Json { .. }, Compress::Snappy) => ".snappy",
            (Storage::Csv(_), Compress::None) => ".csv",
            (Storage::Csv(_), Compress::Snappy) => ".snappy.csv",
            (Storage::Parquet { .. }, Compress::None) => ".parquet",
            (Storage::Parquet { .. }, Compress::Snappy) => ".snappy.parquet",
        }
    }

    /// Parses and validates a CreateShipper / UpdateShipper body. `name` is the name from the
    /// path (update), which the body must match when it names one.
    pub fn from_json(body: &Value, name: Option<&str>) -> Result<Self, ShipperError> {
        let body = body.as_object().ok_or_else(|| invalid("the body must be a JSON object"))?;
        let given = string_field(body, &["shipperName", "name"])?;
        let name = match (name, given) {
            (Some(path), Some(body)) if path != body => {
                return Err(invalid(format!("shipperName '{body}' does not match the path's '{path}'")));
            }
            (Some(path), _) => path.to_owned(),
            (None, Some(body)) => body,
            (None, None) => return Err(invalid("shipperName is required")),
        };
        validate_name(&name)?;
        let target_type = string_field(body, &["targetType"])?.unwrap_or_else(|| "oss".into());
        if target_type != "oss" && target_type != "s3" {
            return Err(invalid(format!("targetType must be 'oss' or 's3', not '{target_type}'")));
        }
        let target = match body.get("targetConfiguration") {
            Some(Value::Object(target)) => target,
            Some(Value::String(text)) => &serde_json::from_str::<Map<String, Value>>(text)
                .map_err(|error| invalid(format!("targetConfiguration is not a JSON object: {error}")))?,
            Some(_) => return Err(invalid("targetConfiguration must be a JSON object")),
            None => return Err(invalid("targetConfiguration is required")),
        };
        let bucket = string_field(target, &["ossBucket", "bucket"])?.ok_or_else(|| invalid("ossBucket is required"))?;
        validate_bucket(&bucket)?;
        let prefix = string_field(target, &["ossPrefix", "prefix"])?.unwrap_or_default();
        let prefix = validate_prefix(&prefix)?;
        let role_arn = string_field(target, &["roleArn", "role"])?.unwrap_or_default();
        let buffer_interval = number_field(target, "bufferInterval")?.unwrap_or(u64::from(DEFAULT_INTERVAL_SECS));
        if !(u64::from(MIN_INTERVAL_SECS)..=u64::from(MAX_INTERVAL_SECS)).contains(&buffer_interval) {
            return Err(invalid(format!(
                "bufferInterval must be {MIN_INTERVAL_SECS}-{MAX_INTERVAL_SECS} seconds, not {buffer_interval}"
            )));
        }
        let buffer_size = number_field(target, "bufferSize")?.unwrap_or(u64::from(DEFAULT_SIZE_MB));
        if !(u64::from(MIN_SIZE_MB)..=u64::from(MAX_SIZE_MB)).contains(&buffer_size) {
            return Err(invalid(format!("bufferSize must be {MIN_SIZE_MB}-{MAX_SIZE_MB} MB, not {buffer_size}")));
        }
        let compress = match string_field(target, &["compressType", "compression"])?.as_deref() {
            None | Some("snappy") => Compress::Snappy,
            Some("none" | "") => Compress::None,
            Some(other) => return Err(invalid(format!("compressType must be 'none' or 'snappy', not '{other}'"))),
        };
        let path_format = string_field(target, &["pathFormat"])?.unwrap_or_else(|| DEFAULT_PATH_FORMAT.into());
        partition::validate(&path_format)?;
        let storage = match target.get("storage") {
            None | Some(Value::Null) => Storage::Json { enable_tag: false },
            Some(Value::Object(storage)) => parse_storage(storage)?,
            Some(_) => return Err(invalid("storage must be a JSON object {format, detail}")),
        };
        Ok(Self {
            name,
            target_type,
            bucket,
            prefix,
            role_arn,
            buffer_interval: buffer_interval as u32,
            buffer_size_mb: buffer_size as u32,
            compress,
            path_format,
            storage,
        })
    }

    /// The rule in SLS's shape (GetShipper's `targetType` and `targetConfiguration`).
    pub fn to_json(&self) -> Value {
        let detail = match &self.storage {
            Storage::Json { enable_tag } => json!({"enableTag": enable_tag}),
            Storage::Csv(csv) => json!({
                "columns": csv.columns,
                "delimiter": char::from(csv.delimiter).to_string(),
                "quote": char::from(csv.quote).to_string(),
                "escape": char::from(csv.escape).to_string(),
                "nullIdentifier": csv.null_identifier,
                "header": csv.header,
                "lineFeed": csv.line_feed,
            }),
            Storage::Parquet { columns } => json!({
                "columns": columns.iter().map(|c| json!({"name": c.name, "type": c.column_type.name()})).collect::<Vec<_>>(),
            }),
        };
        json!({
            "shipperName": self.name,
            "targetType": self.target_type,
            "targetConfiguration": {
                "ossBucket": self.bucket,
                "ossPrefix": self.prefix,
                "roleArn": self.role_arn,
                "bufferInterval": self.buffer_interval,
                "bufferSize": self.buffer_size_mb,
                "compressType": match self.compress { Compress::None => "none", Compress::Snappy => "snappy" },
                "pathFormat": self.path_format,
                "storage": {"format": self.storage.name(), "detail": detail},
            },
        })
    }
}

fn invalid(message: impl Into<String>) -> ShipperError {
    ShipperError::InvalidConfig(message.into())
}

/// The first of `names` present: a string (`null` counts as absent).
fn string_field(object: &Map<String, Value>, names: &[&str]) -> Result<Option<String>, ShipperError> {
    for name in names {
        match object.get(*name) {
            None | Some(Value::Null) => continue,
            Some(Value::String(text)) => return Ok(Some(text.clone())),
            Some(_) => return Err(invalid(format!("{name} must be a string"))),
        }
    }
    Ok(None)
}

/// A non-negative integer, given as a number or a decimal string.
fn number_field(object: &Map<String, Value>, name: &str) -> Result<Option<u64>, ShipperError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => {
            number.as_u64().map(Some).ok_or_else(|| invalid(format!("{name} must be a non-negative integer")))
        }
        Some(Value::String(text)) => {
            text.trim().parse().map(Some).map_err(|_| invalid(format!("{name} must be an integer, not '{text}'")))
        }
        Some(_) => Err(invalid(format!("{name} must be an integer"))),
    }
}

fn bool_field(object: &Map<String, Value>, name: &str) -> Result<bool, ShipperError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(value)) => Ok(*value),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(invalid(format!("{name} must be true or false"))),
    }
}

/// One ASCII character (`default` when absent).
fn char_field(object: &Map<String, Value>, name: &str, default: u8) -> Result<u8, ShipperError> {
    match string_field(object, &[name])? {
        None => Ok(default),
        Some(text) if text.len() == 1 && text.is_ascii() && text != "\n" && text != "\r" => Ok(text.as_bytes()[0]),
        Some(text) => Err(invalid(format!("{name} must be one ASCII character other than a line break, not {text:?}"))),
    }
}

fn parse_storage(storage: &Map<String, Value>) -> Result<Storage, ShipperError> {
    let format = string_field(storage, &["format"])?.unwrap_or_else(|| "json".into());
    let empty = Map::new();
    let detail = match storage.get("detail") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(detail)) => detail,
        Some(_) => return Err(invalid("storage.detail must be a JSON object")),
    };
    match format.as_str() {
        "json" => Ok(Storage::Json { enable_tag: bool_field(detail, "enableTag")? }),
        "csv" => {
            let columns = match detail.get("columns") {
                Some(Value::Array(columns)) => columns
                    .iter()
                    .map(|column| match column {
                        Value::String(name) => validate_column_name(name).map(|()| name.clone()),
                        _ => Err(invalid("csv columns must be key names (strings)")),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                _ => return Err(invalid("csv storage needs detail.columns: the ordered list of keys")),
            };
            if columns.is_empty() {
                return Err(invalid("csv storage needs at least one column"));
            }
            let quote = char_field(detail, "quote", b'"')?;
            let delimiter = char_field(detail, "delimiter", b',')?;
            if quote == delimiter {
                return Err(invalid("the csv quote and delimiter must differ"));
            }
            let escape = char_field(detail, "escape", quote)?;
            let line_feed = string_field(detail, &["lineFeed"])?.unwrap_or_else(|| "\n".into());
            if line_feed != "\n" && line_feed != "\r\n" {
                return Err(invalid(format!("lineFeed must be \"\\n\" or \"\\r\\n\", not {line_feed:?}")));
            }
            let null_identifier = string_field(detail, &["nullIdentifier"])?.unwrap_or_default();
            Ok(Storage::Csv(CsvSettings {
                columns,
                delimiter,
                quote,
                escape,
                null_identifier,
                header: bool_field(detail, "header")?,
                line_feed,
            }))
        }
        "parquet" => {
            let Some(Value::Array(items)) = detail.get("columns") else {
                return Err(invalid("parquet storage needs detail.columns: [{name, type}, ...]"));
            };
            let mut columns: Vec<Column> = Vec::with_capacity(items.len());
            for item in items {
                let name = item.get("name").and_then(Value::as_str);
                let kind = item.get("type").and_then(Value::as_str);
                let (Some(name), Some(kind)) = (name, kind) else {
                    return Err(invalid("each parquet column is {\"name\": key, \"type\": type}"));
                };
                validate_column_name(name)?;
                let column_type = ColumnType::parse(kind).ok_or_else(|| {
                    invalid(format!(
                        "parquet column '{name}': type must be string, boolean, int32, int64, float or double, not '{kind}'"
                    ))
                })?;
                if columns.iter().any(|column| column.name == name) {
                    return Err(invalid(format!("parquet column '{name}' is listed twice")));
                }
                columns.push(Column { name: name.to_owned(), column_type });
            }
            if columns.is_empty() {
                return Err(invalid("parquet storage needs at least one column"));
            }
            Ok(Storage::Parquet { columns })
        }
        other => Err(invalid(format!("storage.format must be json, csv or parquet, not '{other}'"))),
    }
}

fn validate_column_name(name: &str) -> Result<(), ShipperError> {
    if name.is_empty() || name.len() > 128 {
        return Err(invalid(format!("column '{name}' must be 1-128 bytes")));
    }
    Ok(())
}

/// 3-63 of lowercase letters, digits, `-` and `_`, starting and ending with a letter or digit.
pub fn validate_name(name: &str) -> Result<(), ShipperError> {
    let bytes = name.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_';
    let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !(3..=63).contains(&bytes.len()) || !bytes.iter().all(allowed) || !edge(bytes.first()) || !edge(bytes.last()) {
        return Err(invalid(format!(
            "shipper name '{name}' must be 3-63 lowercase letters, digits, '-' or '_', starting and ending with a letter or digit"
        )));
    }
    Ok(())
}

/// S3's bucket naming rules: 3-63 of lowercase letters, digits, `.` and `-`, starting and ending
/// with a letter or digit, no `..`.
pub fn validate_bucket(bucket: &str) -> Result<(), ShipperError> {
    let bytes = bucket.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'.';
    let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !(3..=63).contains(&bytes.len())
        || !bytes.iter().all(allowed)
        || !edge(bytes.first())
        || !edge(bytes.last())
        || bucket.contains("..")
    {
        return Err(invalid(format!(
            "bucket '{bucket}' must be 3-63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit"
        )));
    }
    Ok(())
}

/// A prefix of object-key segments; one trailing `/` is dropped.
fn validate_prefix(prefix: &str) -> Result<String, ShipperError> {
    let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    logport_core::store::validate_key(trimmed).map_err(|_| {
        invalid(format!(
            "ossPrefix '{prefix}' must be '/'-separated segments of letters, digits, '.', '_', '=' and '-' (no leading '/')"
        ))
    })?;
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(target: Value) -> Result<ShipperConfig, ShipperError> {
        ShipperConfig::from_json(
            &json!({"shipperName": "ship-1", "targetType": "oss", "targetConfiguration": target}),
            None,
        )
    }

    #[test]
    fn defaults_and_aliases() {
        let config = parse(json!({"bucket": "my-bucket", "prefix": "logs/web/"})).unwrap();
        assert_eq!(config.bucket, "my-bucket");
        assert_eq!(config.prefix, "logs/web");
        assert_eq!(config.buffer_interval, 300);
        assert_eq!(config.buffer_size_mb, 256);
        assert_eq!(config.compress, Compress::Snappy);
        assert_eq!(config.path_format, "%Y/%m/%d/%H/%M");
        assert_eq!(config.storage, Storage::Json { enable_tag: false });
        assert_eq!(config.suffix(), ".snappy");
        let round = ShipperConfig::from_json(&config.to_json(), Some("ship-1")).unwrap();
        assert_eq!(round, config);
    }

    #[test]
    fn csv_and_parquet_settings() {
        let csv = parse(json!({"ossBucket": "b12", "compressType": "none", "storage": {"format": "csv", "detail": {
            "columns": ["__time__", "status", "url"], "delimiter": ";", "quote": "'", "nullIdentifier": "-",
            "header": true, "lineFeed": "\r\n"}}}))
        .unwrap();
        let Storage::Csv(settings) = &csv.storage else { panic!("csv") };
        assert_eq!((settings.delimiter, settings.quote, settings.escape), (b';', b'\'', b'\''));
        assert_eq!(csv.suffix(), ".csv");
        let parquet = parse(json!({"ossBucket": "b12", "storage": {"format": "parquet", "detail": {
            "columns": [{"name": "status", "type": "int64"}, {"name": "ok", "type": "BOOLEAN"}]}}}))
        .unwrap();
        assert_eq!(parquet.suffix(), ".snappy.parquet");
        assert_eq!(ShipperConfig::from_json(&parquet.to_json(), None).unwrap(), parquet);
    }

    #[test]
    fn out_of_range_settings_are_refused_clearly() {
        let cases = [
            json!({"ossBucket": "b12", "bufferInterval": 299}),
            json!({"ossBucket": "b12", "bufferInterval": 901}),
            json!({"ossBucket": "b12", "bufferSize": 4}),
            json!({"ossBucket": "b12", "bufferSize": 257}),
            json!({"ossBucket": "b12", "compressType": "gzip"}),
            json!({"ossBucket": "B_ad"}),
            json!({"ossBucket": "ab"}),
            json!({"prefix": "x"}),
            json!({"ossBucket": "b12", "ossPrefix": "/abs"}),
            json!({"ossBucket": "b12", "pathFormat": "/%Y"}),
            json!({"ossBucket": "b12", "pathFormat": "%Y/"}),
            json!({"ossBucket": "b12", "pathFormat": "%Q"}),
            json!({"ossBucket": "b12", "storage": {"format": "orc"}}),
            json!({"ossBucket": "b12", "storage": {"format": "csv", "detail": {"columns": []}}}),
            json!({"ossBucket": "b12", "storage": {"format": "csv", "detail": {"columns": ["a"], "delimiter": ",,"}}}),
            json!({"ossBucket": "b12", "storage": {"format": "parquet", "detail": {"columns": [{"name": "a", "type": "date"}]}}}),
        ];
        for case in cases {
            let error = parse(case.clone()).unwrap_err();
            assert!(matches!(error, ShipperError::InvalidConfig(_)), "{case}: {error:?}");
        }
        for name in ["ab", "-abc", "abc_", "Abc", "a.bc", &"a".repeat(64)] {
            assert!(validate_name(name).is_err(), "{name}");
        }
        for name in ["abc", "a-b_c", "0ship9"] {
            validate_name(name).unwrap();
        }
        let mismatch = ShipperConfig::from_json(
            &json!({"shipperName": "abc", "targetConfiguration": {"ossBucket": "b12"}}),
            Some("xyz"),
        );
        assert!(mismatch.is_err());
    }
}
