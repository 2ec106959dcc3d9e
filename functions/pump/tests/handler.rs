//! The pump handler with the core's in-memory ports, invoked like the runtime does
//! (`LambdaEvent::new`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use lambda_runtime::{Context, LambdaEvent};
use ny_power::fakes::{MemoryBroker, MemoryCursor, MemorySource};
use ny_power::stream::Topics;
use ny_power::usecases::pump::Pump;
use ny_power::{FuelMix, Reading};
use ny_power_pump_fn::{handle, ScheduledEvent};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap()
}

fn readings(n: i64) -> Vec<Reading> {
    (0..n)
        .map(|i| Reading {
            ts: t0() + Duration::minutes(5 * i),
            mix: FuelMix([4613.0, 3487.0, 3357.0, 2.0, 220.0, 853.0, 1592.0 + i as f64]),
        })
        .collect()
}

fn event(at: DateTime<Utc>) -> LambdaEvent<ScheduledEvent> {
    LambdaEvent::new(
        ScheduledEvent {
            scheduled_time: Some(at),
        },
        Context::default(),
    )
}

#[tokio::test]
async fn invoking_twice_for_the_same_data_publishes_once() {
    let (source, broker, cursor) = (
        MemorySource::new(readings(3)),
        MemoryBroker::new(),
        MemoryCursor::default(),
    );
    let pump = Pump::new(&source, &broker, &cursor, Topics::default());
    let at = t0() + Duration::hours(1);
    let first = handle(event(at), &pump).await.unwrap();
    assert_eq!(first.published, 3);
    assert_eq!(first.cursor, Some(t0() + Duration::minutes(10)));
    // A Lambda retry / duplicate scheduler delivery of the same event.
    let second = handle(event(at), &pump).await.unwrap();
    assert_eq!(second.published, 0);
    let log = broker.published();
    assert_eq!(
        log.len(),
        3 * 8,
        "7 fuels + the combined mix per reading, once"
    );
    assert_eq!(log[7].topic, "ny-power/upstream/fuel-mix");
    assert_eq!(cursor.get(), Some(t0() + Duration::minutes(10)));
}

#[tokio::test]
async fn the_scheduled_time_bounds_what_is_published_and_a_failed_publish_is_retryable() {
    let (source, broker, cursor) = (
        MemorySource::new(readings(3)),
        MemoryBroker::new(),
        MemoryCursor::default(),
    );
    let pump = Pump::new(&source, &broker, &cursor, Topics::default());
    // Only the first reading exists at 05:05.
    let out = handle(event(t0()), &pump).await.unwrap();
    assert_eq!(out.published, 1);

    broker.fail_after(Some(3));
    let err = handle(event(t0() + Duration::hours(1)), &pump)
        .await
        .unwrap_err();
    assert!(err.retryable, "{err}");
    assert_eq!(err.error_type(), "Retryable.Publish");
    assert_eq!(
        cursor.get(),
        Some(t0()),
        "cursor stays on the last whole reading"
    );

    broker.fail_after(None);
    let out = handle(event(t0() + Duration::hours(1)), &pump)
        .await
        .unwrap();
    assert_eq!(out.published, 2);
    let mixes: Vec<_> = broker
        .published()
        .into_iter()
        .filter(|m| m.topic == "ny-power/upstream/fuel-mix")
        .collect();
    assert_eq!(
        mixes.len(),
        3,
        "every reading's combined message exactly once"
    );
}

#[test]
fn scheduler_payload_shapes() {
    let e: ScheduledEvent =
        serde_json::from_str(r#"{"scheduled_time":"2025-02-01T05:06:00Z","other":1}"#).unwrap();
    assert_eq!(e.scheduled_time, Some(t0() + Duration::minutes(1)));
    let e: ScheduledEvent = serde_json::from_str("{}").unwrap();
    assert_eq!(e.scheduled_time, None);
}
