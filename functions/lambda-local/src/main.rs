//! `logport-lambda-local`: the Lambda functions' handler code behind an emulated API Gateway on
//! 127.0.0.1. Each HTTP request becomes the API Gateway v2 event JSON, runs through
//! `logport_lambda::gateway::invoke` (what `lambda_http::run` does in a deployed function), and the
//! response JSON becomes the HTTP answer. It takes `logport up`'s flags where they mean something
//! here, so the HTTP test suites can be pointed at it; it is a test tool, not a way to run Logport.
//!
//! By default each request goes to the function API Gateway would invoke for it
//! (`logport_lambda::function::ROUTES`, the routes of `template.yaml`), each function with its own
//! context and engine over the one store, as deployed; `--function` serves one function, or all of
//! the API from one context.
//!
//! The store is the embedded one (`--backend local --data-dir D`, the default) or S3 + DynamoDB
//! from the environment as in a deployed function (`--backend aws`). Shipping, the retention sweep
//! and orphan collection run in the shipper function's scheduled invocations, emulated by a timer
//! as EventBridge invokes them on AWS. The shipper function's HTTP
//! calls are served (flush ships at once); its targets are directories under
//! `<data-dir>/buckets/` when a data directory is given (as `logport up` ships), else S3 buckets
//! through the store's S3 client (as deployed).

mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use logport_api::auth::{AccessKey, Credentials};
use logport_api::route::RouteGroup;
use logport_lambda::{Context, Function, Settings, Stores};

#[derive(Debug, Parser)]
#[command(name = "logport-lambda-local", version, args_conflicts_with_subcommands = true)]
#[command(about = "Serve the Logport Lambda functions locally through an emulated API Gateway")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    args: Args,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// The same as no subcommand; accepted so that the command line of `logport up` works here.
    Up(Args),
}

#[derive(Debug, clap::Args)]
struct Args {
    /// Which function to serve: `gateway` routes each request to the function API Gateway would
    /// invoke (`template.yaml`'s routes), each with its own context, as deployed; `ingest`, `pull`,
    /// `query` or `shipper` serve one function's part of the API; `all` serves all of it from one
    /// context.
    #[arg(long, env = "LOGPORT_FUNCTION", default_value = "gateway")]
    function: Serve,
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where the data is: `local`, the embedded store in `--data-dir`; `aws`, S3 + DynamoDB as in a
    /// deployed function (the flags below, or `LOGPORT_S3_BUCKET`, `LOGPORT_DYNAMODB_TABLE`,
    /// `LOGPORT_AWS_ENDPOINT`, and the AWS chain), as `logport up --backend aws` takes them.
    #[arg(long, env = "LOGPORT_BACKEND", value_enum, default_value_t = Backend::Local)]
    backend: Backend,
    /// The embedded store's directory (`--backend local`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// `--backend aws`: the S3 bucket (as `logport up`).
    #[arg(long, env = "LOGPORT_S3_BUCKET")]
    s3_bucket: Option<String>,
    /// `--backend aws`: the key prefix in the bucket.
    #[arg(long, env = "LOGPORT_S3_PREFIX", default_value = "")]
    s3_prefix: String,
    /// `--backend aws`: the DynamoDB table.
    #[arg(long, env = "LOGPORT_DYNAMODB_TABLE")]
    dynamodb_table: Option<String>,
    /// `--backend aws`: endpoint override for both services.
    #[arg(long, env = "LOGPORT_AWS_ENDPOINT")]
    aws_endpoint: Option<String>,
    /// `--backend aws`: the region, instead of the AWS chain's.
    #[arg(long)]
    aws_region: Option<String>,
    /// `--backend aws`: create the bucket and the table when missing.
    #[arg(long)]
    create_aws_resources: bool,
    /// Access key id requests must be signed with.
    #[arg(long, env = "LOGPORT_ACCESS_KEY_ID", requires = "access_key_secret")]
    access_key_id: Option<String>,
    /// Access key secret requests must be signed with.
    #[arg(long, env = "LOGPORT_ACCESS_KEY_SECRET", requires = "access_key_id", hide_env_values = true)]
    access_key_secret: Option<String>,
    /// Accept unsigned requests (development only).
    #[arg(long, conflicts_with_all = ["access_key_id", "access_key_secret"])]
    insecure_no_auth: bool,
    /// Host names that address this server, so that `<project>.<name>` names a project.
    #[arg(long = "server-name")]
    server_names: Vec<String>,
    /// Largest request body, in bytes, as sent (default: the functions' default).
    #[arg(long)]
    max_body_bytes: Option<usize>,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Seconds between the shipper function's scheduled invocations (deployed: `ShipperSchedule`,
    /// 5 minutes by default); short here, so that retried tasks ship within a test's patience.
    #[arg(long, default_value_t = 5.0, value_parser = positive_seconds)]
    ship_every: f64,
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds.is_finite() => Ok(seconds),
        _ => Err(format!("'{text}' is not a positive number of seconds")),
    }
}

/// What `--function` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Serve {
    Gateway,
    One(Function),
}

impl std::str::FromStr for Serve {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "gateway" => Ok(Self::Gateway),
            other => other.parse().map(Self::One).map_err(|error| format!("{error}, or gateway")),
        }
    }
}

