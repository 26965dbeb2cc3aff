//! CSV: the configured columns in order, with the configured delimiter, quote, escape, line feed
//! and null identifier, and an optional header line.

use crate::config::CsvSettings;

use super::{EncodeError, Field, Slice, Value, for_each_row};

pub(super) fn write(slices: &[Slice], settings: &CsvSettings) -> Result<(Vec<u8>, u64), EncodeError> {
    let error = |error: csv::Error| EncodeError { format: "csv", message: error.to_string() };
    let terminator = if settings.line_feed == "\r\n" { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') };
    let mut writer = csv::WriterBuilder::new()
        .delimiter(settings.delimiter)
        .quote(settings.quote)
        .escape(settings.escape)
        .double_quote(settings.escape == settings.quote)
        .terminator(terminator)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::new());
    if settings.header {
        writer.write_record(&settings.columns).map_err(error)?;
    }
    let fields: Vec<Field> = settings.columns.iter().map(|name| Field::of(name)).collect();
    let mut lines = 0u64;
    let mut failure = None;
    let mut time_text = String::new();
    for_each_row(slices, &fields, |values| {
        if failure.is_some() {
            return;
        }
        time_text.clear();
        for value in values {
            if let Value::Time(time) = value {
                time_text = time.to_string();
            }
        }
        let fields = values.iter().map(|value| match value {
            Value::Missing => settings.null_identifier.as_bytes(),
            Value::Text(text) => text.as_bytes(),
            Value::Time(_) => time_text.as_bytes(),
        });
        match writer.write_record(fields) {
            Ok(()) => lines += 1,
            Err(e) => failure = Some(e),
        }
    });
    if let Some(e) = failure {
        return Err(error(e));
    }
    let bytes = writer.into_inner().map_err(|e| EncodeError { format: "csv", message: e.to_string() })?;
    Ok((bytes, lines))
}

#[cfg(test)]
mod tests {
    use logport_core::model::{Content, Log, LogGroup};

    use super::super::slices_of;
    use super::*;

    fn csv(groups: &[LogGroup], settings: &CsvSettings) -> (Vec<u8>, u64) {
        write(&slices_of(groups, &["a", "missing"]), settings).unwrap()
    }

    fn settings(delimiter: u8, quote: u8, escape: u8, header: bool, line_feed: &str) -> CsvSettings {
        CsvSettings {
            columns: vec!["__time__".into(), "__topic__".into(), "a".into(), "missing".into()],
            delimiter,
            quote,
            escape,
            null_identifier: "NULL".into(),
            header,
            line_feed: line_feed.into(),
        }
    }

    fn group(values: &[&str]) -> LogGroup {
        LogGroup {
            logs: values
                .iter()
                .map(|value| Log {
                    time: 1_700_000_000,
                    contents: vec![Content { key: "a".into(), value: (*value).into() }],
                    time_ns: None,
                })
                .collect(),
            topic: Some("top".into()),
            ..Default::default()
        }
    }

    #[test]
    fn quotes_and_escapes_as_configured() {
        let groups = [group(&["plain", "has,comma", "has \"quote\"", "line\nbreak"])];
        let (bytes, lines) = csv(&groups, &settings(b',', b'"', b'"', true, "\n"));
        assert_eq!(lines, 4);
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "__time__,__topic__,a,missing\n\
             1700000000,top,plain,NULL\n\
             1700000000,top,\"has,comma\",NULL\n\
             1700000000,top,\"has \"\"quote\"\"\",NULL\n\
             1700000000,top,\"line\nbreak\",NULL\n"
        );
        let (bytes, _) = csv(&[group(&["it's;here", "x"])], &settings(b';', b'\'', b'\\', false, "\r\n"));
        assert_eq!(String::from_utf8(bytes).unwrap(), "1700000000;top;'it\\'s;here';NULL\r\n1700000000;top;x;NULL\r\n");
    }
}
