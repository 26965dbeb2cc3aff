//! Shipping to an S3 endpoint (moto, started by `infra/local-aws.sh`; skipped without
//! `LOGPORT_MOTO_ENDPOINT` unless `LOGPORT_REQUIRE_LOCAL_AWS=1`): objects land in the bucket under
//! the task's key, and a bucket that does not exist is the task error `InvalidOssBucket`.

use std::sync::Arc;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use logport_core::engine::{Batch, Engine, LogstoreSettings, ProjectSettings, ShardTarget};
use logport_core::model::{Content, Log, LogGroup};
use logport_core::store::MetaStore;
use logport_core::store::memory::{MemoryMetaStore, MemoryObjectStore};
use logport_shipper::{Buckets, S3Buckets, Shipper, TaskFilter};
use serde_json::json;

fn endpoint() -> Option<String> {
    match std::env::var("LOGPORT_MOTO_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => Some(endpoint),
        _ if std::env::var("LOGPORT_REQUIRE_LOCAL_AWS").as_deref() == Ok("1") => {
            panic!("LOGPORT_MOTO_ENDPOINT is not set but LOGPORT_REQUIRE_LOCAL_AWS=1")
        }
        _ => {
            eprintln!("skipped: LOGPORT_MOTO_ENDPOINT not set (run eval $(infra/local-aws.sh start))");
            None
        }
    }
}

#[tokio::test]
async fn ships_to_an_s3_bucket() {
    let Some(endpoint) = endpoint() else { return };
    let unique = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let bucket = format!("logport-ship-{unique}");
    let credentials = Credentials::new("logport-test", "logport-test-secret", None, None, "logport-tests");
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .force_path_style(true)
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    client.create_bucket().bucket(&bucket).send().await.unwrap();

    let meta: Arc<dyn MetaStore> = Arc::new(MemoryMetaStore::default());
    let engine = Arc::new(Engine::new(Arc::new(MemoryObjectStore::default()), meta.clone()));
    engine.create_project("proj", ProjectSettings::default()).await.unwrap();
    engine.create_logstore("proj", "web", LogstoreSettings { shard_count: 1, ..Default::default() }).await.unwrap();
    let buckets = Arc::new(S3Buckets::new(client.clone()));
    let shipper = Shipper::new(engine.clone(), meta, buckets.clone());
    let rule = |name: &str, bucket: &str| {
        json!({"shipperName": name, "targetType": "s3", "targetConfiguration": {"bucket": bucket,
            "prefix": "logs", "compressType": "none", "storage": {"format": "json"}}})
    };
    shipper.create_rule("proj", "web", &rule("to-s3", &bucket)).await.unwrap();
    shipper.create_rule("proj", "web", &rule("nowhere", &format!("logport-absent-{unique}"))).await.unwrap();
    let group = LogGroup {
        logs: (0..12)
            .map(|i| Log {
                time: 1_700_000_000,
                contents: vec![Content { key: "n".into(), value: i.to_string() }],
                time_ns: None,
            })
            .collect(),
        ..Default::default()
    };
    engine.put_logs("proj", "web", ShardTarget::Shard(0), Batch::from_groups(&[group]).unwrap(), None).await.unwrap();

    let report = shipper.flush("proj", "web", "to-s3").await.unwrap();
    assert_eq!((report.tasks_succeeded, report.lines_shipped), (1, 12), "{report:?}");
    let store = buckets.open(&bucket, "").await.unwrap();
    let objects = store.list("logs/").await.unwrap();
    assert_eq!(objects.len(), 1, "{objects:?}");
    let body = store.get(&objects[0].key).await.unwrap();
    assert_eq!(std::str::from_utf8(&body).unwrap().lines().count(), 12);

    assert_eq!(shipper.flush("proj", "web", "nowhere").await.unwrap().tasks_failed, 1);
    let filter = TaskFilter { from: 0, to: i64::MAX / 2, status: None, offset: 0, size: 10 };
    let task = shipper.tasks("proj", "web", "nowhere", filter).await.unwrap().tasks.remove(0);
    assert_eq!(task.error_code, "InvalidOssBucket", "{task:?}");
}
