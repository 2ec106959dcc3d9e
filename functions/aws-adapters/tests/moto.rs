//! The AWS adapters through the real SDK clients against a local AWS-compatible server
//! (moto, started here on a free loopback port): what IoT Core receives (moto's request
//! recorder), what Timestream stores (`/moto-api/data.json`) and the S3 archive's objects
//! (listed and read back through the S3 API) must equal the contract and what
//! `ny-power inspect` prints for the fixture.
//!
//! moto lacks `GetRetainedMessage`; `tests/aws/moto_server.py` adds it (answered from moto's
//! record of retained publishes) so the cursor round-trips here. The adapter's handling of the
//! real response shapes is covered separately with the SDK's replay client
//! (`retained_replay.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

use chrono::{TimeZone, Utc};
use ny_power::archive::points_for_message;
use ny_power::fakes::MemorySource;
use ny_power::nyiso::parse_bytes;
use ny_power::ports::{Archive, CursorStore};
use ny_power::stream::{cursor_message, reading_messages, Topics};
use ny_power::usecases::pump::Pump;
use ny_power::Reading;
use ny_power_aws::clients::s3_client;
use ny_power_aws::iot::{iot_cursor, IotPublisher};
use ny_power_aws::s3::S3Archive;
use ny_power_aws::timestream::TimestreamArchive;
use ny_power_aws::{ErrorKind, FunctionError};
use serde_json::json;
use support::{repo_root, Moto};

/// The first three readings of the 2025-02-01 fixture.
fn fixture_readings() -> Vec<Reading> {
    let path = repo_root().join("tests/fixtures/nyiso/20250201rtfuelmix_csv.zip");
    let bytes = std::fs::read(&path).unwrap();
    let parsed = parse_bytes("20250201rtfuelmix_csv.zip", &bytes).unwrap();
    parsed.readings.into_iter().take(3).collect()
}

#[tokio::test]
async fn pump_publishes_each_reading_once_retained_qos1_and_the_cursor_survives() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let client = aws_sdk_iotdataplane::Client::new(&sdk);
    let topics = Topics::new("test-pump/ny-power");
    let readings = fixture_readings();
    let source = MemorySource::new(readings.clone());
    let now = Utc.with_ymd_and_hms(2025, 2, 2, 0, 0, 0).unwrap();

    // A fresh container: no cursor yet.
    let cursor = iot_cursor(client.clone(), topics.clone());
    assert_eq!(cursor.load().await.unwrap(), None);
    let pump = Pump::new(
        &source,
        IotPublisher::new(client.clone()),
        cursor,
        topics.clone(),
    );
    assert_eq!(pump.poll_once(now).await.unwrap().published, 3);

    // A cold start (new clients, nothing in memory) — same data, nothing published again.
    let client2 = aws_sdk_iotdataplane::Client::new(&sdk);
    let cold = Pump::new(
        &source,
        IotPublisher::new(client2.clone()),
        iot_cursor(client2, topics.clone()),
        topics.clone(),
    );
    let again = cold.poll_once(now).await.unwrap();
    assert_eq!(again.published, 0);
    assert_eq!(again.cursor, Some(readings[2].ts));

    let mut expected = Vec::new();
    for r in &readings {
        expected.extend(reading_messages(&topics, r));
        expected.push(cursor_message(&topics, r.ts));
    }
    let published = moto.published().await;
    assert_eq!(published.len(), 3 * 9);
    for ((topic, query, body), want) in published.iter().zip(&expected) {
        assert_eq!(topic, &want.topic);
        assert_eq!(body, &want.payload, "payload of {topic}");
        assert!(
            query.contains("qos=1") && query.contains("retain=true"),
            "{topic}: {query}"
        );
    }
    // The first combined message is exactly what `ny-power inspect` prints for 2025-02-01
    // 00:05 EST (minus its co2 field).
    let first_mix: serde_json::Value = serde_json::from_slice(&published[7].2).unwrap();
    assert_eq!(published[7].0, "test-pump/ny-power/upstream/fuel-mix");
    assert_eq!(
        first_mix,
        json!({"ts": "2025-02-01T05:05:00Z", "fuels": {"dual_fuel": 4613.0,
            "natural_gas": 3487.0, "nuclear": 3274.0, "other_fossil_fuels": 1.0,
            "other_renewables": 232.0, "wind": 671.0, "hydro": 1846.0}, "total_mw": 14124.0})
    );
    assert_eq!(published[8].0, "test-pump/ny-power/status/fuel-mix/updated");
    assert_eq!(published[8].2, br#"{"ts":"2025-02-01T05:05:00Z"}"#);
}

