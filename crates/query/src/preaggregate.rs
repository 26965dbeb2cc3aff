//! Partial aggregation pushed into the scan.
//!
//! A statement such as `select status, count(*) group by status` needs, from each segment, only
//! how many hits carry each distinct value of the columns it reads. [`PreAggregate`] is a
//! DataFusion optimizer rule that finds an aggregation reading the log table through nothing
//! but filters, projections and aliases, whose aggregates all survive weighting, and swaps the
//! table for its weighted form: one row per distinct combination of the projected columns in a
//! segment, with a hidden [`WEIGHT`] column saying how many hits it stands for. Then
//!
//! - `count(*)` and `count(x)` become `sum(weight)` (of the rows where `x` is not null), wrapped
//!   in `coalesce(.., 0)` so an empty input still counts 0;
//! - `sum(x)` over integers becomes `sum(x * weight)`;
//! - `min`, `max`, `approx_distinct` and every `DISTINCT` aggregate are unchanged: duplicates
//!   do not change them.
//!
//! Filters and projections between the table and the aggregation are row-wise, so they give the
//! same answer on the distinct rows (volatile ones, such as `random()`, are left alone). Any
//! other aggregate (`avg`, percentiles, `sum` of floats, ...) or node (joins, windows, limits)
//! leaves the plan as it was. The weighted scan collapses a segment when every column it reads
//! is a dictionary column, the time or a per-group field; otherwise it gives each hit its own
//! row with weight 1, which is always right.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Int64Array, RecordBatch, RecordBatchOptions, StringViewArray, UInt16Array, new_null_array,
};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column as ColumnRef, Result as DfResult};
use datafusion::datasource::{provider_as_source, source_as_provider};
use datafusion::functions_aggregate::approx_distinct::ApproxDistinct;
use datafusion::functions_aggregate::count::Count;
use datafusion::functions_aggregate::min_max::{Max, Min};
use datafusion::functions_aggregate::sum::{Sum, sum_udaf};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::{
    Aggregate, Expr, ExprSchemable, Filter, LogicalPlan, Projection, SubqueryAlias, TableScan, TableScanBuilder, lit,
    when,
};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};
use logport_core::columns::Column;

use crate::columnar::ColumnHits;
use crate::sql::LogTable;

/// The weighted table's hidden column: how many hits a row stands for. A name no content key,
/// tag or SQL alias of the data model can take (`:` is not allowed in keys).
pub const WEIGHT: &str = "__logport:weight__";

/// The optimizer rule (see the module documentation).
#[derive(Debug, Default)]
pub struct PreAggregate;

