//! SQL after the bar: SLS's dialect lets `FROM` be left out (the logstore is the table), so a
//! statement without one gets `FROM log`. The table is a DataFusion [`TableProvider`] whose
//! columns are `__time__` (BIGINT), `__topic__`, `__source__`, every tag (`__tag__:name`) and
//! every content key of the selected segments (VARCHAR as Arrow `Utf8View`, NULL where a log
//! lacks the key); a scan builds only the columns the query uses, one Arrow batch per segment,
//! in parallel. A dictionary column becomes views into one buffer of its distinct values.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringViewArray, StringViewBuilder, UInt16Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::project_schema;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::{Expr as LogicalExpr, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::sql::sqlparser::ast::{SetExpr, Statement};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use logport_core::columns::Column;
use logport_core::engine::Engine;
use logport_core::engine::scan::SegmentRef;

use crate::columnar::{ColumnHits, scan_columns};
use crate::error::{QueryError, Result};
use crate::preaggregate::{WEIGHT, weighted_batch};
use crate::scan::Selection;

/// The table name SQL sees.
pub const TABLE: &str = "log";

/// A parsed statement ready to run: the SQL text with `FROM log` added where it was left out,
/// and whether it limits its own rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub sql: String,
    pub has_limit: bool,
}

/// Parses one SELECT and adds `FROM log` when it has no FROM.
pub fn prepare(sql: &str) -> Result<Prepared> {
    let dialect = GenericDialect {};
    let mut statements = Parser::parse_sql(&dialect, sql).map_err(|error| QueryError::Sql(error.to_string()))?;
    if statements.len() != 1 {
        return Err(QueryError::Sql(format!("expected one SELECT statement after '|', found {}", statements.len())));
    }
    let Statement::Query(query) = &mut statements[0] else {
        return Err(QueryError::Sql("only SELECT statements are allowed after '|'".into()));
    };
    let has_limit = query.limit_clause.is_some();
    if let SetExpr::Select(select) = query.body.as_mut()
        && select.from.is_empty()
    {
        let template = Parser::parse_sql(&dialect, &format!("SELECT 1 FROM {TABLE}")).expect("a valid template");
        if let Statement::Query(template) = &template[0]
            && let SetExpr::Select(template) = template.body.as_ref()
        {
            select.from = template.from.clone();
        }
    }
    Ok(Prepared { sql: statements[0].to_string(), has_limit })
}

/// What the table's first scan saw: logs evaluated and logs selected (for GetLogs' meta).
#[derive(Debug, Default)]
pub struct ScanCounters {
    pub processed: AtomicU64,
    pub hits: AtomicU64,
    scanned: AtomicBool,
}

/// The logs a selection picks, as a table.
#[derive(Debug)]
pub struct LogTable {
    engine: Arc<Engine>,
    segments: Vec<SegmentRef>,
    selection: Arc<Selection>,
    schema: SchemaRef,
    counters: Arc<ScanCounters>,
    /// The weighted form ([`crate::preaggregate`]): distinct rows and a weight column, last.
    weighted: bool,
}

impl LogTable {
    pub fn new(
        engine: Arc<Engine>,
        segments: Vec<SegmentRef>,
        selection: Arc<Selection>,
        counters: Arc<ScanCounters>,
    ) -> Self {
        let mut fields = vec![
            Field::new("__time__", DataType::Int64, false),
            Field::new("__topic__", DataType::Utf8View, true),
            Field::new("__source__", DataType::Utf8View, true),
        ];
        let mut seen = std::collections::HashSet::new();
        for segment in &segments {
            for key in &segment.record.keys {
                if seen.insert(key.clone()) {
                    fields.push(Field::new(key, DataType::Utf8View, true));
                }
            }
        }
        Self { engine, segments, selection, schema: Arc::new(Schema::new(fields)), counters, weighted: false }
    }

    pub fn is_weighted(&self) -> bool {
        self.weighted
    }

    /// The same logs as weighted rows: the columns plus [`WEIGHT`], how many logs a row stands for.
    pub fn weighted(&self) -> Self {
        let mut fields: Vec<Field> = self.schema.fields().iter().map(|field| field.as_ref().clone()).collect();
        fields.push(Field::new(WEIGHT, DataType::Int64, false));
        Self {
            engine: self.engine.clone(),
            segments: self.segments.clone(),
            selection: self.selection.clone(),
            schema: Arc::new(Schema::new(fields)),
            counters: self.counters.clone(),
            weighted: true,
        }
    }
}

