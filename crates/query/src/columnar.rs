//! The scan: a segment's hits as row numbers over its columnar index
//! ([`logport_core::columns`]), reading only the columns the search and the SQL use. Field
//! conditions (`status:500 and method:GET`, ranges, `*`, `__topic__`, `__tag__:k`) read the
//! columns they name and are evaluated once per distinct value for dictionary columns. A
//! full-text keyword reads every column of the segment: once per distinct value for dictionary
//! columns, and for plain columns a substring search for its longest literal piece over the
//! column's (ASCII-lowercased) text picks the candidate rows, each then checked token by token.
//! Segments without a section (or missing a key in a truncated one) have their log groups
//! decoded and their columns built in memory, then go the same way.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use logport_core::columns::{Column, Columns};
use logport_core::engine::Engine;
use logport_core::engine::scan::{ColumnBytes, SegmentRef};

use crate::error::{QueryError, Result};
use crate::scan::Selection;
use memchr::memmem;

use crate::search::{Expr, Pattern, field_matches, pattern_matches};

/// The hits of one segment, as row numbers of its columns.
#[derive(Debug)]
pub struct ColumnHits {
    pub segment: SegmentRef,
    pub columns: Columns,
    pub hits: Vec<u32>,
    /// Logs of the segment inside the time range (evaluated).
    pub processed: u64,
}

/// Whether a search holds a full-text keyword (which reads every column).
pub fn full_text(expr: &Expr) -> bool {
    match expr {
        Expr::Term(pattern) => !pattern.is_any(),
        Expr::Not(inner) => full_text(inner),
        Expr::And(parts) | Expr::Or(parts) => parts.iter().any(full_text),
        Expr::All | Expr::Field { .. } | Expr::Compare { .. } | Expr::Between { .. } => false,
    }
}

/// The content keys a search reads (not `__topic__`, `__source__`, tags).
fn content_keys(expr: &Expr, into: &mut Vec<String>) {
    match expr {
        Expr::Field { key, .. } | Expr::Compare { key, .. } | Expr::Between { key, .. } => {
            if !is_group_field(key) && !into.contains(key) {
                into.push(key.clone());
            }
        }
        Expr::Not(inner) => content_keys(inner, into),
        Expr::And(parts) | Expr::Or(parts) => parts.iter().for_each(|part| content_keys(part, into)),
        Expr::All | Expr::Term(_) => {}
    }
}

/// Fields kept per group rather than per log.
pub fn is_group_field(name: &str) -> bool {
    matches!(name, "__topic__" | "__source__" | "__time__") || name.starts_with(logport_core::model::TAG_PREFIX)
}

