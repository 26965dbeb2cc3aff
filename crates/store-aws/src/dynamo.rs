//! [`MetaStore`] on one DynamoDB table (the design is in ARCHITECTURE.md, "DynamoDB table design").
//!
//! | port call | DynamoDB call |
//! |---|---|
//! | `get` | GetItem, `ConsistentRead` |
//! | `put` | UpdateItem `SET v = :v, ver = if_not_exists(ver, :zero) + :one` (+ `ttl`), with the condition, `ReturnValues=UPDATED_NEW` |
//! | `delete` | DeleteItem with the condition |
//! | `transact` | TransactWriteItems: Update (as `put`), Delete, ConditionCheck |
//! | `query` | Query on `pk` with one sort-key condition, `ConsistentRead`, paged by `LastEvaluatedKey` |
//!
//! Conditions: `Absent` is `attribute_not_exists(pk)`, `Exists` is `attribute_exists(pk)`,
//! `Version(n)` is `ver = n`. DynamoDB checks a condition and applies the update atomically, so
//! versions stay exact under any number of concurrent writers. A failed condition
//! (`ConditionalCheckFailedException`, or a `TransactionCanceledException` whose reasons hold
//! `ConditionalCheckFailed`) is [`StoreError::Conflict`].
//!
//! A transaction cancelled only because another transaction held one of its items
//! (`TransactionConflict`) or by throttling wrote nothing, so it is tried again a few times after a
//! short random pause, then reported as [`StoreError::Unavailable`]. Every other error has been
//! retried by the SDK already and is [`StoreError::Backend`].

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::AsyncSleep;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{CancellationReason, ConditionCheck, Delete, ReturnValue, TransactWriteItem, Update};
use logport_core::store::{
    Condition, Item, MetaStore, Query, Result, StoreError, WriteOp, validate_key_pair, validate_transaction,
    validate_value,
};

use crate::error::{Failure, build_error};
use crate::expression::{self, Attributes};

/// How often `transact` sends a transaction that was cancelled by a conflicting transaction or
/// by throttling before giving up with `Unavailable`.
const TRANSACTION_ATTEMPTS: u32 = 4;
/// The longest pause before the first retry of a cancelled transaction; it doubles after each.
const TRANSACTION_BACKOFF: Duration = Duration::from_millis(25);
/// Cancellation reasons that say nothing about the conditions: trying again may succeed.
const TRANSIENT_CANCELLATIONS: [&str; 4] =
    ["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"];

/// Metadata items in a DynamoDB table with `pk` (S) as partition key and `sk` (S) as sort key.
#[derive(Debug, Clone)]
pub struct DynamoMetaStore {
    client: Client,
    table: String,
}

impl DynamoMetaStore {
    /// A store on `table` (see [`Self::create_table_if_missing`] for the schema it needs).
    ///
    /// The client's configuration decides endpoint, credentials, retries and timeouts; give it the
    /// standard retry strategy (the `config` feature's `connect` does) and a sleep implementation,
    /// which the transaction retries use too.
    pub fn new(client: Client, table: impl Into<String>) -> Result<Self> {
        let table = table.into();
        if table.is_empty() {
            return Err(StoreError::Invalid("the DynamoDB table name is empty".into()));
        }
        Ok(Self { client, table })
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn describe(&self, pk: &str, sk: &str) -> String {
        format!("table {} item ({pk}, {sk})", self.table)
    }

    fn transaction_item(&self, op: WriteOp) -> Result<TransactWriteItem> {
        let built = match op {
            WriteOp::Put { pk, sk, value, expires_at, condition } => {
                let put = expression::put(value, expires_at, condition);
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(expression::key(&pk, &sk)))
                    .update_expression(put.update)
                    .set_condition_expression(put.condition)
                    .set_expression_attribute_names(put.placeholders.names())
                    .set_expression_attribute_values(put.placeholders.values())
                    .build()
                    .map_err(|e| build_error("transaction update", e))?;
                TransactWriteItem::builder().update(update)
            }
            WriteOp::Delete { pk, sk, condition } => {
                let condition = expression::condition(condition);
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(expression::key(&pk, &sk)))
                    .set_condition_expression(condition.expression)
                    .set_expression_attribute_names(condition.placeholders.names())
                    .set_expression_attribute_values(condition.placeholders.values())
                    .build()
                    .map_err(|e| build_error("transaction delete", e))?;
                TransactWriteItem::builder().delete(delete)
            }
            WriteOp::Check { pk, sk, condition } => {
                let condition = expression::check_condition(condition);
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(expression::key(&pk, &sk)))
                    .set_condition_expression(condition.expression)
                    .set_expression_attribute_names(condition.placeholders.names())
                    .set_expression_attribute_values(condition.placeholders.values())
                    .build()
                    .map_err(|e| build_error("transaction condition check", e))?;
                TransactWriteItem::builder().condition_check(check)
            }
        };
        Ok(built.build())
    }

    /// Sleeps before retry number `attempt` (1-based) of a cancelled transaction: a random pause
    /// up to the doubled backoff, so that cancelled writers do not meet again. Returns false when
    /// the client has no sleep implementation (then nothing is retried).
    async fn pause_before_retry(&self, attempt: u32) -> bool {
        let Some(sleep) = self.client.config().sleep_impl() else {
            return false;
        };
        let longest = TRANSACTION_BACKOFF.saturating_mul(1 << attempt.saturating_sub(1).min(10));
        let random = RandomState::new().hash_one(attempt);
        let nanos = u64::try_from(longest.as_nanos()).unwrap_or(u64::MAX);
        sleep.sleep(Duration::from_nanos(random % nanos.max(1))).await;
        true
    }
}

