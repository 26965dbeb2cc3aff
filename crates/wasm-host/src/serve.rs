//! The functions of a manifest behind one HTTP/1.1 listener.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use tokio::net::TcpListener;
use wasmtime_wasi_http::io::TokioIo;

use crate::http::error_response;
use crate::manifest::{Manifest, ManifestError};
use crate::{Host, HttpFunction, Limits, Result};

/// A manifest's HTTP functions, loaded and ready.
#[derive(Debug, Clone)]
pub struct App {
    manifest: Arc<Manifest>,
    functions: Arc<BTreeMap<String, HttpFunction>>,
}

impl App {
    /// Loads every component a route names. Sources are relative to the manifest's directory, or
    /// taken from `components_dir` by file name when given (a build elsewhere, e.g. another
    /// `CARGO_TARGET_DIR`). Variables come from `lookup` (`SPIN_VARIABLE_<NAME>`); `defaults` are
    /// the caps of components that set none. With `allow_missing`, a component whose file does
    /// not exist is left out (loudly) and its routes answer `503 ComponentUnavailable`.
    pub fn load(
        host: &Host,
        manifest_path: &Path,
        components_dir: Option<&Path>,
        lookup: impl Fn(&str) -> Option<String>,
        defaults: Limits,
        allow_missing: bool,
    ) -> Result<Self> {
        let manifest = Manifest::read(manifest_path).map_err(wasmtime::Error::msg)?;
        let values = manifest.resolve_variables(lookup).map_err(wasmtime::Error::msg)?;
        let base = manifest_path.parent().unwrap_or(Path::new("."));
        let mut functions = BTreeMap::new();
        for trigger in &manifest.trigger.http {
            let id = &trigger.component;
            if functions.contains_key(id) {
                continue;
            }
            let spec = manifest.component.get(id).ok_or_else(|| {
                wasmtime::Error::msg(ManifestError::UnknownComponent {
                    route: trigger.route.clone(),
                    component: id.clone(),
                })
            })?;
            let source = match (components_dir, spec.source.file_name()) {
                (Some(dir), Some(name)) => dir.join(name),
                _ => base.join(&spec.source),
            };
            if allow_missing && !source.exists() {
                tracing::warn!(component = %id, source = %source.display(), "component not built: its routes answer 503");
                continue;
            }
            let started = std::time::Instant::now();
            let limits = manifest.limits(id, defaults);
            let outbound = manifest.outbound_hosts(id, &values).map_err(wasmtime::Error::msg)?;
            let function = HttpFunction::load(host, id.clone(), &source, manifest.environment(id, &values), limits)?
                .with_outbound_hosts(outbound);
            tracing::info!(component = %id, source = %source.display(), ?limits, elapsed = ?started.elapsed(), "component ready");
            functions.insert(id.clone(), function);
        }
        Ok(Self { manifest: Arc::new(manifest), functions: Arc::new(functions) })
    }

    /// The function serving `path`: `Err` with the component's id when it is not loaded, `Ok(None)`
    /// when no route matches.
    pub fn function(&self, path: &str) -> Result<Option<&HttpFunction>, &str> {
        match self.manifest.route(path) {
            None => Ok(None),
            Some(id) => self.functions.get(id).map(Some).ok_or(id),
        }
    }
}

/// How long shutdown waits for the requests in flight.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves `app` on `listener`: HTTP/1.1 with keep-alive, each request in a new instance of the
/// component its path routes to; no route is `404 RequestNotSupported`. When `shutdown`
/// completes it stops accepting and waits (at most [`DRAIN_TIMEOUT`]) for the requests in
/// flight, as `logport up` does: a request the host took is answered, not cut (nor are its
/// component's outgoing calls cancelled under it).
pub async fn serve(listener: TcpListener, app: App, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => break,
        };
        // A component's response goes out as its head and then its body frames: with Nagle's
        // algorithm on, a frame after the head waits for the client's delayed ACK (~40 ms).
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let app = app.clone();
            async move {
                let response = match app.function(request.uri().path()) {
                    Ok(Some(function)) => function.handle(request).await,
                    Ok(None) => error_response(404, "RequestNotSupported", "no component serves this path"),
                    Err(id) => error_response(
                        503,
                        "ComponentUnavailable",
                        &format!("the {id} component is not loaded (not built when the host started)"),
                    ),
                };
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        let connection = http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection ended");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still running after {DRAIN_TIMEOUT:?}; stopping anyway");
    }
    Ok(())
}
