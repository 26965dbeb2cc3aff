//! The `logport` command. `logport up` runs the whole service in one local process: the HTTP API
//! on the embedded store (files + SQLite) with background retention. This file only parses the
//! command line and reports errors; the work is in [`up`].

mod keys;
mod server;
mod up;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "logport", version, about = "Logport: an SLS-compatible log service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service locally: the SLS-compatible HTTP API over a data directory.
    Up(UpArgs),
}

/// Options of `logport up`. This command line is a contract: keep it stable.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory holding all data (segments and the SQLite metadata).
    #[arg(long, default_value = "./logport-data")]
    data_dir: PathBuf,
    /// Access key id requests must be signed with.
    #[arg(long, env = "LOGPORT_ACCESS_KEY_ID", requires = "access_key_secret")]
    access_key_id: Option<String>,
    /// Access key secret requests must be signed with.
    #[arg(long, env = "LOGPORT_ACCESS_KEY_SECRET", requires = "access_key_id", hide_env_values = true)]
    access_key_secret: Option<String>,
    /// Accept unsigned requests (development only: anyone who can reach the port can read and write).
    #[arg(long, conflicts_with_all = ["access_key_id", "access_key_secret"])]
    insecure_no_auth: bool,
    /// Host names that address this server, so that `<project>.<name>` names a project.
    #[arg(long = "server-name")]
    server_names: Vec<String>,
    /// Largest request body, in bytes, as sent.
    #[arg(long, default_value_t = 32 << 20)]
    max_body_bytes: usize,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => {
            init_tracing(args.log_format);
            up::run(args)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("logport: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
