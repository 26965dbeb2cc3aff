//! One handler per route; each reads its inputs from the [`Call`], calls the engine once or
//! twice and builds the SLS response.

mod admin;
mod collection;
mod consumer;
mod logs;
#[cfg(feature = "query")]
mod query;
#[cfg(feature = "shipper")]
pub(crate) mod shipper;

use bytes::Bytes;
use http::Response;
use logport_core::engine::Engine;
use serde::de::DeserializeOwned;

use crate::Call;
use crate::error::ApiError;
use crate::route::Route;

pub(crate) async fn run(
    engine: &std::sync::Arc<Engine>,
    route: Route,
    call: &Call<'_>,
) -> Result<Response<Bytes>, ApiError> {
    match route {
        Route::ListProjects => admin::list_projects(engine, call).await,
        Route::CreateProject => admin::create_project(engine, call).await,
        Route::GetProject => admin::get_project(engine, call).await,
        Route::UpdateProject => admin::update_project(engine, call).await,
        Route::DeleteProject => admin::delete_project(engine, call).await,
        Route::CreateLogstore => admin::create_logstore(engine, call).await,
        Route::ListLogstores => admin::list_logstores(engine, call).await,
        Route::GetLogstore(logstore) => admin::get_logstore(engine, call, &logstore).await,
        Route::UpdateLogstore(logstore) => admin::update_logstore(engine, call, &logstore).await,
        Route::DeleteLogstore(logstore) => admin::delete_logstore(engine, call, &logstore).await,
        Route::ListShards(logstore) => admin::list_shards(engine, call, &logstore).await,
        Route::PutLogs { logstore, hash_key } => logs::put_logs(engine, call, &logstore, hash_key).await,
        Route::GetCursor { logstore, shard } => logs::get_cursor(engine, call, &logstore, shard).await,
        Route::GetCursorTime { logstore, shard } => logs::get_cursor_time(engine, call, &logstore, shard).await,
        Route::PullLogs { logstore, shard } => logs::pull_logs(engine, call, &logstore, shard).await,
        #[cfg(feature = "query")]
        Route::GetLogs(logstore) => query::get_logs(engine, call, &logstore).await,
        #[cfg(feature = "query")]
        Route::GetLogsV1(logstore) => query::get_logs_v1(engine, call, &logstore).await,
        #[cfg(feature = "query")]
        Route::Histogram(logstore) => query::histogram(engine, call, &logstore).await,
        #[cfg(feature = "query")]
        Route::Context(logstore) => query::context(engine, call, &logstore).await,
        // Served by `shipper::run` when the API has a shipper (see `Api::with_shipper`).
        Route::Shipper { .. } => Err(ApiError::not_found("shipping is not served by this endpoint")),
        Route::ConsumerGroup(consumer_call) => consumer::run(engine, call, consumer_call).await,
        Route::Collection(collection_call) => collection::run(engine, call, collection_call).await,
        #[cfg(not(feature = "query"))]
        Route::GetLogs(_) | Route::GetLogsV1(_) | Route::Histogram(_) | Route::Context(_) => {
            Err(ApiError::not_found("queries are served by the query function of this deployment"))
        }
    }
}

/// Parses a JSON request body into `T`, as `PostBodyInvalid` when it does not fit.
fn json_body<T: DeserializeOwned>(call: &Call<'_>) -> Result<T, ApiError> {
    let body: &[u8] = if call.body.is_empty() { b"{}" } else { call.body };
    serde_json::from_slice(body).map_err(|error| ApiError::body_invalid(format!("invalid JSON body: {error}")))
}

/// An integer query parameter with a default.
fn number_param(call: &Call<'_>, name: &str, default: usize) -> Result<usize, ApiError> {
    match call.param(name) {
        None | Some("") => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| ApiError::parameter(format!("{name} must be a non-negative integer, not '{text}'"))),
    }
}
