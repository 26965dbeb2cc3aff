//! Restarts and shutdown: what `logport up` acknowledged is still there after SIGTERM and a new
//! start on the same data directory, even when the SIGTERM lands while writers are busy.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use support::{Server, first_value, sample_group};

#[test]
fn acknowledged_writes_survive_sigterm_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let client = server.client("proj");
    client.create_project().expect_ok();
    client.create_logstore("ls", 2).expect_ok();
    for index in 0..20 {
        client.put_group("ls", &sample_group(&format!("calm-{index}"), 5), None, &[]).expect_ok();
    }

    // Writers keep going while the server is told to stop; each records what was acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let client = client.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for index in 0.. {
                    if stop.load(Ordering::SeqCst) && index > 5 {
                        break;
                    }
                    let tag = format!("busy-{writer}-{index}");
                    match client.try_put_group("ls", &sample_group(&tag, 2), None, &[]) {
                        Ok(reply) if reply.status == 200 => acknowledged.push(tag),
                        _ => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status = server.stop();
    stop.store(true, Ordering::SeqCst);
    assert!(status.success(), "logport exits 0 on SIGTERM: {status}");
    let acknowledged: Vec<String> = writers.into_iter().flat_map(|writer| writer.join().unwrap()).collect();
    assert!(!acknowledged.is_empty());

    let server = Server::start(dir.path(), &[]);
    let client = server.client("proj");
    let stored: Vec<String> =
        (0..2).flat_map(|shard| client.pull_all("ls", shard)).map(|group| first_value(&group, "batch")).collect();
    for index in 0..20 {
        assert!(stored.contains(&format!("calm-{index}")));
    }
    for tag in &acknowledged {
        assert!(stored.contains(tag), "{tag} was acknowledged but is gone after the restart");
    }
    let mut unique = stored.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), stored.len(), "no batch is stored twice");
    assert_eq!(client.get("/logstores/ls", &[]).expect_ok().json()["shardCount"], 2);
}
