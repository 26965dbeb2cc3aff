//! `logport agent run|status`: the log collector (crates/agent) on this host, natively or, with
//! `--component`, as a WASI component (components/agent) in the embedded wasmtime under hard
//! memory, CPU and send-bandwidth caps.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, anyhow};

#[derive(Debug, clap::Subcommand)]
pub enum AgentCommand {
    /// Follow the configured files and send them to the service until SIGTERM / Ctrl-C.
    Run {
        #[arg(long)]
        config: PathBuf,
        #[command(flatten)]
        component: ComponentArgs,
    },
    /// Print the running (or last) agent's status: files, offsets, lag, drops, errors.
    Status {
        #[arg(long)]
        config: PathBuf,
    },
}

/// `logport agent run --component`: the agent component and its caps (needs the `wasm` feature).
#[derive(Debug, Clone, clap::Args)]
pub struct ComponentArgs {
    /// Run the agent WASI component (logport-agent.wasm) in the embedded wasmtime instead of the
    /// native agent. It sees only the sources' directories (read-only) and the state directory,
    /// and may send HTTP only to the configured endpoint.
    #[arg(long)]
    pub component: Option<PathBuf>,
    /// Memory cap of the component (its linear memory), in MiB.
    #[arg(long, default_value_t = 64)]
    pub memory_mib: usize,
    /// CPU cap, in cores (0.2 = a fifth of one core) of the whole process: over it, the agent is
    /// suspended until the share catches up.
    #[arg(long)]
    pub cpu: Option<f64>,
    /// Send cap: bytes per second of PutLogs request bodies.
    #[arg(long)]
    pub bandwidth: Option<u64>,
    /// Writes the host's accounting (CPU seconds, peak memory, bytes sent, ...) as JSON to this
    /// file every half second and at the end (it is also printed on stdout at the end).
    #[arg(long)]
    pub stats_file: Option<PathBuf>,
    /// Where compiled components are cached (default: `$XDG_CACHE_HOME/logport/wasm` or `~/.cache/logport/wasm`).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

fn load(path: &Path) -> anyhow::Result<logport_agent::config::Config> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    logport_agent::config::Config::from_toml(&text).map_err(|error| anyhow!(error))
}

pub fn run(command: AgentCommand) -> anyhow::Result<()> {
    match command {
        AgentCommand::Run { config: path, component } => {
            let config = load(&path)?;
            let stop = Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(async {
                    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                        .expect("SIGTERM handler");
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                });
                flag.store(true, Ordering::Relaxed);
            });
            match &component.component {
                Some(wasm) => run_component(&path, &config, wasm, &component, stop),
                None => logport_agent::native::run(&config, &stop).map_err(|error| anyhow!(error)),
            }
        }
        AgentCommand::Status { config } => {
            let config = load(&config)?;
            let path = config.agent.state_dir.join("status.json");
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("no status at {} (has the agent run?)", path.display()))?;
            println!("{text}");
            Ok(())
        }
    }
}

/// The endpoint as an outbound-hosts entry: `scheme://host:port` (`http` when not given).
#[cfg(feature = "wasm")]
fn outbound_entry(endpoint: &str) -> String {
    let endpoint = endpoint.trim_end_matches('/');
    if endpoint.contains("://") { endpoint.to_owned() } else { format!("http://{endpoint}") }
}