impl OptimizerRule for PreAggregate {
    fn name(&self) -> &str {
        "logport_pre_aggregate"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn rewrite(&self, plan: LogicalPlan, _config: &dyn OptimizerConfig) -> DfResult<Transformed<LogicalPlan>> {
        let LogicalPlan::Aggregate(aggregate) = &plan else { return Ok(Transformed::no(plan)) };
        match weigh_aggregate(aggregate) {
            Some(rewritten) => Ok(Transformed::yes(rewritten)),
            None => Ok(Transformed::no(plan)),
        }
    }
}

/// What an aggregate becomes over weighted rows.
enum Weighted {
    /// The same expression (duplicate-insensitive).
    Same,
    /// A new aggregate; `true` when it must be wrapped in `coalesce(.., 0)` (a count).
    New(Expr, bool),
}

fn weigh_aggregate(aggregate: &Aggregate) -> Option<LogicalPlan> {
    if aggregate.group_expr.iter().any(|expr| matches!(expr, Expr::GroupingSet(_)) || expr.is_volatile()) {
        return None;
    }
    let (input, weight) = weigh_input(&aggregate.input)?;
    let input_schema = input.schema().clone();
    let mut aggregates = Vec::with_capacity(aggregate.aggr_expr.len());
    let mut counts = Vec::with_capacity(aggregate.aggr_expr.len());
    for expr in &aggregate.aggr_expr {
        let name = expr.schema_name().to_string();
        let Expr::AggregateFunction(function) = strip_alias(expr) else { return None };
        match weigh_function(function, &weight, &input_schema)? {
            Weighted::Same => {
                aggregates.push(expr.clone());
                counts.push(false);
            }
            Weighted::New(new, count) => {
                aggregates.push(new.alias(name));
                counts.push(count);
            }
        }
    }
    let rewritten = Aggregate::try_new(Arc::new(input), aggregate.group_expr.clone(), aggregates).ok()?;
    let groups = aggregate.group_expr.len();
    let exprs = rewritten
        .schema
        .iter()
        .enumerate()
        .map(|(index, (qualifier, field))| {
            let column = Expr::Column(ColumnRef::new(qualifier.cloned(), field.name()));
            if index >= groups && counts[index - groups] {
                datafusion::functions::expr_fn::coalesce(vec![column, lit(0i64)]).alias(field.name())
            } else {
                column
            }
        })
        .collect();
    let projection = Projection::try_new(exprs, Arc::new(LogicalPlan::Aggregate(rewritten))).ok()?;
    Some(LogicalPlan::Projection(projection))
}

fn strip_alias(expr: &Expr) -> &Expr {
    match expr {
        Expr::Alias(alias) => strip_alias(&alias.expr),
        other => other,
    }
}

fn weigh_function(
    function: &AggregateFunction,
    weight: &Expr,
    schema: &datafusion::common::DFSchema,
) -> Option<Weighted> {
    let udf = function.func.inner();
    let params = &function.params;
    if params.filter.as_ref().is_some_and(|filter| filter.is_volatile()) || params.args.iter().any(Expr::is_volatile) {
        return None;
    }
    if params.distinct || udf.is::<Min>() || udf.is::<Max>() || udf.is::<ApproxDistinct>() {
        return Some(Weighted::Same);
    }
    let weighted = |arg: Expr| {
        Expr::AggregateFunction(AggregateFunction::new_udf(
            sum_udaf(),
            vec![arg],
            false,
            params.filter.clone(),
            params.order_by.clone(),
            params.null_treatment,
        ))
    };
    if udf.is::<Count>() {
        let [arg] = params.args.as_slice() else { return None };
        let rows = match arg {
            Expr::Literal(value, _) if value.is_null() => lit(0i64),
            Expr::Literal(..) => weight.clone(),
            arg => when(arg.clone().is_not_null(), weight.clone()).otherwise(lit(0i64)).ok()?,
        };
        return Some(Weighted::New(weighted(rows), true));
    }
    if udf.is::<Sum>() {
        let [arg] = params.args.as_slice() else { return None };
        let data_type = arg.get_type(schema).ok()?;
        if !matches!(data_type, DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64) {
            return None;
        }
        let arg = if data_type == DataType::Int64 {
            arg.clone()
        } else {
            arg.clone().cast_to(&DataType::Int64, schema).ok()?
        };
        return Some(Weighted::New(weighted(arg * weight.clone()), false));
    }
    None
}

/// The input rebuilt over the weighted table, and the weight column as the top node sees it.
fn weigh_input(plan: &LogicalPlan) -> Option<(LogicalPlan, Expr)> {
    let rebuilt = match plan {
        LogicalPlan::TableScan(scan) => return weigh_scan(scan),
        LogicalPlan::Filter(filter) => {
            if filter.predicate.is_volatile() || has_subquery(&filter.predicate) {
                return None;
            }
            let (input, weight) = weigh_input(&filter.input)?;
            let filter = Filter::try_new(filter.predicate.clone(), Arc::new(input)).ok()?;
            return Some((LogicalPlan::Filter(filter), weight));
        }
        LogicalPlan::Projection(projection) => {
            if projection.expr.iter().any(|expr| expr.is_volatile() || has_subquery(expr)) {
                return None;
            }
            let (input, weight) = weigh_input(&projection.input)?;
            let mut exprs = projection.expr.clone();
            exprs.push(weight);
            LogicalPlan::Projection(Projection::try_new(exprs, Arc::new(input)).ok()?)
        }
        LogicalPlan::SubqueryAlias(alias) => {
            let (input, _) = weigh_input(&alias.input)?;
            LogicalPlan::SubqueryAlias(SubqueryAlias::try_new(Arc::new(input), alias.alias.clone()).ok()?)
        }
        _ => return None,
    };
    let weight = last_column(&rebuilt)?;
    Some((rebuilt, weight))
}

fn last_column(plan: &LogicalPlan) -> Option<Expr> {
    let schema = plan.schema();
    let (qualifier, field) = schema.qualified_field(schema.fields().len().checked_sub(1)?);
    (field.name() == WEIGHT).then(|| Expr::Column(ColumnRef::new(qualifier.cloned(), field.name())))
}

fn has_subquery(expr: &Expr) -> bool {
    expr.exists(|expr| Ok(matches!(expr, Expr::ScalarSubquery(_) | Expr::Exists(_) | Expr::InSubquery(_))))
        .unwrap_or(true)
}

fn weigh_scan(scan: &TableScan) -> Option<(LogicalPlan, Expr)> {
    if scan.fetch.is_some() || !scan.filters.is_empty() {
        return None;
    }
    let provider = source_as_provider(&scan.source).ok()?;
    let table = provider.downcast_ref::<LogTable>()?;
    if table.is_weighted() {
        return None;
    }
    let weighted: Arc<dyn TableProvider> = Arc::new(table.weighted());
    let width = weighted.schema().fields().len();
    let mut projection = scan.projection.clone().unwrap_or_else(|| (0..width - 1).collect());
    projection.push(width - 1);
    let scan = TableScanBuilder::new(scan.table_name.clone(), provider_as_source(weighted))
        .with_projection(Some(projection))
        .build()
        .ok()?;
    let plan = LogicalPlan::TableScan(scan);
    let weight = last_column(&plan)?;
    Some((plan, weight))
}

/// One part of a row's key: how a column's value is coded.
enum Part<'c> {
    /// `__time__ - base`.
    Time { base: i64, span: u64 },
    /// A dictionary column's codes (0 = no value).
    Dict { values: &'c [String], codes: &'c [u16] },
    /// A dictionary column's value counts (every row of the segment selected).
    Counts { values: &'c [String], counts: &'c [u32] },
    /// A per-group field: the code of each group's value.
    Group { of_group: Vec<u64>, values: Vec<Option<&'c str>>, group_of: &'c [u32] },
    /// No log of the segment has the key.
    Absent,
}

