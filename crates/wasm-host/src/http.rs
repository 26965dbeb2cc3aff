//! An HTTP function: a `wasi:http/incoming-handler` component, one store per request.

use std::path::Path;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Body;
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::{Host, Limits, OutboundHosts, Result, State};

/// A pre-instantiated HTTP component with its environment and limits. Cheap to clone.
#[derive(Clone)]
pub struct HttpFunction {
    name: String,
    host: Host,
    pre: ProxyPre<State>,
    env: Vec<(String, String)>,
    limits: Limits,
    outbound: OutboundHosts,
}

impl std::fmt::Debug for HttpFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpFunction").field("name", &self.name).field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl HttpFunction {
    /// Loads (compiling or from the cache) and pre-instantiates the component at `path`, linked
    /// with all of WASI 0.2 and wasi:http. Fails if it is not an HTTP component or imports what
    /// the host does not provide. Its outgoing requests may go anywhere until
    /// [`Self::with_outbound_hosts`] restricts them (a manifest's [`crate::App`] always does).
    pub fn load(
        host: &Host,
        name: impl Into<String>,
        path: &Path,
        env: Vec<(String, String)>,
        limits: Limits,
    ) -> Result<Self> {
        let component = host.load(path)?;
        let mut linker = wasmtime::component::Linker::new(host.engine());
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        let pre = ProxyPre::new(linker.instantiate_pre(&component)?)?;
        Ok(Self { name: name.into(), host: host.clone(), pre, env, limits, outbound: OutboundHosts::any() })
    }

    /// Only these destinations for the component's outgoing requests (`allowed_outbound_hosts`).
    pub fn with_outbound_hosts(mut self, outbound: OutboundHosts) -> Self {
        self.outbound = outbound;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Creates a store and instantiates the component in it, as a request does before its
    /// handler runs, and returns how long that took: the per-request cost of the pre-instantiated
    /// component (measured by `logport serve-wasm` at start and by the `edge` benchmark).
    pub async fn time_instantiation(&self) -> Result<std::time::Duration> {
        let started = std::time::Instant::now();
        let wasi = WasiCtx::builder().envs(&self.env).build();
        let mut store = self.host.store(wasi, self.limits, self.outbound.clone());
        self.pre.instantiate_async(&mut store).await?;
        Ok(started.elapsed())
    }

    /// Answers one request in a new instance. Never fails: a component that traps (its memory
    /// or CPU cap, a panic) or answers nothing is `500 FunctionTrapped`, with the reason.
    pub async fn handle<B>(&self, request: hyper::Request<B>) -> hyper::Response<HyperOutgoingBody>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        match self.try_handle(request).await {
            Ok(response) => response,
            Err(error) => {
                tracing::warn!(function = %self.name, error = format!("{error:#}"), "component failed");
                error_response(500, "FunctionTrapped", &format!("the {} function failed: {error:#}", self.name))
            }
        }
    }

    async fn try_handle<B>(&self, request: hyper::Request<B>) -> Result<hyper::Response<HyperOutgoingBody>>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let request = origin_form(request);
        let wasi = WasiCtx::builder().envs(&self.env).inherit_stderr().build();
        let mut store = self.host.store(wasi, self.limits, self.outbound.clone());
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let incoming = store.data_mut().http().new_incoming_request(Scheme::Http, request)?;
        let outparam = store.data_mut().http().new_response_outparam(sender)?;
        let pre = self.pre.clone();
        // The guest keeps running after it has sent the head (it writes the body): its own task.
        let task = tokio::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy.wasi_http_incoming_handler().call_handle(&mut store, incoming, outparam).await
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => Err(wasmtime::format_err!("the component answered with an error: {code:?}")),
            Err(_) => match task.await {
                Ok(Ok(())) => Err(wasmtime::format_err!("the component set no response")),
                Ok(Err(error)) => Err(error),
                Err(join) => Err(wasmtime::format_err!("the component's task failed: {join}")),
            },
        }
    }
}

/// The request with an origin-form target (path and query) when it carries a Host header, so the
/// component's authority is the Host, as `logport up` reads it. A client going through an HTTP
/// proxy sends an absolute target naming the proxy (the SLS SDKs' proxy mode: the project is in
/// the Host, `<project>.<endpoint>`), and wasmtime prefers the target's authority to the Host.
fn origin_form<B>(request: hyper::Request<B>) -> hyper::Request<B> {
    if request.uri().authority().is_none() || !request.headers().contains_key(hyper::header::HOST) {
        return request;
    }
    let (mut parts, body) = request.into_parts();
    let target = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    if let Ok(uri) = target.parse() {
        parts.uri = uri;
    }
    hyper::Request::from_parts(parts, body)
}

/// An SLS-style error answer from the host itself.
pub(crate) fn error_response(status: u16, code: &str, message: &str) -> hyper::Response<HyperOutgoingBody> {
    let body = serde_json::json!({ "errorCode": code, "errorMessage": message }).to_string();
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-log-requestid", "wasm-host")
        .body(Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed_unsync())
        .expect("a valid response")
}

#[cfg(test)]
mod tests {
    use super::origin_form;

    fn request(target: &str, host: Option<&str>) -> hyper::Request<()> {
        let mut builder = hyper::Request::builder().uri(target);
        if let Some(host) = host {
            builder = builder.header("host", host);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn the_host_header_names_the_authority_of_a_proxied_request() {
        let proxied = origin_form(request("http://127.0.0.1:3000/logstores?x=1", Some("proj.127.0.0.1")));
        assert_eq!(proxied.uri().to_string(), "/logstores?x=1");
        assert_eq!(proxied.headers()["host"], "proj.127.0.0.1");
        // Without a Host header the target's authority is all there is: kept.
        let bare = origin_form(request("http://proj.example.com/", None));
        assert_eq!(bare.uri().authority().unwrap().as_str(), "proj.example.com");
        assert_eq!(origin_form(request("/a", Some("h"))).uri().to_string(), "/a");
    }
}
