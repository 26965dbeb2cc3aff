//! `logport consume --config consumer.toml`: one consumer of a consumer group, forwarding to a
//! SIEM sink, until SIGINT or SIGTERM; then it checkpoints, releases its shards and prints its
//! counters as one JSON line on stdout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use logport_consumer::client::UreqTransport;
use logport_consumer::config::ConsumerConfig;

use crate::ConsumeArgs;

pub fn run(args: ConsumeArgs) -> anyhow::Result<()> {
    if let Some(component) = &args.component {
        return run_component(&args, component);
    }
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("cannot read the consumer config {}", args.config.display()))?;
    let config = ConsumerConfig::from_toml(&text)
        .map_err(|error| anyhow::anyhow!("consumer config {}: {error}", args.config.display()))?;
    let mut worker = config
        .build(|| Box::new(UreqTransport::new(Duration::from_secs(30))))
        .map_err(|error| anyhow::anyhow!("consumer config {}: {error}", args.config.display()))?;

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    on_signal(move || flag.store(true, Ordering::Relaxed));

    tracing::info!(
        project = config.project,
        logstore = config.logstore,
        group = config.group,
        consumer = config.consumer,
        "consumer started"
    );
    let stats = worker.run(&stop).map_err(|error| anyhow::anyhow!("consumer group {}: {error}", config.group))?;
    println!("{}", stats.json_line());
    tracing::info!(logs = stats.logs, "consumer stopped");
    Ok(())
}

/// Calls `then` once, on the first SIGINT or SIGTERM (from a thread of its own).
fn on_signal(then: impl FnOnce() + Send + 'static) {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a signal runtime");
        runtime.block_on(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        });
        then();
    });
}

/// `--component`: the consumer WASI component in the embedded wasmtime, granted the config's
/// directory (as `/config`), a directory of its own for the stop file (as `/run`), the network,
/// `--memory-mb`, and with `--cpu` a CPU share (the host's accounting in `--stats-file`).
/// SIGINT/SIGTERM create the stop file; the component then checkpoints, leaves the group and
/// prints its counters.
#[cfg(feature = "wasm")]
fn run_component(args: &ConsumeArgs, component: &std::path::Path) -> anyhow::Result<()> {
    let config = std::fs::canonicalize(&args.config)
        .with_context(|| format!("cannot read the consumer config {}", args.config.display()))?;
    let config_dir = config.parent().expect("a file has a directory").to_owned();
    let config_name = config.file_name().expect("a file has a name").to_string_lossy().into_owned();
    let run_dir = std::env::temp_dir().join(format!("logport-consume-{}", std::process::id()));
    std::fs::create_dir_all(&run_dir)?;
    let stop_file = run_dir.join("stop");
    let _ = std::fs::remove_file(&stop_file);
    let cache_dir = args.cache_dir.clone().or_else(logport_wasm_host::default_cache_dir);
    let name =
        component.file_name().map_or_else(|| "logport-consumer".into(), |name| name.to_string_lossy().into_owned());
    let run = logport_wasm_host::CommandRun {
        args: vec![name, "--config".into(), format!("/config/{config_name}"), "--stop-file".into(), "/run/stop".into()],
        env: Vec::new(),
        preopens: vec![
            logport_wasm_host::Preopen { host: config_dir, guest: "/config".into(), writable: false },
            logport_wasm_host::Preopen { host: run_dir.clone(), guest: "/run".into(), writable: true },
        ],
        network: true,
        inherit_output: true,
    };
    // A consumer runs until it is told to stop: a memory cap, no time limit.
    let limits = logport_wasm_host::Limits {
        memory_bytes: args.memory_mb << 20,
        cpu_time: logport_wasm_host::Limits::UNBOUNDED_TIME,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let stop_now = stop_file.clone();
    on_signal(move || {
        flag.store(true, Ordering::Relaxed);
        let _ = std::fs::write(&stop_now, b"");
    });
    if let Some(cpu) = args.cpu {
        anyhow::ensure!(cpu > 0.0 && cpu.is_finite(), "--cpu must be a positive number of cores");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    tracing::info!(component = %component.display(), cpu = ?args.cpu, "consumer component started");
    let outcome = runtime.block_on(async {
        let host = logport_wasm_host::Host::new(cache_dir.as_deref())
            .map_err(|error| anyhow::anyhow!("wasmtime: {error:#}"))?;
        let function = logport_wasm_host::CommandFunction::load(&host, component, limits)
            .map_err(|error| anyhow::anyhow!("{error:#}"))?;
        if args.cpu.is_none() && args.stats_file.is_none() {
            return function
                .run(&run)
                .await
                .map_err(|error| anyhow::anyhow!("the consumer component trapped: {error:#}"));
        }
        // Capped (or accounted): the network stays granted; the host meters CPU and memory.
        let caps = logport_wasm_host::Caps {
            cpu_share: args.cpu,
            send_bytes_per_sec: None,
            outbound: logport_wasm_host::OutboundHosts::any(),
        };
        let watch = crate::capped::Watch { stop, stop_file, stats_file: args.stats_file.clone() };
        let (outcome, usage) = crate::capped::run(&function, &run, &caps, watch).await;
        tracing::info!(
            cpu_seconds = usage.cpu_seconds,
            cpu_share = usage.cpu_share,
            cpu_throttles = usage.cpu_throttles,
            peak_memory_bytes = usage.peak_memory_bytes,
            "consumer component accounting"
        );
        outcome.map_err(|error| anyhow::anyhow!("the consumer component trapped: {error:#}"))
    });
    let _ = std::fs::remove_dir_all(&run_dir);
    match outcome?.success {
        true => Ok(()),
        false => anyhow::bail!("the consumer component {} failed (see its error above)", component.display()),
    }
}

#[cfg(not(feature = "wasm"))]
fn run_component(_args: &ConsumeArgs, component: &std::path::Path) -> anyhow::Result<()> {
    anyhow::bail!(
        "--component {} needs a logport built with the `wasm` feature (cargo build --release -p logport --features wasm)",
        component.display()
    )
}
