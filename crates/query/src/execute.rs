//! The three query calls: GetLogs (search, or search | SQL), histograms and context.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use logport_core::engine::Engine;
use logport_core::model::LogGroup;
use serde_json::{Map, Value};

use crate::columnar::scan_columns;
use crate::error::{QueryError, Result};
use crate::rows::{HitKey, LogAddress, row};
use crate::scan::Selection;
use crate::search::parse;
use crate::sql::ScanCounters;
use crate::sql::{LogTable, TABLE, prepare};

/// The most rows a search without SQL returns per call (SLS's limit).
pub const MAX_LINE: usize = 100;
/// The furthest a search without SQL may page.
pub const MAX_OFFSET: usize = 1_000_000;
/// Rows an SQL statement returns when it has no LIMIT (SLS's default).
pub const DEFAULT_SQL_ROWS: usize = 100;

/// GetLogs parameters (sls-api.md §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetLogsRequest {
    pub from: i64,
    pub to: i64,
    pub query: String,
    pub line: usize,
    pub offset: usize,
    pub reverse: bool,
    pub topic: Option<String>,
}

/// GetLogs `meta`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub progress: &'static str,
    pub count: usize,
    pub processed_rows: u64,
    pub elapsed_millisecond: u64,
    #[serde(rename = "hasSQL")]
    pub has_sql: bool,
    pub where_query: String,
    pub agg_query: String,
    pub keys: Vec<String>,
    pub is_accurate: bool,
    /// Logs the search matched (before paging; for SQL, before aggregation).
    pub total_hits: u64,
}

/// GetLogs answer.
#[derive(Debug, Clone, PartialEq)]
pub struct GetLogsResponse {
    pub meta: Meta,
    pub data: Vec<Map<String, Value>>,
}

/// Splits `search | sql` at the first bar outside quotes.
pub fn split_query(query: &str) -> (&str, Option<&str>) {
    let mut quoted = false;
    let mut escaped = false;
    for (index, c) in query.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            '|' if !quoted => return (query[..index].trim(), Some(query[index + 1..].trim())),
            _ => {}
        }
    }
    (query.trim(), None)
}

fn check_range(from: i64, to: i64) -> Result<()> {
    if from > to {
        return Err(QueryError::Parameter(format!("from ({from}) must not be after to ({to})")));
    }
    Ok(())
}

/// How a query may be run (the answer does not depend on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryOptions {
    /// Push partial aggregation into the scan ([`crate::preaggregate`]).
    pub pre_aggregate: bool,
}

impl Default for QueryOptions {
    fn default() -> Self {
        Self { pre_aggregate: true }
    }
}

/// GetLogs: a page of matching logs, or the rows of the SQL after the bar.
pub async fn get_logs(
    engine: &Arc<Engine>,
    project: &str,
    logstore: &str,
    request: &GetLogsRequest,
) -> Result<GetLogsResponse> {
    get_logs_with(engine, project, logstore, request, QueryOptions::default()).await
}

