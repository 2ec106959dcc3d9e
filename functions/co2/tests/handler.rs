//! The CO2 handler with the core's in-memory broker (which also answers retained reads).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, TimeZone, Utc};
use lambda_runtime::{Context, LambdaEvent};
use ny_power::fakes::MemoryBroker;
use ny_power::forecast::{charge_window_payload, Forecaster};
use ny_power::nyiso::parse_bytes;
use ny_power::ports::Publisher;
use ny_power::stream::{
    decode, decode_forecast, decode_history, ChargeWindowPayload, Co2BandPayload,
    Co2ForecastPayload, Co2HistoryPayload, Co2Payload, ForecasterStatePayload, FuelMixPayload,
    Message, TopicKind, Topics,
};
use ny_power::usecases::co2::Co2Calculator;
use ny_power::{Factors, Reading};
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
        .publish(&Message::json(Topics::default().co2_history(), &earlier).unwrap())
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
            "ny-power/archive/co2/points",
            "ny-power/archive/co2/points",
            "ny-power/archive/co2/24h",
            "ny-power/computed/co2/forecast",
            "ny-power/computed/charge-window",
            "ny-power/state/co2/forecaster"
        ],
        "no band before 24 hourly means; the first state, none being retained"
    );
    assert_eq!(out.window, 3);
    assert_eq!(
        out.forecaster_hours, 2,
        "the history's two hours (04:55, 05:00, 05:05 UTC)"
    );
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
    // Issue 10: values no grid produces, and a reading from the future.
    let mut negative = rule_event("2025-02-01T05:05:00Z");
    negative["fuels"]["dual_fuel"] = json!(-6814.0);
    negative["total_mw"] = json!(14124.0 - 4613.0 - 6814.0);
    let mut future = rule_event("2100-01-01T00:00:00Z");
    future["ts"] = json!("2100-01-01T00:00:00Z");
    for (event, says) in [
        (
            negative,
            "fuel `dual_fuel`: -6814 MW is not a generation value",
        ),
        (future, "2100-01-01T00:00:00Z is in the future"),
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

/// Issue 10, defect 7: a bad retained history must not stop the calculator for good: it is
/// warned about and the window starts clean.
#[tokio::test]
async fn a_corrupt_retained_history_is_ignored_and_the_window_starts_clean() {
    let broker = MemoryBroker::new();
    broker
        .publish(&Message {
            topic: Topics::default().co2_history(),
            payload: b"<html>".to_vec(),
            retain: true,
        })
        .await
        .unwrap();
    let f = function(&broker);
    let out = handle(
        LambdaEvent::new(rule_event("2025-02-01T05:05:00Z"), Context::default()),
        &f,
    )
    .await
    .unwrap();
    assert_eq!(out.window, 1);
    let h = decode_history("t", &broker.retained()["ny-power/archive/co2/24h"]).unwrap();
    assert_eq!(h.ts.len(), 1);
}

/// A history dated 2100 (any local process could publish one) shrank the window to that point
/// and froze the calculator: entries from the future are left out on restore.
#[tokio::test]
async fn a_retained_history_from_the_future_is_left_out() {
    let broker = MemoryBroker::new();
    let year_2100 = Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap();
    let poisoned = Co2HistoryPayload {
        units: "g/kWh".into(),
        ts: vec![year_2100],
        values: vec![100.0],
    };
    broker
        .publish(&Message::json(Topics::default().co2_history(), &poisoned).unwrap())
        .await
        .unwrap();
    let f = function(&broker);
    let out = handle(
        LambdaEvent::new(rule_event("2025-02-01T05:05:00Z"), Context::default()),
        &f,
    )
    .await
    .unwrap();
    assert!(out.published.contains(&"ny-power/computed/co2".to_owned()));
    let h = decode_history("t", &broker.retained()["ny-power/archive/co2/24h"]).unwrap();
    assert_eq!(
        h.ts,
        vec![Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap()]
    );
}

// ---------------------------------------------------------------- forecast (issue 7)

/// Readings of the real February 2025 file from 2025-02-01 00:05 EST for `hours` hours.
fn february(hours: i64) -> Vec<Reading> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/nyiso/20250201rtfuelmix_csv.zip"
    );
    let parsed = parse_bytes("20250201rtfuelmix_csv.zip", &std::fs::read(path).unwrap()).unwrap();
    let first = parsed.readings[0].ts;
    assert_eq!(first, Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap());
    parsed
        .readings
        .into_iter()
        .take_while(|r| r.ts < first + Duration::hours(hours))
        .collect()
}

