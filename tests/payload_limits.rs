//! Limits of the serverless broker, checked on what ny-power really publishes: every retained
//! payload stays under AWS IoT Core's message-size limit (128 KB, a hard quota) at its largest —
//! the 24 h history at the densest real fuel-mix day in the repository, the forecaster state
//! holding its full 31 days — and the retained topics are a fixed, small set (one retained
//! message per topic, so the account holds that many whatever the uptime).
//!
//! Run with `-- --nocapture` to print each topic's largest payload (the sizes in docs/aws.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::Duration;
use ny_power::forecast::RETENTION_DAYS;
use ny_power::nyiso::parse_bytes;
use ny_power::stream::{cursor_message, reading_messages, FuelMixPayload, Topics};
use ny_power::usecases::co2::{Co2Step, StatePolicy};
use ny_power::{Factors, Reading};

/// AWS IoT Core's limit on a PUBLISH payload (128 KB; the service rejects larger messages).
const IOT_CORE_MAX_PAYLOAD: usize = 128 * 1024;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every real fuel-mix day in the repository, by file name.
fn real_days() -> BTreeMap<String, Vec<Reading>> {
    let mut days = BTreeMap::new();
    for dir in ["tests/fixtures/nyiso", "demo-data"] {
        for entry in std::fs::read_dir(repo().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.contains("rtfuelmix") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let parsed = parse_bytes(&name, &bytes).unwrap();
            days.insert(name, parsed.readings);
        }
    }
    assert!(days.len() >= 4, "{:?}", days.keys());
    days
}

#[test]
fn every_retained_payload_stays_under_the_iot_core_limit_at_its_largest() {
    let days = real_days();
    let (densest_name, densest) = days
        .iter()
        .max_by_key(|(_, readings)| readings.len())
        .unwrap();
    // The densest real day has at least a reading every 5 minutes.
    assert!(densest.len() >= 288, "{densest_name}: {}", densest.len());

    let topics = Topics::default();
    let mut step = Co2Step::new(topics.clone(), Factors::Direct, StatePolicy::Hourly);
    let mut largest: BTreeMap<String, usize> = BTreeMap::new();
    let mut retained = std::collections::BTreeSet::new();
    let mut note = |topic: &str, len: usize, retain: bool| {
        let e = largest.entry(topic.to_owned()).or_default();
        *e = (*e).max(len);
        if retain {
            retained.insert(topic.to_owned());
        }
    };
    // 33 days of the densest day's readings, day after day: more than the forecaster keeps
    // (31 days), so its state reaches its largest; the history ends holding the densest day.
    let span = densest.last().unwrap().ts - densest.first().unwrap().ts;
    let period = Duration::days(1).max(span + Duration::minutes(5));
    for k in 0..33 {
        for r in densest {
            let shifted = Reading {
                ts: r.ts + period * k,
                mix: r.mix,
            };
            for m in reading_messages(&topics, &shifted) {
                note(&m.topic, m.payload.len(), m.retain);
            }
            let cursor = cursor_message(&topics, shifted.ts);
            note(&cursor.topic, cursor.payload.len(), cursor.retain);
            for m in step.on_fuel_mix(&FuelMixPayload::of(&shifted), None) {
                note(&m.topic, m.payload.len(), m.retain);
            }
        }
    }
    // The forecaster holds its full 31 days (+ the current hour) and the history a full day.
    assert_eq!(
        step.forecaster().hours_held(),
        (RETENTION_DAYS * 24 + 1) as usize
    );
    let state = step.forecaster().state().unwrap();
    assert_eq!(state.intensity.len(), (RETENTION_DAYS * 24 + 1) as usize);
    assert!(state.intensity.iter().all(Option::is_some));
    let history = step.calculator().history_payload();
    assert!(
        history.ts.len() >= densest.len() - 1,
        "{}",
        history.ts.len()
    );

    println!(
        "densest real day: {densest_name} ({} readings)",
        densest.len()
    );
    for (topic, len) in &largest {
        println!("{topic}: {len} B (largest)");
        assert!(
            *len < IOT_CORE_MAX_PAYLOAD,
            "{topic}: {len} B is over IoT Core's 128 KB"
        );
    }
    for topic in [
        topics.co2_history(),
        topics.forecaster_state(),
        topics.co2_forecast(),
        topics.charge_window(),
        topics.co2_band(),
    ] {
        assert!(largest.contains_key(&topic), "{topic} was never published");
    }
    // Headroom: the biggest (the history) is still far below the limit.
    let biggest = largest.values().max().copied().unwrap();
    assert!(biggest * 4 < IOT_CORE_MAX_PAYLOAD, "{biggest} B");

    // Retained topics: a fixed set (7 fuels, mix, cursor, 2 intensities, history, forecast,
    // windows, band, state), however long it runs — one retained message each.
    println!("retained topics: {}", retained.len());
    assert_eq!(
        retained.len(),
        7 + 1 + 1 + 2 + 1 + 1 + 1 + 1 + 1,
        "{retained:?}"
    );
    assert!(!retained.contains(&topics.co2_archive()));
}
