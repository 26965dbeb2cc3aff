//! Partition paths: a strftime format (UTC) of the task's creation time, e.g. `%Y/%m/%d/%H/%M`
//! or Hive-style `year=%Y/mon=%m/day=%d`.

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Utc};

use crate::ShipperError;

/// Checks a partition format: valid strftime, no leading or trailing `/`, and every formatted
/// path a valid object-key path.
pub fn validate(format: &str) -> Result<(), ShipperError> {
    let invalid = |why: &str| ShipperError::InvalidConfig(format!("pathFormat '{format}': {why}"));
    if format.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if format.starts_with('/') || format.ends_with('/') {
        return Err(invalid("must not start or end with '/'"));
    }
    if StrftimeItems::new(format).any(|item| matches!(item, Item::Error)) {
        return Err(invalid("is not a valid strftime format"));
    }
    // Two far-apart times exercise every specifier's output characters.
    for time in [0, 1_763_805_967] {
        let path = render(format, time).ok_or_else(|| invalid("cannot be formatted"))?;
        logport_core::store::validate_key(&path).map_err(|_| {
            invalid("must give '/'-separated segments of letters, digits, '.', '_', '=' and '-' (no spaces or empty segments)")
        })?;
    }
    Ok(())
}

/// The partition path of a unix time, or `None` for a bad format or time.
pub fn render(format: &str, unix_seconds: i64) -> Option<String> {
    let time: DateTime<Utc> = DateTime::from_timestamp(unix_seconds, 0)?;
    let mut out = String::new();
    use std::fmt::Write;
    write!(out, "{}", time.format_with_items(StrftimeItems::new(format))).ok()?;
    Some(out)
}

/// The object key of a task: `{prefix}/{partition}_{task id}{suffix}`.
pub fn object_key(prefix: &str, format: &str, created: i64, task_id: &str, suffix: &str) -> Option<String> {
    let partition = render(format, created)?;
    Some(if prefix.is_empty() {
        format!("{partition}_{task_id}{suffix}")
    } else {
        format!("{prefix}/{partition}_{task_id}{suffix}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2016-01-26 20:54:53 UTC
    const T: i64 = 1_453_841_693;

    #[test]
    fn formats_the_seed_examples() {
        assert_eq!(render("%Y/%m/%d/%H/%M", T).unwrap(), "2016/01/26/20/54");
        assert_eq!(
            render("year=%Y/mon=%m/day=%d/log_%H%M%s", T).unwrap(),
            "year=2016/mon=01/day=26/log_20541453841693"
        );
        assert_eq!(render("ds=%Y%m%d/%H", T).unwrap(), "ds=20160126/20");
        assert_eq!(render("%Y%m%d%H", T).unwrap(), "2016012620");
        for format in ["%Y/%m/%d/%H/%M", "year=%Y/mon=%m/day=%d/log_%H%M%s", "ds=%Y%m%d/%H", "%Y%m%d%H"] {
            validate(format).unwrap();
        }
        // The seed's `%Y%m%d/` ends with '/', which the rule forbids: refused with a clear message.
        let error = validate("%Y%m%d/").unwrap_err().to_string();
        assert!(error.contains("must not start or end with '/'"), "{error}");
    }

    #[test]
    fn object_keys() {
        assert_eq!(
            object_key("shipped/web", "%Y/%m/%d/%H/%M", T, "1453841693-000-ab12cd34", ".snappy.parquet").unwrap(),
            "shipped/web/2016/01/26/20/54_1453841693-000-ab12cd34.snappy.parquet"
        );
        assert_eq!(object_key("", "ds=%Y%m%d", T, "id", "").unwrap(), "ds=20160126_id");
    }

    #[test]
    fn refuses_bad_formats() {
        for bad in ["", "/%Y", "%Y/", "%Y//%m", "%Q", "%Y %m", "%c"] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }
}
