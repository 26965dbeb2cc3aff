//! The component side (wasm32 only): the stores over the WASI HTTP client, and one request
//! through the API.

use std::sync::Arc;

use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_smithy_wasm::wasi::{WasiHttpClientBuilder, WasiSleep};
use logport_api::ApiError;
use logport_lambda::{Context, Function, Stores};
use logport_store_aws::{DynamoMetaStore, S3ObjectStore};

use crate::convert;
use crate::settings::EdgeSettings;

/// How many times the SDK sends a request that failed transiently (as on Lambda).
const MAX_ATTEMPTS: u32 = 5;

/// Answers one incoming request with the part of the API `function` serves. Never fails: a
/// bad request, or a setting the component lacks, is an SLS error response.
pub fn serve(function: Function, request: spin_sdk::http::Request) -> http::Response<Vec<u8>> {
    let context = match EdgeSettings::from_env().map_err(|error| error.to_string()).and_then(|s| open(function, s)) {
        Ok(context) => context,
        Err(message) => return unavailable(function, &message),
    };
    let headers: Vec<(&str, &[u8])> = request.headers().map(|(name, value)| (name, value.as_bytes())).collect();
    let method = request.method().to_string();
    let converted = convert::api_request(&method, request.uri(), headers, request.body().to_vec());
    let response = match converted {
        // The AWS SDK's client runs on wstd's reactor: drive the API's future there.
        Ok(api_request) => wstd::runtime::block_on(context.api().handle(api_request)),
        Err(error) => context.api().reject(&error),
    };
    let (parts, body) = response.into_parts();
    http::Response::from_parts(parts, body.to_vec())
}

/// The function's context over S3 + DynamoDB with the WASI HTTP client. Makes no request.
fn open(function: Function, settings: EdgeSettings) -> Result<Context, String> {
    let http_client = WasiHttpClientBuilder::new().build();
    let credentials = Credentials::new(
        settings.credentials.access_key_id.clone(),
        settings.credentials.secret_access_key.clone(),
        settings.credentials.session_token.clone(),
        None,
        "logport-edge",
    );
    let region = Region::new(settings.region.clone());
    let retry = aws_sdk_s3::config::retry::RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS);
    let mut s3 = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(region.clone())
        .credentials_provider(credentials.clone())
        .http_client(http_client.clone())
        .sleep_impl(WasiSleep)
        .retry_config(retry.clone());
    let mut dynamodb = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(region)
        .credentials_provider(credentials)
        .http_client(http_client)
        .sleep_impl(WasiSleep)
        .retry_config(retry);
    if let Some(endpoint) = &settings.store.endpoint {
        s3 = s3.endpoint_url(endpoint).force_path_style(true);
        dynamodb = dynamodb.endpoint_url(endpoint);
    }
    let objects = S3ObjectStore::new(
        aws_sdk_s3::Client::from_conf(s3.build()),
        settings.store.bucket.clone(),
        settings.store.prefix.clone(),
    )
    .map_err(|error| error.to_string())?;
    let meta =
        DynamoMetaStore::new(aws_sdk_dynamodb::Client::from_conf(dynamodb.build()), settings.store.table.clone())
            .map_err(|error| error.to_string())?;
    let description = logport_lambda::store::describe(&settings.store);
    let stores = Stores::new(Arc::new(objects), Arc::new(meta), description);
    Ok(Context::with_groups(function, crate::component_groups(function), settings.api, stores))
}

/// A component without its settings: `500 ServerConfigError`, naming what is missing.
fn unavailable(function: Function, message: &str) -> http::Response<Vec<u8>> {
    tracing::error!(%function, message, "logport component cannot serve");
    let error = ApiError::new(
        http::StatusCode::INTERNAL_SERVER_ERROR,
        "ServerConfigError",
        format!("the {function} component is misconfigured: {message}"),
    );
    let context = Context::new(function, logport_lambda::Settings::insecure(), Stores::memory());
    let (parts, body) = context.api().reject(&error).into_parts();
    http::Response::from_parts(parts, body.to_vec())
}
