//! Issue 7 on real data: the backtest of the forecast on February 2025 (library and binary),
//! the forecast / charge-window / band payloads, NYISO load-forecast files across DST changes,
//! and the Home Assistant discovery payloads (keys as Home Assistant documents them; templates
//! rendered by real Jinja2 against real payloads).

// Test helpers outside `#[test]` fns may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use chrono::{DateTime, Duration, TimeZone, Utc};
use ny_power::forecast::backtest::backtest;
use ny_power::forecast::{charge_window_payload, Forecaster};
use ny_power::homeassistant::{discovery_messages, DiscoveryConfig, OBJECT_IDS};
use ny_power::nyiso::isolf::{parse_isolf, LoadForecast};
use ny_power::nyiso::parse_bytes;
use ny_power::reading::Reading;
use ny_power::stream::{
    decode, decode_forecast, ChargeWindowPayload, Co2BandPayload, Co2Payload, FuelMixPayload,
    ServiceState, ServiceStatusPayload, TopicKind, Topics,
};
use ny_power::Factors;
use serde_json::{json, Value};

const FEB_2025: &str = "tests/fixtures/nyiso/20250201rtfuelmix_csv.zip";

fn feb_2025() -> Vec<Reading> {
    let bytes = std::fs::read(FEB_2025).unwrap();
    parse_bytes(FEB_2025, &bytes).unwrap().readings
}

fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

#[test]
fn method_beats_both_baselines_on_window_regret_in_february_2025() {
    let readings = feb_2025();
    let r = backtest(&readings, Factors::Direct).unwrap();
    assert_eq!(r.readings, 8246);
    // Readings from 2025-02-01T05:05Z to 2025-03-01T05:00Z: issue hours from 02-02T05:00Z to
    // 02-28T06:00Z (whose last hour of truth, 03-01T05:00Z, holds only the final reading).
    assert_eq!(r.hours, 626);
    for s in [r.mae, r.window_regret_4h] {
        for v in [s.method, s.persistence, s.yesterday] {
            assert!(v.is_finite() && v >= 0.0, "{s:?}");
        }
    }
    let w = r.window_regret_4h;
    assert!(w.method < w.persistence, "{w:?}");
    assert!(w.method < w.yesterday, "{w:?}");
    // The method also forecasts better on average than either baseline.
    assert!(
        r.mae.method < r.mae.persistence && r.mae.method < r.mae.yesterday,
        "{:?}",
        r.mae
    );
    assert_eq!(r.mae_by_lead.method.len(), 24);
    // Persistence is good an hour ahead and degrades with the lead.
    assert!(r.mae_by_lead.persistence[0] < r.mae_by_lead.persistence[23]);
}

