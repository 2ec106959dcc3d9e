//! The demo's embedded broker against hostile neighbours (issue 10, defect 7), with the real
//! `ny-power demo --replay` binary: a web page of another origin is refused (403) on the
//! WebSocket listener while loopback and configured origins and non-browser clients connect;
//! a poisoned or corrupt saved state does not stop the demo from starting, and what is wrong
//! in it is not restored; viewers past `--broker-max-connections` get 503 while the services
//! keep their room.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, Transport};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_ny-power");

/// A running `ny-power demo --replay` on free loopback ports.
struct Demo {
    child: Child,
    tcp: SocketAddr,
    ws: SocketAddr,
}

impl Demo {
    fn start(data_dir: &Path, web_dir: &Path, extra: &[&str]) -> Demo {
        let mut child = Command::new(BIN)
            .args(["demo", "--replay", "--speed", "60"])
            // The broker is what is tested, not the advice: a short backfill, a quick READY.
            .args(["--replay-backfill-hours", "6"])
            .args(["--http-port", "0", "--mqtt-port", "0", "--ws-port", "0"])
            .args(extra)
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--web-dir")
            .arg(web_dir)
            .env("RUST_LOG", "warn,rumqttd=off")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Generous: several demos start at once on a loaded 2-core machine.
        let deadline = Instant::now() + Duration::from_secs(240);
        let mut mqtt = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("the demo printed no READY line within 240 s"));
            if line.starts_with("MQTT: ") {
                mqtt = Some(line);
            } else if line.starts_with("READY ") {
                break;
            }
        }
        // "MQTT: mqtt://127.0.0.1:P and ws://127.0.0.1:Q/mqtt (…)"
        let mqtt = mqtt.expect("an MQTT: line before READY");
        let words: Vec<&str> = mqtt.split(' ').collect();
        let tcp = words[1].trim_start_matches("mqtt://").parse().unwrap();
        let ws = words[3]
            .trim_start_matches("ws://")
            .trim_end_matches("/mqtt")
            .parse()
            .unwrap();
        Demo { child, tcp, ws }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stub_site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>t</title>",
    )
    .unwrap();
    dir
}

/// A WebSocket upgrade request as a browser sends it; returns the status line and the stream.
async fn upgrade(addr: SocketAddr, origin: Option<&str>) -> (String, TcpStream) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "GET /mqtt HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: mqtt\r\n{origin}\r\n"
    );
    s.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        while !head.ends_with(b"\r\n\r\n") {
            if s.read(&mut byte).await.unwrap() == 0 {
                break;
            }
            head.push(byte[0]);
        }
    });
    read.await.expect("an answer to the upgrade request");
    let text = String::from_utf8_lossy(&head).into_owned();
    (text.lines().next().unwrap_or_default().to_owned(), s)
}