/// A search compiled against one segment's columns.
enum Compiled<'c> {
    Const(bool),
    /// Dictionary column: `table[code]`.
    Dict {
        codes: &'c [u16],
        table: Vec<bool>,
    },
    /// Plain column: the leaf per row.
    Plain {
        column: &'c Column,
        leaf: &'c Expr,
    },
    /// Rows decided beforehand.
    Rows(Vec<bool>),
    /// A per-group field: `table[group]`.
    Group {
        group_of: &'c [u32],
        table: Vec<bool>,
    },
    Not(Box<Compiled<'c>>),
    And(Vec<Compiled<'c>>),
    Or(Vec<Compiled<'c>>),
}

fn compile<'c>(expr: &'c Expr, columns: &'c Columns) -> Compiled<'c> {
    match expr {
        Expr::All => Compiled::Const(true),
        Expr::Term(pattern) if pattern.is_any() => Compiled::Const(true),
        Expr::Term(pattern) => {
            let table = columns
                .groups
                .iter()
                .map(|group| {
                    pattern_matches(pattern, &group.topic)
                        || pattern_matches(pattern, &group.source)
                        || group.tags.iter().any(|(_, value)| pattern_matches(pattern, value))
                })
                .collect();
            let mut parts = vec![Compiled::Group { group_of: &columns.group_of, table }];
            for column in columns.columns.values() {
                match column {
                    Column::Dict { values, codes } => {
                        let table = std::iter::once(false)
                            .chain(values.iter().map(|value| pattern_matches(pattern, value)))
                            .collect::<Vec<_>>();
                        if table.contains(&true) {
                            parts.push(Compiled::Dict { codes, table });
                        }
                    }
                    Column::Plain { .. } => parts.push(Compiled::Rows(term_rows(pattern, column, columns.rows))),
                    // Never decoded for a search that reads rows (see `scan_columns`).
                    Column::Counts { .. } | Column::Absent => {}
                }
            }
            Compiled::Or(parts)
        }
        Expr::Field { key, .. } | Expr::Compare { key, .. } | Expr::Between { key, .. } => {
            if is_group_field(key) {
                let table = (0..columns.groups.len())
                    .map(|group| {
                        let row = columns.groups[group].first_row as usize;
                        columns.groups[group].rows > 0 && field_matches(expr, columns.field(key, row))
                    })
                    .collect();
                return Compiled::Group { group_of: &columns.group_of, table };
            }
            match columns.columns.get(key) {
                Some(Column::Dict { values, codes }) => {
                    let table = std::iter::once(false)
                        .chain(values.iter().map(|value| field_matches(expr, Some(value))))
                        .collect::<Vec<_>>();
                    if table.iter().all(|hit| !hit) {
                        return Compiled::Const(false);
                    }
                    Compiled::Dict { codes, table }
                }
                Some(column @ Column::Plain { .. }) => Compiled::Plain { column, leaf: expr },
                Some(Column::Counts { .. }) => unreachable!("a column the search reads is decoded with its codes"),
                Some(Column::Absent) | None => Compiled::Const(false),
            }
        }
        Expr::Not(inner) => Compiled::Not(Box::new(compile(inner, columns))),
        Expr::And(parts) => Compiled::And(parts.iter().map(|part| compile(part, columns)).collect()),
        Expr::Or(parts) => Compiled::Or(parts.iter().map(|part| compile(part, columns)).collect()),
    }
}

impl Compiled<'_> {
    /// Column at a time: clears `mask[row]` where the search does not select the row. Rows
    /// already cleared are not evaluated again (plain-column leaves cost a string test each).
    fn and_into(&self, mask: &mut [bool]) {
        match self {
            Compiled::Const(true) => {}
            Compiled::Const(false) => mask.fill(false),
            Compiled::Dict { codes, table } => {
                for (keep, code) in mask.iter_mut().zip(codes.iter()) {
                    *keep &= table[usize::from(*code)];
                }
            }
            Compiled::Plain { column, leaf } => {
                for (row, keep) in mask.iter_mut().enumerate() {
                    if *keep {
                        *keep = field_matches(leaf, column.get(row));
                    }
                }
            }
            Compiled::Rows(rows) => {
                for (keep, hit) in mask.iter_mut().zip(rows) {
                    *keep &= *hit;
                }
            }
            Compiled::Group { group_of, table } => {
                for (keep, group) in mask.iter_mut().zip(group_of.iter()) {
                    *keep &= table[*group as usize];
                }
            }
            Compiled::Not(inner) => {
                let mut selected = mask.to_vec();
                inner.and_into(&mut selected);
                for (keep, selected) in mask.iter_mut().zip(selected) {
                    *keep &= !selected;
                }
            }
            Compiled::And(parts) => parts.iter().for_each(|part| part.and_into(mask)),
            Compiled::Or(parts) => {
                let mut any = vec![false; mask.len()];
                for part in parts {
                    // Only the rows in scope that no earlier part selected.
                    let mut open: Vec<bool> = mask.iter().zip(&any).map(|(keep, done)| *keep && !done).collect();
                    part.and_into(&mut open);
                    for (done, hit) in any.iter_mut().zip(open) {
                        *done |= hit;
                    }
                }
                mask.copy_from_slice(&any);
            }
        }
    }
}

/// The rows of a plain column holding a keyword: candidates from a substring search for the
/// keyword's longest literal piece in the lowercased text, each checked token by token.
fn term_rows(pattern: &Pattern, column: &Column, rows: u32) -> Vec<bool> {
    let Column::Plain { ends, present, text } = column else { return vec![false; rows as usize] };
    let mut matched = vec![false; rows as usize];
    let Some(literal) = pattern.literal_pieces().max_by_key(|piece| piece.len()) else {
        for (row, hit) in matched.iter_mut().enumerate() {
            *hit = column.get(row).is_some_and(|value| pattern_matches(pattern, value));
        }
        return matched;
    };
    let lower = text.as_bytes().to_ascii_lowercase();
    let finder = memmem::Finder::new(literal.as_bytes());
    let mut from = 0;
    while let Some(found) = finder.find(&lower[from..]) {
        let at = from + found;
        let row = ends.partition_point(|end| (*end as usize) <= at);
        if row >= matched.len() {
            break;
        }
        if present[row] != 0 {
            matched[row] = column.get(row).is_some_and(|value| pattern_matches(pattern, value));
        }
        // The row is decided: go on from the next one.
        from = (ends[row] as usize).max(at + 1);
    }
    matched
}

/// Rows of `columns` in the selection's time range and topic that the search selects.
fn evaluate(columns: &Columns, selection: &Selection) -> (Vec<u32>, u64) {
    let compiled = compile(&selection.expr, columns);
    let inside = |time: &u32| (selection.from..selection.to).contains(&i64::from(*time));
    // (`*` over a segment inside the range never gets here: see `every_row`.)
    let mut mask: Vec<bool> = columns.times.iter().map(inside).collect();
    let processed = mask.iter().filter(|keep| **keep).count() as u64;
    if let Some(topic) = selection.topic.as_deref() {
        let table: Vec<bool> = columns.groups.iter().map(|group| group.topic == topic).collect();
        Compiled::Group { group_of: &columns.group_of, table }.and_into(&mut mask);
    }
    compiled.and_into(&mut mask);
    let hits = mask.iter().enumerate().filter(|(_, keep)| **keep).map(|(row, _)| row as u32).collect();
    (hits, processed)
}

/// Whether the selection takes every log of a segment without evaluating a row: `*` (or no
/// search), no topic, and the segment's times inside the range.
fn every_row(selection: &Selection, segment: &SegmentRef) -> bool {
    let trivial = match &selection.expr {
        Expr::All => true,
        Expr::Term(pattern) => pattern.is_any(),
        _ => false,
    };
    trivial
        && selection.topic.is_none()
        && selection.from <= i64::from(segment.record.min_time)
        && i64::from(segment.record.max_time) < selection.to
}

/// Scans `segments` for `selection`, decoding the content columns `names` (plus those the
/// search reads), mapping each segment's hits with `finish` on the worker that evaluated it.
/// Names in `counted` may arrive as [`Column::Counts`] (value counts, no codes) in segments whose
/// every row is selected: for a `finish` that only counts rows per value of that one column.
pub async fn scan_columns<T, F>(
    engine: &Arc<Engine>,
    segments: Vec<SegmentRef>,
    selection: Arc<Selection>,
    names: &[String],
    counted: &[String],
    finish: F,
) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(ColumnHits) -> T + Send + Sync + 'static,
{
    let mut wanted: Vec<String> = names.iter().filter(|name| !is_group_field(name)).cloned().collect();
    content_keys(&selection.expr, &mut wanted);
    let mut seen = HashSet::new();
    wanted.retain(|name| seen.insert(name.clone()));
    let wanted = Arc::new(wanted);
    // Content columns only (a search that selects every row reads none).
    let counted: Arc<Vec<String>> = Arc::new(counted.iter().filter(|name| wanted.contains(*name)).cloned().collect());
    let every_column = full_text(&selection.expr);
    let finish = Arc::new(finish);
    if engine.reads_locally()
        && let Ok(handle) = tokio::runtime::Handle::try_current()
    {
        let scan = Arc::new(LocalScan { engine: engine.clone(), selection, wanted, counted, every_column, handle });
        return scan.run(segments, finish).await;
    }
    let mut kept = Vec::new();
    // Waves: fetch a wave's blocks concurrently, then decode and evaluate them on one blocking
    // task per core (few thread hand-offs, memory bounded by a wave).
    for wave in segments.chunks(WAVE) {
        let fetches = wave
            .iter()
            .cloned()
            .map(|segment| fetch(engine.clone(), segment, selection.clone(), wanted.clone(), every_column));
        let fetched: Vec<Result<Option<Fetched>>> =
            futures::stream::iter(fetches).buffered(crate::scan::parallelism() * 2).collect().await;
        let mut ready = Vec::with_capacity(fetched.len());
        for item in fetched {
            if let Some(item) = item? {
                ready.push(item);
            }
        }
        let workers = crate::scan::cores().min(ready.len().max(1));
        let per_worker = ready.len().div_ceil(workers).max(1);
        let mut chunks = Vec::new();
        while !ready.is_empty() {
            let rest = ready.split_off(per_worker.min(ready.len()));
            chunks.push(std::mem::replace(&mut ready, rest));
        }
        let mut handles = Vec::with_capacity(chunks.len());
        for chunk in chunks {
            let (selection, finish, counted) = (selection.clone(), finish.clone(), counted.clone());
            let work = move || -> Result<Vec<T>> {
                chunk
                    .into_iter()
                    .map(|(segment, names, bytes)| {
                        decode_and_finish(segment, &names, &counted, &bytes, &selection, &*finish)
                    })
                    .collect()
            };
            handles.push(match tokio::runtime::Handle::try_current() {
                Ok(handle) => Err(handle.spawn_blocking(work)),
                Err(_) => Ok(work()),
            });
        }
        for handle in handles {
            let outputs = match handle {
                Ok(outputs) => outputs,
                Err(task) => task.await.map_err(|error| QueryError::Internal(error.to_string()))?,
            }?;
            kept.extend(outputs);
        }
    }
    Ok(kept)
}

/// What a segment's scan reads: its term filter first (pruning), then the blocks of the columns.
async fn fetch(
    engine: Arc<Engine>,
    segment: SegmentRef,
    selection: Arc<Selection>,
    wanted: Arc<Vec<String>>,
    every_column: bool,
) -> Result<Option<Fetched>> {
    if !engine.may_contain_all(&segment, &selection.required()).await? {
        return Ok(None);
    }
    let mut names: Vec<String> = wanted.to_vec();
    if every_column {
        names.extend(segment.record.keys.iter().filter(|key| !is_group_field(key) && !wanted.contains(key)).cloned());
    }
    let borrowed: Vec<&str> = names.iter().map(String::as_str).collect();
    let bytes = engine.column_bytes(&segment, &borrowed).await?;
    Ok(Some((segment, names, bytes)))
}

/// A scan over a store that reads locally: one blocking task per core takes segments one at a
/// time, reads each (the store's file reads made inline, no thread hand-off per read) and
/// decodes it. Over the page cache the hand-offs cost more than the reads: the wave scan spent a
/// third of a `status` group-by's CPU switching threads.
struct LocalScan {
    engine: Arc<Engine>,
    selection: Arc<Selection>,
    wanted: Arc<Vec<String>>,
    counted: Arc<Vec<String>>,
    every_column: bool,
    handle: tokio::runtime::Handle,
}

impl LocalScan {
    async fn run<T, F>(self: Arc<Self>, segments: Vec<SegmentRef>, finish: Arc<F>) -> Result<Vec<T>>
    where
        T: Send + 'static,
        F: Fn(ColumnHits) -> T + Send + Sync + 'static,
    {
        let segments = Arc::new(segments);
        let next = Arc::new(AtomicUsize::new(0));
        let workers = crate::scan::cores().min(segments.len()).max(1);
        let tasks: Vec<_> = (0..workers)
            .map(|_| {
                let (scan, segments, next, finish) = (self.clone(), segments.clone(), next.clone(), finish.clone());
                self.handle.spawn_blocking(move || {
                    logport_core::store::with_inline_blocking(|| scan.work(&segments, &next, &*finish))
                })
            })
            .collect();
        let mut kept = Vec::with_capacity(segments.len());
        let mut failure = None;
        for task in tasks {
            match task.await.map_err(|error| QueryError::Internal(error.to_string())).and_then(|done| done) {
                Ok(done) => kept.extend(done),
                Err(error) => failure = failure.or(Some(error)),
            }
        }
        if let Some(error) = failure {
            return Err(error);
        }
        // In segment order, as the segments came.
        kept.sort_unstable_by_key(|(index, _)| *index);
        Ok(kept.into_iter().map(|(_, output)| output).collect())
    }

    /// Takes the next segment until none is left (or one failed: the others stop too).
    fn work<T>(
        &self,
        segments: &[SegmentRef],
        next: &AtomicUsize,
        finish: &(dyn Fn(ColumnHits) -> T + Send + Sync),
    ) -> Result<Vec<(usize, T)>> {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(segment) = segments.get(index) else { return Ok(done) };
            let fetched = self.handle.block_on(fetch(
                self.engine.clone(),
                segment.clone(),
                self.selection.clone(),
                self.wanted.clone(),
                self.every_column,
            ));
            let outcome = fetched.and_then(|fetched| match fetched {
                Some((segment, names, bytes)) => {
                    decode_and_finish(segment, &names, &self.counted, &bytes, &self.selection, finish).map(Some)
                }
                None => Ok(None),
            });
            match outcome {
                Ok(Some(output)) => done.push((index, output)),
                Ok(None) => {}
                Err(error) => {
                    next.store(segments.len(), Ordering::Relaxed);
                    return Err(error);
                }
            }
        }
    }
}

