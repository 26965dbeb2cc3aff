//! Conformance suites for the storage ports: each checks one trait's rustdoc contract and panics
//! (with the rule that failed) on the first violation. Every backend runs them from its own
//! tests, unchanged: `store-local` on files + SQLite, `store-aws` on S3 + DynamoDB servers.
//!
//! Each suite works under a `namespace` (an object-key prefix or a partition-key prefix) so that
//! runs can share a bucket or table.

use std::ops::Bound;

use bytes::Bytes;
use futures::future::join_all;

use crate::store::{Condition, MetaStore, ObjectStore, PutMode, Query, StoreError, WriteOp};

/// Checks the [`ObjectStore`] contract.
pub async fn object_store(store: &dyn ObjectStore, namespace: &str) {
    let key = |name: &str| format!("{namespace}/{name}");

    // put / get round trip, overwrite, create-only.
    store.put(&key("a/one.seg"), Bytes::from_static(b"hello world"), PutMode::Create).await.unwrap();
    assert_eq!(store.get(&key("a/one.seg")).await.unwrap(), Bytes::from_static(b"hello world"));
    let conflict = store.put(&key("a/one.seg"), Bytes::from_static(b"other"), PutMode::Create).await;
    assert!(
        matches!(conflict, Err(StoreError::Conflict { .. })),
        "create over an existing key must conflict: {conflict:?}"
    );
    assert_eq!(
        store.get(&key("a/one.seg")).await.unwrap(),
        Bytes::from_static(b"hello world"),
        "a failed create must not change the object"
    );
    store.put(&key("a/one.seg"), Bytes::from_static(b"replaced"), PutMode::Overwrite).await.unwrap();
    assert_eq!(store.get(&key("a/one.seg")).await.unwrap(), Bytes::from_static(b"replaced"));

    // Empty and binary objects.
    store.put(&key("a/empty"), Bytes::new(), PutMode::Create).await.unwrap();
    assert_eq!(store.get(&key("a/empty")).await.unwrap().len(), 0);
    let binary: Bytes = (0..=255u8).cycle().take(70_000).collect::<Vec<_>>().into();
    store.put(&key("b/binary"), binary.clone(), PutMode::Overwrite).await.unwrap();
    assert_eq!(store.get(&key("b/binary")).await.unwrap(), binary);

    // Ranged reads, clipped at the end; a start past the end is invalid.
    assert_eq!(store.get_range(&key("b/binary"), 10..20).await.unwrap(), binary.slice(10..20));
    assert_eq!(store.get_range(&key("b/binary"), 69_990..80_000).await.unwrap(), binary.slice(69_990..));
    assert!(matches!(store.get_range(&key("b/binary"), 80_000..80_010).await, Err(StoreError::Invalid(_))));
    assert!(matches!(store.get_range(&key("b/binary"), 70_000..70_001).await, Err(StoreError::Invalid(_))));
    let reversed = std::ops::Range { start: 20, end: 10 };
    assert!(matches!(store.get_range(&key("b/binary"), reversed).await, Err(StoreError::Invalid(_))));
    assert!(store.get_range(&key("b/binary"), 5..5).await.unwrap().is_empty(), "an empty range inside is empty");
    let ranges = store.get_ranges(&key("b/binary"), &[30_000..30_010, 10..20, 69_990..80_000]).await.unwrap();
    assert_eq!(ranges, [binary.slice(30_000..30_010), binary.slice(10..20), binary.slice(69_990..)]);
    assert!(store.get_ranges(&key("b/binary"), &[]).await.unwrap().is_empty());
    assert!(matches!(store.get_ranges(&key("b/binary"), &[0..1, 80_000..80_010]).await, Err(StoreError::Invalid(_))));
    assert!(matches!(store.get_ranges(&key("missing"), &[0..1, 1..2]).await, Err(StoreError::NotFound(_))));
    assert!(store.get_range(&key("a/empty"), 0..10).await.unwrap().is_empty(), "from 0, an empty object is fine");
    assert!(store.get_range(&key("a/empty"), 0..0).await.unwrap().is_empty());
    assert!(matches!(store.get_range(&key("missing"), 3..3).await, Err(StoreError::NotFound(_))));

    // Missing keys.
    assert!(matches!(store.get(&key("missing")).await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.get_range(&key("missing"), 0..1).await, Err(StoreError::NotFound(_))));

    // Listing: complete, sorted, by prefix, with sizes; more than one page's worth.
    for index in (0..1_050).rev() {
        store.put(&key(&format!("many/{index:05}")), Bytes::from(vec![1u8; index % 7]), PutMode::Create).await.unwrap();
    }
    let listed = store.list(&key("many/")).await.unwrap();
    assert_eq!(listed.len(), 1_050, "list must page internally and be complete");
    for (index, meta) in listed.iter().enumerate() {
        assert_eq!(meta.key, key(&format!("many/{index:05}")), "list must be sorted by key");
        assert_eq!(meta.size, (index % 7) as u64);
    }
    let a_only = store.list(&key("a/")).await.unwrap();
    assert_eq!(a_only.iter().map(|m| m.key.clone()).collect::<Vec<_>>(), vec![key("a/empty"), key("a/one.seg")]);
    assert_eq!(store.list(&key("many/0104")).await.unwrap().len(), 10, "a prefix need not end at '/'");
    assert!(store.list(&key("nothing/")).await.unwrap().is_empty());

    // Delete, idempotent.
    store.delete(&key("a/one.seg")).await.unwrap();
    store.delete(&key("a/one.seg")).await.unwrap();
    assert!(matches!(store.get(&key("a/one.seg")).await, Err(StoreError::NotFound(_))));
    assert_eq!(store.list(&key("a/")).await.unwrap().len(), 1);

    // Keys that could escape a directory or a bucket prefix are refused.
    for bad in ["", "/abs", "a//b", "../x", "a/../b", "a/./b", "a b", "a\\b"] {
        let result = store.put(bad, Bytes::from_static(b"x"), PutMode::Overwrite).await;
        assert!(matches!(result, Err(StoreError::Invalid(_))), "key {bad:?} must be refused: {result:?}");
    }

    // Concurrent create-only puts of one key: exactly one wins.
    let race_key = key("race");
    let racers = (0..8u8).map(|i| store.put(&race_key, Bytes::from(vec![i; 1000]), PutMode::Create));
    let results = join_all(racers).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "one create must win: {results:?}");
    let winner = store.get(&key("race")).await.unwrap();
    assert!(winner.iter().all(|b| *b == winner[0]), "the object must be one writer's whole data");

    for meta in store.list(&format!("{namespace}/")).await.unwrap() {
        store.delete(&meta.key).await.unwrap();
    }
    assert!(store.list(&format!("{namespace}/")).await.unwrap().is_empty());
}

