//! The live pipeline against real services: Mosquitto (password file + ACL, persistence), a
//! real InfluxDB 1.x and a local NYISO HTTP server, all started here on free loopback ports.
//! The services run in-process through the same entry point `ny-power run` uses
//! ([`ny_power::services::run_all`]); expected values come from `ny-power inspect` of the
//! same file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use ny_power::adapters::backlog::{BacklogOptions, BufferedArchive};
use ny_power::adapters::influx::{InfluxConfig, InfluxWriter};
use ny_power::adapters::mqtt::{read_retained, ClientOptions, MqttClient};
use ny_power::adapters::mqtt_config::{BrokerUrl, MqttConfig};
use ny_power::adapters::nyiso::{HttpOptions, HttpSource};
use ny_power::adapters::sqlite::SqliteArchive;
use ny_power::services::{
    run_all, shutdown_channel, ArchiveSettings, ArchiveSink, BufferedSink, Co2Settings, Common,
    FixedClock, Parts, PlainSink, PumpSettings, RunConfig, ShutdownTrigger,
};
use ny_power::stream::{TopicKind, Topics};

use support::influx::Influxd;
use support::mosquitto::{self, Mosquitto};
use support::nyiso_server::NyisoServer;

const FIXTURE: &str = "tests/fixtures/nyiso/20171122rtfuelmix.csv";
const REL: &str = "rtfuelmix/20171122rtfuelmix.csv";
const DB: &str = "ny_power_test";
/// The fuels in contract order (DESIGN §3).
const SLUGS: [&str; 7] = [
    "dual_fuel",
    "natural_gas",
    "nuclear",
    "other_fossil_fuels",
    "other_renewables",
    "wind",
    "hydro",
];

fn now() -> DateTime<Utc> {
    // 2017-11-22T23:59:00-05:00: "today" in New York is the fixture's day.
    Utc.with_ymd_and_hms(2017, 11, 23, 4, 59, 0).unwrap()
}

fn services_available() -> bool {
    let ok = mosquitto::available()
        && std::process::Command::new("influxd")
            .arg("version")
            .output()
            .is_ok();
    if !ok {
        eprintln!("skipped: needs `apt-get install mosquitto mosquitto-clients influxdb`");
    }
    ok
}