/// [`get_logs`] with explicit [`QueryOptions`].
pub async fn get_logs_with(
    engine: &Arc<Engine>,
    project: &str,
    logstore: &str,
    request: &GetLogsRequest,
    options: QueryOptions,
) -> Result<GetLogsResponse> {
    let started = Instant::now();
    check_range(request.from, request.to)?;
    let (search, sql) = split_query(&request.query);
    let expr = parse(search)?;
    let prepared = sql.map(prepare).transpose()?;
    if prepared.is_none() && request.line > MAX_LINE {
        return Err(QueryError::Parameter(format!("line must be 0-{MAX_LINE}, not {}", request.line)));
    }
    if request.offset > MAX_OFFSET {
        return Err(QueryError::Parameter(format!("offset must be 0-{MAX_OFFSET}, not {}", request.offset)));
    }
    let (_, segments) = engine.segments_between(project, logstore, request.from, request.to).await?;
    let selection = Arc::new(Selection::new(request.from, request.to, request.topic.clone(), expr));
    let mut meta = Meta {
        progress: "Complete",
        count: 0,
        processed_rows: 0,
        elapsed_millisecond: 0,
        has_sql: prepared.is_some(),
        where_query: search.to_owned(),
        agg_query: sql.unwrap_or_default().to_owned(),
        keys: Vec::new(),
        is_accurate: true,
        total_hits: 0,
    };
    let data = match prepared {
        None => {
            let keep = request.offset + request.line;
            let reverse = request.reverse;
            let order = move |a: &HitKey, b: &HitKey| if reverse { b.cmp(a) } else { a.cmp(b) };
            // First the hits' times and places (from the columns), then the rows of the page only.
            let per_segment = scan_columns(engine, segments, selection, &[], &[], move |hits| {
                let segment = &hits.segment;
                let columns = &hits.columns;
                let mut keys: Vec<(HitKey, usize)> = hits
                    .hits
                    .iter()
                    .map(|row| {
                        let row = *row as usize;
                        let group = columns.group_of[row] as usize;
                        let address = LogAddress {
                            shard: segment.shard,
                            position: segment.record.position + group as u64,
                            index: row - columns.groups[group].first_row as usize,
                        };
                        ((columns.times[row], address), group)
                    })
                    .collect();
                keys.sort_unstable_by(|a, b| order(&a.0, &b.0));
                keys.truncate(keep);
                (hits.processed, hits.hits.len() as u64, segment.clone(), keys)
            })
            .await?;
            let mut page: Vec<(HitKey, usize, usize)> = Vec::new();
            let mut segments = Vec::new();
            for (processed, hit_count, segment, keys) in per_segment {
                meta.processed_rows += processed;
                meta.total_hits += hit_count;
                page.extend(keys.into_iter().map(|(key, group)| (key, group, segments.len())));
                segments.push(segment);
            }
            page.sort_unstable_by(|a, b| order(&a.0, &b.0));
            let page: Vec<_> = page.into_iter().skip(request.offset).take(request.line).collect();
            let mut groups: HashMap<usize, Vec<LogGroup>> = HashMap::new();
            for (_, _, segment) in &page {
                if !groups.contains_key(segment) {
                    groups.insert(*segment, engine.read_groups(&segments[*segment]).await?);
                }
            }
            page.iter()
                .map(|((_, address), group, segment)| row(&groups[segment][*group], address.index, *address))
                .collect()
        }
        Some(prepared) => {
            let counters = Arc::new(ScanCounters::default());
            let frame = sql_frame(engine.clone(), segments, selection, counters.clone(), &prepared, options).await?;
            let (keys, rows) = run_sql(frame).await?;
            meta.processed_rows = counters.processed.load(Ordering::Relaxed);
            meta.total_hits = counters.hits.load(Ordering::Relaxed);
            meta.keys = keys;
            rows
        }
    };
    meta.count = data.len();
    meta.elapsed_millisecond = started.elapsed().as_millis() as u64;
    Ok(GetLogsResponse { meta, data })
}

/// The DataFrame of a statement over the selected logs.
async fn sql_frame(
    engine: Arc<Engine>,
    segments: Vec<logport_core::engine::scan::SegmentRef>,
    selection: Arc<Selection>,
    counters: Arc<ScanCounters>,
    prepared: &crate::sql::Prepared,
    options: QueryOptions,
) -> Result<DataFrame> {
    let mut config = SessionConfig::new().with_target_partitions(crate::scan_partitions());
    config.options_mut().sql_parser.enable_ident_normalization = false;
    let context = SessionContext::new_with_config(config);
    if options.pre_aggregate {
        context.add_optimizer_rule(Arc::new(crate::preaggregate::PreAggregate));
    }
    context.register_table(TABLE, Arc::new(LogTable::new(engine, segments, selection, counters)))?;
    let mut frame = context.sql(&prepared.sql).await?;
    if !prepared.has_limit {
        frame = frame.limit(0, Some(DEFAULT_SQL_ROWS))?;
    }
    Ok(frame)
}

