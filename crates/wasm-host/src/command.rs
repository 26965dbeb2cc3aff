//! A command function: a `wasi:cli/command` component run to completion under the same caps as
//! the HTTP functions, seeing only the directories, variables and network it is given.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx};

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
        let mut store = self.host.store(wasi.build(), self.limits, outbound);
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