/// Segments fetched per wave.
const WAVE: usize = 64;

type Fetched = (SegmentRef, Vec<String>, ColumnBytes);

fn decode_and_finish<T>(
    segment: SegmentRef,
    names: &[String],
    counted: &[String],
    bytes: &ColumnBytes,
    selection: &Selection,
    finish: &(dyn Fn(ColumnHits) -> T + Send + Sync),
) -> Result<T> {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let every_row = every_row(selection, &segment);
    let columns = match bytes {
        ColumnBytes::Object(object) => {
            let groups = logport_core::engine::scan::decode_groups(&segment.record, object)?;
            Columns::from_groups(&groups, &names)
        }
        section if every_row => {
            let counted: Vec<&str> = counted.iter().map(String::as_str).collect();
            section.decode_counted(&segment.record, &names, &counted)?
        }
        section => section.decode(&segment.record, &names)?,
    };
    let (hits, processed) =
        if every_row { ((0..columns.rows).collect(), u64::from(columns.rows)) } else { evaluate(&columns, selection) };
    Ok(finish(ColumnHits { segment, columns, hits, processed }))
}

#[cfg(test)]
mod tests {
    use logport_core::columns::{Columns, ColumnsBuilder};
    use logport_core::model::{Content, Log, LogGroup, LogTag};