/// Builds the projected columns of one segment's hits.
pub(crate) fn batch(
    hits: &ColumnHits,
    schema: &SchemaRef,
) -> std::result::Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    let columns: Vec<ArrayRef> = schema.fields().iter().map(|field| column(field.name(), hits)).collect();
    RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(hits.hits.len())),
    )
}

fn column(name: &str, hits: &ColumnHits) -> ArrayRef {
    let rows = &hits.hits;
    let columns = &hits.columns;
    if name == "__time__" {
        let times: Int64Array = rows.iter().map(|row| i64::from(columns.times[*row as usize])).collect();
        return Arc::new(times);
    }
    match columns.columns.get(name) {
        // One string per distinct value, picked by code: views into the dictionary's buffer.
        Some(Column::Dict { values, codes }) => {
            let indices: UInt16Array = rows
                .iter()
                .map(|row| match codes[*row as usize] {
                    0 => None,
                    code => Some(code - 1),
                })
                .collect();
            let values = StringViewArray::from_iter_values(values);
            take(&values, &indices, None).expect("codes are checked on decode")
        }
        _ => {
            let mut builder = StringViewBuilder::with_capacity(rows.len());
            for row in rows {
                builder.append_option(columns.field(name, *row as usize));
            }
            Arc::new(builder.finish())
        }
    }
}

#[async_trait]
impl TableProvider for LogTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[LogicalExpr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let projected = project_schema(&self.schema, projection)?;
        let schema = projected.clone();
        let names: Vec<String> =
            projected.fields().iter().map(|field| field.name().clone()).filter(|name| name != WEIGHT).collect();
        // A statement reading the table twice (a self-join) counts the logs of its first scan.
        let counters = (!self.counters.scanned.swap(true, Ordering::Relaxed)).then(|| self.counters.clone());
        let weighted = self.weighted;
        // One column, weighted: a segment whose every row is selected may answer with its counts.
        let counted = if weighted && names.len() == 1 { names.clone() } else { Vec::new() };
        let (segments, selection) = (self.segments.clone(), self.selection.clone());
        let batches = scan_columns(&self.engine, segments, selection, &names, &counted, move |hits| {
            if let Some(counters) = &counters {
                counters.processed.fetch_add(hits.processed, Ordering::Relaxed);
                counters.hits.fetch_add(hits.hits.len() as u64, Ordering::Relaxed);
            }
            if weighted { weighted_batch(&hits, &schema) } else { batch(&hits, &schema) }
        })
        .await
        .map_err(|error| match error {
            QueryError::Engine(engine) => datafusion::error::DataFusionError::External(Box::new(engine)),
            other => datafusion::error::DataFusionError::Execution(other.to_string()),
        })?;
        let mut partitions: Vec<Vec<RecordBatch>> = vec![Vec::new(); super::scan_partitions()];
        for (index, batch) in batches.into_iter().enumerate() {
            let batch = batch?;
            if batch.num_rows() > 0 {
                let slot = index % partitions.len();
                partitions[slot].push(batch);
            }
        }
        partitions.retain(|partition| !partition.is_empty());
        if partitions.is_empty() {
            partitions.push(Vec::new());
        }
        Ok(MemorySourceConfig::try_new_exec(&partitions, projected, None)?)
    }
}

#[cfg(test)]
mod tests {
    use super::prepare;

    #[test]
    fn adds_from_log_only_when_missing() {
        let prepared = prepare("select status, count(*) as pv group by status order by pv desc").unwrap();
        assert!(prepared.sql.contains("FROM log"), "{}", prepared.sql);
        assert!(!prepared.has_limit);
        let prepared = prepare("select count(*) from log limit 5").unwrap();
        assert_eq!(prepared.sql.matches("FROM").count(), 1);
        assert!(prepared.has_limit);
        assert!(prepare("delete from log").is_err());
        assert!(prepare("select (").is_err());
        assert!(prepare("select 1; select 2").is_err());
    }
}
