//! The `shipper` Lambda function, invoked two ways:
//!
//! - by EventBridge on a schedule (`rate(5 minutes)` by default, see `template.yaml`): each
//!   invocation is one pass of the shipper: windows whose interval or size is reached become
//!   tasks, and due tasks (new ones and retries after 15, 30, then 60 minutes) write their
//!   objects to S3. The event's body is not read: the pass works from the clock and the stored
//!   state, so a late or repeated event does no harm. The answer is the pass's report (tasks
//!   created, run, succeeded, failed; lines shipped);
//! - by API Gateway for the shipper API (`/logstores/{ls}/shipper...`: create, list, get, update,
//!   delete rules; list tasks, retry; Logport's flush), signed and answered as every function
//!   answers (`logport_lambda::handle`). It is the one function that links the shipper's writers.
//!
//! Configuration (read once, at cold start): the store from `LOGPORT_S3_BUCKET`,
//! `LOGPORT_S3_PREFIX`, `LOGPORT_DYNAMODB_TABLE`, `LOGPORT_AWS_ENDPOINT` and the standard AWS
//! chain, the access keys as the other functions read them; shipping targets are S3 buckets named
//! by each rule, through the same S3 client, or as the rule's `roleArn` (assumed through STS).

use std::sync::Arc;

use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use logport_lambda::{Context, Function, Settings, Stores};
use logport_shipper::{S3Buckets, Shipper};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = logport_store_aws::AwsStoreConfig::from_env()?;
    let store = logport_store_aws::connect(&config).await?;
    let buckets = Arc::new(S3Buckets::assuming_roles(store.objects.client().clone(), store.sdk.clone()));
    let stores = Stores::new(store.objects.clone(), store.meta.clone(), logport_lambda::store::describe(&config));
    let context = Context::new(Function::Shipper, Settings::from_env()?, stores);
    let shipper = Arc::new(Shipper::new(context.engine().clone(), store.meta.clone(), buckets));
    let context = context.with_shipper(shipper.clone());
    let (context, shipper) = (&context, &shipper);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        logport_lambda::handle_shipper(context, shipper, event)
    }))
    .await
}
