//! `logport up`: open the data directory, build the engine and the API, serve until SIGINT or
//! SIGTERM, with retention and the shipper's scheduler running in the background.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use logport_api::auth::Credentials;
use logport_api::{Api, ApiConfig};
use logport_core::engine::Engine;

use logport_core::store::{MetaStore, ObjectStore};

use crate::{AwsArgs, Backend, UpArgs};

/// How often expired data is swept, and how often orphan objects are collected.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
const ORPHANS_EVERY: Duration = Duration::from_secs(3600);
/// How often the shipper closes due windows and runs due tasks (windows last 300 s or more).
const SHIP_EVERY: Duration = Duration::from_secs(30);
/// Bucket `B` of the shipper is the directory `<data-dir>/buckets/B`.
const BUCKETS_DIR: &str = "buckets";

pub fn run(args: UpArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(serve(args))
}

/// The two storage ports, and where they keep the data (for the first line and the logs).
struct Store {
    objects: Arc<dyn ObjectStore>,
    meta: Arc<dyn MetaStore>,
    description: String,
}

async fn open_store(args: &UpArgs) -> anyhow::Result<Store> {
    match args.backend {
        Backend::Local => {
            let store = logport_store_local::LocalStore::open(&args.data_dir)
                .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
            Ok(Store { objects: store.objects, meta: store.meta, description: args.data_dir.display().to_string() })
        }
        Backend::Aws => open_aws(&args.aws).await,
    }
}

#[cfg(feature = "aws")]
async fn open_aws(args: &AwsArgs) -> anyhow::Result<Store> {
    let config = args.store_config()?;
    let store = logport_store_aws::connect(&config).await.context("configuring the AWS clients")?;
    if args.create_aws_resources {
        store.create_resources().await.context("creating the bucket and the table")?;
    }
    let mut description = format!("s3://{}/{} + dynamodb:{}", config.bucket, config.prefix, config.table);
    if let Some(endpoint) = &config.endpoint {
        description.push_str(&format!(" at {endpoint}"));
    }
    Ok(Store { objects: store.objects, meta: store.meta, description })
}

#[cfg(not(feature = "aws"))]
async fn open_aws(_: &AwsArgs) -> anyhow::Result<Store> {
    anyhow::bail!(
        "this logport was built without the AWS backend: build it with `cargo build --release -p logport --features aws`"
    )
}

async fn serve(args: UpArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let store = open_store(&args).await?;
    let meta = store.meta.clone();
    let engine = Arc::new(Engine::new(store.objects, store.meta));
    let buckets = args.data_dir.join(BUCKETS_DIR);
    std::fs::create_dir_all(&buckets).with_context(|| format!("creating {}", buckets.display()))?;
    let shipper = Arc::new(logport_shipper::Shipper::new(
        engine.clone(),
        meta,
        Arc::new(logport_shipper::DirectoryBuckets::new(buckets)),
    ));

    let credentials = if args.insecure_no_auth {
        tracing::warn!("signature checks are OFF (--insecure-no-auth): anyone who reaches the port can read and write");
        None
    } else {
        let (key, generated) = crate::keys::resolve(args.access_key_id, args.access_key_secret, &args.data_dir)?;
        if generated {
            eprintln!("logport: development access key (stored in the data dir): id={} secret={}", key.id, key.secret);
        }
        Some(Credentials::new(vec![key]))
    };
    let config = ApiConfig {
        credentials,
        server_names: args.server_names,
        max_body_bytes: args.max_body_bytes,
        ..ApiConfig::default()
    };
    let api = Api::new(engine.clone(), config).with_shipper(shipper.clone());

    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    // The first stdout line is for scripts and tests: the bound address.
    println!("logport listening on http://{address} (data: {})", store.description);
    tracing::info!(%address, data = %store.description, "logport up");

    let retention = tokio::spawn(retention(engine.clone()));
    let shipping = shipper.spawn(SHIP_EVERY);
    crate::server::serve(listener, api, shutdown_signal()).await;
    retention.abort();
    shipping.abort();
    tracing::info!("stopped");
    Ok(())
}

async fn retention(engine: Arc<Engine>) {
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    let mut orphans = tokio::time::interval(ORPHANS_EVERY);
    orphans.tick().await;
    loop {
        tokio::select! {
            _ = sweep.tick() => match engine.sweep_expired().await {
                Ok(report) if report.segments_deleted + report.idempotency_keys_deleted > 0 => {
                    tracing::info!(segments = report.segments_deleted, bytes = report.bytes_deleted, keys = report.idempotency_keys_deleted, "expired data deleted");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "retention sweep failed"),
            },
            _ = orphans.tick() => match engine.collect_orphans().await {
                Ok(report) if report.orphans_deleted > 0 => tracing::info!(objects = report.orphans_deleted, "orphan objects deleted"),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "orphan collection failed"),
            },
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.ok();
    tracing::info!("shutting down: finishing requests in flight");
}