/// `--component`: the agent component in the embedded wasmtime. Grants: the config file's
/// directory (read-only, as `/logport-config`), each source's directory and each of
/// `agent.central_roots` (read-only), and the state
/// directory (read-write) at the paths the config names, a directory for the stop file
/// (`/logport-run`), and outgoing HTTP to the configured endpoint only; no sockets. Caps: linear
/// memory, a CPU share and a send bandwidth, enforced by the host. On SIGINT/SIGTERM the stop
/// file appears; the agent then flushes and checkpoints. The host's accounting is printed as one
/// JSON line on stdout (and kept in `--stats-file`).
#[cfg(feature = "wasm")]
fn run_component(
    path: &Path,
    config: &logport_agent::config::Config,
    wasm: &Path,
    args: &ComponentArgs,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    use logport_wasm_host::{Caps, CommandFunction, CommandRun, Host, Limits, Preopen};

    let config_file = std::fs::canonicalize(path).with_context(|| format!("cannot read {}", path.display()))?;
    let config_name = config_file.file_name().expect("a file has a name").to_string_lossy().into_owned();
    let mut preopens = vec![Preopen {
        host: config_file.parent().expect("a file has a directory").to_owned(),
        guest: "/logport-config".into(),
        writable: false,
    }];
    let guest_path = |dir: &Path, what: &str| -> anyhow::Result<String> {
        anyhow::ensure!(dir.is_absolute(), "{what} {} must be an absolute path to run as a component", dir.display());
        Ok(dir.to_string_lossy().into_owned())
    };
    std::fs::create_dir_all(&config.agent.state_dir)
        .with_context(|| format!("cannot create the state directory {}", config.agent.state_dir.display()))?;
    preopens.push(Preopen {
        host: config.agent.state_dir.clone(),
        guest: guest_path(&config.agent.state_dir, "state_dir")?,
        writable: true,
    });
    for source in &config.sources {
        let guest = guest_path(&source.dir, &format!("source {:?}: dir", source.name))?;
        if !source.dir.is_dir() {
            // A directory that does not exist cannot be granted; the agent reports the source.
            eprintln!("logport agent: source {:?}: {} is not a directory", source.name, source.dir.display());
            continue;
        }
        preopens.push(Preopen { host: source.dir.clone(), guest, writable: false });
    }
    // Central mode: configs from the service may read under these roots, and only there.
    anyhow::ensure!(
        !config.agent.central || !config.agent.central_roots.is_empty(),
        "central mode as a component needs agent.central_roots: the directories configs from the service may read \
         (the component is granted those, read-only, and nothing else)"
    );
    for root in &config.agent.central_roots {
        if !root.is_dir() {
            eprintln!("logport agent: central root {} is not a directory; not granted", root.display());
            continue;
        }
        preopens.push(Preopen { host: root.clone(), guest: guest_path(root, "central root")?, writable: false });
    }
    let run_dir = std::env::temp_dir().join(format!("logport-agent-{}", std::process::id()));
    std::fs::create_dir_all(&run_dir)?;
    let stop_file = run_dir.join("stop");
    let _ = std::fs::remove_file(&stop_file);
    preopens.push(Preopen { host: run_dir.clone(), guest: "/logport-run".into(), writable: true });

    let endpoint = &config.service.endpoint;
    let source_ip = logport_agent::native::local_ip_towards(endpoint).unwrap_or_else(|| "127.0.0.1".into());
    let name = wasm.file_name().map_or_else(|| "logport-agent".into(), |name| name.to_string_lossy().into_owned());
    let run = CommandRun {
        args: vec![
            name,
            "--config".into(),
            format!("/logport-config/{config_name}"),
            "--stop-file".into(),
            "/logport-run/stop".into(),
            "--source-ip".into(),
            source_ip,
            "--hostname".into(),
            logport_agent::native::hostname(),
        ],
        env: Vec::new(),
        preopens,
        network: false,
        inherit_output: true,
    };
    if let Some(cpu) = args.cpu {
        anyhow::ensure!(cpu > 0.0 && cpu.is_finite(), "--cpu must be a positive number of cores");
    }
    let outbound = logport_wasm_host::OutboundHosts::parse(&[outbound_entry(endpoint)])
        .map_err(|error| anyhow!("service endpoint {endpoint}: {error}"))?;
    let caps = Caps { cpu_share: args.cpu, send_bytes_per_sec: args.bandwidth, outbound };
    let limits = Limits { memory_bytes: args.memory_mib << 20, cpu_time: Limits::UNBOUNDED_TIME };
    let cache_dir = args.cache_dir.clone().or_else(logport_wasm_host::default_cache_dir);

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (outcome, usage) = runtime.block_on(async {
        let host = Host::new(cache_dir.as_deref()).map_err(|error| anyhow!("wasmtime: {error:#}"))?;
        let function = CommandFunction::load(&host, wasm, limits).map_err(|error| anyhow!("{error:#}"))?;
        tracing::info!(component = %wasm.display(), memory_mib = args.memory_mib, cpu = ?args.cpu, bandwidth = ?args.bandwidth, "agent component started");
        let watch = crate::capped::Watch { stop, stop_file, stats_file: args.stats_file.clone() };
        anyhow::Ok(crate::capped::run(&function, &run, &caps, watch).await)
    })?;
    let _ = std::fs::remove_dir_all(&run_dir);
    println!("{}", serde_json::to_string(&usage)?);
    match outcome {
        Ok(outcome) if outcome.success => Ok(()),
        Ok(_) => anyhow::bail!("the agent component {} failed (see its error above)", wasm.display()),
        Err(error) if usage.memory_denied > 0 => anyhow::bail!(
            "the agent component trapped after its memory cap ({} MiB) refused {} allocation(s): {error:#}",
            args.memory_mib,
            usage.memory_denied
        ),
        Err(error) => anyhow::bail!("the agent component trapped: {error:#}"),
    }
}

#[cfg(not(feature = "wasm"))]
fn run_component(
    _path: &Path,
    _config: &logport_agent::config::Config,
    wasm: &Path,
    _args: &ComponentArgs,
    _stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    anyhow::bail!(
        "--component {} needs a logport built with the `wasm` feature (cargo build --release -p logport --features wasm)",
        wasm.display()
    )
}
