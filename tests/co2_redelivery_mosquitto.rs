//! Issue 11, the drift: a calculator that stopped between publishing a reading's history and
//! its forecast must publish that reading's forecast when the reading is delivered again.
//! Against a real Mosquitto (started here on a free loopback port): the retained state is what
//! such a calculator left — the reading on `upstream/fuel-mix` and its intensities and 24 h
//! history, but an older forecast — and a calculator started on it publishes the forecast
//! issued at that reading.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use ny_power::adapters::mqtt::{read_retained, ClientOptions, MqttClient};
use ny_power::fakes::MemorySource;
use ny_power::ports::Publisher;
use ny_power::reading::{FuelMix, Reading};
use ny_power::services::{
    run_all, shutdown_channel, Co2Settings, Common, FixedClock, Parts, RunConfig,
};
use ny_power::stream::{decode_forecast, reading_messages, FuelMixPayload, Topics};
use ny_power::usecases::co2::{Co2Step, StatePolicy};
use ny_power::Factors;

use support::mosquitto::{self, Mosquitto};

fn reading(ts: DateTime<Utc>, gas: f64) -> Reading {
    Reading {
        ts,
        mix: FuelMix([0.0, gas, 10_000.0 - gas, 0.0, 0.0, 0.0, 0.0]),
    }
}

async fn forecast_issued(broker: &Mosquitto) -> Option<DateTime<Utc>> {
    let topic = Topics::default().co2_forecast();
    read_retained(&broker.anonymous_config(), "probe-forecast", &topic)
        .await
        .unwrap()
        .map(|b| decode_forecast(&topic, &b).unwrap().issued)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_reading_whose_forecast_was_not_published_gets_it() {
    if !mosquitto::available() {
        eprintln!("skipped: needs `apt-get install mosquitto mosquitto-clients`");
        return;
    }
    let broker = Mosquitto::start();
    let topics = Topics::default();
    let t0 = Utc.with_ymd_and_hms(2025, 2, 1, 5, 0, 0).unwrap();
    let older = reading(t0, 4_000.0);
    let newest = reading(t0 + chrono::Duration::minutes(5), 5_000.0);

    // What the earlier calculator left: everything for `older`; for `newest` the intensities
    // and the history, then it stopped (its forecast, windows and band never went out).
    let mut earlier = Co2Step::new(topics.clone(), Factors::Direct, StatePolicy::Hourly);
    let mut left = earlier.on_fuel_mix(&FuelMixPayload::of(&older), None);
    let history_topic = topics.co2_history();
    left.extend(
        earlier
            .on_fuel_mix(&FuelMixPayload::of(&newest), None)
            .into_iter()
            .take_while(|m| m.topic != topics.co2_forecast())
            .filter(|m| m.retain),
    );
    assert!(left.iter().any(|m| m.topic == history_topic));
    let seed = MqttClient::connect(ClientOptions::new(broker.services_config(), "seed"))
        .await
        .unwrap();
    for m in reading_messages(&topics, &older)
        .iter()
        .chain(&reading_messages(&topics, &newest))
        .chain(left.iter().filter(|m| m.retain))
    {
        seed.publish(m).await.unwrap();
    }
    seed.close().await;
    assert_eq!(forecast_issued(&broker).await, Some(older.ts));

    // A calculator started on that: the broker delivers the retained newest reading again.
    let (trigger, shutdown) = shutdown_channel();
    let config = RunConfig {
        common: Common {
            mqtt: broker.services_config(),
            topics: topics.clone(),
        },
        pump: None,
        co2: Some(Co2Settings::default()),
        archive: None,
    };
    let parts = Parts {
        source: Arc::new(MemorySource::new(Vec::new())),
        clock: Arc::new(FixedClock(newest.ts + chrono::Duration::minutes(1))),
        sinks: Vec::new(),
    };
    let task = tokio::spawn(run_all(config, parts, shutdown, None));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let issued = forecast_issued(&broker).await;
        if issued == Some(newest.ts) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the redelivered newest reading's forecast was never published (retained forecast issued at {issued:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    trigger.trigger();
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("services stop within 20 s")
        .expect("services task")
        .expect("services ended without error");
}
