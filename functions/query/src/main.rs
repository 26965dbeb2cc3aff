//! The `query` Lambda function: GetLogs (v1 and v2), histograms and context, and the read-only
//! project and logstore calls (see `logport_lambda::Function`).

use logport_lambda::{Context, Function};

// The dependency is there for its `query` feature (DataFusion in the API's handlers).
use logport_api as _;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let context = Context::from_env(Function::Query).await?;
    lambda_http::lambda_runtime::run(lambda_http::service_fn(|event| logport_lambda::handle(&context, event))).await
}