/// A reading as the topic rule delivers it.
fn event_of(reading: &Reading) -> LambdaEvent<Value> {
    let mut event = serde_json::to_value(FuelMixPayload::of(reading)).unwrap();
    event["topic"] = json!(Topics::default().fuel_mix());
    LambdaEvent::new(event, Context::default())
}

fn retained_of<T: for<'de> serde::Deserialize<'de>>(broker: &MemoryBroker, topic: &str) -> T {
    decode(topic, &broker.retained()[topic]).unwrap()
}

/// What the recipe of `docs/forecast.md` gives with a forecaster that never restarted.
struct Reference {
    forecast: Co2ForecastPayload,
    windows: ChargeWindowPayload,
    band: Option<Co2BandPayload>,
    state: ForecasterStatePayload,
}

fn reference(readings: &[Reading]) -> Reference {
    let mut fc = Forecaster::new(Factors::Direct);
    for r in readings {
        assert!(fc.update(r));
    }
    let now = readings.last().unwrap().ts;
    let f = fc.forecast(now, None).unwrap();
    Reference {
        forecast: f.payload(),
        windows: charge_window_payload(&f),
        band: fc.band_payload(),
        state: fc.state().unwrap(),
    }
}

#[tokio::test]
async fn a_real_day_one_by_one_publishes_forecast_windows_band_and_hourly_state() {
    let readings = february(26);
    assert!(readings.len() > 300, "{}", readings.len());
    let topics = Topics::default();
    let broker = MemoryBroker::new();
    let f = function(&broker);
    let mut states = Vec::new();
    let mut first_band = None;
    for r in &readings {
        let out = handle(event_of(r), &f).await.unwrap();
        assert_eq!(
            &out.published[..7],
            [
                topics.co2(Factors::Direct),
                topics.co2(Factors::Lifecycle),
                topics.co2_archive(),
                topics.co2_archive(),
                topics.co2_history(),
                topics.co2_forecast(),
                topics.charge_window()
            ]
        );
        let rest: Vec<_> = out.published[7..]
            .iter()
            .map(|t| topics.classify(t).unwrap())
            .collect();
        match rest.as_slice() {
            [] => {}
            [TopicKind::Co2Band] => {}
            [TopicKind::ForecasterState] | [TopicKind::Co2Band, TopicKind::ForecasterState] => {
                states.push(r.ts)
            }
            other => panic!("{}: unexpected {other:?}", r.ts),
        }
        if first_band.is_none() && rest.contains(&TopicKind::Co2Band) {
            first_band = Some(r.ts);
        }
    }
    // The state with the first reading of each hour, and only then.
    let mut hours: Vec<i64> = readings.iter().map(|r| r.ts.timestamp() / 3600).collect();
    hours.dedup();
    assert_eq!(states.len(), hours.len());
    assert!(states.iter().all(|ts| readings
        .iter()
        .find(|r| r.ts.timestamp() / 3600 == ts.timestamp() / 3600)
        .is_some_and(|r| r.ts == *ts)));
    // The band from the 24th hour with readings on (2025-02-01 05:05 UTC is hour 1).
    assert_eq!(
        first_band,
        Some(Utc.with_ymd_and_hms(2025, 2, 2, 4, 0, 0).unwrap())
    );

    // The retained payloads are the contract's and equal a forecaster that saw the same day.
    let last = readings.last().unwrap().ts;
    let want = reference(&readings);
    let fc_topic = topics.co2_forecast();
    let forecast = decode_forecast(&fc_topic, &f_retained(&broker, &fc_topic)).unwrap();
    assert_eq!(forecast, want.forecast);
    assert_eq!(forecast.issued, last);
    assert_eq!(forecast.ts.len(), 24);
    assert_eq!(forecast.ts[23], last + Duration::hours(23));
    assert!(forecast.values.iter().all(|v| (50.0..600.0).contains(v)));
    let windows: ChargeWindowPayload = retained_of(&broker, &topics.charge_window());
    assert_eq!(windows, want.windows);
    assert_eq!(
        windows.windows.iter().map(|w| w.hours).collect::<Vec<_>>(),
        [1, 2, 4, 8]
    );
    for w in &windows.windows {
        let h = w.hours as usize;
        let j = forecast.ts.iter().position(|t| *t == w.start).unwrap();
        assert!(j + h <= 24 && w.end == w.start + Duration::hours(h as i64));
        let means: Vec<f64> = forecast
            .values
            .windows(h)
            .map(|v| v.iter().sum::<f64>() / h as f64)
            .collect();
        let best = means.iter().copied().fold(f64::INFINITY, f64::min);
        assert!((w.mean - best).abs() <= 0.1, "{w:?} vs {best}");
    }
    let band: Co2BandPayload = retained_of(&broker, &topics.co2_band());
    assert_eq!(Some(&band), want.band.as_ref());
    assert_eq!(band.ts, last);
    // One real day of hourly means: "the last day", still learning.
    assert_eq!(band.window_days, 1);
    assert_eq!(band.learning, Some(true));
    let co2: Co2Payload = retained_of(&broker, &topics.co2(Factors::Direct));
    assert!((band.value - co2.value).abs() <= 0.05, "{band:?} {co2:?}");
    let expected_level = if band.value < band.low_below {
        "low"
    } else if band.value > band.high_above {
        "high"
    } else {
        "moderate"
    };
    assert_eq!(band.band, expected_level);
    // The retained state is the one of the last hour's first reading.
    let state: ForecasterStatePayload = retained_of(&broker, &topics.forecaster_state());
    assert_eq!(state.latest.ts, *states.last().unwrap());
    assert_eq!(state.hour0, want.state.hour0);
    assert_eq!(state.factors, "direct");
    println!(
        "payload bytes after 26 h: forecast {}, charge-window {}, band {}, state {}",
        broker.retained()[&topics.co2_forecast()].len(),
        broker.retained()[&topics.charge_window()].len(),
        broker.retained()[&topics.co2_band()].len(),
        broker.retained()[&topics.forecaster_state()].len()
    );
}

