//! The `pull` Lambda function: shard listing, cursors and PullLogs, read-only (see
//! `logport_lambda::Function`).

use logport_lambda::{Context, Function};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let context = Context::from_env(Function::Pull).await?;
    lambda_http::lambda_runtime::run(lambda_http::service_fn(|event| logport_lambda::handle(&context, event))).await
}
