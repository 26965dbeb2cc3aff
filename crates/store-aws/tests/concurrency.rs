//! Writers racing on one DynamoDB item (on moto): of every round of conditional writes against
//! the same version, exactly one wins, and the item's version counts the winning writes exactly.

mod common;

use std::sync::Arc;

use common::MOTO;
use logport_core::store::{Condition, MetaStore, Query, StoreError, WriteOp};
use logport_store_aws::DynamoMetaStore;

const WRITERS: usize = 8;
const ROUNDS: usize = 12;

/// Runs one round: every writer sends `write(writer)` at once; returns how many succeeded, after
/// checking that every loser lost by a conflict.
async fn round<F, Fut>(write: F) -> usize
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>> + Send + 'static,
{
    let tasks: Vec<_> = (0..WRITERS).map(|writer| tokio::spawn(write(writer))).collect();
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::Conflict { .. }) => {}
            Err(other) => panic!("a lost race must be a conflict, not {other:?}"),
        }
    }
    wins
}

async fn store(endpoint: &str, name: &str) -> Arc<DynamoMetaStore> {
    let store = common::connect(endpoint, name, "").await;
    store.meta.create_table_if_missing().await.unwrap();
    store.meta
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_conditional_puts_have_one_winner_per_round() {
    let Some(endpoint) = common::endpoint(MOTO) else { return };
    let meta = store(&endpoint, "race-puts").await;
    assert_eq!(meta.put("p", "counter", Vec::new(), None, Condition::Absent).await.unwrap(), 1);
    let mut successful_writes = 1;
    for round_index in 0..ROUNDS {
        let version = meta.get("p", "counter").await.unwrap().unwrap().version;
        let wins = round(|writer| {
            let meta = meta.clone();
            async move {
                let value = format!("{round_index}:{writer}").into_bytes();
                let new_version = meta.put("p", "counter", value, None, Condition::Version(version)).await?;
                assert_eq!(new_version, version + 1);
                Ok(())
            }
        })
        .await;
        assert_eq!(wins, 1, "round {round_index}: exactly one conditional put must win");
        successful_writes += wins as u64;
    }
    let item = meta.get("p", "counter").await.unwrap().unwrap();
    assert_eq!(item.version, successful_writes, "the version counts every successful write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_transactions_have_one_winner_per_round() {
    let Some(endpoint) = common::endpoint(MOTO) else { return };
    let meta = store(&endpoint, "race-tx").await;
    meta.put("p", "head", Vec::new(), None, Condition::Absent).await.unwrap();
    let mut successful_writes = 1;
    for round_index in 0..ROUNDS {
        let version = meta.get("p", "head").await.unwrap().unwrap().version;
        let wins = round(|writer| {
            let meta = meta.clone();
            async move {
                // The engine's commit shape: move the head, create items that only the winner may.
                let ops = vec![
                    WriteOp::Put {
                        pk: "p".into(),
                        sk: "head".into(),
                        value: format!("{round_index}:{writer}").into_bytes(),
                        expires_at: None,
                        condition: Condition::Version(version),
                    },
                    WriteOp::Put {
                        pk: "claims".into(),
                        sk: format!("{round_index:03}-{writer}"),
                        value: Vec::new(),
                        expires_at: None,
                        condition: Condition::Absent,
                    },
                ];
                meta.transact(ops).await
            }
        })
        .await;
        assert_eq!(wins, 1, "round {round_index}: exactly one transaction must win");
        successful_writes += wins as u64;
    }
    assert_eq!(meta.get("p", "head").await.unwrap().unwrap().version, successful_writes);
    let claims = meta.query(Query::partition("claims")).await.unwrap();
    assert_eq!(claims.len(), ROUNDS, "only the winners' items land");
}

/// Writers that do not wait for each other: every successful put is one version step.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn free_running_writers_count_exactly() {
    let Some(endpoint) = common::endpoint(MOTO) else { return };
    let meta = store(&endpoint, "free-run").await;
    meta.put("p", "counter", Vec::new(), None, Condition::Absent).await.unwrap();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|_| {
            let meta = meta.clone();
            tokio::spawn(async move {
                let mut wins = 0u64;
                for _ in 0..ROUNDS {
                    let current = meta.get("p", "counter").await.unwrap().unwrap().version;
                    match meta.put("p", "counter", Vec::new(), None, Condition::Version(current)).await {
                        Ok(version) => {
                            assert_eq!(version, current + 1);
                            wins += 1;
                        }
                        Err(StoreError::Conflict { .. }) => {}
                        Err(other) => panic!("{other:?}"),
                    }
                }
                wins
            })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        wins += task.await.unwrap();
    }
    // Each attempt of one writer meets a distinct win (its own, or another's within its read-write window).
    assert!(wins >= ROUNDS as u64, "{wins} wins for {ROUNDS} attempts per writer");
    assert_eq!(meta.get("p", "counter").await.unwrap().unwrap().version, 1 + wins);
}
