//! The columnar scan, for counts, histograms and SQL: a segment's hits as row numbers over its
//! columnar index ([`logport_core::columns`]), reading only the columns the search and the SQL
//! use. A search made of field conditions only (`status:500 and method:GET`, ranges, `*`,
//! `__topic__`, `__tag__:k`) is evaluated on the columns, once per distinct value for
//! dictionary columns; a full-text keyword needs every value, so such a search reads and
//! evaluates the log groups and then builds the columns from them.

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use logport_core::columns::{Column, Columns};
use logport_core::engine::Engine;
use logport_core::engine::scan::{ColumnBytes, SegmentRef};

use crate::error::{QueryError, Result};
use crate::scan::{Selection, view};
use crate::search::{Expr, field_matches};

/// The hits of one segment, as row numbers of its columns.
#[derive(Debug)]
pub struct ColumnHits {
    pub segment: SegmentRef,
    pub columns: Columns,
    pub hits: Vec<u32>,
    /// Logs of the segment inside the time range (evaluated).
    pub processed: u64,
}

/// Whether a search can be evaluated on columns (no full-text keyword).
pub fn columnar(expr: &Expr) -> bool {
    match expr {
        Expr::Term(_) => false,
        Expr::Not(inner) => columnar(inner),
        Expr::And(parts) | Expr::Or(parts) => parts.iter().all(columnar),
        Expr::All | Expr::Field { .. } | Expr::Compare { .. } | Expr::Between { .. } => true,
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
        Expr::Term(_) => unreachable!("full-text searches are not evaluated on columns"),
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
                Some(Column::Absent) | None => Compiled::Const(false),
            }
        }
        Expr::Not(inner) => Compiled::Not(Box::new(compile(inner, columns))),
        Expr::And(parts) => Compiled::And(parts.iter().map(|part| compile(part, columns)).collect()),
        Expr::Or(parts) => Compiled::Or(parts.iter().map(|part| compile(part, columns)).collect()),
    }
}

impl Compiled<'_> {
    fn eval(&self, row: usize) -> bool {
        match self {
            Compiled::Const(value) => *value,
            Compiled::Dict { codes, table } => table[usize::from(codes[row])],
            Compiled::Plain { column, leaf } => field_matches(leaf, column.get(row)),
            Compiled::Group { group_of, table } => table[group_of[row] as usize],
            Compiled::Not(inner) => !inner.eval(row),
            Compiled::And(parts) => parts.iter().all(|part| part.eval(row)),
            Compiled::Or(parts) => parts.iter().any(|part| part.eval(row)),
        }
    }
}

/// Rows of `columns` in the selection's time range and topic that the search selects.
fn evaluate(columns: &Columns, selection: &Selection) -> (Vec<u32>, u64) {
    let compiled = compile(&selection.expr, columns);
    let topic = selection
        .topic
        .as_deref()
        .map(|topic| columns.groups.iter().map(|group| group.topic == topic).collect::<Vec<_>>());
    let mut hits = Vec::new();
    let mut processed = 0;
    for (row, time) in columns.times.iter().enumerate() {
        let time = i64::from(*time);
        if time < selection.from || time >= selection.to {
            continue;
        }
        processed += 1;
        if topic.as_ref().is_some_and(|topic| !topic[columns.group_of[row] as usize]) {
            continue;
        }
        if compiled.eval(row) {
            hits.push(row as u32);
        }
    }
    (hits, processed)
}

/// Scans `segments` for `selection`, decoding the content columns `names` (plus those the
/// search reads), mapping each segment's hits with `finish` on the worker that evaluated it.
pub async fn scan_columns<T, F>(
    engine: &Arc<Engine>,
    segments: Vec<SegmentRef>,
    selection: Arc<Selection>,
    names: &[String],
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
    let on_columns = columnar(&selection.expr);
    let finish = Arc::new(finish);
    let tasks = segments.into_iter().map(|segment| {
        let (engine, selection, finish, wanted) = (engine.clone(), selection.clone(), finish.clone(), wanted.clone());
        async move {
            if !engine.may_contain_all(&segment, &selection.required()).await? {
                return Ok(None);
            }
            let names: Vec<&str> = wanted.iter().map(String::as_str).collect();
            let bytes = if on_columns {
                engine.column_bytes(&segment, &names).await?
            } else {
                ColumnBytes::Object(engine.read_object(&segment).await?)
            };
            let work = move || -> Result<T> {
                let names: Vec<&str> = wanted.iter().map(String::as_str).collect();
                let (columns, hits, processed) = if on_columns {
                    let columns = bytes.decode(&segment.record, &names)?;
                    let (hits, processed) = evaluate(&columns, &selection);
                    (columns, hits, processed)
                } else {
                    let ColumnBytes::Object(object) = &bytes else { unreachable!("read as an object") };
                    let groups = logport_core::engine::scan::decode_groups(&segment.record, object)?;
                    let (mut hits, mut processed, mut row) = (Vec::new(), 0, 0u32);
                    for group in &groups {
                        for index in 0..group.logs.len() {
                            let log = view(group, index);
                            let time = i64::from(log.time);
                            if time >= selection.from && time < selection.to {
                                processed += 1;
                                if selection.selects(&log) {
                                    hits.push(row);
                                }
                            }
                            row += 1;
                        }
                    }
                    (Columns::from_groups(&groups, &names), hits, processed)
                };
                Ok(finish(ColumnHits { segment, columns, hits, processed }))
            };
            let output = match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    handle.spawn_blocking(work).await.map_err(|error| QueryError::Internal(error.to_string()))?
                }
                Err(_) => work(),
            }?;
            Ok(Some(output))
        }
    });
    let outputs: Vec<Result<Option<T>>> =
        futures::stream::iter(tasks).buffered(crate::scan::parallelism()).collect().await;
    let mut kept = Vec::new();
    for output in outputs {
        if let Some(value) = output? {
            kept.push(value);
        }
    }
    Ok(kept)
}
