//! `ny-power backfill` (the real binary) of February 2025 into a real `influxd` and an SQLite
//! file, from a folder holding the monthly zip and from the local NYISO stand-in over HTTP:
//! the archives hold exactly the readings `ny-power inspect` prints, and running it again
//! changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Utc};
use ny_power::adapters::sqlite::SqliteArchive;
use ny_power::archive::Point;

use support::influx::Influxd;
use support::nyiso_server::NyisoServer;
use support::FEB_2025_ZIP;

const BIN: &str = env!("CARGO_BIN_EXE_ny-power");

/// One line of `ny-power inspect`: instant, fuels + total, intensities.
#[derive(Debug, PartialEq)]
struct Expected {
    ts: DateTime<Utc>,
    fields: BTreeMap<String, f64>,
    direct: f64,
    lifecycle: f64,
}

fn inspect(file: &Path) -> Vec<Expected> {
    let out = Command::new(BIN).arg("inspect").arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let mut fields: BTreeMap<String, f64> = v["fuels"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, x)| (k.clone(), x.as_f64().unwrap()))
                .collect();
            fields.insert("total_mw".into(), v["total_mw"].as_f64().unwrap());
            Expected {
                ts: v["ts"].as_str().unwrap().parse().unwrap(),
                fields,
                direct: v["co2"]["direct"].as_f64().unwrap(),
                lifecycle: v["co2"]["lifecycle"].as_f64().unwrap(),
            }
        })
        .collect()
}

fn backfill(args: &[&str]) {
    let mut cmd = Command::new(BIN);
    cmd.arg("backfill").args(args);
    for var in [
        "SQLITE_PATH",
        "INFLUX_URL",
        "INFLUX_DATABASE",
        "INFLUX_ORG",
        "INFLUX_BUCKET",
        "INFLUX_TOKEN",
        "INFLUX_TOKEN_FILE",
        "INFLUX_USERNAME",
        "INFLUX_PASSWORD",
        "INFLUX_PASSWORD_FILE",
        "NYISO_BASE_URL",
        "SOURCE_DIR",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "backfill {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the SQLite archive holds, in the shape of `inspect`'s lines.
async fn from_sqlite(db: &SqliteArchive) -> Vec<Expected> {
    let mut co2: BTreeMap<(String, DateTime<Utc>), f64> = BTreeMap::new();
    for p in db.points("co2").await.unwrap() {
        co2.insert((p.tags["factors"].clone(), p.ts), p.fields[0].1);
    }
    db.points("fuel_mix")
        .await
        .unwrap()
        .into_iter()
        .map(|p: Point| Expected {
            ts: p.ts,
            fields: p.fields.iter().cloned().collect(),
            direct: co2[&("direct".to_owned(), p.ts)],
            lifecycle: co2[&("lifecycle".to_owned(), p.ts)],
        })
        .collect()
}

/// What InfluxDB holds, in the same shape.
async fn from_influx(influx: &Influxd, db: &str) -> Vec<Expected> {
    let (cols, rows) = influx.select(db, "SELECT * FROM fuel_mix").await;
    let mut out: Vec<Expected> = rows
        .iter()
        .map(|row| {
            let ts = DateTime::from_timestamp(row[0].as_i64().unwrap(), 0).unwrap();
            let fields = cols[1..]
                .iter()
                .zip(&row[1..])
                .map(|(c, v)| (c.clone(), v.as_f64().unwrap()))
                .collect();
            Expected {
                ts,
                fields,
                direct: f64::NAN,
                lifecycle: f64::NAN,
            }
        })
        .collect();
    let (cols, rows) = influx.select(db, "SELECT * FROM co2").await;
    let factors = cols.iter().position(|c| c == "factors").unwrap();
    let value = cols.iter().position(|c| c == "value").unwrap();
    let mut co2: BTreeMap<(String, i64), f64> = BTreeMap::new();
    for row in rows {
        co2.insert(
            (
                row[factors].as_str().unwrap().to_owned(),
                row[0].as_i64().unwrap(),
            ),
            row[value].as_f64().unwrap(),
        );
    }
    assert_eq!(
        co2.len(),
        2 * out.len(),
        "one direct and one lifecycle point per reading"
    );
    for e in &mut out {
        e.direct = co2[&("direct".to_owned(), e.ts.timestamp())];
        e.lifecycle = co2[&("lifecycle".to_owned(), e.ts.timestamp())];
    }
    out
}

#[tokio::test]
async fn backfill_of_a_month_from_a_folder_matches_inspect_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("nyiso");
    std::fs::create_dir(&files).unwrap();
    let zip = files.join("20250201rtfuelmix_csv.zip");
    std::fs::write(&zip, FEB_2025_ZIP).unwrap();
    let expected = inspect(&zip);
    assert_eq!(expected.len(), 8246);

    let influx = Influxd::start();
    let sqlite = dir.path().join("archive.sqlite");
    let args = [
        "--from",
        "2025-02-01",
        "--to",
        "2025-02-28",
        "--source-dir",
        files.to_str().unwrap(),
        "--sqlite-path",
        sqlite.to_str().unwrap(),
        "--influx-url",
        &influx.url(),
        "--influx-database",
        "ny_power_backfill",
    ];
    for run in 1..=2 {
        backfill(&args);
        let db = SqliteArchive::open(&sqlite).unwrap();
        assert_eq!(from_sqlite(&db).await, expected, "SQLite after run {run}");
        assert_eq!(db.count("co2").await.unwrap(), 2 * 8246);
        assert_eq!(
            from_influx(&influx, "ny_power_backfill").await,
            expected,
            "InfluxDB after run {run}"
        );
    }
}

// Multi-threaded: the server must keep serving while this thread waits for the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_over_http_reads_the_monthly_zip() {
    let server = NyisoServer::start().await;
    server.put("rtfuelmix/20250201rtfuelmix_csv.zip", FEB_2025_ZIP);
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("20250201rtfuelmix_csv.zip");
    std::fs::write(&zip, FEB_2025_ZIP).unwrap();
    // Two days: after 10 February 00:00 EST up to 12 February 00:00 EST.
    let from: DateTime<Utc> = "2025-02-10T05:00:00Z".parse().unwrap();
    let to: DateTime<Utc> = "2025-02-12T05:00:00Z".parse().unwrap();
    let expected: Vec<Expected> = inspect(&zip)
        .into_iter()
        .filter(|e| e.ts > from && e.ts <= to)
        .collect();
    assert!(expected.len() >= 576, "{}", expected.len());

    let sqlite = dir.path().join("http.sqlite");
    backfill(&[
        "--from",
        "2025-02-10",
        "--to",
        "2025-02-11",
        "--nyiso-base-url",
        &server.url(),
        "--sqlite-path",
        sqlite.to_str().unwrap(),
    ]);
    let db = SqliteArchive::open(&sqlite).unwrap();
    assert_eq!(from_sqlite(&db).await, expected);
    let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, vec!["/rtfuelmix/20250201rtfuelmix_csv.zip"]);
}

