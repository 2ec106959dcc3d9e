//! The archive handler with the core's in-memory archive.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use lambda_runtime::{Context, LambdaEvent};
use ny_power::adapters::influx::InfluxConfig;
use ny_power::archive::Point;
use ny_power::fakes::MemoryArchive;
use ny_power::stream::Topics;
use ny_power_archive_fn::{handle, influx_config, ArchiveFunction};
use serde_json::json;

fn ev(v: serde_json::Value) -> LambdaEvent<serde_json::Value> {
    LambdaEvent::new(v, Context::default())
}

#[tokio::test]
async fn fuel_mix_and_co2_become_points_and_retries_change_nothing() {
    let archive = MemoryArchive::new();
    let f = ArchiveFunction::new(&archive, Topics::default());
    let mix = json!({
        "ts": "2025-02-01T05:05:00Z",
        "fuels": {"dual_fuel": 4613.0, "natural_gas": 3487.0, "nuclear": 3274.0,
                  "other_fossil_fuels": 1.0, "other_renewables": 232.0, "wind": 671.0,
                  "hydro": 1846.0},
        "total_mw": 14124.0, "topic": "ny-power/upstream/fuel-mix"
    });
    let co2 = json!({"ts": "2025-02-01T05:05:00Z", "value": 248.75, "units": "g/kWh",
                     "factors": "direct", "topic": "ny-power/archive/co2/points"});
    assert_eq!(handle(ev(mix.clone()), &f).await.unwrap().points, 1);
    assert_eq!(handle(ev(co2.clone()), &f).await.unwrap().points, 1);
    handle(ev(mix), &f).await.unwrap();
    handle(ev(co2), &f).await.unwrap();
    let ts = Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap();
    let points = archive.points();
    assert_eq!(points.len(), 2, "a retry overwrites, it does not add");
    assert_eq!(
        points[0],
        Point {
            measurement: "co2".into(),
            tags: BTreeMap::from([("factors".into(), "direct".into())]),
            fields: vec![("value".into(), 248.75)],
            ts,
        }
    );
    assert_eq!(points[1].measurement, "fuel_mix");
    assert_eq!(
        points[1].fields.last(),
        Some(&("total_mw".to_owned(), 14124.0))
    );
}

#[tokio::test]
async fn topics_not_archived_write_nothing_and_bad_payloads_are_permanent() {
    let archive = MemoryArchive::new();
    let f = ArchiveFunction::new(&archive, Topics::default());
    let hist =
        json!({"units": "g/kWh", "ts": [], "values": [], "topic": "ny-power/archive/co2/24h"});
    assert_eq!(handle(ev(hist), &f).await.unwrap().points, 0);
    let bad = json!({"ts": "2025-02-01T05:05:00Z", "value": "high", "units": "g/kWh",
                     "factors": "direct", "topic": "ny-power/archive/co2/points"});
    let e = handle(ev(bad), &f).await.unwrap_err();
    assert_eq!(e.error_type(), "Permanent.Input");
    assert!(e.message.contains("ny-power/archive/co2/points"), "{e}");
    assert_eq!(archive.writes(), 0);
}

#[test]
fn influx_settings_use_the_cli_names() {
    let v2 = influx_config(&[
        (
            "INFLUX_URL",
            "https://x.timestream-influxdb.us-east-1.on.aws:8086",
        ),
        ("INFLUX_ORG", "ny"),
        ("INFLUX_BUCKET", "ny_power"),
        ("INFLUX_TOKEN", "t"),
    ])
    .unwrap();
    assert!(matches!(v2, InfluxConfig::V2 { ref bucket, .. } if bucket == "ny_power"));
    let v1 = influx_config(&[
        ("INFLUX_URL", "http://127.0.0.1:8086"),
        ("INFLUX_DATABASE", "db"),
    ])
    .unwrap();
    assert!(matches!(v1, InfluxConfig::V1 { .. }));
    let e = influx_config(&[("INFLUX_URL", "http://h"), ("INFLUX_ORG", "o")]).unwrap_err();
    assert!(e.message.contains("INFLUX_BUCKET"), "{e}");
}
