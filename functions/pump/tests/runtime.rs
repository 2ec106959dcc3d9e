//! The three functions under the real Lambda runtime API: `cargo lambda watch` (the local
//! runtime emulator, on a free port) runs the release-shaped binaries, `cargo lambda invoke`
//! sends EventBridge Scheduler and IoT topic-rule payloads, the SDK calls go to a local
//! AWS-compatible server (moto with `GetRetainedMessage` added by `tests/aws/moto_server.py`)
//! and NYISO is a local HTTP server (`python3 -m http.server`) serving the fixture day.
//!
//! The flow is the deployed one, with the IoT rules played by the test: the pump publishes
//! readings; each `upstream/fuel-mix` message, with `topic` added as the rule's
//! `SELECT *, topic() AS topic` does, is sent to the co2 and archive functions; each
//! `computed/co2*` message to the archive function.
//!
//! Prints (does not assert) the wall time of cold and warm invocations and the peak RSS of each
//! function process (`VmHWM`), for the report in docs/aws.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../aws-adapters/tests/support/mod.rs"]
mod support;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{free_port, repo_root, wait_for_port, Moto};

const ROOT: &str = "test-rt/ny-power";

/// A child process killed (with its process group) on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        // cargo lambda watch runs the functions as its own children: end the whole group.
        let pgid = self.0.id();
        if pgid > 1 {
            let _ = Command::new("kill")
                .args(["-s", "TERM", "--", &format!("-{pgid}")])
                .status();
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_group(cmd: &mut Command) -> Guard {
    use std::os::unix::process::CommandExt;
    Guard(cmd.process_group(0).spawn().unwrap())
}

/// `cargo lambda invoke`, bounded: (ok, stdout+stderr, wall time).
fn invoke(port: u16, function: &str, payload: &Value, dir: &Path) -> (bool, String, Duration) {
    let file = dir.join(format!("event-{}.json", fastrand_name()));
    std::fs::write(&file, serde_json::to_vec(payload).unwrap()).unwrap();
    let start = Instant::now();
    let mut child = Command::new("cargo")
        .args([
            "lambda",
            "invoke",
            function,
            "-A",
            "127.0.0.1",
            "-P",
            &port.to_string(),
        ])
        .arg("--data-file")
        .arg(&file)
        .args(["-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first invocation of a function builds it (a no-op when `cargo test` already did).
    let deadline = start + Duration::from_secs(600);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("cargo lambda invoke {function} timed out");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = start.elapsed();
    // Stdout is the response (JSON); stderr the error report, if any.
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    out.push('\n');
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    (status.success(), out, elapsed)
}

fn fastrand_name() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn ok_json(port: u16, function: &str, payload: &Value, dir: &Path) -> (Value, Duration) {
    let (ok, out, took) = invoke(port, function, payload, dir);
    assert!(ok, "{function} failed: {out}");
    let value = serde_json::Deserializer::from_str(out.trim_start())
        .into_iter::<Value>()
        .next()
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("{function}: no JSON response in {out}"));
    (value, took)
}

/// Peak RSS (kB) of running processes whose name starts with `prefix`.
fn peak_rss_kb(prefix: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let name = status
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("Name:")
            .trim();
        if !name.starts_with(prefix) {
            continue;
        }
        if let Some(hwm) = status.lines().find(|l| l.starts_with("VmHWM:")) {
            let kb = hwm
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            out.push((name.to_owned(), kb));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn pump_co2_and_archive_under_cargo_lambda_watch() {
    let t_all = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let ts = aws_sdk_timestreamwrite::Client::new(&sdk);
    ts.create_database()
        .database_name("nypower")
        .send()
        .await
        .unwrap();
    ts.create_table()
        .database_name("nypower")
        .table_name("readings")
        .send()
        .await
        .unwrap();

    // NYISO: the fixture day served over HTTP.
    let nyiso_dir = tmp.path().join("nyiso");
    std::fs::create_dir_all(nyiso_dir.join("rtfuelmix")).unwrap();
    let zip =
        std::fs::read(repo_root().join("tests/fixtures/nyiso/20250201rtfuelmix_csv.zip")).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut day = Vec::new();
    archive
        .by_name("20250201rtfuelmix.csv")
        .unwrap()
        .read_to_end(&mut day)
        .unwrap();
    std::fs::write(nyiso_dir.join("rtfuelmix/20250201rtfuelmix.csv"), day).unwrap();
    let http_port = free_port();
    let _http = spawn_group(
        Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &http_port.to_string(),
                "--directory",
            ])
            .arg(&nyiso_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for_port(http_port, Duration::from_secs(20));

    // The runtime emulator: one `cargo lambda watch` per function package (cargo cannot
    // `run --bin` another package's binary from the workspace root), on loopback.
    let mut ports = std::collections::HashMap::new();
    let mut watchers = Vec::new();
    for function in ["ny-power-pump-fn", "ny-power-co2-fn", "ny-power-archive-fn"] {
        let port = free_port();
        watchers.push(spawn_group(
            Command::new("cargo")
                .args(["lambda", "watch", "--ignore-changes", "-A", "127.0.0.1"])
                .args(["-P", &port.to_string(), "-p", function])
                .current_dir(repo_root())
                .env("AWS_ENDPOINT_URL", moto.url())
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing")
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env_remove("AWS_PROFILE")
                .env("TOPIC_ROOT", ROOT)
                .env("NYISO_BASE_URL", format!("http://127.0.0.1:{http_port}"))
                .env("ARCHIVE_BACKEND", "timestream")
                .env("TIMESTREAM_DATABASE", "nypower")
                .env("TIMESTREAM_TABLE", "readings")
                .env("RUST_LOG", "info")
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        ));
        ports.insert(function, port);
    }
    for port in ports.values() {
        wait_for_port(*port, Duration::from_secs(120));
    }
    let port = |f: &str| ports[f];

    // Pump, as EventBridge Scheduler invokes it: 2025-02-01 02:20 EST (past the hour after
    // midnight in which yesterday's file is re-read), no cursor yet: today's readings so far.
    let sched = json!({"scheduled_time": "2025-02-01T07:20:00Z"});
    let (first, cold) = ok_json(
        port("ny-power-pump-fn"),
        "ny-power-pump-fn",
        &sched,
        tmp.path(),
    );
    assert_eq!(
        first,
        json!({"published": 28, "cursor": "2025-02-01T07:20:00Z"})
    );
    // A Lambda retry of the same event: nothing new.
    let (again, warm) = ok_json(
        port("ny-power-pump-fn"),
        "ny-power-pump-fn",
        &sched,
        tmp.path(),
    );
    assert_eq!(
        again,
        json!({"published": 0, "cursor": "2025-02-01T07:20:00Z"})
    );
    let (later, _) = ok_json(
        port("ny-power-pump-fn"),
        "ny-power-pump-fn",
        &json!({"scheduled_time": "2025-02-01T07:30:00Z"}),
        tmp.path(),
    );
    assert_eq!(
        later,
        json!({"published": 2, "cursor": "2025-02-01T07:30:00Z"})
    );
    println!("pump: first invoke {cold:?} (build check + cold start), warm {warm:?}");

    let published = moto.published().await;
    assert_eq!(
        published.len(),
        30 * 9,
        "30 readings × (7 fuels + mix + cursor), once each"
    );
    let mut mixes: Vec<(String, Value)> = published
        .iter()
        .filter(|(t, _, _)| t == &format!("{ROOT}/upstream/fuel-mix"))
        .map(|(t, _, b)| (t.clone(), serde_json::from_slice(b).unwrap()))
        .collect();
    assert_eq!(mixes.len(), 30);
    assert_eq!(mixes[0].1["total_mw"], json!(14124.0));
    // The rules' work for the first six readings (enough for the flow, keeps the test short).
    mixes.truncate(6);

    // The IoT rules: fuel-mix → co2 and archive.
    let mut co2_times = Vec::new();
    for (topic, payload) in &mixes {
        let mut event = payload.clone();
        event["topic"] = json!(topic);
        let (out, took) = ok_json(
            port("ny-power-co2-fn"),
            "ny-power-co2-fn",
            &event,
            tmp.path(),
        );
        co2_times.push(took);
        assert_eq!(out["published"][0], json!(format!("{ROOT}/computed/co2")));
        let (out, _) = ok_json(
            port("ny-power-archive-fn"),
            "ny-power-archive-fn",
            &event,
            tmp.path(),
        );
        assert_eq!(out["points"], json!(1));
    }
    println!(
        "co2: first invoke {:?}, warm {:?}",
        co2_times[0], co2_times[1]
    );
    // The intensities → archive: the archive rule selects the non-retained archive stream
    // (every reading's intensities, late ones included), not the live computed/co2 topics.
    let after = moto.published().await;
    let archive_topic = format!("{ROOT}/archive/co2/points");
    let computed: Vec<_> = after
        .iter()
        .filter(|(t, _, _)| *t == archive_topic)
        .collect();
    assert_eq!(computed.len(), 12, "direct + lifecycle per reading");
    // The forecast and windows with every reading; the forecaster state once in this hour
    // (05:05–05:30 UTC): the later invocations read it back with GetRetainedMessage.
    let count = |topic: &str| {
        after
            .iter()
            .filter(|(t, _, _)| t == &format!("{ROOT}/{topic}"))
            .count()
    };
    assert_eq!(count("computed/co2/forecast"), 6);
    assert_eq!(count("computed/charge-window"), 6);
    assert_eq!(count("state/co2/forecaster"), 1);
    let mut archive_times = Vec::new();
    for (topic, _, body) in &computed {
        let mut event: Value = serde_json::from_slice(body).unwrap();
        event["topic"] = json!(topic);
        let (out, took) = ok_json(
            port("ny-power-archive-fn"),
            "ny-power-archive-fn",
            &event,
            tmp.path(),
        );
        archive_times.push(took);
        assert_eq!(out["points"], json!(1));
    }
    println!("archive: warm {:?}", archive_times[0]);

    // The first intensity: DESIGN §4 check value 248.75 g/kWh (direct).
    let first_co2: Value = serde_json::from_slice(&computed[0].2).unwrap();
    assert!(
        (first_co2["value"].as_f64().unwrap() - 248.75).abs() < 0.005,
        "{first_co2}"
    );
    // The 24 h history after six readings holds six points, restored across invocations.
    let history = after
        .iter()
        .rev()
        .find(|(t, _, _)| t == &format!("{ROOT}/archive/co2/24h"))
        .unwrap();
    let history: Value = serde_json::from_slice(&history.2).unwrap();
    assert_eq!(history["values"].as_array().unwrap().len(), 6);

    let records = moto.timestream_records("nypower", "readings").await;
    let fuel = records
        .iter()
        .filter(|r| r["MeasureName"] == "fuel_mix")
        .count();
    let co2 = records.iter().filter(|r| r["MeasureName"] == "co2").count();
    assert_eq!((fuel, co2), (6, 12));

    // A payload that breaks the contract: a permanent, stable error type, nothing written.
    let bad = json!({"ts": "2025-02-01T05:05:00Z", "value": "high", "units": "g/kWh",
                     "factors": "direct", "topic": format!("{ROOT}/archive/co2/points")});
    let (ok, out, _) = invoke(
        port("ny-power-archive-fn"),
        "ny-power-archive-fn",
        &bad,
        tmp.path(),
    );
    assert!(!ok, "{out}");
    assert!(out.contains("Permanent.Input"), "{out}");
    assert_eq!(
        moto.timestream_records("nypower", "readings").await.len(),
        18
    );

    for (name, kb) in peak_rss_kb("ny-power-") {
        println!("peak RSS {name}: {kb} kB");
    }
    println!("runtime test total {:?}", t_all.elapsed());
    drop(watchers);
}
