//! The shipped file formats: one function from decoded log groups to the bytes of one object.
//!
//! Every format sees a log as its fields `__time__`, `__topic__`, `__source__`, the group's tags
//! as `__tag__:<key>` and the log's contents. JSON writes them all; CSV and Parquet write the
//! configured columns, in order.

mod csv;
mod json;
mod parquet;

use std::collections::HashMap;

use logport_core::model::TAG_PREFIX;
use logport_core::view::{self, GroupView, ViewError};

use crate::config::{Compress, ShipperConfig, Storage};

/// One encoded object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    /// Logs written.
    pub lines: u64,
}

/// Why a file could not be encoded (a bug or resource problem, not bad data: data that does not
/// fit a column becomes null).
#[derive(Debug, thiserror::Error)]
#[error("encoding {format}: {message}")]
pub struct EncodeError {
    pub format: &'static str,
    pub message: String,
}

impl From<ViewError> for EncodeError {
    fn from(error: ViewError) -> Self {
        EncodeError { format: "LogGroupList", message: error.to_string() }
    }
}

/// Encodes the logs of serialized `LogGroupList`s (PullLogs answers) in the rule's format and
/// compression.
pub fn encode(config: &ShipperConfig, lists: &[Vec<u8>]) -> Result<Encoded, EncodeError> {
    let groups = view::groups(lists)?;
    let groups = groups.as_slice();
    let snappy = config.compress == Compress::Snappy;
    let (bytes, lines) = match &config.storage {
        Storage::Json { enable_tag } => json::write(groups, *enable_tag),
        Storage::Csv(settings) => csv::write(groups, settings)?,
        Storage::Parquet { columns } => return parquet::write(groups, columns, snappy),
    };
    let bytes = if snappy { snappy_block(&bytes)? } else { bytes };
    Ok(Encoded { bytes, lines })
}

/// The raw snappy block format of the whole file (what `snappy.uncompress` reads; not framed).
pub fn snappy_block(data: &[u8]) -> Result<Vec<u8>, EncodeError> {
    snap::raw::Encoder::new()
        .compress_vec(data)
        .map_err(|error| EncodeError { format: "snappy", message: error.to_string() })
}

/// Where a configured column's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Time,
    Topic,
    Source,
    Tag(String),
    Content,
}

/// One column's value in one log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value<'g> {
    Missing,
    Text(&'g str),
    /// `__time__`: unix seconds.
    Time(u32),
}

/// Resolves configured columns against each log.
#[derive(Debug)]
struct Columns<'c> {
    sources: Vec<Field>,
    /// Content key -> its column (the first, when a key is listed twice).
    by_key: HashMap<&'c str, usize>,
}

/// Most content positions whose column is remembered between logs.
const REMEMBERED_POSITIONS: usize = 64;

impl<'c> Columns<'c> {
    fn new(names: impl Iterator<Item = &'c str>) -> Self {
        let mut sources = Vec::new();
        let mut by_key = HashMap::new();
        for (index, name) in names.enumerate() {
            let field = match name {
                "__time__" => Field::Time,
                "__topic__" => Field::Topic,
                "__source__" => Field::Source,
                _ => match name.strip_prefix(TAG_PREFIX) {
                    Some(tag) => Field::Tag(tag.to_owned()),
                    None => {
                        by_key.entry(name).or_insert(index);
                        Field::Content
                    }
                },
            };
            sources.push(field);
        }
        Self { sources, by_key }
    }

    /// Calls `row` with each log's column values, in order. A content key that occurs twice in a
    /// log gives its first value. Logs of one source usually list their keys in the same order,
    /// so the column of each content position is remembered and checked before a lookup.
    fn for_each_row<'a>(&self, groups: &[GroupView<'a>], mut row: impl FnMut(&[Value<'a>])) {
        let mut values: Vec<Value<'a>> = vec![Value::Missing; self.sources.len()];
        let mut remembered: Vec<(&'a str, Option<usize>)> = Vec::new();
        for group in groups {
            for log in &group.logs {
                for (slot, source) in values.iter_mut().zip(&self.sources) {
                    *slot = match source {
                        Field::Time => Value::Time(log.time),
                        Field::Topic => Value::Text(group.topic),
                        Field::Source => Value::Text(group.source),
                        Field::Tag(key) => group
                            .tags
                            .iter()
                            .find(|(tag, _)| tag == key)
                            .map_or(Value::Missing, |(_, value)| Value::Text(value)),
                        Field::Content => Value::Missing,
                    };
                }
                for (position, &(key, value)) in group.contents(log).iter().enumerate() {
                    let column = match remembered.get(position) {
                        Some((known, column)) if *known == key => *column,
                        _ => {
                            let column = self.by_key.get(key).copied();
                            if position < REMEMBERED_POSITIONS {
                                if position < remembered.len() {
                                    remembered[position] = (key, column);
                                } else if position == remembered.len() {
                                    remembered.push((key, column));
                                }
                            }
                            column
                        }
                    };
                    if let Some(index) = column
                        && values[index] == Value::Missing
                    {
                        values[index] = Value::Text(value);
                    }
                }
                row(&values);
            }
        }
    }
}

/// Serialized `LogGroupList`s of `groups`, as a pull returns them (tests).
#[cfg(test)]
fn lists_of(groups: &[logport_core::model::LogGroup]) -> Vec<Vec<u8>> {
    use prost::Message;
    vec![logport_core::model::LogGroupList { log_groups: groups.to_vec() }.encode_to_vec()]
}
