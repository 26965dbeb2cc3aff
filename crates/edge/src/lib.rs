//! `logport-edge` serves Logport's HTTP API from WebAssembly components (`wasm32-wasip2`,
//! `wasi:http/incoming-handler@0.2.0`, the crates in `components/`), so that Spin or Logport's
//! own wasmtime host (`crates/wasm-host`) can run the API at the edge.
//!
//! It is a thin adapter, like `logport-lambda` is for Lambda, and reuses that crate's pieces
//! (built without its Lambda runtime): the split of the API between the functions
//! ([`Function`]), their settings and their context. What it adds: the incoming wasi:http
//! request to the API's `http::Request<Bytes>` and back ([`convert`]), and the S3 + DynamoDB
//! stores over the AWS SDK with the WASI HTTP client of `aws-smithy-wasm` instead of the SDK's
//! hyper client (`aws-config` and tokio do not build for wasm32-wasip2).
//!
//! Settings are the Lambda functions' (`LOGPORT_*`, see `logport_lambda::settings`) and the
//! store's (`LOGPORT_S3_BUCKET`, `LOGPORT_S3_PREFIX`, `LOGPORT_DYNAMODB_TABLE`,
//! `LOGPORT_AWS_ENDPOINT`), with static AWS credentials and region (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`): the component's environment, which
//! the host fills from the manifest. A component instance serves one request, so the context is
//! built per request; building it makes no request.
//!
//! Only the wasm build links spin-sdk and the WASI HTTP client: on the host the crate holds the
//! pure parts, tested there.

pub mod convert;
pub mod settings;
#[cfg(target_arch = "wasm32")]
mod wasm;

use logport_api::route::RouteGroup;
pub use logport_lambda::Function;
pub use settings::EdgeSettings;
#[cfg(target_arch = "wasm32")]
pub use wasm::serve;

/// What a component answers.
pub type Response = http::Response<Vec<u8>>;

/// The calls a component answers. A Spin manifest routes by path alone (no method), and SLS
/// puts calls of several groups under one path (`/logstores/{ls}/shards/...` holds PullLogs and
/// PutLogs, `/logstores/{ls}` GetLogstore, DeleteLogstore and GetLogs), so each component answers
/// every call that can reach its routes in `spin.toml`: ingest and pull everything but queries
/// (they link no DataFusion), query everything. The split still keeps DataFusion out of the two
/// hot paths and lets each scale and be capped on its own.
pub fn component_groups(function: Function) -> &'static [RouteGroup] {
    match function {
        Function::Ingest | Function::Pull => {
            &[RouteGroup::Admin, RouteGroup::Describe, RouteGroup::Write, RouteGroup::Read]
        }
        _ => RouteGroup::ALL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_query_component_answers_queries() {
        assert!(!component_groups(Function::Ingest).contains(&RouteGroup::Query));
        assert!(!component_groups(Function::Pull).contains(&RouteGroup::Query));
        assert_eq!(component_groups(Function::Query), RouteGroup::ALL);
        for group in RouteGroup::ALL {
            // Shipping is a scheduled function's, not at the edge: no component links the shipper.
            if *group != RouteGroup::Query && *group != RouteGroup::Ship {
                assert!(component_groups(Function::Pull).contains(group), "{group:?}");
            }
        }
    }
}
