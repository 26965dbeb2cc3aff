//! Parquet: one column per configured key with its type; a value that does not convert, or a
//! missing key, is null. Snappy, when chosen, is the page codec. Built a column at a time, one
//! record batch per segment: a dictionary column's distinct values are converted once and picked
//! by code (arrow's `take`).

use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float32Builder, Float64Builder, Int32Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch, UInt16Array};
use arrow_schema::{DataType, Field, Schema};
use arrow_select::take::take;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::{EncodeError, Encoded, Field as Source, Slice, Value};
use crate::config::{Column, ColumnType};

enum Builder {
    String(StringBuilder),
    Boolean(BooleanBuilder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float(Float32Builder),
    Double(Float64Builder),
}

impl Builder {
    fn new(column_type: ColumnType, rows: usize) -> Self {
        match column_type {
            ColumnType::String => Self::String(StringBuilder::with_capacity(rows, rows * 16)),
            ColumnType::Boolean => Self::Boolean(BooleanBuilder::with_capacity(rows)),
            ColumnType::Int32 => Self::Int32(Int32Builder::with_capacity(rows)),
            ColumnType::Int64 => Self::Int64(Int64Builder::with_capacity(rows)),
            ColumnType::Float => Self::Float(Float32Builder::with_capacity(rows)),
            ColumnType::Double => Self::Double(Float64Builder::with_capacity(rows)),
        }
    }

    fn append(&mut self, value: Value<'_>) {
        match (self, value) {
            (Self::String(b), Value::Text(text)) => b.append_value(text),
            (Self::String(b), Value::Time(time)) => b.append_value(time.to_string()),
            (Self::String(b), Value::Missing) => b.append_null(),
            (Self::Boolean(b), value) => b.append_option(text_of(value).and_then(parse_bool)),
            (Self::Int32(b), Value::Time(time)) => b.append_option(i32::try_from(time).ok()),
            (Self::Int32(b), value) => b.append_option(text_of(value).and_then(|t| t.trim().parse().ok())),
            (Self::Int64(b), Value::Time(time)) => b.append_value(i64::from(time)),
            (Self::Int64(b), value) => b.append_option(text_of(value).and_then(|t| t.trim().parse().ok())),
            (Self::Float(b), Value::Time(time)) => b.append_value(time as f32),
            (Self::Float(b), value) => b.append_option(text_of(value).and_then(|t| t.trim().parse().ok())),
            (Self::Double(b), Value::Time(time)) => b.append_value(f64::from(time)),
            (Self::Double(b), value) => b.append_option(text_of(value).and_then(|t| t.trim().parse().ok())),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::String(b) => Arc::new(b.finish()),
            Self::Boolean(b) => Arc::new(b.finish()),
            Self::Int32(b) => Arc::new(b.finish()),
            Self::Int64(b) => Arc::new(b.finish()),
            Self::Float(b) => Arc::new(b.finish()),
            Self::Double(b) => Arc::new(b.finish()),
        }
    }
}

fn text_of(value: Value<'_>) -> Option<&str> {
    match value {
        Value::Text(text) => Some(text),
        _ => None,
    }
}

/// `true`/`false` in any case, or `1`/`0`.
fn parse_bool(text: &str) -> Option<bool> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("true") || text == "1" {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") || text == "0" {
        Some(false)
    } else {
        None
    }
}

fn data_type(column_type: ColumnType) -> DataType {
    match column_type {
        ColumnType::String => DataType::Utf8,
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Int32 => DataType::Int32,
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Float => DataType::Float32,
        ColumnType::Double => DataType::Float64,
    }
}

/// One configured column of one slice's rows.
fn array(column_type: ColumnType, source: &Source, slice: &Slice) -> ArrayRef {
    let rows = slice.rows.clone();
    let column = source.column(slice);
    if let Some(logport_core::columns::Column::Dict { values, codes }) = column {
        // Code 0 (no value) is the table's first entry, a null.
        let mut table = Builder::new(column_type, values.len() + 1);
        table.append(Value::Missing);
        values.iter().for_each(|value| table.append(Value::Text(value)));
        let indices = UInt16Array::from(codes[rows.start as usize..rows.end as usize].to_vec());
        return take(&table.finish(), &indices, None).expect("codes are checked on decode");
    }
    let mut builder = Builder::new(column_type, rows.len());
    for row in rows {
        builder.append(source.value(slice, column, row));
    }
    builder.finish()
}

