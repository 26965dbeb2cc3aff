//! The Logport consumer as a WASI command component (wasm32-wasip2): the same library
//! (`logport-consumer`) and the same TOML configuration as `logport consume`, with HTTP (to the
//! service and to HEC) through wasi:http and syslog over TCP/UDP through wasi:sockets. TLS is not
//! available inside the component (rustls is left out of the wasm build): forward over TCP or UDP,
//! or use the native `logport consume` for syslog over TLS.
//!
//! `logport-consumer --config <file> [--stop-file <file>]`: runs until the stop file exists
//! (a component has no signals), then checkpoints, leaves the group and prints the same counters
//! line as the native consumer. Run it with `logport consume --component <wasm> --config <file>`,
//! which grants the config's directory and the network the config names.

#[cfg(target_arch = "wasm32")]
mod transport;

#[cfg(target_arch = "wasm32")]
fn main() -> std::process::ExitCode {
    use std::time::{Duration, Instant};

    use logport_consumer::config::ConsumerConfig;

    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| args.iter().position(|arg| arg == name).and_then(|at| args.get(at + 1)).cloned();
    let Some(config_path) = value("--config") else {
        eprintln!("logport-consumer: error: usage: logport-consumer --config <file> [--stop-file <file>]");
        return std::process::ExitCode::FAILURE;
    };
    let stop_file = value("--stop-file");
    let fail = |message: String| {
        eprintln!("logport-consumer: error: {message}");
        std::process::ExitCode::FAILURE
    };
    let text = match std::fs::read_to_string(&config_path) {
        Ok(text) => text,
        Err(error) => return fail(format!("cannot read the consumer config {config_path}: {error}")),
    };
    let config = match ConsumerConfig::from_toml(&text) {
        Ok(config) => config,
        Err(error) => return fail(format!("consumer config {config_path}: {error}")),
    };
    let mut worker = match config.build(|| Box::new(transport::WasiHttp::new(Duration::from_secs(30)))) {
        Ok(worker) => worker,
        Err(error) => return fail(format!("consumer config {config_path}: {error}")),
    };
    // Looking for the stop file at most every 200 ms; once seen, stopped for good.
    let mut next_look = Instant::now();
    let mut seen = false;
    let stopped = move || {
        let Some(path) = &stop_file else { return false };
        if !seen && Instant::now() >= next_look {
            next_look = Instant::now() + Duration::from_millis(200);
            seen = std::path::Path::new(path).exists();
        }
        seen
    };
    match worker.run_until(stopped) {
        Ok(stats) => {
            println!("{}", stats.json_line());
            std::process::ExitCode::SUCCESS
        }
        Err(error) => fail(format!("consumer group {}: {error}", config.group)),
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    eprintln!(
        "logport-consumer: this is the WASI component's entry point: build it with \
         `cargo build --release --target wasm32-wasip2 -p logport-consumer-component` \
         (natively, run `logport consume`)"
    );
    std::process::ExitCode::from(2)
}