    use super::evaluate;
    use crate::scan::Selection;
    use crate::search::{LogView, matches, parse};

    /// Groups with dictionary columns, a plain column (over 4096 distinct values), missing keys,
    /// mixed case and multi-token values.
    fn groups() -> Vec<LogGroup> {
        (0..3)
            .map(|g| LogGroup {
                topic: Some(format!("topic{g}")),
                source: Some(format!("10.0.0.{g}")),
                log_tags: vec![LogTag { key: "host".into(), value: format!("Web-{g}") }],
                logs: (0..2500u32)
                    .map(|i| {
                        let mut contents = vec![
                            Content { key: "status".into(), value: ["200", "404", "500"][(i % 3) as usize].into() },
                            Content { key: "id".into(), value: format!("Req-{g}-{i}") },
                        ];
                        if i % 7 == 0 {
                            contents
                                .push(Content { key: "msg".into(), value: format!("Connection RESET by peer {i}") });
                        }
                        Log { time: 100 + i % 50, contents, time_ns: None }
                    })
                    .collect(),
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn columns_select_exactly_what_the_row_evaluator_selects() {
        let groups = groups();
        let mut builder = ColumnsBuilder::default();
        groups.iter().for_each(|group| builder.add_group(group));
        let section = builder.finish();
        let names = ["status", "id", "msg"];
        let decoded = Columns::decode(&section, &names).unwrap().unwrap();
        assert!(matches!(decoded.columns["id"], logport_core::columns::Column::Plain { .. }));
        let built = Columns::from_groups(&groups, &names);
        let views: Vec<LogView<'_>> = groups
            .iter()
            .flat_map(|group| {
                group.logs.iter().map(move |log| LogView {
                    time: log.time,
                    topic: group.topic.as_deref().unwrap_or(""),
                    source: group.source.as_deref().unwrap_or(""),
                    tags: &group.log_tags,
                    contents: &log.contents,
                })
            })
            .collect();
        for query in [
            "*",
            "status:500",
            "not status:200 and id:req-1-*",
            "reset",
            "RESET and status:404",
            "\"connection reset\"",
            "peer 14",
            "req-2-24?9",
            "web-1",
            "__tag__:host:web-2 or __topic__:topic0",
            "status > 300 and not msg:*",
            "status in [400 500] or reset",
            "10.0.0.1",
            "absent",
            "id:req-0-1234",
        ] {
            let expr = parse(query).unwrap();
            let selection = Selection::new(110, 140, None, expr.clone());
            let expected: Vec<u32> = views
                .iter()
                .enumerate()
                .filter(|(_, view)| (110..140).contains(&view.time) && matches(&expr, view))
                .map(|(row, _)| row as u32)
                .collect();
            for columns in [&decoded, &built] {
                let (hits, processed) = evaluate(columns, &selection);
                assert_eq!(hits, expected, "{query}");
                assert_eq!(processed, views.iter().filter(|view| (110..140).contains(&view.time)).count() as u64);
            }
        }
    }
}
