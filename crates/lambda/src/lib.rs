//! `logport-lambda` runs Logport's HTTP API on AWS Lambda behind an API Gateway HTTP API
//! (payload format 2.0): it turns the event into the `http::Request<Bytes>` that
//! [`logport_api::Api::handle`] answers, and the answer into the response API Gateway expects
//! (binary bodies base64-encoded), both exactly ([`convert`]). It also holds the split of the API
//! between the functions ([`Function`]), the context each function builds once at cold start
//! ([`Context`]), and [`gateway`]: API Gateway and the Lambda runtime emulated in process, for
//! tests and the local adapter.
//!
//! It must not route, authenticate or map errors (the API does, once), and must not know a
//! storage backend beyond the seam in [`store`].

pub mod context;
#[cfg(feature = "runtime")]
pub mod convert;
pub mod function;
#[cfg(feature = "runtime")]
pub mod gateway;
pub mod settings;
pub mod store;

#[cfg(feature = "runtime")]
use std::convert::Infallible;

#[cfg(feature = "runtime")]
use lambda_http::LambdaEvent;
#[cfg(feature = "runtime")]
use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};

pub use context::{Context, ContextError};
pub use function::Function;
pub use settings::Settings;
pub use store::Stores;

#[cfg(feature = "runtime")]
/// Answers one invocation: the function given to the Lambda runtime. Never fails: every problem
/// with the request is an SLS error response.
pub async fn handle(
    context: &Context,
    event: LambdaEvent<ApiGatewayV2httpRequest>,
) -> Result<ApiGatewayV2httpResponse, Infallible> {
    let response = match convert::api_request(event.payload) {
        Ok(request) => context.api().handle(request).await,
        Err(error) => context.api().reject(&error),
    };
    Ok(convert::lambda_response(response))
}