#[tokio::test]
async fn timestream_archive_stores_multi_measure_records_in_calls_of_at_most_100() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let client = aws_sdk_timestreamwrite::Client::new(&sdk);
    client
        .create_database()
        .database_name("nypower")
        .send()
        .await
        .unwrap();
    client
        .create_table()
        .database_name("nypower")
        .table_name("readings")
        .send()
        .await
        .unwrap();
    let archive = TimestreamArchive::new(client, "nypower", "readings");
    let topics = Topics::default();

    // The first reading's combined message and its direct intensity (DESIGN §4: 248.75).
    let r = &fixture_readings()[0];
    let mix = reading_messages(&topics, r).pop().unwrap();
    let mut points = points_for_message(&topics, &mix.topic, &mix.payload).unwrap();
    let co2 = br#"{"ts":"2025-02-01T05:05:00Z","value":248.7471240441801,"units":"g/kWh","factors":"direct"}"#;
    points.extend(points_for_message(&topics, "ny-power/archive/co2/points", co2).unwrap());
    archive.write(&points).await.unwrap();

    // Written in key order (measurement, tags, time).
    let records = moto.timestream_records("nypower", "readings").await;
    assert_eq!(
        records,
        vec![
            json!({"MeasureName": "co2", "MeasureValueType": "MULTI", "Time": "1738386300",
                "TimeUnit": "SECONDS", "Version": 1,
                "Dimensions": [{"Name": "source", "Value": "nyiso"},
                               {"Name": "factors", "Value": "direct"}],
                "MeasureValues": [{"Name": "value", "Value": "248.7471240441801", "Type": "DOUBLE"}]}),
            json!({"MeasureName": "fuel_mix", "MeasureValueType": "MULTI", "Time": "1738386300",
                "TimeUnit": "SECONDS", "Version": 1,
                "Dimensions": [{"Name": "source", "Value": "nyiso"}],
                "MeasureValues": [
                    {"Name": "dual_fuel", "Value": "4613", "Type": "DOUBLE"},
                    {"Name": "natural_gas", "Value": "3487", "Type": "DOUBLE"},
                    {"Name": "nuclear", "Value": "3274", "Type": "DOUBLE"},
                    {"Name": "other_fossil_fuels", "Value": "1", "Type": "DOUBLE"},
                    {"Name": "other_renewables", "Value": "232", "Type": "DOUBLE"},
                    {"Name": "wind", "Value": "671", "Type": "DOUBLE"},
                    {"Name": "hydro", "Value": "1846", "Type": "DOUBLE"},
                    {"Name": "total_mw", "Value": "14124", "Type": "DOUBLE"}]}),
        ]
    );

    // 250 intensity points: three calls (100, 100, 50), every record stored once.
    let t0 = r.ts;
    let many: Vec<_> = (0..250)
        .flat_map(|i| {
            let payload = json!({"ts": t0 + chrono::Duration::minutes(5 * i), "value": i as f64,
                "units": "g/kWh", "factors": "lifecycle"});
            points_for_message(
                &topics,
                "ny-power/archive/co2/points",
                &serde_json::to_vec(&payload).unwrap(),
            )
            .unwrap()
        })
        .collect();
    archive.write(&many).await.unwrap();
    let writes = moto
        .requests()
        .await
        .into_iter()
        .filter(|(m, _)| m == "POST")
        .count();
    // create_database, create_table, 1 call for the first two points, 3 for the 250.
    assert_eq!(writes, 2 + 1 + 3);
    assert_eq!(
        moto.timestream_records("nypower", "readings").await.len(),
        2 + 250
    );
}

