//! Parallel writers with retries: 8 writers x 500 batches, each request sometimes sent again
//! (at once or after later ones) with the same idempotency key. Every batch must be stored
//! exactly once, and each shard must return its batches in commit order.
//!
//! On the AWS backend (`LOGPORT_TEST_BACKEND=aws`, moto) the writers race on DynamoDB's
//! conditional transactions instead of SQLite's; they send 40 batches each there: moto copies the
//! table for every transaction, so its time and memory grow fast with the item count (at 8 x 500
//! it went past 18 GB and was killed).

mod support;

use std::collections::HashMap;

use rand::Rng;
use support::{Server, first_value, sample_group};

const WRITERS: usize = 8;
const BATCHES: usize = 500;
const BATCHES_ON_AWS: usize = 40;

#[test]
fn eight_writers_with_retries_store_each_batch_once_in_commit_order() {
    let batches = if Server::on_aws() { BATCHES_ON_AWS } else { BATCHES };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let client = server.client("proj");
    client.create_project().expect_ok();
    client.create_logstore("ls", 4).expect_ok();

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let client = client.clone();
            std::thread::spawn(move || {
                let mut rng = rand::rng();
                // (tag, shard, position) of each first acknowledgement.
                let mut committed = Vec::new();
                let mut pending_retries = Vec::new();
                for index in 0..batches {
                    let tag = format!("w{writer}-b{index}");
                    let key = format!("key-{tag}");
                    let group = sample_group(&tag, 1 + index % 3);
                    let reply = client.put_group("ls", &group, None, &[("x-log-idempotency-key", &key)]);
                    reply.expect_ok();
                    let shard: u32 = reply.header("x-logport-shard").unwrap().parse().unwrap();
                    let position: u64 = reply.header("x-logport-position").unwrap().parse().unwrap();
                    committed.push((tag.clone(), shard, position));
                    match rng.random_range(0..10) {
                        0..=1 => {
                            let again = client.put_group("ls", &group, None, &[("x-log-idempotency-key", &key)]);
                            assert_eq!(again.expect_ok().header("x-logport-duplicate"), Some("true"));
                            assert_eq!(again.header("x-logport-position").unwrap(), position.to_string());
                        }
                        2 => pending_retries.push((group, key)),
                        _ => {}
                    }
                }
                for (group, key) in pending_retries {
                    client.put_group("ls", &group, None, &[("x-log-idempotency-key", &key)]).expect_ok();
                }
                committed
            })
        })
        .collect();
    let committed: Vec<(String, u32, u64)> = writers.into_iter().flat_map(|writer| writer.join().unwrap()).collect();
    assert_eq!(committed.len(), WRITERS * batches);

    let mut expected: HashMap<u32, Vec<(u64, String)>> = HashMap::new();
    for (tag, shard, position) in committed {
        expected.entry(shard).or_default().push((position, tag));
    }
    let mut total = 0;
    for shard in 0..4 {
        let pulled: Vec<String> =
            client.pull_all("ls", shard).iter().map(|group| first_value(group, "batch")).collect();
        let mut in_commit_order = expected.remove(&shard).unwrap_or_default();
        in_commit_order.sort();
        let positions: Vec<u64> = in_commit_order.iter().map(|(position, _)| *position).collect();
        assert_eq!(positions, (0..positions.len() as u64).collect::<Vec<_>>(), "shard {shard}: positions without gaps");
        let tags: Vec<String> = in_commit_order.into_iter().map(|(_, tag)| tag).collect();
        assert_eq!(pulled, tags, "shard {shard}: each batch once, in commit order");
        total += pulled.len();
    }
    assert_eq!(total, WRITERS * batches);
}