impl Part<'_> {
    fn cardinality(&self) -> u64 {
        match self {
            Part::Time { span, .. } => *span,
            Part::Dict { values, .. } | Part::Counts { values, .. } => values.len() as u64 + 1,
            Part::Group { values, .. } => values.len() as u64,
            Part::Absent => 1,
        }
    }

    /// Adds `code(row) * stride` to each hit's key.
    fn add_codes(&self, rows: &[u32], times: &[u32], stride: u64, keys: &mut [u64]) {
        match self {
            Part::Time { base, .. } => {
                for (key, row) in keys.iter_mut().zip(rows) {
                    *key += (i64::from(times[*row as usize]) - base) as u64 * stride;
                }
            }
            Part::Dict { codes, .. } => {
                for (key, row) in keys.iter_mut().zip(rows) {
                    *key += u64::from(codes[*row as usize]) * stride;
                }
            }
            Part::Group { of_group, group_of, .. } => {
                for (key, row) in keys.iter_mut().zip(rows) {
                    *key += of_group[group_of[*row as usize] as usize] * stride;
                }
            }
            Part::Counts { .. } => unreachable!("counts are asked for a single column only"),
            Part::Absent => {}
        }
    }

    /// Counts each hit's code into `counts` (as long as the cardinality).
    fn count_into(&self, rows: &[u32], times: &[u32], counts: &mut [u32]) {
        match self {
            Part::Time { base, .. } => {
                for row in rows {
                    counts[(i64::from(times[*row as usize]) - base) as usize] += 1;
                }
            }
            // Every row: no indirection.
            Part::Dict { codes, .. } if rows.len() == codes.len() => {
                for code in codes.iter() {
                    counts[usize::from(*code)] += 1;
                }
            }
            Part::Dict { codes, .. } => {
                for row in rows {
                    counts[usize::from(codes[*row as usize])] += 1;
                }
            }
            Part::Group { of_group, group_of, .. } => {
                for row in rows {
                    counts[of_group[group_of[*row as usize] as usize] as usize] += 1;
                }
            }
            Part::Counts { counts: known, .. } => {
                debug_assert_eq!(known.iter().map(|count| *count as usize).sum::<usize>(), rows.len());
                for (count, known) in counts.iter_mut().zip(known.iter()) {
                    *count += known;
                }
            }
            Part::Absent => counts[0] += rows.len() as u32,
        }
    }

    /// The column of the distinct keys' values.
    fn array(&self, codes: impl Iterator<Item = u64>, len: usize) -> ArrayRef {
        match self {
            Part::Time { base, .. } => Arc::new(codes.map(|code| base + code as i64).collect::<Int64Array>()),
            Part::Dict { values, .. } | Part::Counts { values, .. } => {
                let indices: UInt16Array = codes.map(|code| code.checked_sub(1).map(|code| code as u16)).collect();
                let values = StringViewArray::from_iter_values(values.iter());
                take(&values, &indices, None).expect("codes are checked on decode")
            }
            Part::Group { values, .. } => {
                Arc::new(codes.map(|code| values[code as usize]).collect::<StringViewArray>())
            }
            Part::Absent => new_null_array(&DataType::Utf8View, len),
        }
    }
}

