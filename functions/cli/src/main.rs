//! The `logport` command. `logport up` runs the whole service in one local process: the HTTP API
//! on the embedded store (files + SQLite) with background retention. This file only parses the
//! command line and reports errors; the work is in [`up`].

mod agent;
#[cfg(feature = "wasm")]
mod capped;
mod consume;
mod keys;
#[cfg(feature = "wasm")]
mod serve_wasm;
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
    Up(Box<UpArgs>),
    /// Serve the wasm components of a Spin manifest (spin.toml) on wasmtime (feature `wasm`).
    #[cfg(feature = "wasm")]
    ServeWasm(serve_wasm::ServeWasmArgs),
    /// The log collector: follow log files and send them to the service.
    #[command(subcommand)]
    Agent(agent::AgentCommand),
    /// Run a consumer of a consumer group that forwards logs to a SIEM (Splunk HEC or syslog).
    Consume(ConsumeArgs),
}

/// Options of `logport consume`.
#[derive(Debug, clap::Args)]
pub struct ConsumeArgs {
    /// The consumer's configuration (TOML: service, group, consumer name, sink); see
    /// `crates/consumer/src/config.rs` or the README.
    #[arg(long)]
    config: PathBuf,
    /// Run the consumer WASI component (`logport-consumer.wasm`) in the embedded wasmtime instead
    /// of the built-in consumer (needs a build with the `wasm` feature). It gets the config's
    /// directory, the network, `--memory-mb` of memory and, with `--cpu`, a CPU share.
    #[arg(long)]
    component: Option<PathBuf>,
    /// Memory cap of the component, in MiB.
    #[arg(long, default_value_t = 256)]
    memory_mb: usize,
    /// CPU cap of the component, in cores (0.5 = half of one core) of the whole process: over
    /// it, the consumer is suspended until its share catches up (it falls behind, and checkpoints
    /// only what its sink accepted).
    #[arg(long)]
    cpu: Option<f64>,
    /// Writes the host's accounting of the component (CPU seconds and share, peak memory, time
    /// throttled, ...) as JSON to this file every half second and at the end.
    #[arg(long)]
    stats_file: Option<PathBuf>,
    /// Where compiled components are cached (default: `$XDG_CACHE_HOME/logport/wasm` or `~/.cache/logport/wasm`).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Format of the log lines on stderr.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

/// Options of `logport up`. This command line is a contract: keep it stable.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory holding all data (segments and the SQLite metadata); with `--backend aws`, only
    /// the development access key.
    #[arg(long, default_value = "./logport-data")]
    data_dir: PathBuf,
    /// Where the data is: `local`, the embedded store in `--data-dir`; `aws`, S3 + DynamoDB
    /// (needs a build with the `aws` feature). Credentials come from the standard AWS chain
    /// (environment, shared config and credentials files, SSO, web identity, container and
    /// instance metadata).
    #[arg(long, env = "LOGPORT_BACKEND", value_enum, default_value_t = Backend::Local)]
    backend: Backend,
    #[command(flatten)]
    aws: AwsArgs,
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

/// Where `logport up` keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    Local,
    Aws,
}

/// The AWS backend's settings (`--backend aws`).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "AWS backend (--backend aws)")]
pub struct AwsArgs {
    /// The S3 bucket holding the segment objects.
    #[arg(long, env = "LOGPORT_S3_BUCKET")]
    s3_bucket: Option<String>,
    /// Key prefix of every object in the bucket.
    #[arg(long, env = "LOGPORT_S3_PREFIX", default_value = "")]
    s3_prefix: String,
    /// The DynamoDB table holding the metadata (pk S HASH, sk S RANGE, TTL on `ttl`).
    #[arg(long, env = "LOGPORT_DYNAMODB_TABLE")]
    dynamodb_table: Option<String>,
    /// Endpoint override for both services, e.g. a local server (`http://127.0.0.1:5000`); S3 is
    /// then addressed path-style.
    #[arg(long, env = "LOGPORT_AWS_ENDPOINT")]
    aws_endpoint: Option<String>,
    /// The region, instead of the AWS chain's (`AWS_REGION`, the profile).
    #[arg(long)]
    aws_region: Option<String>,
    /// Create the bucket and the table when they are missing (development, local servers).
    #[arg(long)]
    create_aws_resources: bool,
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
            up::run(*args)
        }
        Command::Consume(args) => {
            init_tracing(args.log_format);
            consume::run(args)
        }
        Command::Agent(command) => {
            init_tracing(LogFormat::Text);
            agent::run(command)
        }
        #[cfg(feature = "wasm")]
        Command::ServeWasm(args) => {
            init_tracing(LogFormat::Text);
            serve_wasm::run(args)
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

#[cfg(feature = "aws")]
impl AwsArgs {
    /// The store's settings; the bucket and the table are required.
    fn store_config(&self) -> anyhow::Result<logport_store_aws::AwsStoreConfig> {
        let non_empty = |value: &Option<String>| value.clone().filter(|value| !value.is_empty());
        let bucket = non_empty(&self.s3_bucket)
            .ok_or_else(|| anyhow::anyhow!("--backend aws needs --s3-bucket (or LOGPORT_S3_BUCKET)"))?;
        let table = non_empty(&self.dynamodb_table)
            .ok_or_else(|| anyhow::anyhow!("--backend aws needs --dynamodb-table (or LOGPORT_DYNAMODB_TABLE)"))?;
        logport_core::store::validate_prefix(&self.s3_prefix)
            .map_err(|error| anyhow::anyhow!("--s3-prefix is invalid: {error}"))?;
        Ok(logport_store_aws::AwsStoreConfig {
            bucket,
            prefix: self.s3_prefix.clone(),
            table,
            endpoint: non_empty(&self.aws_endpoint),
            region: non_empty(&self.aws_region),
        })
    }
}
