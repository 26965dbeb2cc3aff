//! The shipped file formats: one function from the decoded columns of a task's segments to the
//! bytes of one object.
//!
//! A task's logs arrive as [`Slice`]s: one segment's columnar index (`logport_core::columns`),
//! decoded for the keys the format needs, and the rows inside the task's position range. Every
//! format sees a log as its fields `__time__`, `__topic__`, `__source__`, the group's tags as
//! `__tag__:<key>` and the log's contents (the first value of a key a log repeats). JSON writes
//! them all; CSV and Parquet write the configured columns, in order. Reading columns instead of
//! pulled log groups spares the protobuf walk, and a dictionary column is converted once per
//! distinct value rather than once per log.

mod csv;
mod json;
mod parquet;

use std::ops::Range;

use logport_core::columns::{Column, Columns as Section, GroupInfo};
use logport_core::model::TAG_PREFIX;

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

/// The logs of one segment a task ships: its columns, the content keys decoded (in the order a
/// JSON line lists them), and the rows inside the task's range.
#[derive(Debug)]
pub struct Slice {
    pub section: Section,
    pub keys: Vec<String>,
    pub rows: Range<u32>,
}

impl Slice {
    fn group(&self, row: u32) -> &GroupInfo {
        &self.section.groups[self.section.group_of[row as usize] as usize]
    }
}

/// The content keys a rule's format reads: `None` for every key of each segment (JSON).
pub fn content_keys(config: &ShipperConfig) -> Option<Vec<String>> {
    let names: Vec<&String> = match &config.storage {
        Storage::Json { .. } => return None,
        Storage::Csv(settings) => settings.columns.iter().collect(),
        Storage::Parquet { columns } => columns.iter().map(|column| &column.name).collect(),
    };
    let mut keys: Vec<String> = Vec::new();
    for name in names {
        if !is_log_field(name) && !keys.contains(name) {
            keys.push(name.clone());
        }
    }
    Some(keys)
}

/// `__time__`, `__topic__`, `__source__` and tags: kept per log or group, not as content columns.
pub fn is_log_field(name: &str) -> bool {
    matches!(name, "__time__" | "__topic__" | "__source__") || name.starts_with(TAG_PREFIX)
}

/// Encodes the logs of `slices` in the rule's format and compression.
pub fn encode(config: &ShipperConfig, slices: &[Slice]) -> Result<Encoded, EncodeError> {
    let snappy = config.compress == Compress::Snappy;
    let (bytes, lines) = match &config.storage {
        Storage::Json { enable_tag } => json::write(slices, *enable_tag),
        Storage::Csv(settings) => csv::write(slices, settings)?,
        Storage::Parquet { columns } => return parquet::write(slices, columns, snappy),
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
    Content(String),
}

impl Field {
    fn of(name: &str) -> Self {
        match name {
            "__time__" => Field::Time,
            "__topic__" => Field::Topic,
            "__source__" => Field::Source,
            _ => match name.strip_prefix(TAG_PREFIX) {
                Some(tag) => Field::Tag(tag.to_owned()),
                None => Field::Content(name.to_owned()),
            },
        }
    }

    /// The field's value in row `row` of `slice`; `column` is the content column, resolved once
    /// per slice by [`Field::column`].
    fn value<'s>(&self, slice: &'s Slice, column: Option<&'s Column>, row: u32) -> Value<'s> {
        let text = match self {
            Field::Time => return Value::Time(slice.section.times[row as usize]),
            Field::Topic => Some(slice.group(row).topic.as_str()),
            Field::Source => Some(slice.group(row).source.as_str()),
            Field::Tag(key) => {
                slice.group(row).tags.iter().find(|(tag, _)| tag == key).map(|(_, value)| value.as_str())
            }
            Field::Content(_) => column.and_then(|column| column.get(row as usize)),
        };
        text.map_or(Value::Missing, Value::Text)
    }

    fn column<'s>(&self, slice: &'s Slice) -> Option<&'s Column> {
        match self {
            Field::Content(key) => slice.section.columns.get(key),
            _ => None,
        }
    }
}

/// One column's value in one log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value<'g> {
    Missing,
    Text(&'g str),
    /// `__time__`: unix seconds.
    Time(u32),
}

/// Calls `row` with each log's values of the configured columns `fields`, in order.
fn for_each_row<'s>(slices: &'s [Slice], fields: &[Field], mut row: impl FnMut(&[Value<'s>])) {
    let mut values: Vec<Value<'s>> = vec![Value::Missing; fields.len()];
    for slice in slices {
        let columns: Vec<Option<&Column>> = fields.iter().map(|field| field.column(slice)).collect();
        for index in slice.rows.clone() {
            for ((slot, field), column) in values.iter_mut().zip(fields).zip(&columns) {
                *slot = field.value(slice, *column, index);
            }
            row(&values);
        }
    }
}

/// The slices of `groups`, through a columnar section as ingest writes it (tests).
#[cfg(test)]
fn slices_of(groups: &[logport_core::model::LogGroup], keys: &[&str]) -> Vec<Slice> {
    let mut builder = logport_core::columns::ColumnsBuilder::default();
    groups.iter().for_each(|group| builder.add_group(group));
    let rows = builder.rows();
    let section = Section::decode(&builder.finish(), keys).unwrap().unwrap();
    vec![Slice { section, keys: keys.iter().map(|key| (*key).to_owned()).collect(), rows: 0..rows }]
}
