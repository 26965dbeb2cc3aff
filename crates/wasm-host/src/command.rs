//! A command function: a `wasi:cli/command` component run to completion under the same caps as
//! the HTTP functions, seeing only the directories, variables and network it is given.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx};

use crate::caps::{CappedHttp, Caps, CpuBudget, Meter, TokenBucket};
use crate::{Host, Limits, OutboundHosts, Result, State};

/// Most bytes kept of a run's stdout and of its stderr.
pub const OUTPUT_CAPACITY: usize = 1 << 20;

/// A host directory the guest sees at `guest`.
#[derive(Debug, Clone)]
pub struct Preopen {
    pub host: PathBuf,
    pub guest: String,
    pub writable: bool,
}

/// What one run gets: arguments (the first is the program name), environment, directories, and
/// whether it may use the network (denied by default).
#[derive(Debug, Clone, Default)]
pub struct CommandRun {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub preopens: Vec<Preopen>,
    /// TCP and UDP sockets, name lookup and outgoing wasi:http requests. Without it, a request
    /// fails in the guest with `HTTP-request-denied` (wasi:http stays linked, see
    /// [`CommandFunction::load`]).
    pub network: bool,
    /// The guest writes to the host's stdout and stderr as it runs (a long-running command such
    /// as the consumer) instead of into the [`CommandOutcome`]'s buffers.
    pub inherit_output: bool,
}

/// How a run ended (a trap is an error, not an outcome).
#[derive(Debug, Clone)]
pub struct CommandOutcome {
    /// `run` returned `ok`, or the guest called `exit(0)`.
    pub success: bool,
    pub stdout: Bytes,
    pub stderr: Bytes,
}

/// A pre-instantiated command component. Cheap to clone.
#[derive(Clone)]
pub struct CommandFunction {
    host: Host,
    pre: CommandPre<State>,
    limits: Limits,
}

impl std::fmt::Debug for CommandFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandFunction").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl CommandFunction {
    /// Loads and pre-instantiates the command component at `path`, linked with WASI 0.2 and
    /// outgoing wasi:http (the consumer reaches the service and Splunk HEC through it).
    pub fn load(host: &Host, path: &Path, limits: Limits) -> Result<Self> {
        let component = host.load(path)?;
        let mut linker = wasmtime::component::Linker::new(host.engine());
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        let pre = CommandPre::new(linker.instantiate_pre(&component)?)?;
        Ok(Self { host: host.clone(), pre, limits })
    }

    /// Runs the command once in a new instance. Errors: a directory that cannot be opened, or
    /// a trap (memory or CPU cap, panic).
    pub async fn run(&self, run: &CommandRun) -> Result<CommandOutcome> {
        self.run_inner(run, None).await
    }

    /// [`Self::run`] under [`Caps`] (no time limit applies: the command runs until it stops), with
    /// what it uses counted in `meter`. Over its CPU share the guest is suspended until the share
    /// catches up; its request bodies wait for the bandwidth cap; outgoing HTTP reaches only
    /// `caps.http_authority` when set.
    pub async fn run_capped(&self, run: &CommandRun, caps: &Caps, meter: Arc<Meter>) -> Result<CommandOutcome> {
        self.run_inner(run, Some((caps, meter))).await
    }

    async fn run_inner(&self, run: &CommandRun, capped: Option<(&Caps, Arc<Meter>)>) -> Result<CommandOutcome> {
        let (stdout, stderr) = (MemoryOutputPipe::new(OUTPUT_CAPACITY), MemoryOutputPipe::new(OUTPUT_CAPACITY));
        let mut wasi = WasiCtx::builder();
        wasi.args(&run.args).envs(&run.env);
        if run.inherit_output {
            wasi.inherit_stdout().inherit_stderr();
        } else {
            wasi.stdout(stdout.clone()).stderr(stderr.clone());
        }
        for dir in &run.preopens {
            let perms = if dir.writable { FsPerms::ReadWrite } else { FsPerms::ReadOnly };
            wasi.preopened_dir(&dir.host, &dir.guest, perms)?;
        }
        if run.network {
            wasi.inherit_network().allow_tcp(true).allow_udp(true).allow_ip_name_lookup(true);
        }
        let outbound = if run.network { OutboundHosts::any() } else { OutboundHosts::default() };
        let mut store = match capped {
            None => self.host.store(wasi.build(), self.limits, outbound),
            Some((caps, meter)) => {
                let bucket = caps
                    .send_bytes_per_sec
                    .map(|rate| Arc::new(Mutex::new(TokenBucket::new(rate, std::time::Instant::now()))));
                // The run's network grant, else the caps' list (the agent: its endpoint only).
                let allowed = if run.network { outbound } else { caps.outbound.clone() };
                let hooks = CappedHttp {
                    meter: meter.clone(),
                    bucket,
                    outbound: allowed.clone(),
                    client: self.host.client.clone(),
                };
                let mut store =
                    self.host.store_metered(wasi.build(), self.limits, allowed, Some(meter.clone()), Some(hooks));
                // One tick per deadline: the callback sees the budget every EPOCH_TICK of guest code.
                store.set_epoch_deadline(1);
                let budget = caps.cpu_share.map(CpuBudget::new);
                store.epoch_deadline_callback(move |_| {
                    use wasmtime::UpdateDeadline;
                    let wait = budget.as_ref().and_then(|budget| meter.cpu_wait(budget));
                    Ok(match wait {
                        Some(wait) => UpdateDeadline::YieldCustom(1, Box::pin(tokio::time::sleep(wait))),
                        None => UpdateDeadline::Continue(1),
                    })
                });
                store
            }
        };
        let command = self.pre.instantiate_async(&mut store).await?;
        let success = match command.wasi_cli_run().call_run(&mut store).await {
            Ok(result) => result.is_ok(),
            // `exit(n)` arrives as an error carrying the code.
            Err(error) => match error.downcast_ref::<wasmtime_wasi::I32Exit>() {
                Some(exit) => exit.0 == 0,
                None => return Err(error),
            },
        };
        Ok(CommandOutcome { success, stdout: stdout.contents(), stderr: stderr.contents() })
    }
}