/// Checks the whole [`MetaStore`] contract: [`meta_store_basic`] and [`meta_store_transactions`].
pub async fn meta_store(store: &dyn MetaStore, namespace: &str) {
    meta_store_basic(store, namespace).await;
    meta_store_transactions(store, namespace).await;
}

/// Checks the [`MetaStore`] contract without `transact`: versions, conditions, deletes, TTL
/// attributes, range queries and invalid requests (for servers that lack transactions).
pub async fn meta_store_basic(store: &dyn MetaStore, namespace: &str) {
    let pk = |name: &str| format!("{namespace}#{name}");
    let put = |name: &str, sk: &str, value: &str, condition| {
        let (pk, sk, value) = (pk(name), sk.to_owned(), value.as_bytes().to_vec());
        async move { store.put(&pk, &sk, value, None, condition).await }
    };

    // Versions and conditions on put.
    assert_eq!(store.get(&pk("p"), "a").await.unwrap(), None);
    assert_eq!(put("p", "a", "1", Condition::Absent).await.unwrap(), 1);
    assert!(matches!(put("p", "a", "x", Condition::Absent).await, Err(StoreError::Conflict { .. })));
    assert!(matches!(put("p", "b", "x", Condition::Exists).await, Err(StoreError::Conflict { .. })));
    assert!(matches!(put("p", "a", "x", Condition::Version(7)).await, Err(StoreError::Conflict { .. })));
    assert_eq!(put("p", "a", "2", Condition::Version(1)).await.unwrap(), 2);
    assert_eq!(put("p", "a", "3", Condition::Exists).await.unwrap(), 3);
    assert_eq!(put("p", "a", "4", Condition::Always).await.unwrap(), 4);
    let item = store.get(&pk("p"), "a").await.unwrap().unwrap();
    assert_eq!((item.value.as_slice(), item.version, item.expires_at), (&b"4"[..], 4, None));
    assert!(store.get(&pk("other"), "a").await.unwrap().is_none(), "partitions are separate");

    // Binary values and TTL attributes survive.
    let binary: Vec<u8> = (0..=255u8).collect();
    store.put(&pk("p"), "bin", binary.clone(), Some(1_700_000_000), Condition::Absent).await.unwrap();
    let item = store.get(&pk("p"), "bin").await.unwrap().unwrap();
    assert_eq!((item.value, item.expires_at), (binary, Some(1_700_000_000)));

    // Delete with conditions.
    assert!(matches!(store.delete(&pk("p"), "bin", Condition::Version(9)).await, Err(StoreError::Conflict { .. })));
    store.delete(&pk("p"), "bin", Condition::Version(1)).await.unwrap();
    assert!(store.get(&pk("p"), "bin").await.unwrap().is_none());
    store.delete(&pk("p"), "bin", Condition::Always).await.unwrap();
    assert!(matches!(store.delete(&pk("p"), "bin", Condition::Exists).await, Err(StoreError::Conflict { .. })));

    // Range queries: bounds, order, limit, prefix, more than a page's worth.
    let filler = "v".repeat(2_000);
    for index in (0..600).rev() {
        put("q", &format!("{index:05}"), &filler, Condition::Absent).await.unwrap();
    }
    put("q", "zz", "last", Condition::Absent).await.unwrap();
    let sks = |items: Vec<crate::store::Item>| items.into_iter().map(|item| item.sk).collect::<Vec<_>>();
    let all = store.query(Query::partition(pk("q"))).await.unwrap();
    assert_eq!(all.len(), 601, "query must page internally and be complete");
    assert!(all.windows(2).all(|w| w[0].sk < w[1].sk), "ascending by sort key");
    let range = Query::partition(pk("q")).from(Bound::Included("00010".into())).to(Bound::Excluded("00013".into()));
    assert_eq!(sks(store.query(range).await.unwrap()), ["00010", "00011", "00012"]);
    let range = Query::partition(pk("q")).from(Bound::Excluded("00010".into())).to(Bound::Included("00013".into()));
    assert_eq!(sks(store.query(range).await.unwrap()), ["00011", "00012", "00013"]);
    let last_before = Query::partition(pk("q")).to(Bound::Excluded("00100".into())).reversed().limit(2);
    assert_eq!(sks(store.query(last_before).await.unwrap()), ["00099", "00098"]);
    let first_after = Query::partition(pk("q")).from(Bound::Included("00595".into())).limit(3);
    assert_eq!(sks(store.query(first_after).await.unwrap()), ["00595", "00596", "00597"]);
    assert_eq!(sks(store.query(Query::prefix(pk("q"), "0059")).await.unwrap()).len(), 10);
    assert_eq!(sks(store.query(Query::partition(pk("q")).reversed().limit(1)).await.unwrap()), ["zz"]);
    assert!(store.query(Query::partition(pk("empty"))).await.unwrap().is_empty());
    let empty_range = Query::partition(pk("q")).from(Bound::Included("b".into())).to(Bound::Excluded("a".into()));
    assert!(store.query(empty_range).await.unwrap().is_empty());

    // Invalid requests.
    assert!(matches!(store.get("", "a").await, Err(StoreError::Invalid(_))));
    let huge = vec![0u8; crate::store::MAX_VALUE_BYTES + 1];
    assert!(matches!(store.put(&pk("p"), "huge", huge, None, Condition::Always).await, Err(StoreError::Invalid(_))));

    for name in ["p", "q"] {
        for item in store.query(Query::partition(pk(name))).await.unwrap() {
            store.delete(&item.pk, &item.sk, Condition::Always).await.unwrap();
        }
        assert!(store.query(Query::partition(pk(name))).await.unwrap().is_empty());
    }
}

