//! What a local data directory keeps across a restart.

use bytes::Bytes;
use logport_core::store::{Condition, MetaStore, ObjectStore, PutMode, Query, StoreError};
use logport_store_local::LocalStore;

#[tokio::test(flavor = "multi_thread")]
async fn data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    {
        let store = LocalStore::open(&data_dir).unwrap();
        store.objects.put("p/s/0001.seg", Bytes::from_static(b"segment"), PutMode::Create).await.unwrap();
        store.objects.put("p/s/0002.seg", Bytes::from_static(b"gone"), PutMode::Create).await.unwrap();
        store.objects.delete("p/s/0002.seg").await.unwrap();
        store.meta.put("project#p", "a", b"1".to_vec(), Some(42), Condition::Absent).await.unwrap();
        store.meta.put("project#p", "a", b"2".to_vec(), Some(43), Condition::Version(1)).await.unwrap();
        store.meta.put("project#p", "b", b"b".to_vec(), None, Condition::Absent).await.unwrap();
        store.meta.delete("project#p", "b", Condition::Exists).await.unwrap();
    }
    assert!(data_dir.join(LocalStore::OBJECTS_DIR).is_dir());
    assert!(data_dir.join(LocalStore::META_FILE).is_file());

    let store = LocalStore::open(&data_dir).unwrap();
    assert_eq!(store.objects.get("p/s/0001.seg").await.unwrap(), Bytes::from_static(b"segment"));
    assert!(matches!(store.objects.get("p/s/0002.seg").await, Err(StoreError::NotFound(_))));
    let keys: Vec<_> = store.objects.list("").await.unwrap().into_iter().map(|meta| meta.key).collect();
    assert_eq!(keys, ["p/s/0001.seg"]);
    let conflict = store.objects.put("p/s/0001.seg", Bytes::from_static(b"x"), PutMode::Create).await;
    assert!(matches!(conflict, Err(StoreError::Conflict { .. })));

    let item = store.meta.get("project#p", "a").await.unwrap().unwrap();
    assert_eq!((item.value.as_slice(), item.version, item.expires_at), (&b"2"[..], 2, Some(43)));
    assert_eq!(store.meta.query(Query::partition("project#p")).await.unwrap().len(), 1);
    // Versions continue from the stored state.
    assert_eq!(store.meta.put("project#p", "a", b"3".to_vec(), None, Condition::Version(2)).await.unwrap(), 3);
}