#[async_trait]
impl MetaStore for DynamoMetaStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>> {
        validate_key_pair(pk, sk)?;
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(expression::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Failure::of(&e).into_store_error(format_args!("GetItem {}", self.describe(pk, sk))))?;
        answer.item().map(expression::item).transpose()
    }

    async fn put(
        &self,
        pk: &str,
        sk: &str,
        value: Vec<u8>,
        expires_at: Option<i64>,
        condition: Condition,
    ) -> Result<u64> {
        validate_key_pair(pk, sk)?;
        validate_value(&value)?;
        let put = expression::put(value, expires_at, condition);
        let answer = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(expression::key(pk, sk)))
            .update_expression(put.update)
            .set_condition_expression(put.condition)
            .set_expression_attribute_names(put.placeholders.names())
            .set_expression_attribute_values(put.placeholders.values())
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match answer {
            Ok(output) => expression::version(output.attributes().unwrap_or(&Attributes::new())),
            Err(error) => Err(single_write_error(Failure::of(&error), "UpdateItem", &self.describe(pk, sk))),
        }
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<()> {
        validate_key_pair(pk, sk)?;
        let condition = expression::condition(condition);
        let answer = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(expression::key(pk, sk)))
            .set_condition_expression(condition.expression)
            .set_expression_attribute_names(condition.placeholders.names())
            .set_expression_attribute_values(condition.placeholders.values())
            .send()
            .await;
        match answer {
            Ok(_) => Ok(()),
            Err(error) => Err(single_write_error(Failure::of(&error), "DeleteItem", &self.describe(pk, sk))),
        }
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<()> {
        validate_transaction(&ops)?;
        let items = ops.into_iter().map(|op| self.transaction_item(op)).collect::<Result<Vec<_>>>()?;
        let mut attempt = 1;
        loop {
            let answer = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let error = match answer {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            let cancelled = match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    classify_cancellation(cancelled.cancellation_reasons(), cancelled.message())
                }
                _ => {
                    let action = format_args!("TransactWriteItems on table {}", self.table);
                    return Err(Failure::of(&error).into_store_error(action));
                }
            };
            match cancelled {
                Cancellation::Conflict(index) => return Err(StoreError::Conflict { index }),
                Cancellation::Transient(reasons) => {
                    if attempt >= TRANSACTION_ATTEMPTS || !self.pause_before_retry(attempt).await {
                        return Err(StoreError::Unavailable(format!(
                            "TransactWriteItems on table {} cancelled {attempt} times ({reasons}); retry",
                            self.table
                        )));
                    }
                    tracing::debug!(table = %self.table, attempt, reasons, "transaction cancelled, retrying");
                    attempt += 1;
                }
                Cancellation::Failed(reasons) => {
                    return Err(StoreError::Backend(format!(
                        "TransactWriteItems on table {} cancelled: {reasons}",
                        self.table
                    )));
                }
            }
        }
    }

    async fn query(&self, query: Query) -> Result<Vec<Item>> {
        validate_key_pair(&query.pk, "-")?;
        let limit = query.limit.unwrap_or(usize::MAX);
        let Some(condition) = expression::key_condition(&query).filter(|_| limit > 0) else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        let mut start_key: Option<Attributes> = None;
        loop {
            // Ask for what is still missing, plus the bound items the filter below may drop.
            let page_limit = query.limit.map(|_| {
                let wanted = (limit - found.len()).saturating_add(condition.excluded_bounds);
                i32::try_from(wanted).unwrap_or(i32::MAX)
            });
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(&condition.expression)
                .set_expression_attribute_names(condition.placeholders.names())
                .set_expression_attribute_values(condition.placeholders.values())
                .scan_index_forward(!query.reverse)
                .consistent_read(true)
                .set_limit(page_limit)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|e| {
                    Failure::of(&e).into_store_error(format_args!("Query table {} partition {}", self.table, query.pk))
                })?;
            for attributes in page.items() {
                let item = expression::item(attributes)?;
                if query.contains(&item.sk) {
                    found.push(item);
                    if found.len() == limit {
                        return Ok(found);
                    }
                }
            }
            match page.last_evaluated_key {
                Some(last) if !last.is_empty() => start_key = Some(last),
                _ => return Ok(found),
            }
        }
    }
}