/// Checks [`MetaStore::transact`]: all or nothing, conflict indices, refused transactions, and
/// serializable concurrent transactions.
pub async fn meta_store_transactions(store: &dyn MetaStore, namespace: &str) {
    let pk = |name: &str| format!("{namespace}#{name}");
    let put = |name: &str, sk: &str, value: &str, condition| {
        let (pk, sk, value) = (pk(name), sk.to_owned(), value.as_bytes().to_vec());
        async move { store.put(&pk, &sk, value, None, condition).await }
    };

    // An item at version 4 for the transactions to move.
    assert_eq!(put("p", "a", "1", Condition::Absent).await.unwrap(), 1);
    for version in 1..4 {
        put("p", "a", "x", Condition::Version(version)).await.unwrap();
    }

    // Transactions: all or nothing, conflict index, distinct keys, size limit.
    let ops = vec![
        WriteOp::Put {
            pk: pk("t"),
            sk: "x".into(),
            value: b"x".to_vec(),
            expires_at: None,
            condition: Condition::Absent,
        },
        WriteOp::Put {
            pk: pk("p"),
            sk: "a".into(),
            value: b"5".to_vec(),
            expires_at: None,
            condition: Condition::Version(4),
        },
        WriteOp::Check { pk: pk("p"), sk: "missing".into(), condition: Condition::Absent },
    ];
    store.transact(ops).await.unwrap();
    assert_eq!(store.get(&pk("p"), "a").await.unwrap().unwrap().version, 5);
    assert!(store.get(&pk("t"), "x").await.unwrap().is_some());
    let failing = vec![
        WriteOp::Put {
            pk: pk("t"),
            sk: "y".into(),
            value: b"y".to_vec(),
            expires_at: None,
            condition: Condition::Absent,
        },
        WriteOp::Delete { pk: pk("t"), sk: "x".into(), condition: Condition::Always },
        WriteOp::Put {
            pk: pk("p"),
            sk: "a".into(),
            value: b"6".to_vec(),
            expires_at: None,
            condition: Condition::Version(4),
        },
    ];
    match store.transact(failing).await {
        Err(StoreError::Conflict { index }) => assert!(index.is_none() || index == Some(2), "index {index:?}"),
        other => panic!("a failed condition must cancel the transaction: {other:?}"),
    }
    assert!(store.get(&pk("t"), "y").await.unwrap().is_none(), "nothing of a cancelled transaction is written");
    assert!(store.get(&pk("t"), "x").await.unwrap().is_some(), "nothing of a cancelled transaction is deleted");
    assert_eq!(store.get(&pk("p"), "a").await.unwrap().unwrap().version, 5);
    let twice = vec![
        WriteOp::Check { pk: pk("t"), sk: "x".into(), condition: Condition::Exists },
        WriteOp::Delete { pk: pk("t"), sk: "x".into(), condition: Condition::Always },
    ];
    assert!(matches!(store.transact(twice).await, Err(StoreError::Invalid(_))));
    assert!(matches!(store.transact(Vec::new()).await, Err(StoreError::Invalid(_))));
    let too_many = (0..=crate::store::MAX_TRANSACTION_OPS)
        .map(|i| WriteOp::Check { pk: pk("t"), sk: format!("many-{i}"), condition: Condition::Absent })
        .collect();
    assert!(matches!(store.transact(too_many).await, Err(StoreError::Invalid(_))));
    let delete_in_tx = vec![
        WriteOp::Delete { pk: pk("t"), sk: "x".into(), condition: Condition::Version(1) },
        WriteOp::Put { pk: pk("t"), sk: "z".into(), value: Vec::new(), expires_at: None, condition: Condition::Always },
    ];
    store.transact(delete_in_tx).await.unwrap();
    assert!(store.get(&pk("t"), "x").await.unwrap().is_none());
    assert_eq!(store.get(&pk("t"), "z").await.unwrap().unwrap().value, Vec::<u8>::new());

    // A fenced write (consumer-group checkpoints): a `Check` on another item's version guards a
    // put; a stale version cancels it, the current one lets it through without touching the item.
    let fenced = |version| {
        vec![
            WriteOp::Check { pk: pk("p"), sk: "a".into(), condition: Condition::Version(version) },
            WriteOp::Put {
                pk: pk("fenced"),
                sk: "cp".into(),
                value: format!("v{version}").into_bytes(),
                expires_at: None,
                condition: Condition::Always,
            },
        ]
    };
    store.delete(&pk("fenced"), "cp", Condition::Always).await.unwrap();
    match store.transact(fenced(4)).await {
        Err(StoreError::Conflict { index }) => assert!(index.is_none() || index == Some(0), "index {index:?}"),
        other => panic!("a stale fencing version must cancel the write: {other:?}"),
    }
    assert!(store.get(&pk("fenced"), "cp").await.unwrap().is_none());
    store.transact(fenced(5)).await.unwrap();
    assert_eq!(store.get(&pk("fenced"), "cp").await.unwrap().unwrap().value, b"v5".to_vec());
    assert_eq!(store.get(&pk("p"), "a").await.unwrap().unwrap().version, 5, "a check writes nothing");
    store.delete(&pk("fenced"), "cp", Condition::Always).await.unwrap();

    // Optimistic concurrency: of writers racing on one version, exactly one wins.
    put("race", "counter", "0", Condition::Absent).await.unwrap();
    let racers = (0..8).map(|i| {
        let op = vec![
            WriteOp::Put {
                pk: pk("race"),
                sk: "counter".into(),
                value: format!("{i}").into_bytes(),
                expires_at: None,
                condition: Condition::Version(1),
            },
            WriteOp::Put {
                pk: pk("race"),
                sk: format!("claim-{i}"),
                value: Vec::new(),
                expires_at: None,
                condition: Condition::Absent,
            },
        ];
        store.transact(op)
    });
    let results = join_all(racers).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "one transaction must win: {results:?}");
    assert_eq!(
        store.query(Query::prefix(pk("race"), "claim-")).await.unwrap().len(),
        1,
        "only the winner's writes land"
    );

    for name in ["p", "t", "race"] {
        for item in store.query(Query::partition(pk(name))).await.unwrap() {
            store.delete(&item.pk, &item.sk, Condition::Always).await.unwrap();
        }
        assert!(store.query(Query::partition(pk(name))).await.unwrap().is_empty());
    }
}

#[cfg(test)]
mod tests {
    use crate::store::memory::{MemoryMetaStore, MemoryObjectStore};

    #[test]
    fn memory_backends_conform() {
        futures_executor::block_on(super::object_store(&MemoryObjectStore::default(), "conformance"));
        futures_executor::block_on(super::meta_store(&MemoryMetaStore::default(), "conformance"));
    }
}
