//! Logport's wasmtime host for WASI command components (wasm32-wasip2), such as the consumer
//! (`components/consumer`).
//!
//! A component gets exactly what its [`CommandSpec`] grants: its arguments, the preopened
//! directories, outgoing HTTP (wasi:http) and TCP/UDP sockets when `network` is on, and nothing of
//! the host's environment. Its linear memory is capped (`StoreLimits`): an allocation over the cap
//! fails inside the guest, which then traps — the run fails, the host does not. Compiled code is
//! cached on disk (wasmtime's cache, keyed by the component's bytes and the compiler), so a second
//! start does not compile again.

use std::path::PathBuf;

use anyhow::Context;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Cache, CacheConfig, Config, Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// What a command component may use.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// The component (`.wasm`).
    pub wasm: PathBuf,
    /// `argv[1..]` (`argv[0]` is the component's file name).
    pub args: Vec<String>,
    /// Host directory → guest path, read-write.
    pub dirs: Vec<(PathBuf, String)>,
    /// Outgoing HTTP and TCP/UDP sockets (with name lookup).
    pub network: bool,
    /// Largest linear memory, in bytes.
    pub memory_bytes: usize,
    /// Where compiled code is cached; `None` compiles on every start.
    pub cache_dir: Option<PathBuf>,
}

struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: Default::default() }
    }
}

/// Compiles (or loads from the cache) and runs a command component to its end; `Ok(true)` when
/// it exited successfully, `Ok(false)` when it reported failure, `Err` when it trapped or could
/// not start.
pub async fn run_command(spec: &CommandSpec) -> anyhow::Result<bool> {
    let mut config = Config::new();
    if let Some(dir) = &spec.cache_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cache directory {}", dir.display()))?;
        let mut cache = CacheConfig::new();
        cache.with_directory(dir);
        config.cache(Some(Cache::new(cache).map_err(|error| anyhow::anyhow!("{error}"))?));
    }
    let engine = Engine::new(&config).map_err(|error| anyhow::anyhow!("wasmtime: {error}"))?;
    let component = Component::from_file(&engine, &spec.wasm)
        .map_err(|error| anyhow::anyhow!("component {}: {error}", spec.wasm.display()))?;
    let mut linker: Linker<State> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|error| anyhow::anyhow!("{error}"))?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(|error| anyhow::anyhow!("{error}"))?;
    let pre = CommandPre::new(linker.instantiate_pre(&component).map_err(|error| anyhow::anyhow!("{error}"))?)
        .map_err(|error| anyhow::anyhow!("{} is not a WASI command: {error}", spec.wasm.display()))?;

    let mut wasi = WasiCtx::builder();
    let name = spec.wasm.file_name().map_or_else(|| "component".into(), |name| name.to_string_lossy().into_owned());
    wasi.inherit_stdout().inherit_stderr().arg(&name).args(&spec.args);
    for (host, guest) in &spec.dirs {
        wasi.preopened_dir(host, guest, FsPerms::ReadWrite)
            .map_err(|error| anyhow::anyhow!("granting {} as {guest}: {error}", host.display()))?;
    }
    if spec.network {
        wasi.inherit_network().allow_tcp(true).allow_udp(true).allow_ip_name_lookup(true);
    }
    let state = State {
        wasi: wasi.build(),
        http: WasiHttpCtx::new(),
        table: ResourceTable::new(),
        limits: StoreLimitsBuilder::new().memory_size(spec.memory_bytes).instances(8).build(),
    };
    let mut store = Store::new(&engine, state);
    store.limiter(|state| &mut state.limits);
    let command = pre.instantiate_async(&mut store).await.map_err(|error| anyhow::anyhow!("instantiating: {error}"))?;
    let outcome = command.wasi_cli_run().call_run(&mut store).await;
    match outcome {
        Ok(result) => Ok(result.is_ok()),
        Err(error) => {
            // `exit(n)` arrives as an error carrying the code.
            if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
                return Ok(exit.0 == 0);
            }
            Err(anyhow::anyhow!("the component trapped: {error:?}"))
        }
    }
}
