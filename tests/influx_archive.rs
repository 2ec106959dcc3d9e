//! `InfluxWriter` against a real `influxd` (1.6, v1 API) started by the test, the v2 request
//! shape against the local HTTP test server (InfluxDB 1.6 has no `/api/v2`), and
//! `BufferedArchive` keeping points while `influxd` is down.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use ny_power::adapters::backlog::{BacklogOptions, BufferedArchive};
use ny_power::adapters::influx::{InfluxConfig, InfluxOptions, InfluxWriter};
use ny_power::archive::{line_protocol, points_for_message, Point};
use ny_power::intensity::Factors;
use ny_power::nyiso::parse_bytes;
use ny_power::ports::{Archive, PortError};
use ny_power::stream::{reading_messages, FuelMixPayload, Topics};
use ny_power::usecases::co2::Co2Calculator;

use support::influx::Influxd;
use support::nyiso_server::NyisoServer;
use support::{zip_member, FEB_2025_ZIP};

/// Fuel-mix and CO2 points of the first `n` readings of 1 February 2025 (real data).
fn points(n: usize) -> Vec<Point> {
    let day = zip_member(FEB_2025_ZIP, "20250201rtfuelmix.csv");
    let readings = parse_bytes("20250201rtfuelmix.csv", &day).unwrap().readings;
    let topics = Topics::default();
    let mut calc = Co2Calculator::new(topics.clone(), Factors::Direct);
    let mut out = Vec::new();
    for r in &readings[..n] {
        let mut msgs = reading_messages(&topics, r);
        msgs.extend(calc.on_fuel_mix(&FuelMixPayload::of(r)));
        for m in msgs {
            out.extend(points_for_message(&topics, &m.topic, &m.payload).unwrap());
        }
    }
    out
}

fn quick() -> InfluxOptions {
    InfluxOptions {
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(1),
        retries: 1,
        backoff: Duration::from_millis(20),
        batch_lines: 7,
        create_database: true,
    }
}

fn v1(url: &str, db: &str) -> InfluxConfig {
    InfluxConfig::V1 {
        url: url.to_owned(),
        database: db.to_owned(),
        username: None,
        password: None,
    }
}

#[tokio::test]
async fn writes_points_queryable_and_idempotent() {
    let influx = Influxd::start();
    let writer = InfluxWriter::with_options(v1(&influx.url(), "ny_power_t1"), quick()).unwrap();
    writer.ensure_database().await.unwrap();
    writer.ensure_database().await.unwrap(); // idempotent
    let pts = points(12); // 12 fuel-mix + 24 co2 points, in batches of 7 lines
    writer.write(&pts).await.unwrap();

    let db = "ny_power_t1";
    assert_eq!(influx.count(db, "fuel_mix", "total_mw", "").await, 12);
    assert_eq!(
        influx
            .count(db, "co2", "value", "WHERE factors = 'direct'")
            .await,
        12
    );
    assert_eq!(
        influx
            .count(db, "co2", "value", "WHERE factors = 'lifecycle'")
            .await,
        12
    );

    // Values read back as written: 1 February 00:05 EST (DESIGN §4 check values).
    let (cols, rows) = influx
        .select(db, "SELECT * FROM co2 WHERE time = '2025-02-01T05:05:00Z'")
        .await;
    let value = cols.iter().position(|c| c == "value").unwrap();
    let factors = cols.iter().position(|c| c == "factors").unwrap();
    let mut got: BTreeMap<String, f64> = BTreeMap::new();
    for row in rows {
        got.insert(
            row[factors].as_str().unwrap().to_owned(),
            row[value].as_f64().unwrap(),
        );
    }
    assert_eq!(got.len(), 2);
    assert!((got["direct"] - 248.75).abs() < 0.005, "{got:?}");
    assert!((got["lifecycle"] - 326.08).abs() < 0.005, "{got:?}");
    let (cols, rows) = influx
        .select(db, "SELECT dual_fuel, total_mw FROM fuel_mix LIMIT 1")
        .await;
    assert_eq!(cols, vec!["time", "dual_fuel", "total_mw"]);
    assert_eq!(
        rows[0][0].as_i64(),
        Some(
            Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0)
                .unwrap()
                .timestamp()
        )
    );
    assert_eq!(rows[0][1].as_f64(), Some(4613.0));

    // Writing the same points again changes nothing.
    writer.write(&pts).await.unwrap();
    assert_eq!(influx.count(db, "fuel_mix", "total_mw", "").await, 12);
    assert_eq!(influx.count(db, "co2", "value", "").await, 24);
}