#[test]
fn binary_prints_the_json_object() {
    let out = Command::new(env!("CARGO_BIN_EXE_ny-power"))
        .args(["backtest", "--json", FEB_2025])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "readings",
            "mae",
            "window_regret_4h",
            "captured_saving_4h",
            "captured_saving_ready_by_4h",
            "margins_4h"
        ])
    );
    assert_eq!(v["readings"], 8246);
    for part in [
        "mae",
        "window_regret_4h",
        "captured_saving_4h",
        "captured_saving_ready_by_4h",
    ] {
        let keys: BTreeSet<&str> = v[part]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, BTreeSet::from(["method", "persistence", "yesterday"]));
    }
    let lib = backtest(&feb_2025(), Factors::Direct).unwrap();
    assert_eq!(
        v["window_regret_4h"]["method"].as_f64(),
        Some(lib.window_regret_4h.method)
    );
    assert!(
        v["window_regret_4h"]["method"].as_f64() < v["window_regret_4h"]["persistence"].as_f64()
    );

    // The human table, and a clear error for bad input.
    let out = Command::new(env!("CARGO_BIN_EXE_ny-power"))
        .args(["backtest", FEB_2025])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("window regret, 4 h"), "{text}");
    assert!(text.contains("captured saving, 4 h"), "{text}");
    assert!(text.contains("margin rule, 4 h"), "{text}");
    // Captured shares: the method takes more of the hindsight saving than either baseline
    // on February 2025; persistence always starts now (nothing taken).
    let c = &v["captured_saving_4h"];
    assert_eq!(c["persistence"].as_f64(), Some(0.0));
    assert!(c["method"].as_f64() > c["yesterday"].as_f64(), "{c}");
    let margins = v["margins_4h"].as_array().unwrap();
    assert_eq!(margins.len(), 7);
    assert_eq!(margins[0]["margin_pct"], 0.0);
    // A higher margin tells fewer hours to wait.
    for w in margins.windows(2) {
        assert!(
            w[1]["wait_share"].as_f64() <= w[0]["wait_share"].as_f64(),
            "{w:?}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ny-power"))
        .args(["backtest", "tests/fixtures/nyiso/20171122rtfuelmix.csv"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no hour has 24 h of readings"));
    let out = Command::new(env!("CARGO_BIN_EXE_ny-power"))
        .args(["backtest", "tests/fixtures/nyiso/20191103isolf.csv"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("20191103isolf.csv: line 1"));
}

/// The forecaster fed all of February, as the calculator would be.
fn february_forecaster() -> Forecaster {
    let mut fc = Forecaster::default();
    for r in feb_2025() {
        fc.update(&r);
    }
    fc
}

#[test]
fn forecast_window_and_band_payloads_follow_the_contract() {
    let fc = february_forecaster();
    let now = fc.newest().unwrap();
    assert_eq!(
        now,
        Utc.with_ymd_and_hms(2025, 3, 1, 5, 0, 0).unwrap(),
        "last reading"
    );
    let f = fc.forecast(now, None).unwrap();
    let t = Topics::default();
    assert_eq!(
        t.classify("ny-power/computed/co2/forecast"),
        Some(TopicKind::Co2Forecast)
    );
    assert_eq!(
        t.classify("ny-power/computed/charge-window"),
        Some(TopicKind::ChargeWindow)
    );
    assert_eq!(
        t.classify("ny-power/computed/co2/band"),
        Some(TopicKind::Co2Band)
    );

    let bytes = serde_json::to_vec(&f.payload()).unwrap();
    let raw: Value = serde_json::from_slice(&bytes).unwrap();
    let keys: BTreeSet<&str> = raw
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, BTreeSet::from(["issued", "ts", "values", "units"]));
    assert_eq!(raw["units"], "g/kWh");
    assert_eq!(raw["issued"], "2025-03-01T05:00:00Z");
    let p = decode_forecast(&t.co2_forecast(), &bytes).unwrap();
    assert_eq!(p.ts.len(), 24);
    assert_eq!(p.ts[0], now);
    assert!(p.ts.windows(2).all(|w| w[1] - w[0] == Duration::hours(1)));
    // February 2025 intensities stay between 100 and 400 g/kWh (direct factors).
    assert!(
        p.values.iter().all(|v| (100.0..400.0).contains(v)),
        "{:?}",
        p.values
    );

    let bytes = serde_json::to_vec(&charge_window_payload(&f)).unwrap();
    let w: ChargeWindowPayload = decode(&t.charge_window(), &bytes).unwrap();
    assert_eq!(w.issued, now);
    assert_eq!(w.units, "g/kWh");
    assert_eq!(
        w.windows.iter().map(|w| w.hours).collect::<Vec<_>>(),
        [1, 2, 4, 8]
    );
    for x in &w.windows {
        assert_eq!(x.end - x.start, Duration::hours(i64::from(x.hours)));
        assert!(
            x.start >= now && x.end <= now + Duration::hours(24),
            "{x:?}"
        );
        assert!(
            x.mean <= x.now_mean && x.cleaner_than_now_pct >= 0.0,
            "{x:?}"
        );
        let pct = (x.now_mean - x.mean) / x.now_mean * 100.0;
        assert!((pct - x.cleaner_than_now_pct).abs() < 0.1, "{x:?}");
    }

    let bytes = serde_json::to_vec(&fc.band_payload().unwrap()).unwrap();
    let b: Co2BandPayload = decode(&t.co2_band(), &bytes).unwrap();
    assert!(["low", "moderate", "high"].contains(&b.band.as_str()));
    assert!(b.low_below < b.high_above);
    // February 2025 is 28 days of hourly means: the band says so (not 30), and is settled.
    assert_eq!(b.window_days, 28);
    assert_eq!(b.learning, Some(false));
    assert!(b.hours.unwrap() > 600, "{b:?}");
    assert!(b.index.is_some(), "{b:?}");
    assert_eq!(b.ts, now);
}

#[test]
fn load_forecast_files_convert_across_dst_by_row_order() {
    let read = |name: &str| {
        let path = format!("tests/fixtures/nyiso/{name}");
        parse_isolf(&path, &std::fs::read(&path).unwrap()).unwrap()
    };
    let hourly = |f: &LoadForecast| {
        f.points()
            .windows(2)
            .all(|w| w[1].ts - w[0].ts == Duration::hours(1))
    };

    // Fall back: 01:00 twice (EDT then EST) -> 05:00Z and 06:00Z; 145 rows, no gap.
    let f = read("20191103isolf.csv");
    assert_eq!(f.len(), 145);
    assert!(hourly(&f));
    let p = f.points();
    assert_eq!(p[0].ts, utc(2019, 11, 3, 4)); // 00:00 EDT
    assert_eq!(
        (p[0].mw, p[1].ts, p[1].mw),
        (13373.0, utc(2019, 11, 3, 5), 12791.0)
    );
    assert_eq!((p[2].ts, p[2].mw), (utc(2019, 11, 3, 6), 12791.0));
    assert_eq!((p[3].ts, p[3].mw), (utc(2019, 11, 3, 7), 12506.0)); // 02:00 EST
    assert_eq!(p[144].ts, utc(2019, 11, 9, 4)); // 11/08 23:00 EST

    // Spring forward: no 02:00 row; 01:00 EST -> 06:00Z, 03:00 EDT -> 07:00Z; 143 rows.
    let f = read("20190310isolf.csv");
    assert_eq!(f.len(), 143);
    assert!(hourly(&f));
    let p = f.points();
    assert_eq!((p[0].ts, p[0].mw), (utc(2019, 3, 10, 5), 15047.0));
    assert_eq!(
        (p[1].ts, p[2].ts, p[2].mw),
        (utc(2019, 3, 10, 6), utc(2019, 3, 10, 7), 14039.0)
    );

    // An ordinary November file: 144 hours from 00:00 EST.
    let f = read("20171122isolf.csv");
    assert_eq!(f.len(), 144);
    assert!(hourly(&f));
    assert_eq!(
        (f.points()[0].ts, f.points()[0].mw),
        (utc(2017, 11, 22, 5), 13962.0)
    );
    assert_eq!(
        f.at(utc(2017, 11, 22, 5) + Duration::minutes(30)),
        Some((13962.0 + 13449.0) / 2.0)
    );
    let f = read("20190701isolf.csv");
    assert_eq!(f.len(), 144);
    assert!(hourly(&f));
    assert_eq!(f.points()[0].ts, utc(2019, 7, 1, 4)); // 00:00 EDT

    // A fuel-mix file is not a load forecast.
    let e = parse_isolf(
        "20171122rtfuelmix.csv",
        &std::fs::read("tests/fixtures/nyiso/20171122rtfuelmix.csv").unwrap(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("20171122rtfuelmix.csv: line 1: not an isolf CSV"),
        "{e}"
    );
}

// --- Home Assistant -------------------------------------------------------------------------

/// Keys Home Assistant documents for an MQTT sensor (integrations/sensor.mqtt).
const HA_SENSOR_KEYS: &[&str] = &[
    "availability",
    "availability_mode",
    "availability_template",
    "availability_topic",
    "default_entity_id",
    "device",
    "device_class",
    "enabled_by_default",
    "encoding",
    "entity_category",
    "entity_picture",
    "expire_after",
    "force_update",
    "icon",
    "json_attributes_template",
    "json_attributes_topic",
    "last_reset_value_template",
    "name",
    "object_id",
    "options",
    "payload_available",
    "payload_not_available",
    "platform",
    "qos",
    "state_class",
    "state_topic",
    "suggested_display_precision",
    "unique_id",
    "unit_of_measurement",
    "value_template",
];
/// Keys of one `availability` entry.
const HA_AVAILABILITY_KEYS: &[&str] = &[
    "payload_available",
    "payload_not_available",
    "topic",
    "value_template",
];
/// Keys of `device`.
const HA_DEVICE_KEYS: &[&str] = &[
    "configuration_url",
    "connections",
    "hw_version",
    "identifiers",
    "manufacturer",
    "model",
    "model_id",
    "name",
    "serial_number",
    "suggested_area",
    "sw_version",
    "via_device",
];
/// Sensor state classes.
const HA_STATE_CLASSES: &[&str] = &["measurement", "total", "total_increasing"];
/// The sensor device classes used here and their documented unit rules (`None`: no unit).
const HA_DEVICE_CLASSES: &[&str] = &["timestamp", "enum", "date"];

fn keys_of(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn subset(v: &Value, allowed: &[&str], what: &str) {
    for k in keys_of(v) {
        assert!(
            allowed.contains(&k.as_str()),
            "{what}: `{k}` is not a documented key"
        );
    }
}

#[test]
fn discovery_payloads_use_only_documented_keys() {
    let topics = Topics::default();
    let config = DiscoveryConfig::new(&topics, "homeassistant");
    let msgs = discovery_messages(&topics, &config);
    let names: Vec<&str> = msgs.iter().map(|m| m.topic.as_str()).collect();
    assert_eq!(
        names,
        [
            "homeassistant/sensor/ny_power/co2_intensity/config",
            "homeassistant/sensor/ny_power/fossil_share/config",
            "homeassistant/sensor/ny_power/co2_band/config",
            "homeassistant/sensor/ny_power/charge_window_4h_start/config",
            "homeassistant/sensor/ny_power/co2_index/config",
            "homeassistant/sensor/ny_power/ready_by_4h_start/config",
        ]
    );
    assert_eq!(OBJECT_IDS.len(), msgs.len());
    let mut unique = BTreeSet::new();
    for m in &msgs {
        let v: Value = serde_json::from_slice(&m.payload).unwrap();
        subset(&v, HA_SENSOR_KEYS, &m.topic);
        for required in [
            "name",
            "unique_id",
            "state_topic",
            "value_template",
            "availability",
            "device",
        ] {
            assert!(v.get(required).is_some(), "{}: no `{required}`", m.topic);
        }
        assert!(
            unique.insert(v["unique_id"].as_str().unwrap().to_owned()),
            "unique ids"
        );
        assert!(
            topics
                .classify(v["state_topic"].as_str().unwrap())
                .is_some(),
            "state topic in the contract"
        );
        subset(&v["device"], HA_DEVICE_KEYS, "device");
        assert_eq!(v["device"]["identifiers"], json!(["ny_power"]));
        for key in ["name", "manufacturer", "model"] {
            assert!(v["device"][key].is_string(), "device.{key}");
        }
        let avail = v["availability"].as_array().unwrap();
        assert_eq!(avail.len(), 1);
        subset(&avail[0], HA_AVAILABILITY_KEYS, "availability");
        assert_eq!(
            topics.classify(avail[0]["topic"].as_str().unwrap()),
            Some(TopicKind::ServiceStatus(
                if m.topic.contains("fossil") {
                    "pump"
                } else {
                    "co2"
                }
                .into()
            ))
        );
        assert_eq!(avail[0]["payload_available"], "online");
        assert_eq!(avail[0]["payload_not_available"], "offline");
        if let Some(sc) = v.get("state_class") {
            assert!(HA_STATE_CLASSES.contains(&sc.as_str().unwrap()));
            assert!(
                v.get("unit_of_measurement").is_some(),
                "numeric sensors have a unit"
            );
        }
        if let Some(dc) = v.get("device_class") {
            assert!(HA_DEVICE_CLASSES.contains(&dc.as_str().unwrap()), "{dc}");
            // Home Assistant rejects a unit or a state class on timestamp and enum sensors.
            assert!(v.get("unit_of_measurement").is_none() && v.get("state_class").is_none());
            if dc == "enum" {
                // The band's three levels, or the fixed index's five.
                let options = &v["options"];
                assert!(
                    *options == json!(["low", "moderate", "high"])
                        || *options == json!(["very_low", "low", "moderate", "high", "very_high"]),
                    "{options}"
                );
            }
        }
    }
    let intensity: Value = serde_json::from_slice(&msgs[0].payload).unwrap();
    assert_eq!(intensity["unit_of_measurement"], "g/kWh");
    assert_eq!(intensity["state_topic"], "ny-power/computed/co2");
    let window: Value = serde_json::from_slice(&msgs[3].payload).unwrap();
    assert_eq!(window["device_class"], "timestamp");
}

/// Renders Jinja2 templates the way Home Assistant's MQTT integration does (`value_json` is
/// the parsed payload, `value` the raw text), with the real Jinja2 (a dependency of moto).
fn render(cases: &[(String, String)]) -> Vec<String> {
    let script = r#"
import json, sys
import jinja2
env = jinja2.Environment()
out = []
for tpl, payload in json.load(sys.stdin):
    out.append(env.from_string(tpl).render(value=payload, value_json=json.loads(payload)))
json.dump(out, sys.stdout)
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 with jinja2 (installed with moto[server], see TOOLING.md)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(cases).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn discovery_templates_render_against_real_payloads() {
    let topics = Topics::default();
    let config = DiscoveryConfig::new(&topics, "homeassistant");
    let sensors: Vec<Value> = discovery_messages(&topics, &config)
        .iter()
        .map(|m| serde_json::from_slice(&m.payload).unwrap())
        .collect();
    // The real 2025-02-01 00:05 EST reading (DESIGN §3 check value: 248.75 g/kWh direct).
    let reading = feb_2025()[0];
    assert_eq!(
        reading.ts,
        Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap()
    );
    let co2 = Co2Payload {
        ts: reading.ts,
        value: Factors::Direct.intensity(&reading.mix).unwrap(),
        units: "g/kWh".into(),
        factors: "direct".into(),
    };
    let fc = february_forecaster();
    let f = fc.forecast(fc.newest().unwrap(), None).unwrap();
    let window = serde_json::to_string(&charge_window_payload(&f)).unwrap();
    let band = serde_json::to_string(&fc.band_payload().unwrap()).unwrap();
    let status = serde_json::to_string(&ServiceStatusPayload {
        state: ServiceState::Online,
        since: Some(reading.ts),
    })
    .unwrap();
    let payload_of = |topic: &str| -> String {
        match topics.classify(topic).unwrap() {
            TopicKind::Co2(Factors::Direct) => serde_json::to_string(&co2).unwrap(),
            TopicKind::FuelMix => serde_json::to_string(&FuelMixPayload::of(&reading)).unwrap(),
            TopicKind::Co2Band => band.clone(),
            TopicKind::ChargeWindow => window.clone(),
            other => panic!("unexpected state topic {other:?}"),
        }
    };
    let mut cases = Vec::new();
    for s in &sensors {
        cases.push((
            s["value_template"].as_str().unwrap().to_owned(),
            payload_of(s["state_topic"].as_str().unwrap()),
        ));
        cases.push((
            s["availability"][0]["value_template"]
                .as_str()
                .unwrap()
                .to_owned(),
            status.clone(),
        ));
        if let Some(t) = s.get("json_attributes_template") {
            cases.push((
                t.as_str().unwrap().to_owned(),
                payload_of(s["json_attributes_topic"].as_str().unwrap()),
            ));
        }
    }
    let out = render(&cases);
    let mut it = out.iter();
    // Intensity: the value, rounded; availability; attributes from the band.
    assert_eq!(it.next().unwrap(), "248.7");
    assert_eq!(it.next().unwrap(), "online");
    let attrs: Value = serde_json::from_str(it.next().unwrap()).unwrap();
    assert!(
        ["low", "moderate", "high"].contains(&attrs["band"].as_str().unwrap()),
        "{attrs}"
    );
    assert!(attrs["low_below"].is_number());
    assert_eq!(attrs["window_days"], 28, "{attrs}");
    assert_eq!(attrs["learning"], false, "{attrs}");
    assert!(attrs["index"].is_string(), "{attrs}");
    // Fossil share: (4613 dual fuel + 3487 gas + 1 other fossil) / 14124 = 57.36 %.
    assert_eq!(it.next().unwrap(), "57.4");
    assert_eq!(it.next().unwrap(), "online");
    // Band.
    let b: Co2BandPayload = serde_json::from_str(&band).unwrap();
    assert_eq!(it.next().unwrap(), &b.band);
    assert_eq!(it.next().unwrap(), "online");
    // Window start: an ISO 8601 time with its zone (a timestamp sensor needs one); attributes
    // are the 4 h window's object.
    let w: ChargeWindowPayload = serde_json::from_str(&window).unwrap();
    let start = it.next().unwrap();
    assert_eq!(
        DateTime::parse_from_rfc3339(start).unwrap(),
        w.windows[2].start
    );
    assert_eq!(it.next().unwrap(), "online");
    let attrs: Value = serde_json::from_str(it.next().unwrap()).unwrap();
    assert_eq!(attrs["hours"], 4);
    assert_eq!(attrs["start"].as_str().unwrap(), start);
    // New York labels beside the UTC instants (issue 12: one clock), and the advice.
    // February's forecaster holds days of history: never "learning".
    assert_eq!(
        attrs["start_ny"].as_str().unwrap(),
        w.windows[2].start_ny.as_deref().unwrap()
    );
    // Within 24 h of the issue time the start is today or tomorrow in New York.
    let label = attrs["start_ny"].as_str().unwrap();
    assert!(
        (label.ends_with(" AM today") || label.ends_with(" PM today"))
            || label.ends_with(" AM tomorrow")
            || label.ends_with(" PM tomorrow"),
        "{label}"
    );
    assert!(
        ["later", "now", "not_worth_it"].contains(&attrs["advice"].as_str().unwrap()),
        "{attrs}"
    );
    assert!(attrs["end_ny"].is_string(), "{attrs}");
    // The fixed index: its level, availability, and the published boundaries.
    assert_eq!(it.next().unwrap(), b.index.as_deref().unwrap());
    assert_eq!(it.next().unwrap(), "online");
    let attrs: Value = serde_json::from_str(it.next().unwrap()).unwrap();
    assert_eq!(
        attrs["index_boundaries"],
        serde_json::json!(ny_power::forecast::index::INDEX_BOUNDARIES)
    );
    // The ready-by sensor: the 4 h window of the default ready-by time (07:00), ending by it.
    let rb = w.ready_by.as_ref().unwrap();
    assert_eq!(w.ready_by_default.as_deref(), Some("07:00"));
    let seven = rb.iter().find(|r| r.time == "07:00").unwrap();
    let want = seven.windows.iter().find(|x| x.hours == 4).unwrap();
    let start = it.next().unwrap();
    assert_eq!(DateTime::parse_from_rfc3339(start).unwrap(), want.start);
    assert_eq!(it.next().unwrap(), "online");
    let attrs: Value = serde_json::from_str(it.next().unwrap()).unwrap();
    assert_eq!(attrs["ready_by"], "07:00");
    assert_eq!(attrs["hours"], 4);
    assert_eq!(attrs["start_ny"].as_str(), want.start_ny.as_deref());
    let due = ny_power::forecast::ready_by::deadline(
        w.issued,
        ny_power::forecast::ready_by::ReadyBy::default(),
        4,
    );
    assert!(want.end <= due, "{want:?} ends after {due}");
    assert!(it.next().is_none());
}
