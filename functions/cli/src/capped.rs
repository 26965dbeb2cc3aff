//! Running a command component (the agent, the consumer) under the host's caps, with the host's
//! accounting: while it runs, a watcher turns the stop flag (set on SIGINT/SIGTERM) into the
//! component's stop file, and writes the accounting to the stats file every half second.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use logport_wasm_host::{Caps, CommandFunction, CommandOutcome, CommandRun, Usage};

/// How a capped run is told to stop and where its accounting goes.
#[derive(Debug)]
pub struct Watch {
    /// Set when the run should stop.
    pub stop: Arc<AtomicBool>,
    /// The host path of the file the component watches (its `--stop-file`).
    pub stop_file: PathBuf,
    /// Where the accounting is kept (replaced every half second and at the end).
    pub stats_file: Option<PathBuf>,
}

/// Runs `run` under `caps`; answers its outcome and what it used (counted from now: compiling
/// the component is not the run's), which is also the stats file's last content.
pub async fn run(
    function: &CommandFunction,
    run: &CommandRun,
    caps: &Caps,
    watch: Watch,
) -> (logport_wasm_host::Result<CommandOutcome>, Usage) {
    let meter = Arc::new(logport_wasm_host::caps::Meter::new());
    let Watch { stop, stop_file, stats_file } = watch;
    let watcher = {
        let (meter, stats_file) = (meter.clone(), stats_file.clone());
        tokio::spawn(async move {
            let mut told = false;
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                if !told && stop.load(Ordering::Relaxed) {
                    told = std::fs::write(&stop_file, b"").is_ok();
                }
                if let Some(file) = &stats_file {
                    write_stats(file, &meter.usage());
                }
            }
        })
    };
    let outcome = function.run_capped(run, caps, meter.clone()).await;
    watcher.abort();
    let usage = meter.usage();
    if let Some(file) = &stats_file {
        write_stats(file, &usage);
    }
    (outcome, usage)
}

/// Replaces `file` with `usage` as JSON (written aside and renamed: a reader never sees half).
fn write_stats(file: &Path, usage: &Usage) {
    let aside = file.with_extension("tmp");
    if let Ok(text) = serde_json::to_vec(usage)
        && std::fs::write(&aside, text).is_ok()
    {
        let _ = std::fs::rename(&aside, file);
    }
}