#[test]
fn bad_arguments_fail_clearly() {
    let out = Command::new(BIN)
        .args([
            "backfill",
            "--from",
            "2025-02-10",
            "--to",
            "2025-02-01",
            "--sqlite-path",
            "/tmp/x.sqlite",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--from 2025-02-10 is after --to 2025-02-01")
    );
    let out = Command::new(BIN)
        .args(["backfill", "--from", "2025-02-01", "--to", "2025-02-01"])
        .env_remove("SQLITE_PATH")
        .env_remove("INFLUX_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no archive configured"));
}

#[test]
fn an_unreachable_nyiso_fails_once_and_points_at_source_dir() {
    // A loopback port nobody listens on: every request is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.sqlite");
    let out = Command::new(BIN)
        .args(["backfill", "--from", "2025-02-01", "--to", "2025-02-01"])
        .arg("--sqlite-path")
        .arg(&db)
        .env("NYISO_BASE_URL", format!("http://127.0.0.1:{port}/csv"))
        .env_remove("SOURCE_DIR")
        .env_remove("INFLUX_URL")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let fatal: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(fatal.len(), 1, "one fatal line:\n{stderr}");
    let line = fatal[0];
    assert!(
        line.starts_with(&format!(
            "error: reading 2025-02-01 to 2025-02-01 from http://127.0.0.1:{port}/csv: "
        )),
        "{line}"
    );
    assert!(line.ends_with("pass --source-dir DIR"), "{line}");
    // The cause is said once, not once per layer that wraps it.
    let cause = format!("GET http://127.0.0.1:{port}/csv/rtfuelmix/20250201rtfuelmix_csv.zip");
    assert_eq!(line.matches(&cause).count(), 1, "{line}");
}