/// The optimized logical plan of a GetLogs request's SQL (for operators and tests), indented.
pub async fn explain(
    engine: &Arc<Engine>,
    project: &str,
    logstore: &str,
    request: &GetLogsRequest,
    options: QueryOptions,
) -> Result<String> {
    check_range(request.from, request.to)?;
    let (search, sql) = split_query(&request.query);
    let expr = parse(search)?;
    let prepared = prepare(sql.ok_or_else(|| QueryError::Parameter("explain needs SQL after '|'".into()))?)?;
    let (_, segments) = engine.segments_between(project, logstore, request.from, request.to).await?;
    let selection = Arc::new(Selection::new(request.from, request.to, request.topic.clone(), expr));
    let counters = Arc::new(ScanCounters::default());
    let frame = sql_frame(engine.clone(), segments, selection, counters, &prepared, options).await?;
    Ok(frame.into_optimized_plan()?.display_indent().to_string())
}

/// Runs a statement: its column names and its rows, values as strings.
async fn run_sql(frame: DataFrame) -> Result<(Vec<String>, Vec<Map<String, Value>>)> {
    let keys: Vec<String> = frame.schema().fields().iter().map(|field| field.name().clone()).collect();
    let batches = frame.collect().await?;
    let mut rows = Vec::new();
    for batch in batches {
        for index in 0..batch.num_rows() {
            let mut row = Map::new();
            for (column, name) in batch.columns().iter().zip(&keys) {
                let text = if column.is_null(index) {
                    "null".to_owned()
                } else {
                    array_value_to_string(column, index).map_err(|error| QueryError::Internal(error.to_string()))?
                };
                row.insert(name.clone(), Value::String(text));
            }
            rows.push(row);
        }
    }
    Ok((keys, rows))
}

/// Histogram parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistogramRequest {
    pub from: i64,
    pub to: i64,
    pub query: String,
    pub topic: Option<String>,
    /// Bucket width in seconds; `None` picks a round width giving at most 60 buckets.
    pub interval: Option<i64>,
}

/// One histogram bucket `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Bucket {
    pub from: i64,
    pub to: i64,
    pub count: u64,
    pub progress: &'static str,
}

const ROUND_INTERVALS: [i64; 16] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21_600, 86_400];

fn pick_interval(span: i64) -> i64 {
    ROUND_INTERVALS.iter().copied().find(|interval| span / interval <= 60).unwrap_or_else(|| (span / 60).max(86_400))
}

/// Counts of matching logs per time bucket (the search part only; SQL is refused).
pub async fn histogram(
    engine: &Arc<Engine>,
    project: &str,
    logstore: &str,
    request: &HistogramRequest,
) -> Result<Vec<Bucket>> {
    check_range(request.from, request.to)?;
    let (search, sql) = split_query(&request.query);
    if sql.is_some() {
        return Err(QueryError::Parameter("a histogram takes a search without SQL".into()));
    }
    let interval = request.interval.unwrap_or_else(|| pick_interval(request.to - request.from));
    if interval <= 0 {
        return Err(QueryError::Parameter(format!("interval must be positive, not {interval}")));
    }
    if (request.to - request.from) / interval > 100_000 {
        return Err(QueryError::Parameter("the histogram would have over 100000 buckets".into()));
    }
    let expr = parse(search)?;
    let (_, segments) = engine.segments_between(project, logstore, request.from, request.to).await?;
    let selection = Arc::new(Selection::new(request.from, request.to, request.topic.clone(), expr));
    let first = request.from - request.from.rem_euclid(interval);
    let mut buckets: Vec<Bucket> = (0..)
        .map(|i| first + i * interval)
        .take_while(|start| *start < request.to)
        .map(|start| Bucket {
            from: start.max(request.from),
            to: (start + interval).min(request.to),
            count: 0,
            progress: "Complete",
        })
        .collect();
    let bucket_count = buckets.len();
    let per_segment = scan_columns(engine, segments, selection, &[], &[], move |hits| {
        let mut counts = vec![0u64; bucket_count];
        for row in &hits.hits {
            let slot = ((i64::from(hits.columns.times[*row as usize]) - first) / interval) as usize;
            if let Some(count) = counts.get_mut(slot) {
                *count += 1;
            }
        }
        counts
    })
    .await?;
    for counts in per_segment {
        for (bucket, count) in buckets.iter_mut().zip(counts) {
            bucket.count += count;
        }
    }
    Ok(buckets)
}

