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
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("cannot read the consumer config {}", args.config.display()))?;
    let config = ConsumerConfig::from_toml(&text)
        .map_err(|error| anyhow::anyhow!("consumer config {}: {error}", args.config.display()))?;
    let mut worker = config
        .build(|| Box::new(UreqTransport::new(Duration::from_secs(30))))
        .map_err(|error| anyhow::anyhow!("consumer config {}: {error}", args.config.display()))?;

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
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
        flag.store(true, Ordering::Relaxed);
    });

    tracing::info!(
        project = config.project,
        logstore = config.logstore,
        group = config.group,
        consumer = config.consumer,
        "consumer started"
    );
    let stats = worker.run(&stop).map_err(|error| anyhow::anyhow!("consumer group {}: {error}", config.group))?;
    let line = serde_json::json!({
        "logs": stats.logs,
        "logGroups": stats.log_groups,
        "bytes": stats.bytes,
        "checkpoints": stats.checkpoints,
        "refused": stats.refused,
        "shardsTaken": stats.shards_taken,
        "shardsReleased": stats.shards_released,
    });
    println!("{line}");
    tracing::info!(logs = stats.logs, "consumer stopped");
    Ok(())
}