impl std::fmt::Display for Serve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Gateway => f.write_str("gateway"),
            Self::One(function) => function.fmt(f),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Backend {
    Local,
    Aws,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Up(args)) => args,
        None => cli.args,
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("logport-lambda-local: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let credentials = match (args.access_key_id.clone(), args.access_key_secret.clone()) {
        (Some(id), Some(secret)) => Some(Credentials::new([AccessKey::new(id, secret)])),
        _ if args.insecure_no_auth => None,
        _ => anyhow::bail!("no access key: give --access-key-id and --access-key-secret, or --insecure-no-auth"),
    };
    let mut settings = Settings::new(credentials);
    settings.server_names = args.server_names.clone();
    if let Some(max_body_bytes) = args.max_body_bytes {
        settings.max_body_bytes = max_body_bytes;
    }
    let (stores, s3) = match (args.backend, &args.data_dir) {
        (Backend::Local, Some(dir)) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let store = logport_store_local::LocalStore::open(dir)
                .with_context(|| format!("opening the store in {}", dir.display()))?;
            (Stores::new(store.objects, store.meta, dir.display().to_string()), None)
        }
        (Backend::Local, None) => anyhow::bail!("--backend local needs --data-dir"),
        (Backend::Aws, _) => open_aws(&args).await?,
    };
    let buckets: Arc<dyn logport_shipper::Buckets> = match (&args.data_dir, s3) {
        (Some(dir), _) => {
            let root = dir.join("buckets");
            std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
            Arc::new(logport_shipper::DirectoryBuckets::new(root))
        }
        (None, Some(s3)) => Arc::new(s3),
        (None, None) => anyhow::bail!("no shipping target: give --data-dir"),
    };
    let description = stores.description.clone();
    // A context per function; the ones that serve the shipper API get a shipper over their engine,
    // and their schedule (EventBridge's, deployed) is emulated by a timer.
    let mut schedules = Vec::new();
    let mut context = |function: Function| {
        let context = Context::new(function, settings.clone(), stores.clone());
        if !function.groups().contains(&RouteGroup::Ship) {
            return context;
        }
        let shipper =
            Arc::new(logport_shipper::Shipper::new(context.engine().clone(), stores.meta.clone(), buckets.clone()));
        let context = context.with_shipper(shipper.clone());
        schedules.push((context.clone(), shipper));
        context
    };
    let functions = match args.function {
        Serve::One(function) => server::Functions::One(context(function)),
        // One context per function, as in separate processes: each with its own engine over the
        // same store.
        Serve::Gateway => server::Functions::Gateway(
            Function::DEPLOYED.into_iter().map(|function| (function, context(function))).collect(),
        ),
    };

    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    // The first stdout line is for scripts and tests: the bound address, as `logport up` prints it.
    println!("logport listening on http://{address} (data: {description})");
    tracing::info!(%address, function = %args.function, "logport-lambda-local up");
    let every = std::time::Duration::from_secs_f64(args.ship_every);
    let timers: Vec<_> = schedules
        .into_iter()
        .map(|(context, shipper)| tokio::spawn(scheduled_invocations(context, shipper, every)))
        .collect();
    server::serve(listener, Arc::new(functions), shutdown_signal()).await;
    timers.iter().for_each(tokio::task::JoinHandle::abort);
    tracing::info!("stopped");
    Ok(())
}

/// S3 + DynamoDB as the flags (or their variables) say, through the AWS chain; and the S3 client.
async fn open_aws(args: &Args) -> anyhow::Result<(Stores, Option<logport_shipper::S3Buckets>)> {
    let non_empty = |value: &Option<String>| value.clone().filter(|value| !value.is_empty());
    let config = logport_store_aws::AwsStoreConfig {
        bucket: non_empty(&args.s3_bucket).context("--backend aws needs --s3-bucket (or LOGPORT_S3_BUCKET)")?,
        prefix: args.s3_prefix.clone(),
        table: non_empty(&args.dynamodb_table)
            .context("--backend aws needs --dynamodb-table (or LOGPORT_DYNAMODB_TABLE)")?,
        endpoint: non_empty(&args.aws_endpoint),
        region: non_empty(&args.aws_region),
    };
    let store = logport_store_aws::connect(&config).await?;
    if args.create_aws_resources {
        store.create_resources().await.context("creating the bucket and the table")?;
    }
    let mut description = format!("s3://{}/{} + dynamodb:{}", config.bucket, config.prefix, config.table);
    if let Some(endpoint) = &config.endpoint {
        description.push_str(&format!(" at {endpoint}"));
    }
    // As the shipper function: the store's S3 client, and a rule's roleArn assumed through STS.
    let buckets = logport_shipper::S3Buckets::assuming_roles(store.objects.client().clone(), store.sdk.clone());
    Ok((Stores::new(store.objects, store.meta, description), Some(buckets)))
}

/// The shipper function's scheduled invocations: every `every`, the event EventBridge Scheduler
/// sends by default (`{}`) through the function's own handler.
async fn scheduled_invocations(context: Context, shipper: Arc<logport_shipper::Shipper>, every: std::time::Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let event = lambda_http::LambdaEvent::new(serde_json::json!({}), lambda_http::Context::default());
        match logport_lambda::handle_shipper(&context, &shipper, event).await {
            Ok(report)
                if report["shipping"]["tasksRun"].as_u64().is_some_and(|run| run > 0)
                    || report["expired"]["segmentsDeleted"].as_u64().is_some_and(|deleted| deleted > 0)
                    || report["orphans"]["objectsDeleted"].as_u64().is_some_and(|deleted| deleted > 0) =>
            {
                tracing::info!(%report, "scheduled shipper invocation");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "scheduled shipper invocation failed"),
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