/// Context parameters: a log's `__pack_meta__` and how many logs to show around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextRequest {
    pub pack_meta: String,
    pub back_lines: usize,
    pub forward_lines: usize,
}

/// Context answer: the logs around one log of its shard, in shard order.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ContextResponse {
    pub total_lines: usize,
    pub back_lines: usize,
    pub forward_lines: usize,
    pub progress: &'static str,
    pub logs: Vec<Map<String, Value>>,
}

/// The most lines a context query returns on each side.
pub const MAX_CONTEXT_LINES: usize = 100;

/// The `back_lines` logs before and `forward_lines` after a log, in its shard's order.
pub async fn context(
    engine: &Arc<Engine>,
    project: &str,
    logstore: &str,
    request: &ContextRequest,
) -> Result<ContextResponse> {
    let address = LogAddress::parse(&request.pack_meta).ok_or_else(|| {
        QueryError::Parameter(format!("pack_meta '{}' is not one returned by GetLogs", request.pack_meta))
    })?;
    if request.back_lines > MAX_CONTEXT_LINES || request.forward_lines > MAX_CONTEXT_LINES {
        return Err(QueryError::Parameter(format!("back_lines and forward_lines must be 0-{MAX_CONTEXT_LINES}")));
    }
    let segments = engine.segments_around(project, logstore, address.shard, address.position, 3).await?;
    let mut flat: Vec<(LogAddress, Map<String, Value>)> = Vec::new();
    for segment in &segments {
        for (group_index, group) in engine.read_groups(segment).await?.iter().enumerate() {
            let position = segment.record.position + group_index as u64;
            for index in 0..group.logs.len() {
                let at = LogAddress { shard: segment.shard, position, index };
                flat.push((at, row(group, index, at)));
            }
        }
    }
    let center = flat.iter().position(|(at, _)| *at == address).ok_or_else(|| {
        QueryError::Parameter(format!("no log at pack_meta '{}' (expired or never written)", request.pack_meta))
    })?;
    let start = center.saturating_sub(request.back_lines);
    let end = (center + request.forward_lines + 1).min(flat.len());
    let logs: Vec<Map<String, Value>> = flat[start..end]
        .iter()
        .enumerate()
        .map(|(offset, (_, row))| {
            let mut row = row.clone();
            let relative = (start + offset) as i64 - center as i64;
            row.insert("__index_number__".into(), Value::String(relative.to_string()));
            row
        })
        .collect();
    Ok(ContextResponse {
        total_lines: logs.len(),
        back_lines: center - start,
        forward_lines: end - center - 1,
        progress: "Complete",
        logs,
    })
}

#[cfg(test)]
mod tests {
    use super::{pick_interval, split_query};

    #[test]
    fn splits_at_the_first_bar_outside_quotes() {
        assert_eq!(split_query("status:500 | select count(*)"), ("status:500", Some("select count(*)")));
        assert_eq!(split_query(r#""a|b" | select 1"#), (r#""a|b""#, Some("select 1")));
        assert_eq!(split_query("GET"), ("GET", None));
        assert_eq!(split_query("* | select a | b"), ("*", Some("select a | b")));
    }

    #[test]
    fn histogram_intervals_are_round() {
        assert_eq!(pick_interval(900), 15);
        assert_eq!(pick_interval(3600), 60);
        assert_eq!(pick_interval(86_400), 1800);
    }
}
