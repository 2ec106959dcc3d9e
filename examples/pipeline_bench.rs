//! End-to-end measurements of the live pipeline against a real Mosquitto (run with
//! `scripts/bench-pipeline.sh`, or `cargo run --release --example pipeline_bench`):
//!
//! 1. **Pump start-up**: from spawning `ny-power pump` (the release binary) to its first
//!    reading acknowledged by the broker (seen by a subscriber to the cursor topic, which the
//!    pump publishes only after the reading's messages were acknowledged), and the process's
//!    peak RSS (`VmHWM`) at that moment. Baseline in the same run: spawning `ny-power --version`.
//! 2. **Append → `computed/co2`**: a reading appended to the served NYISO file; the time from
//!    the start of the poll that fetches it to `computed/co2` arriving at a subscriber (the
//!    poll wait excluded). Services in-process (`run_all`), baseline: a bare MQTT round trip.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../tests/support/mosquitto.rs"]
mod mosquitto;
#[allow(dead_code)]
#[path = "../tests/support/nyiso_server.rs"]
mod nyiso_server;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use ny_power::adapters::mqtt::{ClientOptions, MqttClient};
use ny_power::adapters::nyiso::{HttpOptions, HttpSource};
use ny_power::ports::{PortError, Source};
use ny_power::reading::Reading;
use ny_power::services::{
    run_all, shutdown_channel, Co2Settings, Common, FixedClock, Parts, PumpSettings, RunConfig,
};
use ny_power::stream::Topics;

const FIXTURE: &str = "tests/fixtures/nyiso/20171122rtfuelmix.csv";
const REL: &str = "rtfuelmix/20171122rtfuelmix.csv";
const NOW: &str = "2017-11-22T23:59:00-05:00";

fn stats(name: &str, mut v: Vec<f64>) {
    v.sort_by(f64::total_cmp);
    let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name:<48} n={:<3} min={:>8.2} median={:>8.2} p90={:>8.2} max={:>8.2}",
        v.len(),
        v[0],
        p(0.5),
        p(0.9),
        v[v.len() - 1]
    );
}

fn lines() -> Vec<String> {
    std::fs::read_to_string(FIXTURE)
        .unwrap()
        .lines()
        .map(|l| format!("{l}\n"))
        .collect()
}

async fn subscriber(broker: &mosquitto::Mosquitto, id: &str, topic: &str) -> MqttClient {
    let mut opts = ClientOptions::new(broker.anonymous_config(), id);
    opts.subscriptions = vec![topic.to_owned()];
    MqttClient::connect(opts).await.unwrap()
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// A minimal static server for the start-up runs: every GET gets `body` in a single write
/// with TCP_NODELAY (the test server writes headers and body separately, which on loopback
/// can add a 40 ms delayed-ACK stall that is the server's, not the pump's).
fn one_file_server(body: Vec<u8>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_nodelay(true);
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let mut reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            reply.extend_from_slice(&body);
            let _ = stream.write_all(&reply);
        }
    });
    url
}

