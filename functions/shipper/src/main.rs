//! The `shipper` Lambda function. EventBridge invokes it on a schedule (`rate(5 minutes)` by
//! default, see `template.yaml`); each invocation is one pass of the shipper: windows whose
//! interval or size is reached become tasks, and due tasks (new ones and retries after 15, 30,
//! then 60 minutes) write their objects to S3. The event's body is not read: the pass works from
//! the clock and the stored state, so a late or repeated event does no harm. The answer is the
//! pass's report (tasks created, run, succeeded, failed; lines shipped).
//!
//! Configuration (read once, at cold start): the store from `LOGPORT_S3_BUCKET`,
//! `LOGPORT_S3_PREFIX`, `LOGPORT_DYNAMODB_TABLE`, `LOGPORT_AWS_ENDPOINT` and the standard AWS
//! chain; shipping targets are S3 buckets named by each rule, through the same S3 client.

use std::sync::Arc;

use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use logport_core::engine::Engine;
use logport_shipper::{S3Buckets, Shipper};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = logport_store_aws::AwsStoreConfig::from_env()?;
    let store = logport_store_aws::connect(&config).await?;
    let buckets = Arc::new(S3Buckets::new(store.objects.client().clone()));
    let engine = Arc::new(Engine::new(store.objects.clone(), store.meta.clone()));
    let shipper = Shipper::new(engine.clone(), store.meta.clone(), buckets);
    let shipper = &shipper;
    let engine = &engine;
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| async move {
        let report = shipper.run_due(engine.now()).await?;
        Ok::<Value, lambda_runtime::Error>(serde_json::to_value(report)?)
    }))
    .await
}