fn part<'c>(name: &str, hits: &'c ColumnHits) -> Option<Part<'c>> {
    let columns = &hits.columns;
    if name == "__time__" {
        let times = hits.hits.iter().map(|row| i64::from(columns.times[*row as usize]));
        let (low, high) = times.fold((i64::MAX, i64::MIN), |(low, high), time| (low.min(time), high.max(time)));
        return Some(Part::Time { base: low, span: (high - low) as u64 + 1 });
    }
    if crate::columnar::is_group_field(name) {
        let mut values: Vec<Option<&str>> = Vec::new();
        let of_group = (0..columns.groups.len())
            .map(|group| {
                let row = columns.groups[group].first_row as usize;
                let value = if columns.groups[group].rows > 0 { columns.field(name, row) } else { None };
                match values.iter().position(|known| *known == value) {
                    Some(code) => code as u64,
                    None => {
                        values.push(value);
                        values.len() as u64 - 1
                    }
                }
            })
            .collect();
        return Some(Part::Group { of_group, values, group_of: &columns.group_of });
    }
    match columns.columns.get(name) {
        Some(Column::Dict { values, codes }) => Some(Part::Dict { values, codes }),
        Some(Column::Counts { values, counts }) => Some(Part::Counts { values, counts }),
        Some(Column::Plain { .. }) => None,
        Some(Column::Absent) | None => Some(Part::Absent),
    }
}