/// The fixture's lines (header first).
fn fixture_lines() -> Vec<String> {
    std::fs::read_to_string(FIXTURE)
        .unwrap()
        .lines()
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `ny-power inspect FIXTURE`: one JSON object per complete reading.
fn inspect() -> Vec<Value> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ny-power"))
        .args(["inspect", FIXTURE])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ts_of(v: &Value) -> DateTime<Utc> {
    v["ts"].as_str().unwrap().parse().unwrap()
}

/// Everything an anonymous subscriber to `ny-power/#` receives, in order.
struct Recorder {
    client: MqttClient,
    log: Arc<Mutex<Vec<(String, Value)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    async fn start(mqtt: MqttConfig, id: &str) -> Recorder {
        let mut opts = ClientOptions::new(mqtt, id);
        opts.subscriptions = vec!["ny-power/#".into()];
        let client = MqttClient::connect(opts).await.unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (c, l) = (client.clone(), log.clone());
        let task = tokio::spawn(async move {
            while let Some(m) = c.recv().await {
                let v: Value = serde_json::from_slice(&m.payload).unwrap_or(Value::Null);
                l.lock().unwrap().push((m.topic.clone(), v));
            }
        });
        Recorder { client, log, task }
    }

    fn messages(&self) -> Vec<(String, Value)> {
        self.log.lock().unwrap().clone()
    }

    /// Messages of one kind (live ones: retained replays at subscribe time included).
    fn of(&self, kind: TopicKind) -> Vec<Value> {
        let t = Topics::default();
        self.messages()
            .into_iter()
            .filter(|(topic, _)| t.classify(topic).as_ref() == Some(&kind))
            .map(|(_, v)| v)
            .collect()
    }

    async fn stop(self) {
        self.task.abort();
        self.client.close().await;
    }
}

async fn retained(broker: &Mosquitto, topic: &str) -> Option<Value> {
    let bytes = read_retained(
        &broker.anonymous_config(),
        &format!("probe-{}", rand_id()),
        topic,
    )
    .await
    .unwrap();
    bytes.map(|b| serde_json::from_slice(&b).unwrap())
}

fn rand_id() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

async fn cursor(broker: &Mosquitto) -> Option<DateTime<Utc>> {
    retained(broker, "ny-power/status/fuel-mix/updated")
        .await
        .map(|v| ts_of(&v))
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

async fn wait_cursor(broker: &Mosquitto, expected: DateTime<Utc>) {
    wait_for(30, &format!("cursor {expected}"), || async {
        cursor(broker).await == Some(expected)
    })
    .await;
}

fn http_source(server: &NyisoServer) -> Arc<HttpSource> {
    let options = HttpOptions {
        timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        retries: 0,
        backoff: Duration::from_millis(50),
        ..HttpOptions::default()
    };
    Arc::new(HttpSource::new(&server.url(), options).unwrap())
}

struct Running {
    trigger: ShutdownTrigger,
    task: tokio::task::JoinHandle<Result<(), ny_power::services::ServiceError>>,
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

struct Services {
    pump: bool,
    co2: bool,
    sinks: Vec<Arc<dyn ArchiveSink>>,
}

fn start(mqtt: MqttConfig, source: Arc<HttpSource>, services: Services) -> Running {
    let (trigger, shutdown) = shutdown_channel();
    let config = RunConfig {
        common: Common {
            mqtt,
            topics: Topics::default(),
        },
        pump: services.pump.then(|| PumpSettings {
            poll_interval: Duration::from_millis(200),
        }),
        co2: services.co2.then(Co2Settings::default),
        archive: (!services.sinks.is_empty()).then(ArchiveSettings::default),
    };
    let parts = Parts {
        source,
        clock: Arc::new(FixedClock(now())),
        sinks: services.sinks,
    };
    let task = tokio::spawn(run_all(config, parts, shutdown, None));
    Running { trigger, task }
}

async fn influx_sink(influx: &Influxd, backlog: &std::path::Path) -> Arc<dyn ArchiveSink> {
    influx.create_database(DB).await;
    let writer = InfluxWriter::new(InfluxConfig::V1 {
        url: influx.url(),
        database: DB.into(),
        username: None,
        password: None,
    })
    .unwrap();
    let buffered = BufferedArchive::open(backlog, writer, BacklogOptions::default()).unwrap();
    Arc::new(BufferedSink::new("influxdb", buffered))
}

/// Rows of the fixture up to and including reading `k` (0-based), given 7 rows a reading.
fn head(lines: &[String], readings: usize) -> String {
    lines[..1 + 7 * readings].concat()
}

async fn fuel_mix_points(influx: &Influxd) -> BTreeMap<i64, Vec<Value>> {
    let (cols, rows) = influx
        .select(DB, "SELECT dual_fuel, natural_gas, nuclear, other_fossil_fuels, other_renewables, wind, hydro, total_mw FROM fuel_mix")
        .await;
    if rows.is_empty() {
        return BTreeMap::new();
    }
    assert_eq!(cols[0], "time");
    rows.into_iter()
        .map(|r| (r[0].as_i64().unwrap(), r[1..].to_vec()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_served_in_steps_gives_the_exact_stream_points_and_history() {
    if !services_available() {
        return;
    }
    let expected = inspect();
    assert_eq!(expected.len(), 289);
    let lines = fixture_lines();
    // The file is 7 rows a reading except where NYISO repeated a snapshot; check the cut points
    // used below fall on reading boundaries.
    let broker = Mosquitto::start();
    let influx = Influxd::start();
    let server = NyisoServer::start().await;
    let backlog = tempfile::tempdir().unwrap();
    let sqlite_dir = tempfile::tempdir().unwrap();
    let sqlite_path = sqlite_dir.path().join("archive.sqlite");
    let sqlite = SqliteArchive::open(&sqlite_path).unwrap();
    let recorder = Recorder::start(broker.anonymous_config(), "recorder").await;

    // Step 1: the first 100 readings and 3 rows of the next (an incomplete reading: not
    // published until its other fuels arrive).
    server.put(REL, head(&lines, 100).as_bytes());
    server.append(REL, lines[1 + 7 * 100..1 + 7 * 100 + 3].concat().as_bytes());
    let running = start(
        broker.services_config(),
        http_source(&server),
        Services {
            pump: true,
            co2: true,
            sinks: vec![
                influx_sink(&influx, backlog.path()).await,
                Arc::new(PlainSink::new("sqlite", sqlite)),
            ],
        },
    );
    wait_cursor(&broker, ts_of(&expected[99])).await;
    // Step 2: the rest of that reading and more; step 3: the rest of the day.
    server.append(REL, lines[1 + 7 * 100 + 3..1 + 7 * 200].concat().as_bytes());
    wait_cursor(&broker, ts_of(&expected[199])).await;
    server.append(REL, lines[1 + 7 * 200..].concat().as_bytes());
    wait_cursor(&broker, ts_of(&expected[288])).await;

    // The history covers every reading of the day, oldest first, with the direct factors.
    wait_for(20, "the full 24 h history", || async {
        retained(&broker, "ny-power/archive/co2/24h")
            .await
            .is_some_and(|h| h["ts"].as_array().map(Vec::len) == Some(289))
    })
    .await;
    let history = retained(&broker, "ny-power/archive/co2/24h").await.unwrap();
    assert_eq!(history["units"], "g/kWh");
    for (i, e) in expected.iter().enumerate() {
        assert_eq!(history["ts"][i], e["ts"], "history ts {i}");
        let (got, want) = (
            history["values"][i].as_f64().unwrap(),
            e["co2"]["direct"].as_f64().unwrap(),
        );
        assert!(
            (got - want).abs() < 1e-9,
            "history value {i}: {got} vs {want}"
        );
    }

    // The broker saw exactly the expected pump sequence: per reading the seven fuels, the
    // combined mix, then the cursor; each reading once, in order.
    let t = Topics::default();
    let pump_seq: Vec<(String, Value)> = recorder
        .messages()
        .into_iter()
        .filter(|(topic, _)| {
            matches!(
                t.classify(topic),
                Some(TopicKind::Fuel(_) | TopicKind::FuelMix | TopicKind::Cursor)
            )
        })
        .collect();
    assert_eq!(pump_seq.len(), 289 * 9);
    for (k, e) in expected.iter().enumerate() {
        let chunk = &pump_seq[9 * k..9 * k + 9];
        for (j, slug) in SLUGS.iter().enumerate() {
            assert_eq!(chunk[j].0, format!("ny-power/upstream/fuel-mix/{slug}"));
            assert_eq!(chunk[j].1["value"], e["fuels"][slug]);
            assert_eq!(chunk[j].1["ts"], e["ts"]);
            assert_eq!(chunk[j].1["units"], "MW");
        }
        assert_eq!(chunk[7].0, "ny-power/upstream/fuel-mix");
        assert_eq!(chunk[7].1["fuels"], e["fuels"]);
        assert_eq!(chunk[7].1["total_mw"], e["total_mw"]);
        assert_eq!(chunk[8].0, "ny-power/status/fuel-mix/updated");
        assert_eq!(chunk[8].1, serde_json::json!({"ts": e["ts"]}));
    }
    // Intensities: one per reading and table, with the values `inspect` computes.
    for (kind, table) in [
        (TopicKind::Co2(ny_power::Factors::Direct), "direct"),
        (TopicKind::Co2(ny_power::Factors::Lifecycle), "lifecycle"),
    ] {
        let got = recorder.of(kind);
        assert_eq!(got.len(), 289, "{table}");
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!(g["ts"], e["ts"]);
            assert_eq!(g["factors"], table);
            assert!(
                (g["value"].as_f64().unwrap() - e["co2"][table].as_f64().unwrap()).abs() < 1e-9
            );
        }
    }

    // InfluxDB holds exactly one point per reading and table, with the same values.
    wait_for(20, "all points in InfluxDB", || async {
        influx.count(DB, "co2", "value", "").await == 2 * 289
            && influx.count(DB, "fuel_mix", "total_mw", "").await == 289
    })
    .await;
    let points = fuel_mix_points(&influx).await;
    assert_eq!(points.len(), 289);
    for e in &expected {
        let row = &points[&ts_of(e).timestamp()];
        let fuels: Vec<f64> = SLUGS
            .iter()
            .map(|s| e["fuels"][s].as_f64().unwrap())
            .collect();
        for (i, f) in fuels.iter().enumerate() {
            assert_eq!(row[i].as_f64().unwrap(), *f);
        }
        assert_eq!(row[7].as_f64().unwrap(), e["total_mw"].as_f64().unwrap());
    }
    assert_eq!(
        influx
            .count(DB, "co2", "value", "WHERE factors = 'lifecycle'")
            .await,
        289
    );
    // SQLite, the second backend, has them too.
    let sqlite = SqliteArchive::open(&sqlite_path).unwrap();
    assert_eq!(sqlite.count("fuel_mix").await.unwrap(), 289);
    assert_eq!(sqlite.count("co2").await.unwrap(), 2 * 289);

    // Every service announced itself online; on shutdown, offline.
    for s in ["pump", "co2", "archive"] {
        let v = retained(&broker, &format!("ny-power/status/{s}"))
            .await
            .unwrap();
        assert_eq!(v["state"], "online", "{s}");
    }
    running.stop().await;
    for s in ["pump", "co2", "archive"] {
        let v = retained(&broker, &format!("ny-power/status/{s}"))
            .await
            .unwrap();
        assert_eq!(v["state"], "offline", "{s}");
    }
    recorder.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pump_restarted_mid_day_republishes_nothing_and_skips_nothing() {
    if !services_available() {
        return;
    }
    let expected = inspect();
    let lines = fixture_lines();
    let broker = Mosquitto::start();
    let server = NyisoServer::start().await;
    let recorder = Recorder::start(broker.anonymous_config(), "recorder").await;
    let pump_only = || Services {
        pump: true,
        co2: false,
        sinks: Vec::new(),
    };

    server.put(REL, head(&lines, 150).as_bytes());
    let first = start(broker.services_config(), http_source(&server), pump_only());
    wait_cursor(&broker, ts_of(&expected[149])).await;
    first.stop().await;

    server.append(REL, lines[1 + 7 * 150..].concat().as_bytes());
    let second = start(broker.services_config(), http_source(&server), pump_only());
    wait_cursor(&broker, ts_of(&expected[288])).await;
    second.stop().await;

    let mixes: Vec<DateTime<Utc>> = recorder.of(TopicKind::FuelMix).iter().map(ts_of).collect();
    let want: Vec<DateTime<Utc>> = expected.iter().map(ts_of).collect();
    assert_eq!(mixes, want, "each reading exactly once, in order");
    assert_eq!(recorder.of(TopicKind::Cursor).len(), 289);
    recorder.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_stream_loses_nothing() {
    if !services_available() {
        return;
    }
    let expected = inspect();
    let lines = fixture_lines();
    let mut broker = Mosquitto::start();
    let influx = Influxd::start();
    let server = NyisoServer::start().await;
    let backlog = tempfile::tempdir().unwrap();

    server.put(REL, head(&lines, 100).as_bytes());
    let running = start(
        broker.services_config(),
        http_source(&server),
        Services {
            pump: true,
            co2: true,
            sinks: vec![influx_sink(&influx, backlog.path()).await],
        },
    );
    wait_cursor(&broker, ts_of(&expected[99])).await;
    // The broker goes away; NYISO grows meanwhile; the broker comes back on the same ports.
    broker.stop();
    server.append(REL, lines[1 + 7 * 100..1 + 7 * 200].concat().as_bytes());
    tokio::time::sleep(Duration::from_millis(600)).await;
    broker.start_again();
    server.append(REL, lines[1 + 7 * 200..].concat().as_bytes());
    wait_cursor(&broker, ts_of(&expected[288])).await;

    wait_for(30, "all points in InfluxDB", || async {
        influx.count(DB, "fuel_mix", "total_mw", "").await == 289
            && influx
                .count(DB, "co2", "value", "WHERE factors = 'direct'")
                .await
                == 289
            && influx
                .count(DB, "co2", "value", "WHERE factors = 'lifecycle'")
                .await
                == 289
    })
    .await;
    wait_for(20, "the full 24 h history", || async {
        retained(&broker, "ny-power/archive/co2/24h")
            .await
            .is_some_and(|h| h["ts"].as_array().map(Vec::len) == Some(289))
    })
    .await;
    let latest = retained(&broker, "ny-power/computed/co2").await.unwrap();
    assert_eq!(latest["ts"], expected[288]["ts"]);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influxdb_down_for_a_while_then_every_point_arrives() {
    if !services_available() {
        return;
    }
    let expected = inspect();
    let lines = fixture_lines();
    let broker = Mosquitto::start();
    let mut influx = Influxd::start();
    let server = NyisoServer::start().await;
    let backlog = tempfile::tempdir().unwrap();

    server.put(REL, head(&lines, 50).as_bytes());
    let running = start(
        broker.services_config(),
        http_source(&server),
        Services {
            pump: true,
            co2: true,
            sinks: vec![influx_sink(&influx, backlog.path()).await],
        },
    );
    wait_for(30, "the first points in InfluxDB", || async {
        influx.count(DB, "fuel_mix", "total_mw", "").await == 50
    })
    .await;
    influx.stop();
    server.append(REL, lines[1 + 7 * 50..].concat().as_bytes());
    wait_cursor(&broker, ts_of(&expected[288])).await;
    wait_for(20, "the intensity of the last reading", || async {
        retained(&broker, "ny-power/computed/co2/lifecycle")
            .await
            .is_some_and(|v| v["ts"] == expected[288]["ts"])
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    influx.restart();
    wait_for(30, "every point after InfluxDB returned", || async {
        influx.count(DB, "fuel_mix", "total_mw", "").await == 289
            && influx.count(DB, "co2", "value", "").await == 2 * 289
    })
    .await;
    let points = fuel_mix_points(&influx).await;
    let last = &expected[288];
    assert_eq!(
        points[&ts_of(last).timestamp()][7].as_f64().unwrap(),
        last["total_mw"].as_f64().unwrap()
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nyiso_failures_publish_nothing_and_the_next_poll_recovers() {
    if !services_available() {
        return;
    }
    let expected = inspect();
    let lines = fixture_lines();
    let broker = Mosquitto::start();
    let server = NyisoServer::start().await;
    let recorder = Recorder::start(broker.anonymous_config(), "recorder").await;

    server.put(REL, head(&lines, 20).as_bytes());
    let running = start(
        broker.services_config(),
        http_source(&server),
        Services {
            pump: true,
            co2: false,
            sinks: Vec::new(),
        },
    );
    wait_cursor(&broker, ts_of(&expected[19])).await;

    type Switch = fn(&mut support::nyiso_server::Behaviour, bool);
    let failures: [(&str, Switch); 4] = [
        ("HTTP 500", |b, on| b.fail_500 = on),
        ("an HTML page", |b, on| b.html = on),
        ("a truncated file", |b, on| b.truncate = on),
        ("no answer (timeout)", |b, on| b.hang = on),
    ];
    let mut served = 20;
    for (what, switch) in failures {
        let published_before = recorder.messages().len();
        server.set(|b| switch(b, true));
        served += 20;
        server.append(
            REL,
            lines[1 + 7 * (served - 20)..1 + 7 * served]
                .concat()
                .as_bytes(),
        );
        let requests = server.stats().requests;
        // At least two failed polls.
        wait_for(30, &format!("two polls answered with {what}"), || async {
            server.stats().requests >= requests + 2
        })
        .await;
        assert_eq!(
            recorder.messages().len(),
            published_before,
            "{what}: nothing published"
        );
        assert_eq!(
            cursor(&broker).await,
            Some(ts_of(&expected[served - 21])),
            "{what}: cursor unchanged"
        );
        server.set(|b| switch(b, false));
        wait_cursor(&broker, ts_of(&expected[served - 1])).await;
    }
    running.stop().await;
    let mixes: Vec<DateTime<Utc>> = recorder.of(TopicKind::FuelMix).iter().map(ts_of).collect();
    let want: Vec<DateTime<Utc>> = expected[..served].iter().map(ts_of).collect();
    assert_eq!(mixes, want);
    recorder.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_clients_read_but_cannot_publish_and_websocket_works() {
    if !services_available() {
        return;
    }
    let expected = inspect();
    let lines = fixture_lines();
    let broker = Mosquitto::start();
    let server = NyisoServer::start().await;
    server.put(REL, head(&lines, 10).as_bytes());
    // The services connect over MQTT-over-WebSocket this time.
    let ws = MqttConfig {
        url: broker.ws_url().parse::<BrokerUrl>().unwrap(),
        ..broker.services_config()
    };
    let running = start(
        ws,
        http_source(&server),
        Services {
            pump: true,
            co2: true,
            sinks: Vec::new(),
        },
    );
    wait_cursor(&broker, ts_of(&expected[9])).await;
    wait_for(20, "the intensity", || async {
        retained(&broker, "ny-power/computed/co2")
            .await
            .is_some_and(|v| v["ts"] == expected[9]["ts"])
    })
    .await;
    let before = retained(&broker, "ny-power/computed/co2").await.unwrap();

    // An anonymous client may connect and subscribe, but its publish is dropped by the ACL.
    let anon = MqttClient::connect(ClientOptions::new(broker.anonymous_config(), "intruder"))
        .await
        .unwrap();
    let forged = br#"{"ts":"2030-01-01T00:00:00Z","value":1.0,"units":"g/kWh","factors":"direct"}"#;
    anon.publish_qos1("ny-power/computed/co2", forged, true)
        .await
        .unwrap();
    anon.publish_qos1(
        "ny-power/status/fuel-mix/updated",
        br#"{"ts":"2030-01-01T00:00:00Z"}"#,
        true,
    )
    .await
    .unwrap();
    anon.close().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        retained(&broker, "ny-power/computed/co2").await.unwrap(),
        before
    );
    assert_eq!(cursor(&broker).await, Some(ts_of(&expected[9])));

    // A wrong password is refused with a clear error, not retried forever.
    let wrong = MqttConfig {
        password: Some(ny_power::adapters::mqtt_config::Secret::new("wrong")),
        ..broker.services_config()
    };
    let err = MqttClient::connect(ClientOptions::new(wrong, "wrong-pw"))
        .await
        .unwrap_err();
    let err = err.to_string();
    assert!(
        err.contains("refused the connection") && err.contains("MQTT_PASSWORD"),
        "{err}"
    );
    running.stop().await;
}

/// The next message on `client`'s subscriptions, within `secs`.
async fn recv_within(client: &MqttClient, secs: u64) -> ny_power::adapters::mqtt::Inbound {
    tokio::time::timeout(Duration::from_secs(secs), client.recv())
        .await
        .unwrap_or_else(|_| panic!("no message within {secs} s"))
        .expect("client closed")
}

/// Issue 10: the calculator acknowledged, on a new connection, messages received on the one
/// before a broker restart; a packet id means something only on its own connection (Mosquitto
/// took such acks for its redeliveries, then sent newer messages ahead of older ones). An ack
/// of an earlier connection's message is now dropped, so the broker still holds the message
/// and delivers it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_of_an_earlier_connection_is_never_sent_on_the_new_one() {
    if !services_available() {
        return;
    }
    let mut broker = Mosquitto::start();
    let topic = "ny-power/test/acks";
    let mut opts = ClientOptions::new(broker.services_config(), format!("acks-{}", rand_id()));
    opts.clean_session = false;
    opts.manual_acks = true;
    opts.subscriptions = vec![topic.to_owned()];
    let sub = MqttClient::connect(opts.clone()).await.unwrap();
    // A retained read on the same connection is handled after the subscription: a barrier.
    sub.retained("ny-power/test/nothing").await.unwrap();
    let publisher = MqttClient::connect(ClientOptions::new(broker.services_config(), "acks-pub"))
        .await
        .unwrap();
    publisher.publish_qos1(topic, b"m1", false).await.unwrap();
    publisher.close().await;
    let first = recv_within(&sub, 20).await;
    assert_eq!(&first.payload[..], b"m1");

    // Not acknowledged when the broker goes: it delivers the message again on the next
    // connection (persistent session).
    broker.restart();
    let again = recv_within(&sub, 60).await;
    assert_eq!(&again.payload[..], b"m1");
    // The first connection's message acknowledged now: dropped, not sent on this connection.
    sub.ack(&first).await.unwrap();
    sub.retained("ny-power/test/nothing").await.unwrap();
    sub.close().await;

    // So the broker still holds it and delivers it a third time; acked on its own connection
    // it is gone for good.
    let sub = MqttClient::connect(opts.clone()).await.unwrap();
    let third = recv_within(&sub, 20).await;
    assert_eq!(&third.payload[..], b"m1");
    sub.ack(&third).await.unwrap();
    sub.retained("ny-power/test/nothing").await.unwrap();
    sub.close().await;
    let sub = MqttClient::connect(opts).await.unwrap();
    sub.retained("ny-power/test/nothing").await.unwrap();
    assert!(
        sub.try_recv().await.is_none(),
        "acknowledged on its own connection, the message is not delivered again"
    );
    sub.close().await;
}
