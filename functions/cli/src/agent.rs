//! `logport agent run|status`: the native log collector (crates/agent) on this host.

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
    },
    /// Print the running (or last) agent's status: files, offsets, lag, drops, errors.
    Status {
        #[arg(long)]
        config: PathBuf,
    },
}

fn load(path: &Path) -> anyhow::Result<logport_agent::config::Config> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    logport_agent::config::Config::from_toml(&text).map_err(|error| anyhow!(error))
}

pub fn run(command: AgentCommand) -> anyhow::Result<()> {
    match command {
        AgentCommand::Run { config } => {
            let config = load(&config)?;
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
            logport_agent::native::run(&config, &stop).map_err(|error| anyhow!(error))
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
