//! `logport-wasm-host` runs WebAssembly components on wasmtime for Logport:
//!
//! - [`HttpFunction`]: a `wasi:http/incoming-handler` component (the `components/*` crates, or
//!   any Spin 5-style HTTP component), pre-instantiated once ([`ProxyPre`]), with a fresh
//!   [`Store`] per request so no request sees another's memory; [`serve`] puts the functions of
//!   a `spin.toml` ([`manifest`]) behind one HTTP listener;
//! - [`CommandFunction`]: a `wasi:cli/command` component (`CommandPre` + `run`), with the
//!   directories it may see preopened: for the agent and consumer components.
//!
//! Both run under [`Limits`]: linear memory (a `StoreLimits` on the store: a `memory.grow`
//! past the cap fails in the guest, whose allocator then traps) and CPU time (epoch
//! interruption: a ticker advances the engine's epoch every [`EPOCH_TICK`]; a guest still
//! running after its deadline traps). A trapped request is answered
//! `500 {"errorCode":"FunctionTrapped"}` and leaves nothing behind: the next request gets a new
//! store. Compiled components are cached on disk (wasmtime's cache, keyed by the component's
//! bytes, the wasmtime version and the compiler settings), so a restart does not recompile.
//!
//! It must not know Logport's API or storage: components get what they need through their
//! environment and WASI.

pub mod caps;
mod client;
mod command;
mod http;
pub mod manifest;
mod outbound;
mod serve;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{Component, ResourceTable};
use wasmtime::{Cache, CacheConfig, Config, Engine, Store, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use caps::{CappedHttp, Limiter, Meter};

pub use caps::{Caps, CpuBudget, TokenBucket, Usage};
pub use command::{CommandFunction, CommandOutcome, CommandRun, Preopen};
pub use http::HttpFunction;
pub use outbound::{OutboundHostError, OutboundHosts};
pub use serve::{App, serve};
pub use wasmtime::{Error, Result};
pub use wasmtime_wasi_http::p2::bindings::ProxyPre;

/// How often the engine's epoch advances: the granularity of the CPU cap.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// What one request (or one run of a command) may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest linear memory of any instance, in bytes.
    pub memory_bytes: usize,
    /// Longest time the guest may run, rounded up to [`EPOCH_TICK`]s. Time spent waiting on the
    /// host (e.g. an outgoing HTTP request) counts too: it is a wall-clock deadline on the guest.
    pub cpu_time: Duration,
}

impl Default for Limits {
    /// 256 MiB and 30 s.
    fn default() -> Self {
        Self { memory_bytes: 256 << 20, cpu_time: Duration::from_secs(30) }
    }
}

impl Limits {
    /// No time limit: for long-running commands (the consumer), which stop on a signal.
    pub const UNBOUNDED_TIME: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

    /// The epoch deadline for the store, in ticks (at least 1, at most ~[`Self::UNBOUNDED_TIME`]).
    fn ticks(&self) -> u64 {
        let tick = EPOCH_TICK.as_nanos();
        let cap = Self::UNBOUNDED_TIME.as_nanos() / tick;
        self.cpu_time.as_nanos().div_ceil(tick).clamp(1, cap) as u64
    }
}

/// A wasmtime engine set up for Logport's components: async, epoch interruption, and a disk
/// cache of compiled code when given a directory, and the pool of connections the components'
/// outgoing requests share. Cheap to clone.
#[derive(Clone)]
pub struct Host {
    engine: Engine,
    client: client::Client,
    _ticker: Arc<Ticker>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").finish_non_exhaustive()
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Host {
    /// An engine; compiled components go to `cache_dir` when given (created if missing).
    pub fn new(cache_dir: Option<&Path>) -> Result<Self> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        if let Some(dir) = cache_dir {
            std::fs::create_dir_all(dir)?;
            let mut cache = CacheConfig::new();
            cache.with_directory(dir);
            config.cache(Some(Cache::new(cache)?));
        }
        let engine = Engine::new(&config)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (ticking, flag) = (engine.weak(), stop.clone());
        std::thread::Builder::new().name("wasm-epoch".into()).spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                match ticking.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })?;
        Ok(Self { engine, client: client::Client::new(), _ticker: Arc::new(Ticker { stop }) })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles (or loads from the cache) the component at `path`.
    pub fn load(&self, path: &Path) -> Result<Component> {
        use wasmtime::error::Context as _;
        Component::from_file(&self.engine, path).with_context(|| format!("loading component {}", path.display()))
    }

    /// A store for one request or run, with the limits and the epoch deadline applied, and its
    /// outgoing HTTP requests checked against `outbound`.
    fn store(&self, wasi: WasiCtx, limits: Limits, outbound: OutboundHosts) -> Store<State> {
        self.store_metered(wasi, limits, outbound, None, None)
    }

    /// [`Self::store`] with the memory peak recorded in `meter` and, for a capped run, wasi:http
    /// through `capped` (which does the outbound check itself).
    fn store_metered(
        &self,
        wasi: WasiCtx,
        limits: Limits,
        outbound: OutboundHosts,
        meter: Option<Arc<Meter>>,
        capped: Option<CappedHttp>,
    ) -> Store<State> {
        let state = State {
            wasi,
            http: WasiHttpCtx::new(),
            hooks: outbound::Hooks { outbound, client: self.client.clone() },
            table: ResourceTable::new(),
            limits: Limiter {
                limits: StoreLimitsBuilder::new().memory_size(limits.memory_bytes).instances(64).build(),
                meter,
            },
            capped,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(limits.ticks());
        store.epoch_deadline_trap();
        store
    }
}

/// A store's data: WASI, wasi:http (with the outbound check), the resource table and the
/// memory limiter.
pub struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: outbound::Hooks,
    table: ResourceTable,
    limits: Limiter,
    capped: Option<CappedHttp>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").finish_non_exhaustive()
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        let hooks: &mut dyn WasiHttpHooks = match &mut self.capped {
            Some(capped) => capped,
            None => &mut self.hooks,
        };
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks }
    }
}

/// The default directory for compiled components: `$XDG_CACHE_HOME/logport/wasm` or
/// `~/.cache/logport/wasm`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("logport").join("wasm"))
}