#[tokio::test]
async fn only_a_refusal_of_the_points_is_permanent() {
    let influx = Influxd::start();
    let db = "ny_power_refusals";
    // No such database and creating it not allowed: InfluxDB answers 404 with its error text;
    // that is "not writable yet", transient, never a reason to drop points.
    let no_create = InfluxOptions {
        create_database: false,
        ..quick()
    };
    let writer = InfluxWriter::with_options(v1(&influx.url(), db), no_create).unwrap();
    let err = writer.write(&points(1)).await.unwrap_err();
    assert!(matches!(err, PortError::Transient { .. }), "{err}");
    assert!(err.to_string().contains("database not found"), "{err}");
    // Allowed to create it (the default): the write creates the database and succeeds.
    let writer = InfluxWriter::with_options(v1(&influx.url(), db), quick()).unwrap();
    writer.write(&points(1)).await.unwrap();
    assert_eq!(influx.count(db, "fuel_mix", "total_mw", "").await, 1);
    // A field type conflict (a real refusal of the points): permanent, InfluxDB's text kept.
    // In a fresh database, `value` of co2 is made a string field in that shard first.
    let db = "ny_power_conflict";
    influx.create_database(db).await;
    let writer = InfluxWriter::with_options(v1(&influx.url(), db), quick()).unwrap();
    let pts = points(1);
    let co2 = pts.iter().find(|p| p.measurement == "co2").unwrap();
    let raw = reqwest::Client::new()
        .post(format!("{}/write?db={db}&precision=s", influx.url()))
        .body(format!(
            "co2,factors=other value=\"text\" {}",
            co2.ts.timestamp()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 204);
    let err = writer.write(&pts).await.unwrap_err();
    assert!(matches!(err, PortError::Permanent { .. }), "{err}");
    assert!(err.to_string().contains("field type conflict"), "{err}");
    // Nobody listening: transient, after the retries.
    drop(influx);
    let err = writer.write(&points(1)).await.unwrap_err();
    assert!(matches!(err, PortError::Transient { .. }), "{err}");
}

/// The v2 API cannot be exercised against InfluxDB 1.6 (no `/api/v2`): check the request
/// shape and the error handling against the local HTTP test server instead.
#[tokio::test]
async fn v2_request_shape_and_errors() {
    let server = NyisoServer::start().await;
    let writer = InfluxWriter::with_options(
        InfluxConfig::V2 {
            url: server.url(),
            org: "my org".into(),
            bucket: "ny-power".into(),
            token: "tok-123".into(),
        },
        quick(),
    )
    .unwrap();
    let pts = points(2); // 6 points: one batch
    writer.write(&pts).await.unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.target,
        "/api/v2/write?org=my+org&bucket=ny-power&precision=s"
    );
    assert_eq!(r.headers["authorization"], "Token tok-123");
    assert!(r.headers["content-type"].starts_with("text/plain"));
    assert_eq!(
        String::from_utf8(r.body.clone()).unwrap(),
        line_protocol(&pts)
    );

    // 400 with InfluxDB's JSON error: permanent, not retried, message kept.
    server.reset_stats();
    server.set(|b| {
        b.post_status = 400;
        b.post_body = r#"{"code":"invalid","message":"partial write: field type conflict"}"#.into();
    });
    let err = writer.write(&pts).await.unwrap_err();
    assert!(matches!(err, PortError::Permanent { .. }), "{err}");
    assert!(err.to_string().contains("field type conflict"), "{err}");
    assert_eq!(server.requests().len(), 1);

    // 503 and 429: transient, retried.
    for status in [503, 429] {
        server.reset_stats();
        server.set(|b| {
            b.post_status = status;
            b.post_body = String::new();
        });
        let err = writer.write(&pts).await.unwrap_err();
        assert!(matches!(err, PortError::Transient { .. }), "{err}");
        assert_eq!(server.requests().len(), 2, "one try and one retry");
    }
    // The token never appears in errors or debug output.
    assert!(!format!(
        "{err:?} {writer:?}",
        err = writer.write(&pts).await.unwrap_err()
    )
    .contains("tok-123"));
}

