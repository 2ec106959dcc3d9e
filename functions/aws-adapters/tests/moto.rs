//! The AWS adapters through the real SDK clients against a local AWS-compatible server
//! (moto, started here on a free loopback port): what IoT Core receives (moto's request
//! recorder) and what Timestream stores (`/moto-api/data.json`) must equal the contract and
//! what `ny-power inspect` prints for the fixture.
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
use ny_power_aws::iot::{iot_cursor, IotPublisher};
use ny_power_aws::timestream::TimestreamArchive;
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
