//! The CO2 handler with the core's in-memory broker (which also answers retained reads).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, TimeZone, Utc};
use lambda_runtime::{Context, LambdaEvent};
use ny_power::co2::Co2Calculator;
use ny_power::fakes::MemoryBroker;
use ny_power::ports::Publisher;
use ny_power::stream::{decode, decode_history, Co2HistoryPayload, Co2Payload, Message, Topics};
use ny_power::Factors;
use ny_power_co2_fn::{handle, Co2Function};
use serde_json::{json, Value};

/// The 2025-02-01 00:05 EST reading as the topic rule delivers it (DESIGN §4: 248.75 g/kWh
/// direct, 326.08 lifecycle).
fn rule_event(ts: &str) -> Value {
    json!({
        "ts": ts,
        "fuels": {"dual_fuel": 4613.0, "natural_gas": 3487.0, "nuclear": 3274.0,
                  "other_fossil_fuels": 1.0, "other_renewables": 232.0, "wind": 671.0,
                  "hydro": 1846.0},
        "total_mw": 14124.0,
        "topic": "ny-power/upstream/fuel-mix"
    })
}

fn function(broker: &MemoryBroker) -> Co2Function<&MemoryBroker, &MemoryBroker> {
    let topics = Topics::default();
    Co2Function::new(
        broker,
        broker,
        topics.clone(),
        Co2Calculator::new(topics, Factors::Direct),
    )
}

#[tokio::test]
async fn publishes_intensities_and_restores_the_window_from_retained_history() {
    let broker = MemoryBroker::new();
    let t0 = Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap();
    // What an earlier (now cold) container left retained.
    let earlier = Co2HistoryPayload {
        units: "g/kWh".into(),
        ts: vec![t0 - Duration::minutes(10), t0 - Duration::minutes(5)],
        values: vec![250.0, 249.0],
    };
    broker
        .publish(&Message::json(Topics::default().co2_history(), &earlier))
        .await
        .unwrap();
    let f = function(&broker);
    let out = handle(
        LambdaEvent::new(rule_event("2025-02-01T05:05:00Z"), Context::default()),
        &f,
    )
    .await
    .unwrap();
    assert_eq!(
        out.published,
        [
            "ny-power/computed/co2",
            "ny-power/computed/co2/lifecycle",
            "ny-power/archive/co2/24h"
        ]
    );
    assert_eq!(out.window, 3);
    let retained = broker.retained();
    let direct: Co2Payload = decode("t", &retained["ny-power/computed/co2"]).unwrap();
    assert!((direct.value - 248.75).abs() < 0.005, "{}", direct.value);
    let life: Co2Payload = decode("t", &retained["ny-power/computed/co2/lifecycle"]).unwrap();
    assert!((life.value - 326.08).abs() < 0.005, "{}", life.value);
    let h = decode_history("t", &retained["ny-power/archive/co2/24h"]).unwrap();
    assert_eq!(
        h.ts,
        vec![t0 - Duration::minutes(10), t0 - Duration::minutes(5), t0]
    );
    assert_eq!(&h.values[..2], &[250.0, 249.0]);

    // A retry of the same event republishes the same retained values.
    let before = broker.retained();
    handle(
        LambdaEvent::new(rule_event("2025-02-01T05:05:00Z"), Context::default()),
        &f,
    )
    .await
    .unwrap();
    assert_eq!(broker.retained(), before);
}

#[tokio::test]
async fn bad_events_are_permanent_errors_and_publish_nothing() {
    let broker = MemoryBroker::new();
    let f = function(&broker);
    let mut bad_total = rule_event("2025-02-01T05:05:00Z");
    bad_total["total_mw"] = json!(1.0);
    let mut wrong_topic = rule_event("2025-02-01T05:05:00Z");
    wrong_topic["topic"] = json!("ny-power/computed/co2");
    let mut extra = rule_event("2025-02-01T05:05:00Z");
    extra["coal"] = json!(3.0);
    for (event, says) in [
        (bad_total, "not the sum"),
        (wrong_topic, "is not ny-power/upstream/fuel-mix"),
        (extra, "unknown field `coal`"),
        (json!({"ts": "2025-02-01T05:05:00Z"}), "topic"),
    ] {
        let e = handle(LambdaEvent::new(event, Context::default()), &f)
            .await
            .unwrap_err();
        assert!(!e.retryable, "{e}");
        assert_eq!(e.error_type(), "Permanent.Input");
        assert!(e.message.contains(says), "{e} should say {says}");
    }
    assert!(broker.published().is_empty());
}

#[tokio::test]
async fn a_corrupt_retained_history_is_a_state_error_and_publishes_nothing() {
    let broker = MemoryBroker::new();
    broker
        .publish(&Message {
            topic: Topics::default().co2_history(),
            payload: b"<html>".to_vec(),
        })
        .await
        .unwrap();
    let f = function(&broker);
    let e = handle(
        LambdaEvent::new(rule_event("2025-02-01T05:05:00Z"), Context::default()),
        &f,
    )
    .await
    .unwrap_err();
    assert_eq!(e.error_type(), "Permanent.State");
    assert!(e.message.contains("ny-power/archive/co2/24h"), "{e}");
    assert_eq!(broker.published().len(), 1);
}
