//! The dashboard's HTTP server (`ny_power::adapters::web`) over real loopback sockets: a flood
//! of half-sent requests (issue 10, defect 8) and the security headers of every response.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use ny_power::adapters::web::{WebConfig, WebLimits, WebServer};

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>t</title>",
    )
    .unwrap();
    std::fs::write(dir.path().join("app.js"), "console.log(1)").unwrap();
    dir
}

async fn start(
    dir: &std::path::Path,
    limits: WebLimits,
) -> (WebServer, tokio::sync::oneshot::Sender<()>) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = WebServer::start_with(
        (Ipv4Addr::LOCALHOST, 0).into(),
        dir,
        WebConfig::new("ws://127.0.0.1:9001/mqtt"),
        limits,
        async move {
            let _ = rx.await;
        },
    )
    .await
    .unwrap();
    (server, tx)
}

/// Open file descriptors of this process (client and server sockets alike).
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Waits until the server closes `stream` (EOF or reset), at most until `deadline`.
async fn closed_by_server(stream: &mut TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // e.g. a 408 before the close
            Err(_) => return false,
        }
    }
}

async fn half_sent(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // Headers never finished: no blank line.
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n")
        .await
        .unwrap();
    s
}

/// 300 half-sent requests against a cap of 50 connections: the server never holds more than
/// 50 of them, `/healthz` still answers, and every idle one is closed by the header timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_half_sent_requests_is_capped_and_timed_out() {
    const FLOOD: usize = 300;
    const CAP: usize = 50;
    let dir = site();
    let (server, stop) = start(
        dir.path(),
        WebLimits {
            header_timeout: Duration::from_millis(500),
            max_connections: CAP,
        },
    )
    .await;
    let addr = server.addr();
    let before = open_fds();
    let mut flood = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD {
        flood.push(half_sent(addr).await);
    }
    // /healthz answers, on a connection opened after the whole flood.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let probe = tokio::spawn({
        let http = http.clone();
        async move { http.get(format!("http://{addr}/healthz")).send().await }
    });
    let mut most = 0;
    while !probe.is_finished() {
        most = most.max(open_fds().saturating_sub(before));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let health = probe.await.unwrap().unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");
    eprintln!("{FLOOD} half-sent clients, cap {CAP}: at most {most} descriptors opened");
    // Our FLOOD client sockets, at most CAP accepted ones, and a few for the probe.
    assert!(
        most <= FLOOD + CAP + 10,
        "{most} descriptors opened for {FLOOD} clients: the server held more than {CAP}"
    );
    // Every half-sent connection is closed by the server (generous deadline, no timing).
    let deadline = Instant::now() + Duration::from_secs(120);
    for (i, s) in flood.iter_mut().enumerate() {
        assert!(
            closed_by_server(s, deadline).await,
            "half-sent connection {i} of {FLOOD} still open"
        );
    }
    // A kept-alive connection that goes quiet after a request is closed too.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    assert!(
        closed_by_server(&mut idle, Instant::now() + Duration::from_secs(120)).await,
        "an idle kept-alive connection stayed open"
    );
    stop.send(()).unwrap();
    server.stopped().await.unwrap();
}

/// Every response — page, script, config, health, 404 — carries the security headers, and
/// the CSP lets the page reach its broker and nothing else.
#[tokio::test]
async fn every_response_has_the_security_headers() {
    let dir = site();
    let (server, stop) = start(dir.path(), WebLimits::default()).await;
    let base = format!("http://{}", server.addr());
    let http = reqwest::Client::new();
    for (path, status) in [
        ("/", 200),
        ("/app.js", 200),
        ("/config.json", 200),
        ("/healthz", 200),
        ("/nope.js", 404),
        ("/../Cargo.toml", 404),
    ] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self' ws://127.0.0.1:9001;",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(
                csp.contains(directive),
                "{path}: `{directive}` not in `{csp}`"
            );
        }
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
    }
    stop.send(()).unwrap();
    server.stopped().await.unwrap();
}
