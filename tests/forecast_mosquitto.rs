//! The forecast in the self-hosted services against real services: a real Mosquitto (password
//! file + ACL, persistence) and a local NYISO HTTP server serving real files, both started here
//! on free loopback ports. The pump and the calculator run in-process through the entry point
//! `ny-power run` uses ([`ny_power::services::run_all`]), each as its own instance so the
//! calculator can be restarted alone.
//!
//! - February 2025 (three real days from the monthly zip): the retained forecast, charging
//!   windows, band and forecaster state; a calculator restart restores the forecaster; Home
//!   Assistant discovery configs point at retained state topics; anonymous clients cannot write
//!   the discovery tree.
//! - 22 November 2017 with NYISO's real load forecast of that day (`20171122isolf.csv`): a
//!   missing or broken file is logged and skipped, the real one is read with conditional GETs,
//!   and the published forecast is the one the load forecast shapes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use ny_power::adapters::mqtt::{read_retained, ClientOptions, MqttClient};
use ny_power::adapters::mqtt_config::MqttConfig;
use ny_power::adapters::nyiso::{HttpOptions, HttpSource, LoadForecastSettings};
use ny_power::forecast::Forecaster;
use ny_power::homeassistant::OBJECT_IDS;
use ny_power::nyiso::isolf::parse_isolf;
use ny_power::nyiso::parse_bytes;
use ny_power::reading::Reading;
use ny_power::services::{
    run_all, shutdown_channel, Co2Settings, Common, FixedClock, Parts, PumpSettings, RunConfig,
    ServiceError, ShutdownTrigger,
};
use ny_power::stream::{
    decode, decode_forecast, ChargeWindowPayload, Co2BandPayload, Co2ForecastPayload, Co2Payload,
    ForecasterStatePayload, Message, ServiceState, ServiceStatusPayload, TopicKind, Topics,
};
use ny_power::Factors;

use support::mosquitto::{self, Mosquitto};
use support::nyiso_server::NyisoServer;
use support::{zip_member, FEB_2025_ZIP};