pub(super) fn write(slices: &[Slice], columns: &[Column], snappy: bool) -> Result<Encoded, EncodeError> {
    let error = |message: String| EncodeError { format: "parquet", message };
    let schema = Arc::new(Schema::new(
        columns.iter().map(|c| Field::new(&c.name, data_type(c.column_type), true)).collect::<Vec<_>>(),
    ));
    let properties = WriterProperties::builder()
        .set_compression(if snappy { Compression::SNAPPY } else { Compression::UNCOMPRESSED })
        .set_max_row_group_row_count(Some(1 << 20))
        .set_created_by(format!("logport-shipper {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut writer =
        ArrowWriter::try_new(Vec::new(), schema.clone(), Some(properties)).map_err(|e| error(e.to_string()))?;
    let sources: Vec<Source> = columns.iter().map(|c| Source::of(&c.name)).collect();
    let mut lines = 0u64;
    for slice in slices.iter().filter(|slice| !slice.rows.is_empty()) {
        let arrays: Vec<ArrayRef> =
            columns.iter().zip(&sources).map(|(column, source)| array(column.column_type, source, slice)).collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| error(e.to_string()))?;
        writer.write(&batch).map_err(|e| error(e.to_string()))?;
        lines += slice.rows.len() as u64;
    }
    let bytes = writer.into_inner().map_err(|e| error(e.to_string()))?;
    Ok(Encoded { bytes, lines })
}

#[cfg(test)]
mod tests {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int32Type, Int64Type};
    use bytes::Bytes;
    use logport_core::model::{Content, Log, LogGroup};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;

    fn log(pairs: &[(&str, &str)]) -> Log {
        Log {
            time: 1_700_000_001,
            contents: pairs.iter().map(|(k, v)| Content { key: (*k).into(), value: (*v).into() }).collect(),
            time_ns: None,
        }
    }

    #[test]
    fn converts_or_nulls_each_value() {
        let group = LogGroup {
            logs: vec![
                log(&[("status", "200"), ("ok", "true"), ("rt", "0.25"), ("small", "7")]),
                log(&[("status", "abc"), ("ok", "maybe"), ("rt", ""), ("small", "99999999999")]),
                log(&[]),
            ],
            topic: Some("t".into()),
            ..Default::default()
        };
        let columns = vec![
            Column { name: "__time__".into(), column_type: ColumnType::Int64 },
            Column { name: "status".into(), column_type: ColumnType::Int64 },
            Column { name: "ok".into(), column_type: ColumnType::Boolean },
            Column { name: "rt".into(), column_type: ColumnType::Double },
            Column { name: "small".into(), column_type: ColumnType::Int32 },
            Column { name: "__topic__".into(), column_type: ColumnType::String },
            Column { name: "absent".into(), column_type: ColumnType::String },
        ];
        let slices = super::super::slices_of(&[group], &["status", "ok", "rt", "small", "absent"]);
        let encoded = write(&slices, &columns, true).unwrap();
        assert_eq!(encoded.lines, 3);
        let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(encoded.bytes)).unwrap();
        let codec = reader.metadata().row_group(0).column(1).compression();
        assert_eq!(codec, Compression::SNAPPY);
        let batches: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
        let batch = &batches[0];
        assert_eq!(batch.num_rows(), 3);
        assert_eq!(batch.column(0).as_primitive::<Int64Type>().value(0), 1_700_000_001);
        let status = batch.column(1).as_primitive::<Int64Type>();
        assert_eq!((status.value(0), status.is_null(1), status.is_null(2)), (200, true, true));
        let ok = batch.column(2).as_boolean();
        assert_eq!((ok.value(0), ok.is_null(1)), (true, true));
        let rt = batch.column(3).as_primitive::<Float64Type>();
        assert_eq!((rt.value(0), rt.is_null(1)), (0.25, true));
        let small = batch.column(4).as_primitive::<Int32Type>();
        assert_eq!((small.value(0), small.is_null(1)), (7, true), "out of int32 range is null");
        assert_eq!(batch.column(5).as_string::<i32>().value(2), "t");
        assert_eq!(batch.column(6).null_count(), 3);
    }
}