/// One segment's hits as weighted rows of the projected columns (`schema`, [`WEIGHT`] last
/// unless the optimizer pruned it because no aggregate needs it): collapsed to distinct rows
/// when every column allows, else one row per hit.
pub(crate) fn weighted_batch(hits: &ColumnHits, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    if hits.hits.is_empty() {
        return Ok(RecordBatch::new_empty(schema.clone()));
    }
    let weighted = schema.fields().last().is_some_and(|field| field.name() == WEIGHT);
    let fields = &schema.fields()[..schema.fields().len() - usize::from(weighted)];
    let parts: Option<Vec<Part<'_>>> = fields.iter().map(|field| part(field.name(), hits)).collect();
    let mut strides = Vec::new();
    let mut product: Option<u64> = Some(1);
    for part in parts.iter().flatten() {
        strides.push(product.unwrap_or(0));
        product = product.and_then(|product| product.checked_mul(part.cardinality()));
    }
    let (Some(parts), Some(product)) = (parts, product) else {
        let unweighted = Arc::new(datafusion::arrow::datatypes::Schema::new(fields.to_vec()));
        let mut columns = crate::sql::batch(hits, &unweighted)?.columns().to_vec();
        if weighted {
            columns.push(Arc::new(Int64Array::from_value(1, hits.hits.len())));
        }
        return RecordBatch::try_new_with_options(
            schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(hits.hits.len())),
        );
    };
    let distinct = match parts.as_slice() {
        // No column (`count(*)` alone): one row, the number of hits.
        [] => vec![(0, hits.hits.len() as u64)],
        // One column (the common `group by status`): counted straight into an array.
        [part] if product <= DENSE_LIMIT => {
            let mut counts = vec![0u32; product as usize];
            part.count_into(&hits.hits, &hits.columns.times, &mut counts);
            nonzero(&counts)
        }
        _ => {
            let mut keys = vec![0u64; hits.hits.len()];
            for (part, stride) in parts.iter().zip(&strides) {
                part.add_codes(&hits.hits, &hits.columns.times, *stride, &mut keys);
            }
            distinct_counts(keys, product)
        }
    };
    let len = distinct.len();
    let mut columns: Vec<ArrayRef> = parts
        .iter()
        .zip(&strides)
        .map(|(part, stride)| {
            let cardinality = part.cardinality();
            part.array(distinct.iter().map(|(key, _)| key / stride % cardinality), len)
        })
        .collect();
    if weighted {
        columns.push(Arc::new(distinct.iter().map(|(_, count)| *count as i64).collect::<Int64Array>()));
    }
    RecordBatch::try_new_with_options(schema.clone(), columns, &RecordBatchOptions::new().with_row_count(Some(len)))
}

/// Key spaces up to this size are always counted in an array.
const DENSE_LIMIT: u64 = 1 << 16;

fn nonzero(counts: &[u32]) -> Vec<(u64, u64)> {
    counts
        .iter()
        .enumerate()
        .filter(|(_, count)| **count > 0)
        .map(|(key, count)| (key as u64, u64::from(*count)))
        .collect()
}

/// Each distinct key with how often it occurs: counted in an array when the key space is small
/// against the rows, else by sorting.
fn distinct_counts(mut keys: Vec<u64>, product: u64) -> Vec<(u64, u64)> {
    if product <= (keys.len() as u64 * 4).max(DENSE_LIMIT) {
        let mut counts = vec![0u32; product as usize];
        for key in &keys {
            counts[*key as usize] += 1;
        }
        return nonzero(&counts);
    }
    keys.sort_unstable();
    let mut distinct: Vec<(u64, u64)> = Vec::new();
    for key in keys {
        match distinct.last_mut() {
            Some((last, count)) if *last == key => *count += 1,
            _ => distinct.push((key, 1)),
        }
    }
    distinct
}

#[cfg(test)]
mod tests {
    use super::distinct_counts;

    #[test]
    fn counts_distinct_keys_both_ways() {
        let keys = vec![3, 1, 3, 0, 3, 1];
        let expected = vec![(0, 1), (1, 2), (3, 3)];
        assert_eq!(distinct_counts(keys.clone(), 4), expected);
        let mut sorted = distinct_counts(keys, 1 << 40);
        sorted.sort_unstable();
        assert_eq!(sorted, expected);
        assert!(distinct_counts(Vec::new(), 1).is_empty());
    }
}
