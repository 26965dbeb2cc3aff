//! The Logport agent as a WASI command component (wasm32-wasip2): the same core
//! (`logport-agent`: discovery, tailing through rotations, parsing, batching, signing, the disk
//! cache) and the same TOML configuration as the native `logport agent run`, with files read
//! through the directories the host preopens and PutLogs sent through wasi:http.
//!
//! `logport-agent --config <file> [--stop-file <file>] [--source-ip <ip>] [--hostname <name>]`:
//! runs until the stop file exists (a component has no signals), then sends or caches what it
//! holds and writes its checkpoints. The run loop is the native agent's (`logport_agent::run`),
//! central mode included: configs from the service may read under `agent.central_roots`, which
//! the host grants. Run it with `logport agent run --component <wasm> --config
//! <file>`, which grants the sources' directories (read-only) and the state directory at the same
//! paths as on the host, outgoing HTTP to the configured endpoint only, and enforces the memory,
//! CPU and bandwidth caps.

#[cfg(target_arch = "wasm32")]
mod fs;
#[cfg(target_arch = "wasm32")]
mod transport;

#[cfg(target_arch = "wasm32")]
fn main() -> std::process::ExitCode {
    use std::time::Duration;

    use logport_agent::config::Config;
    use logport_agent::run::{Identity, run};

    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| args.iter().position(|arg| arg == name).and_then(|at| args.get(at + 1)).cloned();
    let fail = |message: String| {
        eprintln!("logport-agent: error: {message}");
        std::process::ExitCode::FAILURE
    };
    let Some(config_path) = value("--config") else {
        return fail(
            "usage: logport-agent --config <file> [--stop-file <file>] [--source-ip <ip>] [--hostname <name>]".into(),
        );
    };
    let text = match std::fs::read_to_string(&config_path) {
        Ok(text) => text,
        Err(error) => return fail(format!("cannot read the agent config {config_path}: {error}")),
    };
    let config = match Config::from_toml(&text) {
        Ok(config) => config,
        Err(error) => return fail(format!("{config_path}: {error}")),
    };
    // A component cannot see the host's addresses or name: the host passes them.
    let identity = Identity {
        source_ip: config
            .agent
            .source_ip
            .clone()
            .or_else(|| value("--source-ip"))
            .unwrap_or_else(|| "127.0.0.1".into()),
        hostname: config.agent.hostname.clone().or_else(|| value("--hostname")).unwrap_or_else(|| "localhost".into()),
    };
    let mut transport = transport::WasiHttpSink::new(&config.service.endpoint, Duration::from_secs(30));
    let stop_file = value("--stop-file");
    let stopped = || stop_file.as_deref().is_some_and(|path| std::path::Path::new(path).exists());
    if let Err(error) = run(&config, &fs::WasiFs::new(), &mut transport, &identity, &stopped) {
        return fail(error);
    }
    std::process::ExitCode::SUCCESS
}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    eprintln!(
        "logport-agent: this is the WASI component's entry point: build it with \
         `cargo build --profile release-wasm --target wasm32-wasip2 -p logport-agent-component` \
         and run it with `logport agent run --component <wasm> --config <file>` \
         (natively, run `logport agent run --config <file>`)"
    );
    std::process::ExitCode::from(2)
}