fn f_retained(broker: &MemoryBroker, topic: &str) -> Vec<u8> {
    broker.retained()[topic].clone()
}

#[tokio::test]
async fn the_forecaster_survives_cold_starts_through_the_retained_state_and_history() {
    let readings = february(26);
    let topics = Topics::default();
    let broker = MemoryBroker::new();
    // A fresh container (nothing in memory) every 37 invocations: restarts land at every
    // position within an hour, and more than once an hour's readings come from the history.
    let mut cold_starts = 0;
    let mut f = function(&broker);
    for (i, r) in readings.iter().enumerate() {
        if i > 0 && i % 37 == 0 {
            f = function(&broker);
            cold_starts += 1;
            let out = handle(event_of(r), &f).await.unwrap();
            // The calculator's window came back from the history, the forecaster's hours
            // from the state (not only the history's 24 h, once the first hour is older).
            assert_eq!(
                out.window,
                readings[..=i]
                    .iter()
                    .filter(|x| x.ts > r.ts - Duration::hours(24))
                    .count()
            );
            let span = (r.ts.timestamp() / 3600 - readings[0].ts.timestamp() / 3600 + 1) as usize;
            assert_eq!(out.forecaster_hours, span, "at {}", r.ts);
        } else {
            handle(event_of(r), &f).await.unwrap();
        }
    }
    assert_eq!(cold_starts, readings.len() / 37);
    // Against a forecaster that never restarted: equal up to the state's rounding (hourly
    // means kept to 0.1 g/kWh, forecast values rounded to 0.1).
    let want = reference(&readings);
    let forecast = decode_forecast(
        &topics.co2_forecast(),
        &f_retained(&broker, &topics.co2_forecast()),
    )
    .unwrap();
    assert_eq!(forecast.ts, want.forecast.ts);
    for (a, b) in forecast.values.iter().zip(&want.forecast.values) {
        assert!((a - b).abs() <= 0.2 + 1e-9, "{a} vs {b}");
    }
    let band: Co2BandPayload = retained_of(&broker, &topics.co2_band());
    let want_band = want.band.unwrap();
    assert_eq!(band.band, want_band.band);
    assert_eq!(band.value, want_band.value);
    assert!((band.low_below - want_band.low_below).abs() <= 0.2);
    assert!((band.high_above - want_band.high_above).abs() <= 0.2);
    let state: ForecasterStatePayload = retained_of(&broker, &topics.forecaster_state());
    assert_eq!(
        state.hour0, want.state.hour0,
        "no hour lost across restarts"
    );
    let windows: ChargeWindowPayload = retained_of(&broker, &topics.charge_window());
    for (a, b) in windows.windows.iter().zip(&want.windows.windows) {
        assert_eq!(a.hours, b.hours);
        assert!((a.mean - b.mean).abs() <= 0.2, "{a:?} vs {b:?}");
    }
}

