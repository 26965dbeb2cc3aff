//! `logport-api` is Logport's HTTP API: SLS-compatible paths, headers, signatures, compression
//! and errors (`../shared/design/sls-api.md`), as a function from `http::Request<Bytes>` to
//! `http::Response<Bytes>`. Every transport (the `logport up` server, Lambda, wasm components)
//! calls [`Api::handle`]; none of them routes or maps errors on its own.
//!
//! It knows the engine and the wire formats; it must not know sockets, runtimes or storage
//! backends.

pub mod auth;
pub mod body;
mod error;
mod handlers;
pub mod host;
mod response;
pub mod route;

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use logport_core::engine::Engine;

pub use error::ApiError;

/// Whether this build answers the query calls (GetLogs, histograms, context): the `query` feature.
/// Without it they are `404 RequestNotSupported`, pointing at the query function.
pub const SERVES_QUERIES: bool = cfg!(feature = "query");

use crate::auth::Credentials;
use crate::route::{RouteGroup, parse_query, route};

/// How the API authenticates and names itself.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Access keys requests must be signed with; `None` turns signature checks off (dev mode).
    pub credentials: Option<Credentials>,
    /// Host names that address the server itself, so `<project>.<name>` names a project.
    pub server_names: Vec<String>,
    /// Largest request body accepted, as sent (compressed).
    pub max_body_bytes: usize,
    /// The groups of calls this API answers; any other call is `404 RequestNotSupported`. A
    /// deployment that splits the API between processes (the Lambda functions) names each part
    /// here, so routing stays in one place.
    pub groups: &'static [RouteGroup],
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self { credentials: None, server_names: Vec::new(), max_body_bytes: 32 << 20, groups: RouteGroup::ALL }
    }
}

/// The API over one engine.
#[derive(Debug, Clone)]
pub struct Api {
    engine: Arc<Engine>,
    config: Arc<ApiConfig>,
    #[cfg(feature = "shipper")]
    shipper: Option<Arc<logport_shipper::Shipper>>,
}

/// What a handler sees of a request.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    pub parts: &'a http::request::Parts,
    pub body: &'a Bytes,
    pub project: Option<String>,
    pub params: route::Params,
}

impl Call<'_> {
    pub fn project(&self) -> Result<&str, ApiError> {
        self.project.as_deref().ok_or_else(|| {
            ApiError::parameter("no project: name it in the Host (<project>.<endpoint>) or the x-log-project header")
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

impl Api {
    pub fn new(engine: Arc<Engine>, config: ApiConfig) -> Self {
        Self {
            engine,
            config: Arc::new(config),
            #[cfg(feature = "shipper")]
            shipper: None,
        }
    }

    /// Serves the shipper API (`/logstores/{ls}/shipper...`) with this shipper; without one
    /// those calls are `404 RequestNotSupported`.
    #[cfg(feature = "shipper")]
    pub fn with_shipper(mut self, shipper: Arc<logport_shipper::Shipper>) -> Self {
        self.shipper = Some(shipper);
        self
    }

    /// The engine behind the API.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The configuration in force.
    pub fn config(&self) -> &ApiConfig {
        &self.config
    }

    /// Answers one request. Never fails: errors become SLS error responses.
    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        let request_id = uuid::Uuid::new_v4().simple().to_string()[..24].to_ascii_uppercase();
        let (parts, body) = request.into_parts();
        let result = self.dispatch(&parts, &body).await;
        let mut response = match result {
            Ok(response) => response,
            Err(error) => {
                if error.status.is_server_error() {
                    tracing::error!(request_id, method = %parts.method, path = parts.uri.path(), code = error.code, message = %error.message, "request failed");
                } else {
                    tracing::debug!(request_id, method = %parts.method, path = parts.uri.path(), code = error.code, message = %error.message, "request refused");
                }
                response::error(&error)
            }
        };
        response.headers_mut().insert("x-log-requestid", request_id.parse().expect("hex is a header value"));
        response.headers_mut().insert(http::header::SERVER, http::HeaderValue::from_static("logport"));
        response
    }

    /// An error response for a request the transport refused before [`Api::handle`] (for
    /// example a body over the limit), with the same headers as any other answer.
    pub fn reject(&self, error: &ApiError) -> Response<Bytes> {
        let mut response = response::error(error);
        let request_id = uuid::Uuid::new_v4().simple().to_string()[..24].to_ascii_uppercase();
        response.headers_mut().insert("x-log-requestid", request_id.parse().expect("hex is a header value"));
        response
    }

    async fn dispatch(&self, parts: &http::request::Parts, body: &Bytes) -> Result<Response<Bytes>, ApiError> {
        if body.len() > self.config.max_body_bytes {
            return Err(ApiError::too_large(format!(
                "the body is {} bytes, the limit is {}",
                body.len(),
                self.config.max_body_bytes
            )));
        }
        if let Some(credentials) = &self.config.credentials {
            auth::verify(credentials, parts, body, self.engine.now())?;
        }
        let project = host::project_of(parts, &self.config.server_names);
        let params = parse_query(parts.uri.query());
        let route = route(&parts.method, parts.uri.path(), &params, project.is_some())?;
        if !self.config.groups.contains(&route.group()) {
            let served: Vec<&str> = self.config.groups.iter().map(|group| group.name()).collect();
            return Err(ApiError::not_found(format!(
                "{} {} is a {} call; this endpoint serves {} calls only",
                parts.method,
                parts.uri.path(),
                route.group().name(),
                served.join(" and ")
            )));
        }
        let call = Call { parts, body, project, params };
        if route.needs_project() {
            call.project()?;
        }
        #[cfg(feature = "shipper")]
        if let (route::Route::Shipper { logstore, call: shipper_call }, Some(shipper)) = (&route, &self.shipper) {
            return handlers::shipper::run(shipper, &call, logstore, shipper_call).await;
        }
        handlers::run(&self.engine, route, &call).await
    }
}

#[cfg(test)]
mod tests;
