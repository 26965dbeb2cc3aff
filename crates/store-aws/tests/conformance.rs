//! The core's storage-port conformance suites on the AWS backend: S3 and DynamoDB on moto, and
//! the DynamoDB suite without transactions on dynalite (which has no TransactWriteItems). Each
//! test makes its own bucket and table. The servers come from `infra/local-aws.sh`; without them
//! the tests say they are skipped.

mod common;

use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
use bytes::Bytes;
use common::{DYNALITE, MOTO};
use logport_core::store::{Condition, MetaStore, ObjectStore, PutMode, StoreError, WriteOp};
use logport_store_aws::S3ObjectStore;

#[tokio::test(flavor = "multi_thread")]
async fn s3_object_store_conforms_on_moto() {
    let Some(endpoint) = common::endpoint(MOTO) else { return };
    let store = common::connect(&endpoint, "objects", "tenant").await;
    store.create_resources().await.unwrap();
    logport_core::conformance::object_store(store.objects.as_ref(), "conformance").await;

    // The prefix is the store's alone: the bucket holds `tenant/<key>`, and a store without a
    // prefix sees exactly that.
    store.objects.put("a/b.seg", Bytes::from_static(b"x"), PutMode::Create).await.unwrap();
    let whole_bucket = S3ObjectStore::new(store.objects.client().clone(), store.objects.bucket(), "").unwrap();
    let keys: Vec<_> = whole_bucket.list("").await.unwrap().into_iter().map(|meta| meta.key).collect();
    assert_eq!(keys, ["tenant/a/b.seg"]);
    assert_eq!(whole_bucket.get("tenant/a/b.seg").await.unwrap(), Bytes::from_static(b"x"));
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_object_store_without_prefix_conforms_on_moto() {
    let Some(endpoint) = common::endpoint(MOTO) else { return };
    let store = common::connect(&endpoint, "objects", "").await;
    store.objects.create_bucket_if_missing().await.unwrap();
    logport_core::conformance::object_store(store.objects.as_ref(), "conformance").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_bucket_is_a_backend_failure() {
    let Some(endpoint) = common::endpoint(MOTO) else { return };
    let store = common::connect(&endpoint, "missing", "").await;
    let put = store.objects.put("a", Bytes::from_static(b"x"), PutMode::Overwrite).await;
    assert!(matches!(put, Err(StoreError::Backend(_))), "{put:?}");
    let get = store.objects.get("a").await;
    assert!(matches!(get, Err(StoreError::Backend(_))), "a missing bucket is not a missing key: {get:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dynamo_meta_store_conforms_on_moto() {
    let Some(endpoint) = common::endpoint(MOTO) else { return };
    let store = common::connect(&endpoint, "meta", "").await;
    store.meta.create_table_if_missing().await.unwrap();
    logport_core::conformance::meta_store(store.meta.as_ref(), "conformance").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dynamo_meta_store_conforms_on_dynalite_without_transactions() {
    let Some(endpoint) = common::endpoint(DYNALITE) else { return };
    let store = common::connect(&endpoint, "meta", "").await;
    store.meta.create_table_if_missing().await.unwrap();
    logport_core::conformance::meta_store_basic(store.meta.as_ref(), "conformance").await;

    // dynalite has no TransactWriteItems: an unexpected answer is a backend failure, not a conflict.
    let ops = vec![WriteOp::Check { pk: "p".into(), sk: "s".into(), condition: Condition::Absent }];
    let refused = store.meta.transact(ops).await;
    assert!(
        matches!(refused, Err(StoreError::Backend(ref detail)) if detail.contains("UnknownOperation")),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resources_are_created_once_with_ttl_on_moto() {
    let Some(endpoint) = common::endpoint(MOTO) else { return };
    let store = common::connect(&endpoint, "resources", "").await;
    store.create_resources().await.unwrap();
    store.create_resources().await.unwrap();
    let ttl = store.meta.client().describe_time_to_live().table_name(store.meta.table()).send().await.unwrap();
    let description = ttl.time_to_live_description().unwrap();
    assert_eq!(description.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    assert_eq!(description.attribute_name(), Some("ttl"));
}

/// The stored item shape is the documented table design (ARCHITECTURE.md).
#[tokio::test(flavor = "multi_thread")]
async fn items_have_the_documented_shape() {
    let Some(endpoint) = common::endpoint(MOTO) else { return };
    let store = common::connect(&endpoint, "shape", "").await;
    store.meta.create_table_if_missing().await.unwrap();
    store.meta.put("heads#p", "00001", b"{}".to_vec(), Some(1_900_000_000), Condition::Absent).await.unwrap();
    assert_eq!(store.meta.put("heads#p", "00001", b"{1}".to_vec(), None, Condition::Version(1)).await.unwrap(), 2);
    let raw = store
        .meta
        .client()
        .get_item()
        .table_name(store.meta.table())
        .key("pk", AttributeValue::S("heads#p".into()))
        .key("sk", AttributeValue::S("00001".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let item = raw.item().unwrap();
    let mut names: Vec<_> = item.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["pk", "sk", "v", "ver"], "a put without expiry removes `ttl`");
    assert_eq!(item["v"].as_b().unwrap().as_ref(), b"{1}");
    assert_eq!(item["ver"].as_n().unwrap(), "2");
    // An empty value is no `v` attribute (moto drops empty binaries).
    store.meta.put("heads#p", "00001", Vec::new(), Some(5), Condition::Exists).await.unwrap();
    let item = store.meta.get("heads#p", "00001").await.unwrap().unwrap();
    assert_eq!((item.value.len(), item.version, item.expires_at), (0, 3, Some(5)));
    assert_eq!(store.meta.put("heads#p", "00001", b"back".to_vec(), None, Condition::Version(3)).await.unwrap(), 4);
    assert_eq!(store.meta.get("heads#p", "00001").await.unwrap().unwrap().value, b"back");
}
