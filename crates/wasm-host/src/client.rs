//! The client behind the components' outgoing wasi:http requests: one per [`crate::Host`],
//! shared by every store, keeping connections alive between requests and between instances.
//!
//! wasmtime's default sender opens a TCP connection (and a TLS session) for every request and
//! closes it with the response. A component instance lives for one incoming request, and an
//! ingest request makes several calls to S3 and DynamoDB: without a pool each of them would pay a
//! connect (and, against AWS, a TLS handshake). The pool keeps idle connections per
//! scheme + host + port for [`IDLE`]; a connection the server closed is not reused.

use std::time::Duration;

use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as PoolClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

/// How long an idle connection stays in the pool: under the usual server-side keep-alive
/// timeouts (S3 closes idle connections after about 20 s), so the pool rarely hands out one the
/// server is closing.
const IDLE: Duration = Duration::from_secs(15);

/// wasmtime's defaults when the guest sets no timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The response future's second half: the connection's I/O, which the pool drives itself.
pub(crate) type Io = Box<dyn Future<Output = Result<(), HttpError>> + Send>;

/// What a `WasiHttpHooks::send_request` hook returns: the response and its [`Io`].
pub(crate) type SendFuture = Box<dyn Future<Output = Result<(http::Response<WasiBody>, Io), HttpError>> + Send>;

/// A pooling HTTP/1.1 client over TCP and rustls (webpki roots, the ring provider).
#[derive(Clone)]
pub(crate) struct Client {
    pool: PoolClient<HttpsConnector<HttpConnector>, WasiBody>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    pub(crate) fn new() -> Client {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let tls =
            rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let pool = PoolClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(IDLE)
            .build(connector);
        Client { pool }
    }

    /// Sends `request` (absolute URI, as wasi:http hands it over) on a pooled connection.
    pub(crate) async fn send(
        &self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<(http::Response<WasiBody>, Io), HttpError> {
        if request.uri().authority().is_none() {
            return Err(HttpError::HttpRequestUriInvalid);
        }
        // The pool connects inside the request future: the connect and first-byte timeouts
        // bound it together (the longer of the two, as each alone would cut the other short).
        let connect = options.and_then(|o| o.connect_timeout).unwrap_or(DEFAULT_TIMEOUT);
        let first_byte = options.and_then(|o| o.first_byte_timeout).unwrap_or(DEFAULT_TIMEOUT);
        let response = match tokio::time::timeout(connect.max(first_byte), self.pool.request(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => return Err(map_error(error)),
            Err(_) => return Err(HttpError::ConnectionReadTimeout),
        };
        let response = response.map(|body| body.map_err(HttpError::from).boxed_unsync());
        Ok((response, Box::new(async { Ok(()) })))
    }
}

fn map_error(error: hyper_util::client::legacy::Error) -> HttpError {
    use std::error::Error as _;
    if error.is_connect() {
        let message = match error.source() {
            Some(source) => source.to_string(),
            None => error.to_string(),
        };
        return HttpError::Connect(std::io::Error::other(message));
    }
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>() {
            if hyper.is_incomplete_message() || hyper.is_closed() {
                return HttpError::ConnectionTerminated;
            }
            return HttpError::InternalError(Some(hyper.to_string()));
        }
        source = cause.source();
    }
    HttpError::InternalError(Some(error.to_string()))
}
