//! Issue 10, defect 2, end to end: the real `ny-power archive` binary against real Mosquitto,
//! with InfluxDB **down when the archiver starts** (so it cannot create its database) and
//! started later **without the database**. The archiver acknowledges the messages once they
//! are in its on-disk backlog; every one of them must reach InfluxDB, none dropped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ny_power::adapters::mqtt::{ClientOptions, MqttClient};
use ny_power::nyiso::parse_bytes;
use ny_power::ports::Publisher;
use ny_power::stream::{reading_messages, Topics};

use support::influx::Influxd;
use support::mosquitto::{self, Mosquitto};
use support::{zip_member, FEB_2025_ZIP};

const DB: &str = "ny_power_late";

struct Archiver(Child);

impl Drop for Archiver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_for<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn queued(backlog: &std::path::Path) -> i64 {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(backlog, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row("SELECT COUNT(*) FROM queue", [], |r| r.get(0))
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influxdb_started_after_the_archiver_without_its_database_gets_every_point() {
    if !mosquitto::available() || Command::new("influxd").arg("version").output().is_err() {
        eprintln!("skipped: needs `apt-get install mosquitto mosquitto-clients influxdb`");
        return;
    }
    let day = zip_member(FEB_2025_ZIP, "20250201rtfuelmix.csv");
    let readings = parse_bytes("20250201rtfuelmix.csv", &day).unwrap().readings;
    let broker = Mosquitto::start();
    let mut influx = Influxd::stopped(); // down at start
    let data = tempfile::tempdir().unwrap();
    let log = data.path().join("archive.log");

    let archiver = Archiver(
        Command::new(env!("CARGO_BIN_EXE_ny-power"))
            .arg("archive")
            .envs(broker.services_env())
            .env("INFLUX_URL", influx.url())
            .env("INFLUX_DATABASE", DB)
            .env("DATA_DIR", data.path())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    // The archiver is subscribed once it announces itself online.
    wait_for(60, "the archiver online", || async {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("archiver started"))
    })
    .await;

    let publisher = MqttClient::connect(ClientOptions::new(broker.services_config(), "late-pump"))
        .await
        .unwrap();
    let topics = Topics::default();
    for r in &readings {
        for m in reading_messages(&topics, r) {
            publisher.publish(&m).await.unwrap();
        }
    }
    publisher.close().await;
    // Acknowledged by the archiver: all in its on-disk backlog (InfluxDB is still down).
    let backlog = data.path().join("archive-backlog.sqlite");
    let n = readings.len() as i64;
    wait_for(120, "every reading in the backlog", || async {
        queued(&backlog) >= n
    })
    .await;

    influx.restart(); // up now, without the database
    let up = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let count = influx.count(DB, "fuel_mix", "total_mw", "").await;
        if count == n as u64 {
            eprintln!(
                "all {n} readings in InfluxDB {:?} after it came up",
                up.elapsed()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{count} of {n} readings in InfluxDB; archiver log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!log_text.contains("dropping"), "{log_text}");
    wait_for(60, "an empty backlog", || async { queued(&backlog) == 0 }).await;
    drop(archiver);
}