/// Maps the error of a conditional single-item write.
fn single_write_error(failure: Failure, operation: &str, target: &str) -> StoreError {
    if failure.is("ConditionalCheckFailedException") {
        return StoreError::Conflict { index: None };
    }
    failure.into_store_error(format_args!("{operation} {target}"))
}

/// What a cancelled transaction means.
#[derive(Debug, PartialEq, Eq)]
enum Cancellation {
    /// A condition failed: at this operation, when the reasons say.
    Conflict(Option<usize>),
    /// Cancelled for reasons unrelated to the conditions (conflicting transaction, throttling).
    Transient(String),
    /// Cancelled for another reason (validation, item size): retrying will not help.
    Failed(String),
}

fn classify_cancellation(reasons: &[CancellationReason], message: Option<&str>) -> Cancellation {
    let codes: Vec<&str> = reasons.iter().map(|reason| reason.code().unwrap_or("None")).collect();
    if let Some(index) = codes.iter().position(|code| *code == "ConditionalCheckFailed") {
        return Cancellation::Conflict(Some(index));
    }
    let summary = format!("reasons [{}]: {}", codes.join(", "), message.unwrap_or("no message"));
    if codes.is_empty() {
        // A server that sends no reasons: the message is all there is to go on.
        if message.is_some_and(|message| message.contains("ConditionalCheckFailed")) {
            return Cancellation::Conflict(None);
        }
        return Cancellation::Failed(summary);
    }
    if codes.iter().any(|code| TRANSIENT_CANCELLATIONS.contains(code)) {
        return Cancellation::Transient(summary);
    }
    Cancellation::Failed(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(codes: &[&str]) -> Vec<CancellationReason> {
        codes.iter().map(|code| CancellationReason::builder().code(*code).build()).collect()
    }

    #[test]
    fn a_failed_condition_is_a_conflict_at_its_index() {
        let classified = classify_cancellation(&reasons(&["None", "None", "ConditionalCheckFailed"]), None);
        assert_eq!(classified, Cancellation::Conflict(Some(2)));
        let mixed = classify_cancellation(&reasons(&["TransactionConflict", "ConditionalCheckFailed"]), None);
        assert_eq!(mixed, Cancellation::Conflict(Some(1)));
    }

    #[test]
    fn conflicting_transactions_and_throttling_are_transient() {
        for code in TRANSIENT_CANCELLATIONS {
            let classified = classify_cancellation(&reasons(&["None", code]), Some("cancelled"));
            assert!(matches!(classified, Cancellation::Transient(_)), "{code}: {classified:?}");
        }
    }

    #[test]
    fn other_reasons_fail() {
        let classified = classify_cancellation(&reasons(&["ValidationError", "None"]), Some("too big"));
        assert!(matches!(classified, Cancellation::Failed(ref summary) if summary.contains("ValidationError")));
    }

    #[test]
    fn without_reasons_the_message_decides() {
        let message = "Transaction cancelled [ConditionalCheckFailed, None]";
        assert_eq!(classify_cancellation(&[], Some(message)), Cancellation::Conflict(None));
        assert!(matches!(classify_cancellation(&[], Some("something")), Cancellation::Failed(_)));
    }
}