#[tokio::test]
async fn retried_invocations_publish_nothing_different() {
    let readings = february(25);
    let topics = Topics::default();
    let broker = MemoryBroker::new();
    let f = function(&broker);
    for r in &readings {
        handle(event_of(r), &f).await.unwrap();
    }
    let last = readings.last().unwrap();
    let before = broker.retained();
    let logged = broker.published().len();

    // A retry in the same (warm) container: the same payloads, no state (already retained).
    let again = handle(event_of(last), &f).await.unwrap();
    assert_eq!(broker.retained(), before);
    assert!(!again.published.contains(&topics.forecaster_state()));
    for m in broker.published()[logged..].iter().filter(|m| m.retain) {
        assert_eq!(m.payload, before[&m.topic], "{}", m.topic);
    }
    // An older reading delivered late: the intensities and forecast stay the newest ones.
    let late = handle(event_of(&readings[readings.len() - 3]), &f)
        .await
        .unwrap();
    // Archived (issue 10) and in the history, never on the live topics.
    assert_eq!(
        late.published,
        [
            topics.co2_archive(),
            topics.co2_archive(),
            topics.co2_history()
        ]
    );
    assert_eq!(broker.retained(), before);

    // A retry that lands on a cold container: restored from the retained state and history,
    // the same reading again — the same intensities, history, state and band; forecast and
    // band thresholds equal up to the state's rounding (hourly means kept to 0.1 g/kWh).
    let cold = function(&broker);
    let out = handle(event_of(last), &cold).await.unwrap();
    assert!(!out.published.contains(&topics.forecaster_state()));
    let after = broker.retained();
    for topic in [
        topics.co2(Factors::Direct),
        topics.co2(Factors::Lifecycle),
        topics.co2_history(),
        topics.forecaster_state(),
    ] {
        assert_eq!(after[&topic], before[&topic], "{topic}");
    }
    let a = decode_forecast("t", &after[&topics.co2_forecast()]).unwrap();
    let b = decode_forecast("t", &before[&topics.co2_forecast()]).unwrap();
    assert_eq!((a.issued, &a.ts), (b.issued, &b.ts));
    for (x, y) in a.values.iter().zip(&b.values) {
        assert!((x - y).abs() <= 0.2 + 1e-9, "{x} vs {y}");
    }
    let a: Co2BandPayload = decode("t", &after[&topics.co2_band()]).unwrap();
    let b: Co2BandPayload = decode("t", &before[&topics.co2_band()]).unwrap();
    assert_eq!((a.ts, a.value, &a.band), (b.ts, b.value, &b.band));
    assert!((a.low_below - b.low_below).abs() <= 0.2 && (a.high_above - b.high_above).abs() <= 0.2);
}

#[tokio::test]
async fn a_retry_completes_a_reading_whose_forecast_publish_failed() {
    let readings = february(2);
    let topics = Topics::default();
    let broker = MemoryBroker::new();
    let f = function(&broker);
    let (last, earlier) = readings.split_last().unwrap();
    for r in earlier {
        handle(event_of(r), &f).await.unwrap();
    }
    // The broker fails after the intensities, archive points and history of the last reading.
    broker.fail_after(Some(5));
    let e = handle(event_of(last), &f).await.unwrap_err();
    assert_eq!(e.error_type(), "Retryable.Publish");
    assert!(e.message.contains(&topics.co2_forecast()), "{e}");
    let stale: Co2ForecastPayload = retained_of(&broker, &topics.co2_forecast());
    assert_eq!(stale.issued, earlier.last().unwrap().ts);
    // Lambda retries the event: the forecaster already holds the reading, and publishes its
    // forecast now.
    broker.fail_after(None);
    let out = handle(event_of(last), &f).await.unwrap();
    assert!(out.published.contains(&topics.co2_forecast()));
    let forecast: Co2ForecastPayload = retained_of(&broker, &topics.co2_forecast());
    assert_eq!(forecast, reference(&readings).forecast);
}