#[tokio::test]
async fn v1_credentials_go_in_basic_auth_not_the_url() {
    let server = NyisoServer::start().await;
    let writer = InfluxWriter::with_options(
        InfluxConfig::V1 {
            url: server.url(),
            database: "ny_power".into(),
            username: Some("writer".into()),
            password: Some("pa55word".into()),
        },
        quick(),
    )
    .unwrap();
    writer.write(&points(1)).await.unwrap();
    let r = &server.requests()[0];
    assert_eq!(r.target, "/write?db=ny_power&precision=s");
    // base64("writer:pa55word")
    assert_eq!(r.headers["authorization"], "Basic d3JpdGVyOnBhNTV3b3Jk");
}

#[tokio::test]
async fn buffered_archive_keeps_points_while_influxdb_is_down() {
    let mut influx = Influxd::start();
    let db = "ny_power_backlog";
    let data = tempfile::tempdir().unwrap();
    let url = influx.url();
    let writer = || InfluxWriter::with_options(v1(&url, db), quick()).unwrap();
    writer().ensure_database().await.unwrap();
    let all = points(20);
    let (before, during) = all.split_at(30);

    let buffered = BufferedArchive::open(data.path(), writer(), BacklogOptions::default()).unwrap();
    buffered.write(before).await.unwrap();
    assert_eq!(buffered.pending().await.unwrap(), 0);

    influx.stop();
    // The write succeeds: the points are on disk, waiting.
    buffered.write(during).await.unwrap();
    assert_eq!(buffered.pending().await.unwrap(), during.len() as u64);
    assert!(buffered.flush().await.is_err());
    drop(buffered);

    // A restart of our process and of InfluxDB: the backlog survives and goes out.
    influx.restart();
    let buffered = BufferedArchive::open(data.path(), writer(), BacklogOptions::default()).unwrap();
    assert_eq!(buffered.pending().await.unwrap(), during.len() as u64);
    assert_eq!(buffered.flush().await.unwrap(), during.len() as u64);
    assert_eq!(buffered.pending().await.unwrap(), 0);
    assert_eq!(influx.count(db, "fuel_mix", "total_mw", "").await, 20);
    assert_eq!(influx.count(db, "co2", "value", "").await, 40);
}

/// Issue 10, defect 2: InfluxDB down when the archiver starts (so `ensure_database` fails),
/// then up with no database. Every write answers 404 `database not found` until someone
/// creates it: that must not drop the backlog. The writer creates the database and the
/// backlog delivers every point.
#[tokio::test]
async fn a_database_missing_at_start_is_created_and_no_point_is_dropped() {
    let mut influx = Influxd::stopped();
    let db = "ny_power_late";
    let data = tempfile::tempdir().unwrap();
    let writer = InfluxWriter::with_options(v1(&influx.url(), db), quick()).unwrap();
    let err = writer.ensure_database().await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let buffered = BufferedArchive::open(data.path(), writer, BacklogOptions::default()).unwrap();
    let all = points(20);
    let (before, after) = all.split_at(30);
    buffered.write(before).await.unwrap();
    assert_eq!(buffered.pending().await.unwrap(), before.len() as u64);

    influx.restart(); // up now, without the database
    buffered.write(after).await.unwrap();
    // What the archiver's timer does: flush until the queue is empty (generous deadline).
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while buffered.pending().await.unwrap() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "backlog not delivered: {} points pending",
            buffered.pending().await.unwrap()
        );
        let _ = buffered.flush().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(influx.count(db, "fuel_mix", "total_mw", "").await, 20);
    assert_eq!(influx.count(db, "co2", "value", "").await, 40);
}

