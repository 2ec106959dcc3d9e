//! `ny-power demo` end to end: the real binary in replay mode on free loopback ports, checked
//! over real HTTP and real MQTT (TCP and WebSocket), stopped with SIGINT, then run again on
//! the same data directory to check that it resumes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, Transport};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ny-power");

struct Demo {
    child: Child,
    lines: mpsc::Receiver<String>,
    dashboard: String,
    tcp_port: u16,
    ws_url: String,
}

impl Demo {
    fn start(data_dir: &Path, web_dir: &Path) -> Demo {
        Self::start_with(data_dir, web_dir, &[])
    }

    /// [`Demo::start`] with extra flags.
    fn start_with(data_dir: &Path, web_dir: &Path, extra: &[&str]) -> Demo {
        let mut child = Command::new(BIN)
            .args(["demo", "--replay", "--speed", "600"])
            .args(extra)
            .args(["--http-port", "0", "--mqtt-port", "0", "--ws-port", "0"])
            .arg("--ha-discovery")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--web-dir")
            .arg(web_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut demo = Demo {
            child,
            lines,
            dashboard: String::new(),
            tcp_port: 0,
            ws_url: String::new(),
        };
        let dashboard = demo.wait_line("Dashboard: ");
        assert!(
            dashboard.contains("(replaying bundled NYISO days at 600×)"),
            "{dashboard}"
        );
        demo.dashboard = dashboard["Dashboard: ".len()..]
            .split(' ')
            .next()
            .unwrap()
            .to_owned();
        // "MQTT: mqtt://127.0.0.1:P and ws://127.0.0.1:Q/mqtt (…)"
        let mqtt = demo.wait_line("MQTT: ");
        let words: Vec<&str> = mqtt.split(' ').collect();
        demo.tcp_port = words[1].rsplit(':').next().unwrap().parse().unwrap();
        demo.ws_url = words[3].to_owned();
        let ready = demo.wait_line("READY ");
        assert_eq!(ready, format!("READY {}", demo.dashboard));
        demo
    }

    fn wait_line(&mut self, prefix: &str) -> String {
        // A first run computes eight days of backfill before READY (~17 s for a debug build
        // on a loaded 2-core machine): a generous margin.
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no line starting with {prefix:?} on stdout"));
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// SIGINT, then the exit status (within 20 s).
    fn interrupt(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the demo did not stop within 20 s of SIGINT");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ny-power inspect demo-data/20250201rtfuelmix_csv.zip` (the month the demo replays),
/// keyed by the reading's instant.
fn inspect_bundled() -> std::collections::BTreeMap<String, Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo-data");
    let out = Command::new(BIN)
        .arg("inspect")
        .arg(dir.join("20250201rtfuelmix_csv.zip"))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["ts"].as_str().unwrap().to_owned(), v)
        })
        .collect()
}

/// The retained message of `topic`, read by a fresh client over TCP or WebSocket.
async fn retained(demo: &Demo, topic: &str, websocket: bool) -> Value {
    // A fresh client id per read: a reused one can take over (and reset) a previous read's
    // connection that the broker has not closed yet.
    static READS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = READS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = format!("test-{}-{n}", if websocket { "ws" } else { "tcp" });
    let mut options = if websocket {
        let port = demo.ws_url.rsplit(':').next().unwrap();
        let port: u16 = port.trim_end_matches("/mqtt").parse().unwrap();
        let mut o = MqttOptions::new(id, demo.ws_url.clone(), port);
        o.set_transport(Transport::Ws);
        o
    } else {
        MqttOptions::new(id, "127.0.0.1", demo.tcp_port)
    };
    options.set_keep_alive(Duration::from_secs(5));
    // A full day's history is ~12 KB (rumqttc's default limit is 10 KB).
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut events) = AsyncClient::new(options, 16);
    client.subscribe(topic, QoS::AtLeastOnce).await.unwrap();
    let payload = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Event::Incoming(Packet::Publish(p)) = events.poll().await.unwrap() {
                if p.topic == topic {
                    break p.payload;
                }
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no retained message on {topic}"));
    let _ = client.disconnect().await;
    serde_json::from_slice(&payload).unwrap()
}

fn stub_site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>ny-power test page</title>",
    )
    .unwrap();
    dir
}