#[tokio::test]
async fn a_bad_or_foreign_retained_state_is_ignored_and_replaced() {
    let readings = february(1);
    let topics = Topics::default();
    for bad in [
        b"<html>".to_vec(),
        // A state of the lifecycle table (FACTORS changed since it was published).
        serde_json::to_vec(&{
            let mut fc = Forecaster::new(Factors::Lifecycle);
            fc.update(&readings[0]);
            fc.state().unwrap()
        })
        .unwrap(),
    ] {
        let broker = MemoryBroker::new();
        broker
            .publish(&Message {
                topic: topics.forecaster_state(),
                payload: bad,
                retain: true,
            })
            .await
            .unwrap();
        let f = function(&broker);
        let out = handle(event_of(&readings[1]), &f).await.unwrap();
        assert_eq!(out.published.last(), Some(&topics.forecaster_state()));
        let state: ForecasterStatePayload = retained_of(&broker, &topics.forecaster_state());
        assert_eq!(state.factors, "direct");
        assert_eq!(state.latest.ts, readings[1].ts);
    }
}

#[test]
fn a_month_of_state_fits_in_two_metered_messages() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/nyiso/20250201rtfuelmix_csv.zip"
    );
    let parsed = parse_bytes("20250201rtfuelmix_csv.zip", &std::fs::read(path).unwrap()).unwrap();
    let mut fc = Forecaster::new(Factors::Direct);
    for r in &parsed.readings {
        fc.update(r);
    }
    let state = serde_json::to_vec(&fc.state().unwrap()).unwrap();
    let f = fc.forecast(fc.newest().unwrap(), None).unwrap();
    let forecast = serde_json::to_vec(&f.payload()).unwrap();
    let windows = serde_json::to_vec(&charge_window_payload(&f)).unwrap();
    let band = serde_json::to_vec(&fc.band_payload().unwrap()).unwrap();
    println!(
        "after February 2025 ({} hours held): state {} B, forecast {} B, charge-window {} B, band {} B",
        fc.hours_held(),
        state.len(),
        forecast.len(),
        windows.len(),
        band.len()
    );
    // IoT Core meters in 5 KB units: state ≤ 2, each of the others 1.
    assert!(state.len() <= 2 * 5120, "{}", state.len());
    for p in [&forecast, &windows, &band] {
        assert!(p.len() <= 5120, "{}", p.len());
    }
}

/// `CHARGE_READY_BY` (read by `config::ready_by`, the CLI's parser) reaches the charge-window
/// payload: its `ready_by_default`, and its ready-by times include the setting's.
#[tokio::test]
async fn the_ready_by_setting_reaches_the_charge_windows() {
    let broker = MemoryBroker::new();
    let env = [("CHARGE_READY_BY", "06:30")];
    let ready_by = ny_power_aws::config::ready_by(&env).unwrap();
    let f = function(&broker).with_ready_by(ready_by);
    handle(
        LambdaEvent::new(rule_event("2025-02-01T05:05:00Z"), Context::default()),
        &f,
    )
    .await
    .unwrap();
    let topic = Topics::default().charge_window();
    let windows: ChargeWindowPayload = retained_of(&broker, &topic);
    assert_eq!(windows.ready_by_default.as_deref(), Some("06:30"));
    let raw: Value = serde_json::from_slice(&broker.retained()[&topic]).unwrap();
    let times: Vec<&str> = raw["ready_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["time"].as_str().unwrap())
        .collect();
    assert!(times.contains(&"06:30"), "{times:?}");
    // Without the setting: the default, 07:00.
    let broker = MemoryBroker::new();
    let f = function(&broker).with_ready_by(ny_power_aws::config::ready_by(&[]).unwrap());
    handle(
        LambdaEvent::new(rule_event("2025-02-01T05:05:00Z"), Context::default()),
        &f,
    )
    .await
    .unwrap();
    let windows: ChargeWindowPayload = retained_of(&broker, &topic);
    assert_eq!(windows.ready_by_default.as_deref(), Some("07:00"));
}
