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
use chrono_tz::America::New_York;
use ny_power::forecast::{Forecaster, RETENTION_DAYS};
use ny_power::nyiso::parse_bytes;
use ny_power::stream::{cursor_message, reading_messages, FuelMixPayload, Message, Topics};
use ny_power::usecases::co2::{Co2Step, RetainedInputs, StatePolicy};
use ny_power::{Factors, Reading};

/// AWS IoT Core's limit on a PUBLISH payload (128 KB; the service rejects larger messages).
const IOT_CORE_MAX_PAYLOAD: usize = 128 * 1024;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every real fuel-mix day in the repository (daily files, and each day of the monthly zip),
/// by file name and New York date.
fn real_days() -> BTreeMap<String, Vec<Reading>> {
    let mut days: BTreeMap<String, Vec<Reading>> = BTreeMap::new();
    for dir in ["tests/fixtures/nyiso", "demo-data"] {
        for entry in std::fs::read_dir(repo().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.contains("rtfuelmix") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            for r in parse_bytes(&name, &bytes).unwrap().readings {
                let day = r.ts.with_timezone(&New_York).date_naive();
                days.entry(format!("{name} {day}")).or_default().push(r);
            }
        }
    }
    assert!(days.len() >= 30, "{:?}", days.keys());
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
    // The forecaster at its largest: 33 days of the densest day's readings, day after day —
    // more than it keeps (31 days). Fed directly (the forecast the co2 step computes on each
    // reading does not change its state, and would make this test slow in a debug build).
    let span = densest.last().unwrap().ts - densest.first().unwrap().ts;
    let period = Duration::days(1).max(span + Duration::minutes(5));
    let shifted = |k: i32| {
        densest.iter().map(move |r| Reading {
            ts: r.ts + period * k,
            mix: r.mix,
        })
    };
    let mut forecaster = Forecaster::new(Factors::Direct);
    for k in 0..32 {
        for r in shifted(k) {
            forecaster.update(&r);
        }
    }
    // The co2 step starts from that state, as a cold Lambda does (the retained state).
    let restored = step.restore(
        &RetainedInputs {
            state: forecaster.state(),
            history: None,
        },
        densest[0].ts + period * 32,
    );
    assert!(restored.state);
    for r in shifted(32) {
        forecaster.update(&r);
    }
    assert_eq!(forecaster.hours_held(), (RETENTION_DAYS * 24 + 1) as usize);
    let state = forecaster.state().unwrap();
    assert_eq!(state.intensity.len(), (RETENTION_DAYS * 24 + 1) as usize);
    assert!(state.intensity.iter().all(Option::is_some));
    let full_state = Message::json(topics.forecaster_state(), &state).unwrap();
    note(
        &full_state.topic,
        full_state.payload.len(),
        full_state.retain,
    );

    // Everything else as the pump and the co2 step publish it, over the last of those days:
    // the history ends holding the densest day, the band (24 hourly means) is on.
    for r in shifted(32) {
        for m in reading_messages(&topics, &r) {
            note(&m.topic, m.payload.len(), m.retain);
        }
        let cursor = cursor_message(&topics, r.ts);
        note(&cursor.topic, cursor.payload.len(), cursor.retain);
        for m in step.on_fuel_mix(&FuelMixPayload::of(&r), None) {
            note(&m.topic, m.payload.len(), m.retain);
        }
    }
    let history = step.calculator().history_payload();
    // A full day of readings (the window is the last 24 h, so a day file's extra 00:00
    // reading of the next day can push its first one out).
    assert!(history.ts.len() >= 288, "{}", history.ts.len());
    println!("24 h history: {} readings", history.ts.len());

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
