//! The `query` edge function: GetLogs, histograms and context, and getting and listing projects and logstores (see `logport_lambda::Function::Query`), served by
//! `logport-edge` over S3 + DynamoDB. Routed to by `spin.toml` at the repository root.

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
fn handle(request: spin_sdk::http::Request) -> logport_edge::Response {
    logport_edge::serve(logport_edge::Function::Query, request)
}