/// MQTT 3.1.1 CONNECT in a masked binary WebSocket frame; true when a CONNACK frame comes back.
async fn mqtt_connect(s: &mut TcpStream) -> bool {
    let connect: &[u8] = &[
        0x10, 16, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 4, b'o', b'r', b'i', b'g',
    ];
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    let mut frame = vec![0x82, 0x80 | connect.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(connect.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    s.write_all(&frame).await.unwrap();
    let mut reply = [0u8; 6];
    match tokio::time::timeout(Duration::from_secs(30), s.read_exact(&mut reply)).await {
        Ok(Ok(_)) => reply[0] == 0x82 && reply[2] == 0x20 && reply[5] == 0,
        _ => false,
    }
}

/// The retained message on `topic`, read over TCP (no Origin: a non-browser client).
async fn retained(tcp: SocketAddr, topic: &str) -> Option<Value> {
    let mut o = MqttOptions::new(format!("t-{}", std::process::id()), "127.0.0.1", tcp.port());
    o.set_keep_alive(Duration::from_secs(5));
    o.set_max_packet_size(4 << 20, 4 << 20);
    let (client, mut events) = AsyncClient::new(o, 16);
    client.subscribe(topic, QoS::AtLeastOnce).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Event::Incoming(Packet::Publish(p)) = events.poll().await.unwrap() {
                return serde_json::from_slice(&p.payload).unwrap();
            }
        }
    })
    .await
    .ok();
    let _ = client.disconnect().await;
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_refuses_foreign_web_pages_and_accepts_the_rest() {
    let site = stub_site();
    let data = tempfile::tempdir().unwrap();
    let demo = Demo::start(
        data.path(),
        site.path(),
        &["--allowed-origin", "http://dash.example:8080"],
    );

    for evil in [
        "http://evil.example",
        "null",
        "http://127.0.0.1.evil.example",
    ] {
        let (status, _) = upgrade(demo.ws, Some(evil)).await;
        assert!(status.starts_with("HTTP/1.1 403"), "{evil}: {status}");
    }
    for allowed in [
        Some("http://127.0.0.1:8080"),
        Some("http://localhost:5173"),
        Some("http://[::1]:8080"),
        Some("http://dash.example:8080"),
        None,
    ] {
        let (status, mut s) = upgrade(demo.ws, allowed).await;
        assert!(status.starts_with("HTTP/1.1 101"), "{allowed:?}: {status}");
        assert!(mqtt_connect(&mut s).await, "{allowed:?}: no CONNACK");
    }
    // A stock MQTT-over-WebSocket client (rumqttc, no Origin header) subscribes and gets the
    // retained intensity.
    let mut o = MqttOptions::new(
        "ws-client",
        format!("ws://{}/mqtt", demo.ws),
        demo.ws.port(),
    );
    o.set_transport(Transport::Ws);
    o.set_keep_alive(Duration::from_secs(5));
    o.set_max_packet_size(4 << 20, 4 << 20);
    let (client, mut events) = AsyncClient::new(o, 16);
    client
        .subscribe("ny-power/computed/co2", QoS::AtLeastOnce)
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Event::Incoming(Packet::Publish(p)) = events.poll().await.unwrap() {
                break p;
            }
        }
    })
    .await
    .unwrap();
    let v: Value = serde_json::from_slice(&got.payload).unwrap();
    assert!(v["value"].is_number(), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_saved_state_is_set_aside_and_the_demo_starts() {
    let site = stub_site();
    let data = tempfile::tempdir().unwrap();
    let state = data.path().join("replay");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(
        state.join("retained.json"),
        b"{\"ny-power/status/fuel-mix/updated\": garb",
    )
    .unwrap();
    let demo = Demo::start(data.path(), site.path(), &[]);
    assert!(state.join("retained.json.rejected").is_file());
    let cursor = retained(demo.tcp, "ny-power/status/fuel-mix/updated").await;
    assert!(cursor.is_some_and(|c| c["ts"].as_str().unwrap().starts_with("2025-")));
}

/// A saved state in format version 1 (before issue 10) poisoned by a local process: a cursor
/// that is garbage and a fuel mix and 24 h history dated 2100. The demo starts, the poisoned
/// messages are not restored, and the good ones are (migrated, not thrown away).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poisoned_entries_are_not_restored_and_the_rest_is_migrated() {
    let site = stub_site();
    let data = tempfile::tempdir().unwrap();
    let state = data.path().join("replay");
    std::fs::create_dir_all(&state).unwrap();
    let band = json!("not a band");
    let v1 = json!({
        "ny-power/status/fuel-mix/updated": {"ts": "garbage"},
        "ny-power/upstream/fuel-mix": {
            "ts": "2100-01-01T00:00:00Z",
            "fuels": {"dual_fuel": 1.0, "natural_gas": 1.0, "nuclear": 1.0, "other_fossil_fuels": 1.0,
                      "other_renewables": 1.0, "wind": 1.0, "hydro": 1.0},
            "total_mw": 7.0
        },
        "ny-power/archive/co2/24h": {"units": "g/kWh", "ts": ["2100-01-01T00:00:00Z"], "values": [1.0]},
        "ny-power/computed/co2/band": band,
        "ny-power/upstream/fuel-mix/wind": {"ts": "2025-02-01T05:05:00Z", "value": 853.0, "units": "MW"}
    });
    std::fs::write(
        state.join("retained.json"),
        serde_json::to_vec(&v1).unwrap(),
    )
    .unwrap();
    let demo = Demo::start(data.path(), site.path(), &[]);
    assert!(
        !state.join("retained.json.rejected").exists(),
        "a version-1 file is migrated"
    );
    let history = retained(demo.tcp, "ny-power/archive/co2/24h")
        .await
        .unwrap();
    let ts: Vec<&str> = history["ts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        !ts.is_empty() && ts.iter().all(|t| t.starts_with("2025-")),
        "{ts:?}"
    );
    let mix = retained(demo.tcp, "ny-power/upstream/fuel-mix")
        .await
        .unwrap();
    assert!(mix["ts"].as_str().unwrap().starts_with("2025-"), "{mix}");
    let cursor = retained(demo.tcp, "ny-power/status/fuel-mix/updated")
        .await
        .unwrap();
    assert!(
        cursor["ts"].as_str().unwrap().starts_with("2025-"),
        "{cursor}"
    );
}

/// `--broker-max-connections`: viewers (WebSocket) fill only their share, the next one gets
/// 503, and a new TCP client (as the demo's services are) still connects and reads; a cap
/// without room for the services is refused at start, naming the setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_past_the_connection_cap_get_503_and_the_services_keep_their_room() {
    let site = stub_site();
    let data = tempfile::tempdir().unwrap();
    // 16 kept for the services: 3 viewers.
    let demo = Demo::start(
        data.path(),
        site.path(),
        &["--broker-max-connections", "19"],
    );
    let mut held = Vec::new();
    for _ in 0..3 {
        let (status, s) = upgrade(demo.ws, Some("http://127.0.0.1:8080")).await;
        assert!(status.starts_with("HTTP/1.1 101"), "{status}");
        held.push(s);
    }
    let (status, _) = upgrade(demo.ws, Some("http://127.0.0.1:8080")).await;
    assert!(status.starts_with("HTTP/1.1 503"), "{status}");
    let cursor = retained(demo.tcp, "ny-power/status/fuel-mix/updated").await;
    assert!(cursor.is_some_and(|c| c["ts"].is_string()));
    // One viewer leaves: the next one is let in.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _s) = upgrade(demo.ws, Some("http://127.0.0.1:8080")).await;
        if status.starts_with("HTTP/1.1 101") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no slot after a viewer left: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(demo);

    let out = Command::new(BIN)
        .args(["demo", "--replay", "--broker-max-connections", "16"])
        .arg("--data-dir")
        .arg(data.path())
        .arg("--web-dir")
        .arg(site.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("BROKER_MAX_CONNECTIONS: `16` must be from 17"),
        "{err}"
    );
}
