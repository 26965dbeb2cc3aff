//! The host against real components (components/testbed, built for wasm32-wasip2): a request
//! over its memory or CPU cap is 500 FunctionTrapped and the next one succeeds; a command sees
//! its arguments, environment and preopened directory, and traps over its caps.
//!
//! The components must be built first:
//!   cargo build --target wasm32-wasip2 --profile release-wasm -p logport-component-testbed
//! Without them the tests say so and pass, unless `LOGPORT_REQUIRE_WASM=1` (infra/test-all.sh).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use logport_wasm_host::{CommandFunction, CommandRun, Host, HttpFunction, Limits, Preopen};

fn component(file: &str) -> Option<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let path = target.join("wasm32-wasip2/release-wasm").join(file);
    if path.exists() {
        return Some(path);
    }
    let message = format!(
        "{} is not built: cargo build --target wasm32-wasip2 --profile release-wasm -p logport-component-testbed",
        path.display()
    );
    assert!(std::env::var("LOGPORT_REQUIRE_WASM").is_err(), "{message}");
    eprintln!("skipped: {message}");
    None
}

const CAPS: Limits = Limits { memory_bytes: 48 << 20, cpu_time: Duration::from_millis(1000) };

async fn get(function: &HttpFunction, target: &str) -> (u16, String) {
    let request = hyper::Request::builder()
        .uri(format!("http://testbed.local{target}"))
        .header("host", "testbed.local")
        .body(Full::new(Bytes::new()).map_err(|never| -> hyper::Error { match never {} }))
        .unwrap();
    let response = function.handle(request).await;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.map(|body| body.to_bytes()).unwrap_or_default();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn a_request_over_its_caps_fails_alone() {
    let Some(path) = component("logport_component_testbed.wasm") else { return };
    let cache = tempfile::tempdir().unwrap();
    let host = Host::new(Some(cache.path())).unwrap();
    let env = vec![("GREETING".to_owned(), "hello".to_owned())];
    let function = HttpFunction::load(&host, "testbed", &path, env, CAPS).unwrap();

    assert_eq!(get(&function, "/").await, (200, "ok".to_owned()));
    assert_eq!(get(&function, "/env?name=GREETING").await, (200, "hello".to_owned()));

    let (status, body) = get(&function, "/alloc?mib=96").await;
    assert_eq!(status, 500, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["errorCode"], "FunctionTrapped");
    let (status, body) = get(&function, "/alloc?mib=8").await;
    assert_eq!(status, 200, "the next request after a memory trap: {body}");

    let (status, body) = get(&function, "/spin?ms=20000").await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("FunctionTrapped"), "{body}");
    let (status, body) = get(&function, "/spin?ms=10").await;
    assert_eq!(status, 200, "the next request after a CPU trap: {body}");

    // The compiled component is in the disk cache (written in the background).
    let deadline = Instant::now() + Duration::from_secs(30);
    while count_files(cache.path()) == 0 {
        assert!(Instant::now() < deadline, "nothing cached in {}", cache.path().display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn count_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.flatten().map(|entry| if entry.path().is_dir() { count_files(&entry.path()) } else { 1 }).sum()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn a_command_sees_what_it_is_given_under_the_same_caps() {
    let Some(path) = component("testbed-command.wasm") else { return };
    let host = Host::new(None).unwrap();
    let command = CommandFunction::load(&host, &path, CAPS).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let args = |list: &[&str]| list.iter().map(|arg| arg.to_string()).collect::<Vec<_>>();

    let writable = CommandRun {
        args: args(&["testbed", "write", "/data/out.txt", "written by the guest"]),
        preopens: vec![Preopen { host: dir.path().to_owned(), guest: "/data".into(), writable: true }],
        ..CommandRun::default()
    };
    let outcome = command.run(&writable).await.unwrap();
    assert!(outcome.success, "{:?}", outcome);
    assert_eq!(std::fs::read_to_string(dir.path().join("out.txt")).unwrap(), "written by the guest");

    let read_only = CommandRun {
        preopens: vec![Preopen { host: dir.path().to_owned(), guest: "/data".into(), writable: false }],
        ..writable.clone()
    };
    assert!(!command.run(&read_only).await.unwrap().success, "a read-only directory was written");
    let nowhere = CommandRun { preopens: Vec::new(), ..writable };
    assert!(!command.run(&nowhere).await.unwrap().success, "a directory not given was written");

    let env = CommandRun {
        args: args(&["testbed", "env", "TOKEN"]),
        env: vec![("TOKEN".into(), "t-1".into())],
        ..CommandRun::default()
    };
    assert_eq!(command.run(&env).await.unwrap().stdout.as_ref(), b"t-1\n");

    assert!(command.run(&CommandRun { args: args(&["testbed", "alloc", "96"]), ..Default::default() }).await.is_err());
    assert!(
        command.run(&CommandRun { args: args(&["testbed", "spin", "20000"]), ..Default::default() }).await.is_err()
    );
    let fine = command.run(&CommandRun { args: args(&["testbed", "alloc", "8"]), ..Default::default() }).await.unwrap();
    assert!(fine.success, "{fine:?}");
    assert!(
        !command.run(&CommandRun { args: args(&["testbed", "fail"]), ..Default::default() }).await.unwrap().success
    );
}

/// A one-connection-at-a-time HTTP server on 127.0.0.1 answering `pong` to anything; counts the
/// requests it got.
async fn pong_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\npong";
            let _ = stream.write_all(answer).await;
        }
    });
    (port, hits)
}

