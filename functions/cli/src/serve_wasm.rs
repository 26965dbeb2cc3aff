//! `logport serve-wasm`: the HTTP components of a Spin manifest on Logport's wasmtime host
//! (`logport-wasm-host`), each request in a new instance under memory and CPU caps.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use logport_wasm_host::{App, Host, Limits};

/// Options of `logport serve-wasm`.
#[derive(Debug, clap::Args)]
pub struct ServeWasmArgs {
    /// The Spin manifest (spin_manifest_version 2).
    #[arg(long, default_value = "spin.toml")]
    manifest: PathBuf,
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Load each component from this directory by its source's file name, instead of the source
    /// path (e.g. `$CARGO_TARGET_DIR/wasm32-wasip2/release-wasm`).
    #[arg(long)]
    components_dir: Option<PathBuf>,
    /// Where compiled components are cached (default: ~/.cache/logport/wasm).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Memory cap per request, in MiB, for components whose manifest entry sets none.
    #[arg(long, default_value_t = 256)]
    memory_mib: usize,
    /// Start even if some components are not built: their routes answer 503.
    #[arg(long)]
    allow_missing: bool,
    /// CPU cap per request, in milliseconds, for components whose manifest entry sets none.
    #[arg(long, default_value_t = 30_000)]
    cpu_ms: u64,
}

pub fn run(args: ServeWasmArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeWasmArgs) -> anyhow::Result<()> {
    let cache_dir = args.cache_dir.clone().or_else(logport_wasm_host::default_cache_dir);
    let host = Host::new(cache_dir.as_deref()).map_err(|error| anyhow::anyhow!("{error:#}"))?;
    let defaults = Limits { memory_bytes: args.memory_mib << 20, cpu_time: Duration::from_millis(args.cpu_ms) };
    let app = App::load(
        &host,
        &args.manifest,
        args.components_dir.as_deref(),
        |name| std::env::var(name).ok(),
        defaults,
        args.allow_missing,
    )
    .map_err(|error| anyhow::anyhow!("{error:#}"))
    .with_context(|| format!("loading {}", args.manifest.display()))?;
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    println!("logport listening on http://{address} (wasm: {})", args.manifest.display());
    // On SIGTERM/SIGINT: stop accepting, answer the requests in flight, then exit.
    logport_wasm_host::serve(listener, app, shutdown()).await.map_err(|error| anyhow::anyhow!("{error:#}"))
}

async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