/// Waits (generous deadline) until a backlog is empty, flushing as the archiver's timer does.
async fn drain_backlog<A: Archive>(buffered: &BufferedArchive<A>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while buffered.pending().await.unwrap() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "backlog not delivered: {} points pending",
            buffered.pending().await.unwrap()
        );
        let _ = buffered.flush_when_due().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn fast_backlog() -> BacklogOptions {
    BacklogOptions {
        retry_initial: Duration::from_millis(50),
        retry_max: Duration::from_millis(200),
        ..BacklogOptions::default()
    }
}

/// Without the right to create the database (`INFLUX_CREATE_DATABASE=false`), the points wait
/// in the backlog until the operator creates it; none is dropped.
#[tokio::test]
async fn without_rights_to_create_it_points_wait_for_the_database() {
    let influx = Influxd::start();
    let db = "ny_power_operator";
    let data = tempfile::tempdir().unwrap();
    let options = InfluxOptions {
        create_database: false,
        ..quick()
    };
    let writer = InfluxWriter::with_options(v1(&influx.url(), db), options).unwrap();
    let buffered = BufferedArchive::open(data.path(), writer, fast_backlog()).unwrap();
    let all = points(10);
    buffered.write(&all).await.unwrap();
    for _ in 0..3 {
        assert!(buffered.flush().await.is_err(), "still no database");
    }
    assert_eq!(buffered.pending().await.unwrap(), all.len() as u64);
    influx.create_database(db).await;
    drain_backlog(&buffered).await;
    assert_eq!(influx.count(db, "fuel_mix", "total_mw", "").await, 10);
    assert_eq!(influx.count(db, "co2", "value", "").await, 20);
}

/// The v2 equivalent: 404 `bucket "…" not found` keeps the points until the bucket exists.
#[tokio::test]
async fn a_missing_v2_bucket_keeps_the_points() {
    let server = NyisoServer::start().await;
    let writer = InfluxWriter::with_options(
        InfluxConfig::V2 {
            url: server.url(),
            org: "o".into(),
            bucket: "ny-power".into(),
            token: "t".into(),
        },
        quick(),
    )
    .unwrap();
    server.set(|b| {
        b.post_status = 404;
        b.post_body = r#"{"code":"not found","message":"bucket \"ny-power\" not found"}"#.into();
    });
    let err = writer.write(&points(1)).await.unwrap_err();
    assert!(matches!(err, PortError::Transient { .. }), "{err}");
    assert!(err.to_string().contains("not found"), "{err}");

    let data = tempfile::tempdir().unwrap();
    let buffered = BufferedArchive::open(data.path(), writer, fast_backlog()).unwrap();
    let all = points(4);
    buffered.write(&all).await.unwrap();
    assert!(buffered.flush().await.is_err());
    assert_eq!(buffered.pending().await.unwrap(), all.len() as u64);
    server.reset_stats();
    server.set(|b| {
        b.post_status = 204;
        b.post_body = String::new();
    });
    drain_backlog(&buffered).await;
    let body: String = server
        .requests()
        .iter()
        .map(|r| String::from_utf8(r.body.clone()).unwrap())
        .collect();
    assert_eq!(body, line_protocol(&all));
}
