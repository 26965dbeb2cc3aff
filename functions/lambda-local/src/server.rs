//! The HTTP side of the emulated API Gateway: hyper over tokio. Each request is read whole (up to
//! API Gateway's 10 MB), turned into the v2 event JSON, invoked, and the response JSON turned
//! back into HTTP. Lambda's 6 MB limit on the event and on the response is enforced as on AWS,
//! where breaking it fails the integration: API Gateway then answers `500 Internal Server Error`
//! without the function's own answer. On shutdown it stops accepting and waits for requests in
//! flight.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use logport_api::body::{Bounded, read_bounded};
use logport_lambda::gateway::{self, API_GATEWAY_BODY_LIMIT, INVOKE_PAYLOAD_LIMIT};
use logport_lambda::{Context, Function};

/// How long shutdown waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of a body beyond API Gateway's limit is read and discarded before its 413.
const DRAIN_BYTES: u64 = 64 << 20;

/// An answer of API Gateway itself, in its shape (`{"message": ...}`).
fn gateway_answer(status: StatusCode, message: &str) -> Response<Bytes> {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

/// The functions behind the emulated API Gateway.
#[derive(Debug)]
pub enum Functions {
    /// One function (or all of the API) answers every request.
    One(Context),
    /// Each request goes to the deployed function API Gateway routes it to.
    Gateway(Vec<(Function, Context)>),
}

impl Functions {
    fn for_request(&self, parts: &http::request::Parts) -> &Context {
        match self {
            Self::One(context) => context,
            Self::Gateway(functions) => {
                let function = Function::for_request(&parts.method, parts.uri.path());
                let found = functions.iter().find(|(deployed, _)| *deployed == function);
                &found.expect("a context for every deployed function").1
            }
        }
    }
}

async fn answer(functions: &Functions, peer: SocketAddr, request: http::Request<Incoming>) -> Response<Bytes> {
    let (parts, body) = request.into_parts();
    let context = functions.for_request(&parts);
    let body = match read_bounded(body, API_GATEWAY_BODY_LIMIT, DRAIN_BYTES).await {
        Bounded::Whole(body) => body,
        Bounded::TooLarge => return gateway_answer(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
        Bounded::Failed(error) => {
            tracing::debug!(%peer, %error, "reading the body failed");
            return gateway_answer(StatusCode::BAD_REQUEST, "Bad Request");
        }
    };
    let event = gateway::event(&http::Request::from_parts(parts, body), peer.ip());
    let event = serde_json::to_vec(&event).expect("JSON values serialize");
    if event.len() > INVOKE_PAYLOAD_LIMIT {
        tracing::warn!(bytes = event.len(), limit = INVOKE_PAYLOAD_LIMIT, "the event is over Lambda's payload limit");
        return gateway_answer(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    }
    let json = match gateway::invoke(context, &event).await {
        Ok(json) => json,
        Err(error) => {
            tracing::error!(%error, "the invocation failed");
            return gateway_answer(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    };
    if json.len() > INVOKE_PAYLOAD_LIMIT {
        tracing::warn!(bytes = json.len(), limit = INVOKE_PAYLOAD_LIMIT, "the response is over Lambda's payload limit");
        return gateway_answer(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    }
    gateway::response(&json).unwrap_or_else(|error| {
        tracing::error!(%error, "API Gateway could not use the response");
        gateway_answer(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    })
}

pub async fn serve(listener: tokio::net::TcpListener, functions: Arc<Functions>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let functions = functions.clone();
                let service = service_fn(move |request| {
                    let functions = functions.clone();
                    async move { Ok::<_, Infallible>(answer(&functions, peer, request).await.map(Full::new)) }
                });
                let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still running after {DRAIN_TIMEOUT:?}; stopping anyway");
    }
}
