//! The core's storage-port conformance suites, on a fresh data directory.

use logport_store_local::{FileObjectStore, LocalStore, SqliteMetaStore};

#[tokio::test(flavor = "multi_thread")]
async fn file_object_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileObjectStore::open(dir.path().join("objects")).unwrap();
    logport_core::conformance::object_store(&store, "conformance").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_meta_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteMetaStore::open(&dir.path().join("meta.sqlite")).unwrap();
    logport_core::conformance::meta_store(&store, "conformance").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn local_store_conforms_twice_on_one_directory() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let store = LocalStore::open(dir.path()).unwrap();
        logport_core::conformance::object_store(store.objects.as_ref(), "conformance").await;
        logport_core::conformance::meta_store(store.meta.as_ref(), "conformance").await;
    }
}
