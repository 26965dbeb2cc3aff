//! The HTTP/1.1 server: hyper over tokio, each request body read whole (bounded) and handed to
//! [`Api::handle`]. On shutdown it stops accepting and waits for requests in flight, so every
//! request that was acknowledged has been committed. The web console's static files are served
//! beside the API (`logport_console::serve`), without reading the request body.
//! A body over the limit is answered 413 `PostBodyTooLarge` after the rest of it has been read
//! and discarded (at most [`DRAIN_BYTES`] more; `logport_api::body`).

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use logport_api::body::{Bounded, read_bounded};
use logport_api::{Api, ApiError};

/// How long shutdown waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of a body beyond the limit is read and discarded before the 413 is sent.
const DRAIN_BYTES: u64 = 64 << 20;

async fn answer(api: Api, request: http::Request<Incoming>) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let limit = api.config().max_body_bytes;
    let (parts, body) = request.into_parts();
    // The web console's files (`/console/...`), and the browser's `GET /` sent there.
    if let Some(response) = logport_console::serve(&parts) {
        return Ok(response.map(Full::new));
    }
    let response = match read_bounded(body, limit, DRAIN_BYTES).await {
        Bounded::Whole(body) => api.handle(http::Request::from_parts(parts, body)).await,
        Bounded::TooLarge => api.reject(&ApiError::too_large(format!("the body is over the limit of {limit} bytes"))),
        Bounded::Failed(error) => api.reject(&ApiError::body_invalid(format!("reading the body failed: {error}"))),
    };
    Ok(response.map(Full::new))
}

pub async fn serve(listener: tokio::net::TcpListener, api: Api, shutdown: impl Future<Output = ()>) {
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
                let api = api.clone();
                let service = service_fn(move |request| answer(api.clone(), request));
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