/// The archive points of the fixture's first `n` readings: the fuel mix and both intensities
/// (direct and lifecycle, as the co2 function's `archive/co2/points` stream carries them).
fn archive_points(n: usize) -> Vec<ny_power::archive::Point> {
    let topics = Topics::default();
    let mut points = Vec::new();
    for r in fixture_readings().iter().take(n) {
        let mix = reading_messages(&topics, r).pop().unwrap();
        points.extend(points_for_message(&topics, &mix.topic, &mix.payload).unwrap());
        for (factors, value) in [("direct", 248.75), ("lifecycle", 326.08)] {
            let payload = json!({"ts": r.ts, "value": value, "units": "g/kWh", "factors": factors});
            points.extend(
                points_for_message(
                    &topics,
                    "ny-power/archive/co2/points",
                    &serde_json::to_vec(&payload).unwrap(),
                )
                .unwrap(),
            );
        }
    }
    points
}

async fn create_bucket(client: &aws_sdk_s3::Client, bucket: &str) {
    client.create_bucket().bucket(bucket).send().await.unwrap();
    client
        .put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Every current object under `prefix`: key -> body.
async fn objects(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> std::collections::BTreeMap<String, String> {
    let listed = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    let mut out = std::collections::BTreeMap::new();
    for o in listed.contents() {
        let key = o.key().unwrap().to_owned();
        let got = client
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(got.content_type(), Some("application/x-ndjson"), "{key}");
        let body = got.body.collect().await.unwrap().into_bytes();
        out.insert(key, String::from_utf8(body.to_vec()).unwrap());
    }
    out
}

/// How many versions (current and noncurrent) each key under `prefix` has.
async fn versions(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> std::collections::BTreeMap<String, usize> {
    let listed = client
        .list_object_versions()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    let mut out = std::collections::BTreeMap::new();
    for v in listed.versions() {
        *out.entry(v.key().unwrap().to_owned()).or_insert(0) += 1;
    }
    out
}

#[tokio::test]
async fn s3_archive_writes_one_json_line_per_point_under_its_utc_date_and_a_retry_overwrites() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    // The function's own client builder, pointed at moto as the Lambda would be by
    // AWS_ENDPOINT_URL (path-style addressing).
    let client = s3_client(&sdk, &[("AWS_ENDPOINT_URL", moto.url().as_str())]);
    create_bucket(&client, "ny-power-archive").await;
    let archive = S3Archive::new(client.clone(), "ny-power-archive", "archive/");
    assert_eq!(archive.prefix(), "archive");

    let points = archive_points(1);
    assert_eq!(points.len(), 3);
    archive.write(&points).await.unwrap();

    // 2025-02-01 00:05 EST = 05:05 UTC: keys by measurement, UTC date and instant (+ tags).
    let stored = objects(&client, "ny-power-archive", "archive/").await;
    let expected = std::collections::BTreeMap::from([
        (
            "archive/co2/date=2025-02-01/20250201T050500Z_factors=direct.jsonl".to_owned(),
            "{\"ts\":\"2025-02-01T05:05:00Z\",\"factors\":\"direct\",\"value\":248.75}\n"
                .to_owned(),
        ),
        (
            "archive/co2/date=2025-02-01/20250201T050500Z_factors=lifecycle.jsonl".to_owned(),
            "{\"ts\":\"2025-02-01T05:05:00Z\",\"factors\":\"lifecycle\",\"value\":326.08}\n"
                .to_owned(),
        ),
        (
            "archive/fuel_mix/date=2025-02-01/20250201T050500Z.jsonl".to_owned(),
            "{\"ts\":\"2025-02-01T05:05:00Z\",\"dual_fuel\":4613.0,\"natural_gas\":3487.0,\
             \"nuclear\":3274.0,\"other_fossil_fuels\":1.0,\"other_renewables\":232.0,\
             \"wind\":671.0,\"hydro\":1846.0,\"total_mw\":14124.0}\n"
                .to_owned(),
        ),
    ]);
    assert_eq!(stored, expected);
    // Every line is JSON a reader (Athena's JSON SerDe) can take.
    for body in stored.values() {
        let v: serde_json::Value = serde_json::from_str(body.trim_end()).unwrap();
        assert_eq!(v["ts"], "2025-02-01T05:05:00Z");
    }

    // A retry of the same event (and the same points inside one batch) overwrites: still
    // three objects with the same bodies; the earlier copies are noncurrent versions.
    let mut twice = points.clone();
    twice.extend(points.clone());
    archive.write(&twice).await.unwrap();
    assert_eq!(
        objects(&client, "ny-power-archive", "archive/").await,
        expected
    );
    let v = versions(&client, "ny-power-archive", "archive/").await;
    assert_eq!(v.len(), 3);
    assert!(v.values().all(|&n| n == 2), "{v:?}");
    // Nothing outside the prefix.
    assert_eq!(objects(&client, "ny-power-archive", "").await.len(), 3);
}

#[tokio::test]
async fn s3_archive_batch_with_a_failed_put_is_retryable_and_the_retry_completes_it() {
    // The 00:15 EST fuel-mix object fails twice (HTTP 500 InternalError from the launcher),
    // i.e. both attempts of a client with two: the first write fails, the second succeeds.
    let moto = Moto::start_with_env(&[(
        "NY_POWER_MOTO_S3_PUT_FAILURES",
        "fuel_mix/date=2025-02-01/20250201T051500Z=2",
    )]);
    let sdk = moto.sdk_config().await;
    let conf = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(true)
        .retry_config(
            aws_sdk_s3::config::retry::RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(std::time::Duration::from_millis(20)),
        )
        .build();
    let client = aws_sdk_s3::Client::from_conf(conf);
    create_bucket(&client, "archive-bucket").await;
    let archive = S3Archive::new(client.clone(), "archive-bucket", "archive");
    let points = archive_points(3);
    assert_eq!(points.len(), 9);

    let e = archive.write(&points).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    let text = e.to_string();
    assert!(text.contains("1 of 9 objects failed"), "{text}");
    assert!(
        text.contains(
            "s3://archive-bucket/archive/fuel_mix/date=2025-02-01/20250201T051500Z.jsonl"
        ),
        "{text}"
    );
    assert_eq!(
        FunctionError::from_port(ErrorKind::Archive, &e).error_type(),
        "Retryable.Archive",
        "the Lambda runtime retries it, then the failure queue"
    );
    let partial = objects(&client, "archive-bucket", "archive/").await;
    assert_eq!(partial.len(), 8);
    assert!(!partial
        .keys()
        .any(|k| k.contains("fuel_mix/date=2025-02-01/20250201T051500Z")));

    // The retry (Lambda's async retry of the same event) writes the whole batch again.
    archive.write(&points).await.unwrap();
    let all = objects(&client, "archive-bucket", "archive/").await;
    assert_eq!(all.len(), 9);
    assert!(
        all["archive/fuel_mix/date=2025-02-01/20250201T051500Z.jsonl"]
            .starts_with("{\"ts\":\"2025-02-01T05:15:00Z\",\"dual_fuel\":4513.0,")
    );
    let v = versions(&client, "archive-bucket", "archive/").await;
    assert_eq!(
        v["archive/fuel_mix/date=2025-02-01/20250201T051500Z.jsonl"],
        1
    );
    assert_eq!(v.values().sum::<usize>(), 8 * 2 + 1);

    // A bucket that does not exist is a permanent failure (no retry helps).
    let missing = S3Archive::new(client, "no-such-bucket", "archive");
    let e = missing.write(&points[..1]).await.unwrap_err();
    assert!(!e.is_retryable(), "{e}");
    assert!(e.to_string().contains("NoSuchBucket"), "{e}");
}