#[tokio::test]
async fn outgoing_requests_go_only_to_allowed_hosts() {
    use logport_wasm_host::OutboundHosts;
    use std::sync::atomic::Ordering;
    let Some(path) = component("logport_component_testbed.wasm") else { return };
    let host = Host::new(None).unwrap();
    let (allowed, allowed_hits) = pong_server().await;
    let (other, other_hits) = pong_server().await;
    let list = OutboundHosts::parse(&[format!("http://127.0.0.1:{allowed}")]).unwrap();
    let function = HttpFunction::load(&host, "testbed", &path, Vec::new(), CAPS).unwrap().with_outbound_hosts(list);

    let (status, body) = get(&function, &format!("/fetch?url=http://127.0.0.1:{allowed}/ping")).await;
    assert_eq!((status, body.as_str()), (200, "fetched 200 pong"));
    assert_eq!(allowed_hits.load(Ordering::SeqCst), 1);

    // Another port on the same address, another scheme, another name: denied in the guest, and
    // nothing reaches the server.
    for url in [
        format!("http://127.0.0.1:{other}/ping"),
        format!("https://127.0.0.1:{allowed}/ping"),
        format!("http://localhost:{allowed}/ping"),
    ] {
        let (status, body) = get(&function, &format!("/fetch?url={url}")).await;
        assert_eq!(status, 502, "{url}: {body}");
        assert!(body.contains("HttpRequestDenied"), "{url}: {body}");
    }
    assert_eq!(other_hits.load(Ordering::SeqCst), 0);
    assert_eq!(allowed_hits.load(Ordering::SeqCst), 1);

    // No list at all (a manifest component without allowed_outbound_hosts): nothing goes out.
    let closed = HttpFunction::load(&host, "testbed", &path, Vec::new(), CAPS)
        .unwrap()
        .with_outbound_hosts(OutboundHosts::default());
    let (status, body) = get(&closed, &format!("/fetch?url=http://127.0.0.1:{allowed}/ping")).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(allowed_hits.load(Ordering::SeqCst), 1);
}

/// An HTTP/1.1 server that keeps connections open: counts connections and requests.
async fn keep_alive_server() -> (u16, std::sync::Arc<[std::sync::atomic::AtomicUsize; 2]>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let counts = std::sync::Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let counter = counts.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter[0].fetch_add(1, Ordering::SeqCst);
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut pending = Vec::new();
                let mut buf = [0u8; 1024];
                loop {
                    // One request head (GET: no body), then the answer; the connection stays open.
                    while !pending.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => pending.extend_from_slice(&buf[..n]),
                        }
                    }
                    let end = pending.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    pending.drain(..end);
                    counter[1].fetch_add(1, Ordering::SeqCst);
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\npong";
                    if stream.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, counts)
}

#[tokio::test]
async fn instances_share_kept_alive_connections() {
    use logport_wasm_host::OutboundHosts;
    use std::sync::atomic::Ordering;
    let Some(path) = component("logport_component_testbed.wasm") else { return };
    let host = Host::new(None).unwrap();
    let (port, counts) = keep_alive_server().await;
    let list = OutboundHosts::parse(&[format!("http://127.0.0.1:{port}")]).unwrap();
    let function = HttpFunction::load(&host, "testbed", &path, Vec::new(), CAPS).unwrap().with_outbound_hosts(list);
    // Each incoming request is a fresh instance; their outgoing requests go over one connection.
    for _ in 0..5 {
        let (status, body) = get(&function, &format!("/fetch?url=http://127.0.0.1:{port}/ping")).await;
        assert_eq!((status, body.as_str()), (200, "fetched 200 pong"));
    }
    assert_eq!(counts[1].load(Ordering::SeqCst), 5, "requests");
    assert_eq!(counts[0].load(Ordering::SeqCst), 1, "connections");
}