async fn startup(bin: &str, runs: usize, broker_config: &[&str]) {
    println!("broker extra config: {broker_config:?}");
    let broker = mosquitto::Mosquitto::start_with(broker_config);
    let all = lines();
    let server_url = one_file_server(all[..1 + 7].concat().into_bytes());
    let services = MqttClient::connect(ClientOptions::new(broker.services_config(), "bench-reset"))
        .await
        .unwrap();
    let (mut first, mut rss, mut baseline) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs {
        // No cursor: the pump publishes the one reading.
        services
            .publish_qos1("ny-power/status/fuel-mix/updated", b"", true)
            .await
            .unwrap();
        let sub = subscriber(
            &broker,
            &format!("bench-sub-{i}"),
            "ny-power/status/fuel-mix/updated",
        )
        .await;
        let t0 = Instant::now();
        let mut child = std::process::Command::new(bin)
            .arg("pump")
            .envs(broker.services_env())
            .env("NYISO_BASE_URL", &server_url)
            .env("NYPOWER_NOW", NOW)
            .env("RUST_LOG", "warn")
            .spawn()
            .unwrap();
        let msg = tokio::time::timeout(Duration::from_secs(10), sub.recv())
            .await
            .unwrap()
            .unwrap();
        first.push(t0.elapsed().as_secs_f64() * 1e3);
        assert!(!msg.payload.is_empty());
        rss.push(vm_hwm_kb(child.id()).unwrap_or(0) as f64 / 1024.0);
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
        sub.close().await;

        let t0 = Instant::now();
        std::process::Command::new(bin)
            .arg("--version")
            .output()
            .unwrap();
        baseline.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    services.close().await;
    stats("pump start -> first reading acked (ms)", first);
    stats("baseline: `ny-power --version` spawn+exit (ms)", baseline);
    stats("pump peak RSS at first ack (MiB)", rss);
}

/// A source that records when each poll started.
struct Timed {
    inner: HttpSource,
    polls: Mutex<Vec<(Instant, Option<DateTime<Utc>>)>>,
}

#[async_trait]
impl Source for Timed {
    async fn readings_after(
        &self,
        after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Reading>, PortError> {
        let start = Instant::now();
        let out = self.inner.readings_after(after, now).await;
        let newest = out.as_ref().ok().and_then(|r| r.last().map(|r| r.ts));
        self.polls.lock().unwrap().push((start, newest));
        out
    }
}

async fn append_latency(samples: usize) {
    let broker = mosquitto::Mosquitto::start_with(&["set_tcp_nodelay true"]);
    let server = nyiso_server::NyisoServer::start().await;
    let all = lines();
    server.put(REL, all[..1 + 7].concat().as_bytes());
    let source = Arc::new(Timed {
        inner: HttpSource::new(&server.url(), HttpOptions::default()).unwrap(),
        polls: Mutex::new(Vec::new()),
    });
    let (trigger, shutdown) = shutdown_channel();
    let config = RunConfig {
        common: Common {
            mqtt: broker.services_config(),
            topics: Topics::default(),
        },
        pump: Some(PumpSettings {
            poll_interval: Duration::from_millis(100),
        }),
        co2: Some(Co2Settings::default()),
        archive: None,
    };
    let now = DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .with_timezone(&Utc);
    let parts = Parts {
        source: source.clone(),
        clock: Arc::new(FixedClock(now)),
        sinks: Vec::new(),
    };
    let task = tokio::spawn(run_all(config, parts, shutdown, None));
    let sub = subscriber(&broker, "bench-co2", "ny-power/computed/co2").await;
    // The first reading (retained or live).
    let first = tokio::time::timeout(Duration::from_secs(10), sub.recv())
        .await
        .unwrap();
    assert!(first.is_some());
    let mut latencies = Vec::new();
    for k in 1..=samples {
        server.append(REL, all[1 + 7 * k..1 + 7 * (k + 1)].concat().as_bytes());
        let msg = tokio::time::timeout(Duration::from_secs(10), sub.recv())
            .await
            .unwrap()
            .unwrap();
        let arrived = Instant::now();
        let v: serde_json::Value = serde_json::from_slice(&msg.payload).unwrap();
        let ts: DateTime<Utc> = v["ts"].as_str().unwrap().parse().unwrap();
        let started = source
            .polls
            .lock()
            .unwrap()
            .iter()
            .find(|(_, newest)| *newest == Some(ts))
            .map(|(s, _)| *s)
            .expect("the poll that fetched the reading");
        latencies.push((arrived - started).as_secs_f64() * 1e3);
    }
    trigger.trigger();
    let _ = task.await;

    // Baseline: one QoS 1 publish by the services' user, seen by a subscriber.
    let publisher = MqttClient::connect(ClientOptions::new(broker.services_config(), "bench-rt"))
        .await
        .unwrap();
    let echo = subscriber(&broker, "bench-echo", "ny-power/bench/echo").await;
    let mut rtt = Vec::new();
    for _ in 0..samples {
        let t0 = Instant::now();
        publisher
            .publish_qos1("ny-power/bench/echo", b"{}", false)
            .await
            .unwrap();
        echo.recv().await.unwrap();
        rtt.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    stats(
        "append -> computed/co2 at subscriber, poll wait excluded (ms)",
        latencies,
    );
    stats("baseline: one QoS 1 publish -> subscriber (ms)", rtt);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bin = std::env::var("NYPOWER_BIN").unwrap_or_else(|_| "target/release/ny-power".to_owned());
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10);
    if !mosquitto::available() {
        eprintln!("needs Mosquitto: apt-get install mosquitto mosquitto-clients");
        std::process::exit(2);
    }
    println!("binary: {bin}");
    // Mosquitto's default (Nagle on): the first message after a SUBACK waits for the
    // subscriber's delayed ACK (~40 ms on loopback), which lands in the measurement.
    startup(&bin, runs, &[]).await;
    startup(&bin, runs, &["set_tcp_nodelay true"]).await;
    append_latency(runs.max(20)).await;
}