/// The saved retained messages (format version 2: under `retained`).
fn saved_messages(data_dir: &Path) -> Value {
    let file: Value = serde_json::from_slice(
        &std::fs::read(data_dir.join("replay").join("retained.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(file["version"], 2, "{file}");
    file["retained"].clone()
}

/// The saved resume state: the 24 h history's instants and the cursor.
fn saved(data_dir: &Path) -> (Vec<String>, String) {
    let saved = saved_messages(data_dir);
    let cursor = saved["ny-power/status/fuel-mix/updated"]["ts"]
        .as_str()
        .unwrap()
        .to_owned();
    let history = saved["ny-power/archive/co2/24h"]["ts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    (history, cursor)
}

/// The saved forecaster state.
fn saved_forecaster(data_dir: &Path) -> Value {
    saved_messages(data_dir)["ny-power/state/co2/forecaster"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_streams_stops_and_resumes() {
    let expected = inspect_bundled();
    let site = stub_site();
    let data = tempfile::tempdir().unwrap();

    // First run. A day of backfill is enough here (the full default is tested below, by
    // `a_fresh_demo_opens_on_the_answer`), and keeps the four demos of this file light.
    let demo = Demo::start_with(data.path(), site.path(), &["--replay-backfill-hours", "24"]);
    let http = reqwest::Client::new();
    let config: Value = serde_json::from_str(
        &http
            .get(format!("{}/config.json", demo.dashboard))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(config["mqtt"]["url"], Value::from(demo.ws_url.clone()));
    assert!(demo.ws_url.starts_with("ws://127.0.0.1:") && demo.ws_url.ends_with("/mqtt"));
    assert_eq!(config["mode"], "replay");
    assert_eq!(config["topic_root"], "ny-power");
    let index = http.get(&demo.dashboard).send().await.unwrap();
    assert_eq!(index.status(), 200);
    assert!(index.text().await.unwrap().contains("ny-power test page"));

    // The intensity on the broker is the one `inspect` computes for the same reading.
    let co2 = retained(&demo, "ny-power/computed/co2", false).await;
    let ts = co2["ts"].as_str().unwrap();
    let want = expected[ts]["co2"]["direct"].as_f64().unwrap();
    assert!(
        (co2["value"].as_f64().unwrap() - want).abs() < 1e-9,
        "{co2} vs {want}"
    );
    assert_eq!(co2["factors"], "direct");
    // Over the WebSocket listener too (what the browser uses).
    let mix = retained(&demo, "ny-power/upstream/fuel-mix", true).await;
    let ts = mix["ts"].as_str().unwrap();
    assert_eq!(mix["fuels"], expected[ts]["fuels"]);
    // The forecast topics (issue 7) arrive too, and Home Assistant discovery (--ha-discovery).
    let forecast = retained(&demo, "ny-power/computed/co2/forecast", true).await;
    assert_eq!(forecast["values"].as_array().unwrap().len(), 24);
    assert_eq!(forecast["ts"][0], forecast["issued"]);
    assert!(expected.contains_key(forecast["issued"].as_str().unwrap()));
    let windows = retained(&demo, "ny-power/computed/charge-window", false).await;
    let hours: Vec<u64> = windows["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["hours"].as_u64().unwrap())
        .collect();
    assert_eq!(hours, [1, 2, 4, 8]);
    let state = retained(&demo, "ny-power/state/co2/forecaster", false).await;
    assert_eq!(state["factors"], "direct");
    let discovery = retained(
        &demo,
        "homeassistant/sensor/ny_power/co2_intensity/config",
        false,
    )
    .await;
    assert_eq!(discovery["state_topic"], "ny-power/computed/co2");

    let status = demo.interrupt();
    assert!(status.success(), "exit status {status}");
    let (first_history, first_cursor) = saved(data.path());
    let first_state = saved_forecaster(data.path());
    assert_eq!(
        first_state["latest"]["ts"],
        Value::from(first_cursor.clone())
    );
    // Stopping lost nothing: the calculator handled the pump's last reading.
    assert_eq!(first_history.last(), Some(&first_cursor));

    // Second run: resumes after the saved cursor, with the history restored.
    let demo = Demo::start(data.path(), site.path());
    let restored = retained(&demo, "ny-power/status/fuel-mix/updated", false).await;
    assert!(restored["ts"].as_str().unwrap() >= first_cursor.as_str());
    // Wait for an intensity newer than the first run's last reading.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let co2 = retained(&demo, "ny-power/computed/co2", false).await;
        if co2["ts"].as_str().unwrap() > first_cursor.as_str() {
            break;
        }
        assert!(Instant::now() < deadline, "no new reading after resuming");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = demo.interrupt();
    assert!(status.success(), "exit status {status}");
    let (second_history, second_cursor) = saved(data.path());
    // The forecaster's state was restored and carried on.
    let second_state = saved_forecaster(data.path());
    assert_eq!(second_state["hour0"], first_state["hour0"]);
    assert_eq!(
        second_state["latest"]["ts"],
        Value::from(second_cursor.clone())
    );
    assert_eq!(second_history.last(), Some(&second_cursor));
    // The restored 24 h history carries over: every first-run entry still inside the window.
    for t in first_history.iter().filter(|t| **t >= second_history[0]) {
        assert!(second_history.contains(t), "{t} lost from the history");
    }
    let new: Vec<&String> = second_history
        .iter()
        .filter(|t| t.as_str() > first_cursor.as_str())
        .collect();
    assert!(!new.is_empty(), "the second run published new readings");
    // The first new reading is the one right after the first run's cursor: nothing skipped,
    // nothing older republished.
    let after: Vec<&String> = expected
        .keys()
        .filter(|t| t.as_str() > first_cursor.as_str())
        .collect();
    assert_eq!(new[0], after[0]);
    for w in second_history.windows(2) {
        assert!(w[0] < w[1], "history strictly increasing: {w:?}");
    }
}

/// The `ts` of a retained payload (empty when it has none).
fn ts(v: &Value) -> String {
    v["ts"].as_str().unwrap_or_default().to_owned()
}

/// Issue 12, item 6: a fresh demo opens on the answer. Right after READY the charge windows
/// (every length, every ready-by time) advise — no "learning" — from more than a week of
/// replayed hourly means, and the band is published from them, not learning either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_demo_opens_on_the_answer() {
    let site = stub_site();
    let data = tempfile::tempdir().unwrap();
    let demo = Demo::start(data.path(), site.path());
    let windows = retained(&demo, "ny-power/computed/charge-window", false).await;
    let all: Vec<&Value> = windows["windows"]
        .as_array()
        .unwrap()
        .iter()
        .chain(
            windows["ready_by"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| r["windows"].as_array().unwrap()),
        )
        .collect();
    assert!(all.len() >= 8, "{windows}");
    for w in &all {
        let advice = w["advice"].as_str().unwrap();
        assert!(
            ["now", "later", "not_worth_it"].contains(&advice),
            "advice {advice:?} right after READY: {windows}"
        );
    }
    let hours = windows["history_hours"].as_u64().unwrap();
    assert!(hours >= 168, "{hours} h of history right after READY");
    let issued = windows["issued"].as_str().unwrap().to_owned();
    let forecast = retained(&demo, "ny-power/computed/co2/forecast", false).await;
    // (At --speed 600 a newer reading may have come since.)
    assert!(
        forecast["issued"].as_str().unwrap() >= issued.as_str(),
        "{forecast}"
    );
    let history = retained(&demo, "ny-power/archive/co2/24h", false).await;
    assert!(history["ts"].as_array().unwrap().len() >= 280, "{history}");
    // The band follows the windows in the same publish (milliseconds later).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let band = retained(&demo, "ny-power/computed/co2/band", false).await;
        if ts(&band) >= issued {
            assert_eq!(band["learning"], Value::Bool(false), "{band}");
            assert!(band["hours"].as_u64().unwrap() >= 168, "{band}");
            assert!(band["window_days"].as_u64().unwrap() >= 7, "{band}");
            break;
        }
        assert!(Instant::now() < deadline, "no band for {issued}: {band}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = demo.interrupt();
    assert!(status.success(), "exit status {status}");
}

/// Issue 10, defect 3: after a burst (a day of backfill at once) the calculator locked up for
/// good — rumqttd stops sending anything, its PUBACKs included, to a connection holding 100
/// unacknowledged deliveries, and the calculator held them while waiting for the PUBACKs of
/// its results. With a full day of backfill the intensity, the 24 h history and
/// the co2 archive must reach the burst's newest reading.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_day_burst_reaches_the_calculator() {
    let expected = inspect_bundled();
    let site = stub_site();
    let data = tempfile::tempdir().unwrap();
    let demo = Demo::start_with(data.path(), site.path(), &["--replay-backfill-hours", "24"]);
    let first: chrono::DateTime<chrono::Utc> = expected.keys().next().unwrap().parse().unwrap();
    let burst_end =
        (first + chrono::Duration::hours(24)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let co2 = ts(&retained(&demo, "ny-power/computed/co2", false).await);
        let history = retained(&demo, "ny-power/archive/co2/24h", false).await;
        let newest = history["ts"]
            .as_array()
            .and_then(|a| a.last())
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if co2 >= burst_end && newest >= burst_end {
            // Every reading of the day is in the history (nothing skipped in the burst).
            let want = expected
                .keys()
                .filter(|t| t.as_str() <= newest.as_str())
                .count();
            let held = history["ts"].as_array().unwrap().len();
            assert!(
                held + 1 >= want.min(289),
                "{held} of {want} readings in the history"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the calculator stopped at {co2} (history {newest}); the burst ends at {burst_end}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = demo.interrupt();
    assert!(status.success(), "exit status {status}");
}

/// Issue 10, defect 7: a garbage retained cursor made the demo refuse to start until its data
/// folder was deleted, and a retained fuel mix (or history, or forecaster state) dated 2100
/// froze the calculator for good. Both are now warned about and ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoned_saved_state_is_ignored_and_the_demo_runs() {
    let site = stub_site();
    let data = tempfile::tempdir().unwrap();
    let replay = data.path().join("replay");
    std::fs::create_dir_all(&replay).unwrap();
    let future = "2100-01-01T00:00:00Z";
    let fuels = serde_json::json!({
        "dual_fuel": 1000.0, "natural_gas": 1000.0, "nuclear": 1000.0,
        "other_fossil_fuels": 1000.0, "other_renewables": 1000.0, "wind": 1000.0, "hydro": 1000.0
    });
    let poisoned = serde_json::json!({
        "ny-power/status/fuel-mix/updated": {"ts": "not a time \u{1b}[31m"},
        "ny-power/upstream/fuel-mix": {"ts": future, "fuels": fuels, "total_mw": 7000.0},
        "ny-power/archive/co2/24h": {"units": "g/kWh", "ts": [future], "values": [100.0]},
        "ny-power/state/co2/forecaster": {
            "v": 1, "factors": "direct", "hour0": future, "intensity": [100.0],
            "total_mw": [7000.0], "latest": {"ts": future, "value": 100.0}
        }
    });
    std::fs::write(
        replay.join("retained.json"),
        serde_json::to_vec(&poisoned).unwrap(),
    )
    .unwrap();
    // READY: an intensity was computed, so the pump started and the calculator is not frozen.
    let demo = Demo::start_with(data.path(), site.path(), &["--replay-backfill-hours", "24"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let co2 = ts(&retained(&demo, "ny-power/computed/co2", false).await);
        let history = retained(&demo, "ny-power/archive/co2/24h", false).await;
        let all: Vec<&str> = history["ts"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        // Until the calculator publishes its first history the restored one is still retained;
        // from then on the 2100 entry is gone.
        if co2.starts_with("2025-") && all.iter().any(|t| t.starts_with("2025-")) {
            assert!(all.iter().all(|t| *t < future), "{all:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no intensity from the replay: {co2}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The saved 2100 state was not restored; the calculator publishes its own once an hour of
    // replay time (a few seconds at this speed).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = retained(&demo, "ny-power/state/co2/forecaster", false).await;
        let latest = state.get("latest").map(ts).unwrap_or_default();
        if latest.starts_with("2025-") {
            break;
        }
        assert!(
            !latest.starts_with("2100-"),
            "the poisoned forecaster state came back: {state}"
        );
        assert!(Instant::now() < deadline, "no forecaster state: {state}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = demo.interrupt();
    assert!(status.success(), "exit status {status}");
    let (_, cursor) = saved(data.path());
    assert!(cursor.starts_with("2025-"), "{cursor}");
}