const ISOLF_FIXTURE: &str = "tests/fixtures/nyiso/20171122isolf.csv";
const RTFUELMIX_2017: &str = "tests/fixtures/nyiso/20171122rtfuelmix.csv";

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// Reads a retained message as an anonymous client.
async fn retained(broker: &Mosquitto, topic: &str) -> Option<Vec<u8>> {
    let id = format!(
        "probe-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    read_retained(&broker.anonymous_config(), &id, topic)
        .await
        .unwrap()
        .map(|b| b.to_vec())
}

async fn retained_as<T: for<'de> serde::Deserialize<'de>>(
    broker: &Mosquitto,
    topic: &str,
) -> Option<T> {
    retained(broker, topic)
        .await
        .map(|b| decode::<T>(topic, &b).unwrap())
}

/// Polls `check` every 100 ms until it holds; fails with `what` after `secs`.
async fn wait_for<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn service_state(broker: &Mosquitto, service: &str) -> Option<ServiceState> {
    retained_as::<ServiceStatusPayload>(broker, &Topics::default().service_status(service))
        .await
        .map(|s| s.state)
}

async fn wait_online(broker: &Mosquitto, service: &str) {
    wait_for(20, &format!("{service} online"), || async {
        service_state(broker, service).await == Some(ServiceState::Online)
    })
    .await;
}

/// Waits until the retained forecast was issued at `ts` (the calculator handled that reading).
async fn wait_forecast(broker: &Mosquitto, ts: DateTime<Utc>) -> Co2ForecastPayload {
    let topic = Topics::default().co2_forecast();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let found = retained(broker, &topic)
            .await
            .map(|b| decode_forecast(&topic, &b).unwrap());
        match found {
            Some(f) if f.issued == ts => return f,
            other => assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for a forecast issued at {ts}; retained: {:?}",
                other.map(|f| f.issued)
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Running {
    trigger: ShutdownTrigger,
    task: tokio::task::JoinHandle<Result<(), ServiceError>>,
}

impl Running {
    async fn stop(self) {
        self.trigger.trigger();
        let result = tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("services stop within 20 s")
            .expect("services task");
        result.expect("services ended without error");
    }
}

/// Short timeouts, no retries; without a cursor the pump reads `lookback_days` before today too.
fn http_options(lookback_days: u32) -> HttpOptions {
    HttpOptions {
        timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        retries: 0,
        backoff: Duration::from_millis(50),
        initial_lookback_days: lookback_days,
        ..HttpOptions::default()
    }
}

/// Runs the pump alone (polling `server` as of `now`, from yesterday on without a cursor) or
/// the calculator alone.
fn start(
    mqtt: MqttConfig,
    server: &NyisoServer,
    now: DateTime<Utc>,
    pump: bool,
    co2: Option<Co2Settings>,
) -> Running {
    let (trigger, shutdown) = shutdown_channel();
    let config = RunConfig {
        common: Common {
            mqtt,
            topics: Topics::default(),
        },
        pump: pump.then_some(PumpSettings {
            poll_interval: Duration::from_millis(200),
        }),
        co2,
        archive: None,
    };
    let parts = Parts {
        source: Arc::new(HttpSource::new(&server.url(), http_options(1)).unwrap()),
        clock: Arc::new(FixedClock(now)),
        sinks: Vec::new(),
    };
    let task = tokio::spawn(run_all(config, parts, shutdown, None));
    Running { trigger, task }
}

/// Readings of real files, in order.
fn readings(files: &[(&str, &[u8])]) -> Vec<Reading> {
    let mut all: Vec<Reading> = files
        .iter()
        .flat_map(|(name, bytes)| parse_bytes(name, bytes).unwrap().readings)
        .collect();
    all.sort_by_key(|r| r.ts);
    all.dedup_by_key(|r| r.ts);
    all
}

fn feb(day: u32) -> Vec<u8> {
    zip_member(FEB_2025_ZIP, &format!("202502{day:02}rtfuelmix.csv"))
}

/// Checks the forecast and the charge windows against each other and the contract.
fn check_forecast_and_windows(
    f: &Co2ForecastPayload,
    w: &ChargeWindowPayload,
    issued: DateTime<Utc>,
) {
    assert_eq!(f.issued, issued);
    assert_eq!(f.units, "g/kWh");
    assert_eq!(f.values.len(), 24, "24 hourly slots");
    for (k, ts) in f.ts.iter().enumerate() {
        assert_eq!(*ts, issued + chrono::Duration::hours(k as i64), "slot {k}");
    }
    // Plausible New York intensities (direct factors), every one rounded to 0.1.
    for v in &f.values {
        assert!((20.0..600.0).contains(v), "{v}");
        assert!(
            ((v * 10.0).round() - v * 10.0).abs() < 1e-6,
            "{v} not rounded to 0.1"
        );
    }
    let min = f.values.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(w.issued, issued);
    assert_eq!(w.units, "g/kWh");
    assert_eq!(
        w.windows.iter().map(|w| w.hours).collect::<Vec<_>>(),
        [1, 2, 4, 8]
    );
    let horizon = issued + chrono::Duration::hours(24);
    for win in &w.windows {
        let h = i64::from(win.hours);
        assert!(win.start >= issued && win.end <= horizon, "{win:?}");
        assert_eq!(win.end - win.start, chrono::Duration::hours(h), "{win:?}");
        let j =
            f.ts.iter()
                .position(|t| *t == win.start)
                .expect("starts on a slot");
        let mean = f.values[j..j + h as usize].iter().sum::<f64>() / h as f64;
        assert!((win.mean - mean).abs() <= 0.1, "{win:?} vs {mean}");
        assert!(
            win.mean >= min - 0.05,
            "{win:?} below the lowest slot {min}"
        );
        assert!(win.mean <= win.now_mean + 0.05, "{win:?}");
        // No other start of the same length is cleaner.
        for k in 0..=(24 - h as usize) {
            let other = f.values[k..k + h as usize].iter().sum::<f64>() / h as f64;
            assert!(win.mean <= other + 0.1, "{win:?}: start {k} has {other}");
        }
        let pct = if win.now_mean > 0.0 {
            (win.now_mean - win.mean) / win.now_mean * 100.0
        } else {
            0.0
        };
        assert!((win.cleaner_than_now_pct - pct).abs() <= 0.2, "{win:?}");
    }
}

/// Every retained message under `filter`, as received by a fresh anonymous subscriber.
async fn subscribe_retained(
    broker: &Mosquitto,
    filter: &str,
    expect: usize,
) -> Vec<(String, Value)> {
    let mut opts = ClientOptions::new(broker.anonymous_config(), "ha-subscriber");
    opts.subscriptions = vec![filter.to_owned()];
    let client = MqttClient::connect(opts).await.unwrap();
    let mut got = Vec::new();
    let collected = tokio::time::timeout(Duration::from_secs(10), async {
        while got.len() < expect {
            let m = client.recv().await.expect("subscriber open");
            assert!(m.retained, "{} arrived live, not retained", m.topic);
            got.push((m.topic.clone(), serde_json::from_slice(&m.payload).unwrap()));
        }
    })
    .await;
    client.close().await;
    assert!(
        collected.is_ok(),
        "only {} of {expect} retained: {got:?}",
        got.len()
    );
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forecast_band_windows_restart_and_discovery() {
    if !mosquitto::available() {
        eprintln!("skipped: needs `apt-get install mosquitto mosquitto-clients`");
        return;
    }
    let broker = Mosquitto::start_with_trees(&["homeassistant/#"], &[]);
    let server = NyisoServer::start().await;
    server.put("rtfuelmix/20250201rtfuelmix.csv", &feb(1));
    server.put("rtfuelmix/20250202rtfuelmix.csv", &feb(2));
    let topics = Topics::default();
    let co2_settings = Co2Settings {
        ha_discovery: true,
        ..Co2Settings::default()
    };
    // "Today" is 2 February (23:59 EST): the pump publishes 1 and 2 February.
    let day2 = utc(2025, 2, 3, 4, 59);
    let last_day2 = utc(2025, 2, 3, 4, 55);

    let co2 = start(
        broker.services_config(),
        &server,
        day2,
        false,
        Some(co2_settings.clone()),
    );
    wait_online(&broker, "co2").await;
    let pump = start(broker.services_config(), &server, day2, true, None);
    let f = wait_forecast(&broker, last_day2).await;

    // The forecast topics, retained, decoded with the contract's types.
    let w: ChargeWindowPayload = retained_as(&broker, &topics.charge_window()).await.unwrap();
    check_forecast_and_windows(&f, &w, last_day2);
    let co2_now: Co2Payload = retained_as(&broker, &topics.co2(Factors::Direct))
        .await
        .unwrap();
    assert_eq!(co2_now.ts, last_day2);
    let band: Co2BandPayload = retained_as(&broker, &topics.co2_band()).await.unwrap();
    assert_eq!(band.ts, last_day2);
    assert!(
        (band.value - co2_now.value).abs() <= 0.05,
        "{band:?} vs {co2_now:?}"
    );
    // Two real days of hourly means: the band says "the last 2 days" and is still learning.
    assert_eq!(band.window_days, 2);
    assert_eq!(band.learning, Some(true));
    assert_eq!(band.units, "g/kWh");
    assert!(band.low_below <= band.high_above, "{band:?}");
    let expected_band = if band.value < band.low_below {
        "low"
    } else if band.value > band.high_above {
        "high"
    } else {
        "moderate"
    };
    assert_eq!(band.band, expected_band, "{band:?}");
    let state: ForecasterStatePayload = retained_as(&broker, &topics.forecaster_state())
        .await
        .unwrap();
    assert_eq!(state.v, ny_power::stream::FORECASTER_STATE_VERSION);
    assert_eq!(state.n.len(), state.intensity.len());
    assert_eq!(state.factors, "direct");
    // First reading 2025-02-01 00:05 EST: hourly means from 05:00 UTC on.
    assert_eq!(state.hour0, utc(2025, 2, 1, 5, 0));
    // Published with the first reading of the last hour (04:00 UTC), not with every reading.
    assert_eq!(state.latest.ts, utc(2025, 2, 3, 4, 0));
    assert_eq!(state.intensity.len(), 48);

    // Home Assistant discovery: a fresh subscriber gets the retained configs.
    let configs = subscribe_retained(&broker, "homeassistant/#", OBJECT_IDS.len()).await;
    let mut ids: Vec<&str> = Vec::new();
    for (topic, c) in &configs {
        let id = topic
            .strip_prefix("homeassistant/sensor/ny_power/")
            .and_then(|t| t.strip_suffix("/config"))
            .unwrap_or_else(|| panic!("unexpected discovery topic {topic}"));
        ids.push(id);
        for key in [
            "name",
            "unique_id",
            "state_topic",
            "value_template",
            "icon",
            "availability",
            "device",
        ] {
            assert!(c.get(key).is_some(), "{topic}: no `{key}`");
        }
        assert_eq!(c["unique_id"], format!("ny_power_{id}"));
        assert_eq!(c["device"]["identifiers"], serde_json::json!(["ny_power"]));
        assert_eq!(c["device"]["manufacturer"], "ny-power");
        for key in ["name", "model"] {
            assert!(c["device"][key].is_string(), "{topic}: device.{key}");
        }
        let availability = &c["availability"][0];
        assert_eq!(availability["value_template"], "{{ value_json.state }}");
        assert_eq!(availability["payload_available"], "online");
        assert_eq!(availability["payload_not_available"], "offline");
        // The status topic it follows is retained and says online (pump and calculator run).
        let status = availability["topic"].as_str().unwrap();
        let s: ServiceStatusPayload = retained_as(&broker, status)
            .await
            .unwrap_or_else(|| panic!("{topic}: no retained {status}"));
        assert_eq!(s.state, ServiceState::Online, "{status}");
        // Its state (and attributes) topics hold retained contract payloads.
        for key in ["state_topic", "json_attributes_topic"] {
            let Some(state_topic) = c.get(key).and_then(Value::as_str) else {
                continue;
            };
            let kind = topics
                .classify(state_topic)
                .unwrap_or_else(|| panic!("{topic}: {key} {state_topic} is not in the contract"));
            let bytes = retained(&broker, state_topic)
                .await
                .unwrap_or_else(|| panic!("{topic}: {key} {state_topic} has no retained message"));
            match kind {
                TopicKind::Co2(_) => {
                    let _: Co2Payload = decode(state_topic, &bytes).unwrap();
                }
                TopicKind::Co2Band => {
                    let _: Co2BandPayload = decode(state_topic, &bytes).unwrap();
                }
                TopicKind::ChargeWindow => {
                    let _: ChargeWindowPayload = decode(state_topic, &bytes).unwrap();
                }
                TopicKind::FuelMix => {
                    ny_power::stream::decode_fuel_mix(state_topic, &bytes).unwrap();
                }
                other => panic!("{topic}: unexpected state topic kind {other:?}"),
            }
        }
        match id {
            "co2_intensity" => {
                assert_eq!(c["state_topic"], topics.co2(Factors::Direct));
                assert_eq!(c["unit_of_measurement"], "g/kWh");
                assert_eq!(c["state_class"], "measurement");
                assert_eq!(c["json_attributes_topic"], topics.co2_band());
                assert_eq!(availability["topic"], topics.service_status("co2"));
            }
            "fossil_share" => {
                assert_eq!(c["state_topic"], topics.fuel_mix());
                assert_eq!(c["unit_of_measurement"], "%");
                assert_eq!(c["state_class"], "measurement");
                assert_eq!(availability["topic"], topics.service_status("pump"));
            }
            "co2_band" => {
                assert_eq!(c["state_topic"], topics.co2_band());
                assert_eq!(c["device_class"], "enum");
                assert_eq!(c["options"], serde_json::json!(["low", "moderate", "high"]));
            }
            "charge_window_4h_start" => {
                assert_eq!(c["state_topic"], topics.charge_window());
                assert_eq!(c["device_class"], "timestamp");
                assert_eq!(c["json_attributes_topic"], topics.charge_window());
            }
            "ready_by_4h_start" => {
                assert_eq!(c["state_topic"], topics.charge_window());
                assert_eq!(c["device_class"], "timestamp");
            }
            "co2_index" => {
                assert_eq!(c["state_topic"], topics.co2_band());
                assert_eq!(c["device_class"], "enum");
                assert_eq!(
                    c["options"],
                    serde_json::json!(["very_low", "low", "moderate", "high", "very_high"])
                );
            }
            other => panic!("unexpected object id {other}"),
        }
    }
    ids.sort_unstable();
    let mut want = OBJECT_IDS.to_vec();
    want.sort_unstable();
    assert_eq!(ids, want);

    // Anonymous clients cannot write the discovery tree (the refusal is silent: check the
    // retained messages after the broker acknowledged the publishes).
    let config_topic = "homeassistant/sensor/ny_power/co2_intensity/config";
    let before = retained(&broker, config_topic).await.unwrap();
    let anon = MqttClient::connect(ClientOptions::new(broker.anonymous_config(), "intruder"))
        .await
        .unwrap();
    anon.publish_qos1(config_topic, br#"{"name":"hijacked"}"#, true)
        .await
        .unwrap();
    anon.publish_qos1("homeassistant/sensor/ny_power/extra/config", b"{}", true)
        .await
        .unwrap();
    anon.publish_qos1(&topics.co2_band(), b"{}", true)
        .await
        .unwrap();
    anon.close().await;
    assert_eq!(retained(&broker, config_topic).await.unwrap(), before);
    assert_eq!(
        retained(&broker, "homeassistant/sensor/ny_power/extra/config").await,
        None
    );
    assert_eq!(
        retained_as::<Co2BandPayload>(&broker, &topics.co2_band()).await,
        Some(band.clone())
    );

    // Restart the calculator alone: on a clean stop it saves the state with the newest reading.
    co2.stop().await;
    assert_eq!(
        service_state(&broker, "co2").await,
        Some(ServiceState::Offline)
    );
    let saved: ForecasterStatePayload = retained_as(&broker, &topics.forecaster_state())
        .await
        .unwrap();
    assert_eq!(saved.latest.ts, last_day2);
    assert_eq!(saved.hour0, state.hour0);
    // Its clock is the next day's (it handles that day below): a calculator refuses readings
    // dated after its clock (issue 10), and this clock does not run.
    let day3 = utc(2025, 2, 4, 4, 59);
    let co2 = start(
        broker.services_config(),
        &server,
        day3,
        false,
        Some(co2_settings.clone()),
    );
    wait_online(&broker, "co2").await;
    // Nothing new to handle: the retained state and band are left as they were.
    assert_eq!(
        retained_as::<ForecasterStatePayload>(&broker, &topics.forecaster_state()).await,
        Some(saved.clone())
    );
    assert_eq!(
        retained_as::<Co2BandPayload>(&broker, &topics.co2_band()).await,
        Some(band.clone())
    );

    // A new day arrives: the restarted calculator still holds 1 February (restored from the
    // state; the 24 h history alone would start on 2 February).
    pump.stop().await;
    server.put("rtfuelmix/20250203rtfuelmix.csv", &feb(3));
    let last_day3 = utc(2025, 2, 4, 4, 55);
    let pump = start(broker.services_config(), &server, day3, true, None);
    let f3 = wait_forecast(&broker, last_day3).await;
    let w3: ChargeWindowPayload = retained_as(&broker, &topics.charge_window()).await.unwrap();
    check_forecast_and_windows(&f3, &w3, last_day3);
    let state3: ForecasterStatePayload = retained_as(&broker, &topics.forecaster_state())
        .await
        .unwrap();
    assert_eq!(state3.hour0, utc(2025, 2, 1, 5, 0), "1 February kept");
    assert_eq!(state3.latest.ts, utc(2025, 2, 4, 4, 0));
    assert_eq!(state3.intensity.len(), 72);
    // Same band and forecast (to the state's 0.1 g/kWh rounding) as a forecaster that saw
    // every reading without a restart.
    let (d1, d2, d3) = (feb(1), feb(2), feb(3));
    let mut reference = Forecaster::new(Factors::Direct);
    for r in readings(&[("d1.csv", &d1), ("d2.csv", &d2), ("d3.csv", &d3)])
        .iter()
        .filter(|r| r.ts <= last_day3)
    {
        reference.update(r);
    }
    let band3: Co2BandPayload = retained_as(&broker, &topics.co2_band()).await.unwrap();
    let want_band = reference.band_payload().unwrap();
    assert_eq!(band3.ts, last_day3);
    assert_eq!(band3.band, want_band.band);
    assert!(
        (band3.low_below - want_band.low_below).abs() <= 0.15,
        "{band3:?} vs {want_band:?}"
    );
    assert!(
        (band3.high_above - want_band.high_above).abs() <= 0.15,
        "{band3:?} vs {want_band:?}"
    );
    let want_f = reference.forecast(last_day3, None).unwrap().payload();
    for (got, want) in f3.values.iter().zip(&want_f.values) {
        assert!(
            (got - want).abs() <= 0.5,
            "{:?} vs {:?}",
            f3.values,
            want_f.values
        );
    }

    pump.stop().await;
    co2.stop().await;
}

/// The 22 November 2017 readings and a forecaster state as if 20 and 21 November had been
/// the same day (so the calculator holds the 48 hours of generation the load regression
/// needs), all retained in the broker before the calculator starts.
async fn seed_state(broker: &Mosquitto, day: &[Reading]) -> ForecasterStatePayload {
    let mut seeded = Forecaster::new(Factors::Direct);
    for back in [2, 1] {
        for r in day {
            seeded.update(&Reading {
                ts: r.ts - chrono::Duration::days(back),
                mix: r.mix,
            });
        }
    }
    let state = seeded.state().unwrap();
    let message = Message::json(Topics::default().forecaster_state(), &state).unwrap();
    let client = MqttClient::connect(ClientOptions::new(broker.services_config(), "seeder"))
        .await
        .unwrap();
    client
        .publish_qos1(&message.topic, &message.payload, true)
        .await
        .unwrap();
    client.close().await;
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_forecast_from_nyiso_isolf() {
    if !mosquitto::available() {
        eprintln!("skipped: needs `apt-get install mosquitto mosquitto-clients`");
        return;
    }
    let broker = Mosquitto::start_with_trees(&["homeassistant/#"], &[]);
    let server = NyisoServer::start().await;
    let fuel_mix = std::fs::read(RTFUELMIX_2017).unwrap();
    let isolf = std::fs::read(ISOLF_FIXTURE).unwrap();
    server.put("rtfuelmix/20171122rtfuelmix.csv", &fuel_mix);
    // The pump looks at yesterday too (without a cursor): an empty day.
    server.put(
        "rtfuelmix/20171121rtfuelmix.csv",
        b"Time Stamp,Time Zone,Fuel Category,Gen MW\n",
    );
    let day = readings(&[("20171122rtfuelmix.csv", &fuel_mix)]);
    let state = seed_state(&broker, &day).await;
    // 2017-11-22 23:59 EST.
    let now = utc(2017, 11, 23, 4, 59);
    let last = utc(2017, 11, 23, 4, 55);
    assert_eq!(day.last().unwrap().ts, last);

    let settings = Co2Settings {
        load_forecast: Some(LoadForecastSettings {
            base_url: server.url(),
            http: http_options(0),
            // Production fetches hourly (LOAD_REFRESH); fast here to see several fetches.
            refresh: Duration::from_millis(200),
        }),
        ..Co2Settings::default()
    };
    let path = "/isolf/20171122isolf.csv";
    let isolf_requests = || {
        server
            .requests()
            .into_iter()
            .filter(|r| r.target == path)
            .collect::<Vec<_>>()
    };
    let co2 = start(
        broker.services_config(),
        &server,
        now,
        false,
        Some(settings),
    );
    wait_online(&broker, "co2").await;
    // No file yet (404), then an HTML page instead of the CSV: logged, nothing held.
    wait_for(20, "a 404 for the load forecast", || async {
        isolf_requests().iter().any(|r| r.status == 404)
    })
    .await;
    server.put(
        "isolf/20171122isolf.csv",
        b"<html><body>Service unavailable</body></html>",
    );
    wait_for(20, "the HTML page fetched twice", || async {
        isolf_requests().iter().filter(|r| r.status == 200).count() >= 2
    })
    .await;
    // The real file: read in full once (nothing was held to revalidate), then revalidated.
    server.put("isolf/20171122isolf.csv", &isolf);
    let before_real = isolf_requests().len();
    wait_for(20, "a 304 for the load forecast", || async {
        isolf_requests().iter().any(|r| r.status == 304)
    })
    .await;
    let requests = isolf_requests();
    for r in &requests[..before_real] {
        assert!(
            !r.headers.contains_key("if-none-match")
                && !r.headers.contains_key("if-modified-since"),
            "a file that was not read is not revalidated: {r:?}"
        );
    }
    let first_304 = requests.iter().position(|r| r.status == 304).unwrap();
    assert!(requests[first_304].headers.contains_key("if-none-match"));
    assert!(requests[first_304]
        .headers
        .contains_key("if-modified-since"));
    assert!(
        requests[before_real..first_304]
            .iter()
            .any(|r| r.status == 200),
        "the real file was read before it was revalidated"
    );

    // Now the day's readings: the forecast issued with the last one is shaped by the load
    // forecast.
    let pump = start(broker.services_config(), &server, now, true, None);
    let f = wait_forecast(&broker, last).await;
    let w: ChargeWindowPayload = retained_as(&broker, &Topics::default().charge_window())
        .await
        .unwrap();
    check_forecast_and_windows(&f, &w, last);
    let mut reference = Forecaster::new(Factors::Direct);
    assert!(reference.restore(&state));
    for r in &day {
        reference.update(r);
    }
    let load = parse_isolf("20171122isolf.csv", &isolf).unwrap();
    let with_load = reference.forecast(last, Some(&load)).unwrap().payload();
    let without = reference.forecast(last, None).unwrap().payload();
    assert_eq!(
        f.values, with_load.values,
        "the published forecast uses the load forecast"
    );
    let moved = with_load
        .values
        .iter()
        .zip(&without.values)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    eprintln!("the load forecast moves the forecast by up to {moved:.1} g/kWh");
    assert!(
        moved >= 1.0,
        "the load forecast moves some hour by {moved} g/kWh only"
    );

    // Discovery is off by default: nothing under homeassistant/.
    assert_eq!(
        retained(
            &broker,
            "homeassistant/sensor/ny_power/co2_intensity/config"
        )
        .await,
        None
    );
    pump.stop().await;
    co2.stop().await;
}
