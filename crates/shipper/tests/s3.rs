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

/// A rule's `roleArn` is assumed through STS (moto's, here) and the objects are written with the
/// role's credentials; a role that cannot be assumed (STS unreachable) fails the task with
/// `Unauthorized` and STS's reason; a shipper that does not assume roles refuses a rule naming one.
#[tokio::test]
async fn ships_as_the_rule_role_through_sts() {
    use aws_config::BehaviorVersion;
    let Some(endpoint) = endpoint() else { return };
    let unique = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let bucket = format!("logport-role-{unique}");
    let sdk = |endpoint: &str| {
        let credentials = Credentials::new("logport-test", "logport-test-secret", None, None, "logport-tests");
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(credentials)
            .endpoint_url(endpoint)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
    };
    let moto = sdk(&endpoint).await;
    let client = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&moto).force_path_style(true).build());
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    // STS on a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let unreachable = sdk(&format!("http://{closed}")).await;

    let role = "arn:aws:iam::123456789012:role/logport-shipper";
    let cases: [(&str, Arc<dyn Buckets>, Option<&str>); 3] = [
        ("assumed", Arc::new(S3Buckets::assuming_roles(client.clone(), moto)), None),
        ("sts-down", Arc::new(S3Buckets::assuming_roles(client.clone(), unreachable)), Some("cannot assume role")),
        ("no-roles", Arc::new(S3Buckets::new(client.clone())), Some("does not assume roles")),
    ];
    for (name, buckets, refused) in cases {
        let meta: Arc<dyn MetaStore> = Arc::new(MemoryMetaStore::default());
        let engine = Arc::new(Engine::new(Arc::new(MemoryObjectStore::default()), meta.clone()));
        engine.create_project("proj", ProjectSettings::default()).await.unwrap();
        engine.create_logstore("proj", "web", LogstoreSettings { shard_count: 1, ..Default::default() }).await.unwrap();
        let shipper = Shipper::new(engine.clone(), meta, buckets);
        let rule = json!({"shipperName": name, "targetType": "s3", "targetConfiguration": {"bucket": bucket,
            "prefix": name, "roleArn": role, "compressType": "none", "storage": {"format": "json"}}});
        shipper.create_rule("proj", "web", &rule).await.unwrap();
        let log = Log {
            time: 1_700_000_000,
            contents: vec![Content { key: "case".into(), value: name.into() }],
            time_ns: None,
        };
        let group = LogGroup { logs: vec![log], ..Default::default() };
        engine
            .put_logs("proj", "web", ShardTarget::Shard(0), Batch::from_groups(&[group]).unwrap(), None)
            .await
            .unwrap();
        let report = shipper.flush("proj", "web", name).await.unwrap();
        let listed = client.list_objects_v2().bucket(&bucket).prefix(format!("{name}/")).send().await.unwrap();
        match refused {
            None => {
                assert_eq!((report.tasks_succeeded, report.lines_shipped), (1, 1), "{name}: {report:?}");
                assert_eq!(listed.contents().len(), 1, "{name}");
            }
            Some(reason) => {
                assert_eq!(report.tasks_failed, 1, "{name}: {report:?}");
                assert!(listed.contents().is_empty(), "{name}");
                let filter = TaskFilter { from: 0, to: i64::MAX / 2, status: None, offset: 0, size: 10 };
                let task = shipper.tasks("proj", "web", name, filter).await.unwrap().tasks.remove(0);
                assert_eq!(task.error_code, "Unauthorized", "{name}: {task:?}");
                assert!(task.error_message.contains(reason), "{name}: {task:?}");
            }
        }
    }
}
