//! MQTT over TLS against a real Mosquitto with TLS listeners (`mqtts://` and `wss://`) and
//! certificates this test makes itself (rcgen): the `ny-power pump` and `ny-power co2`
//! binaries carry a real NYISO day through TLS; a broker certificate from an untrusted CA, an
//! expired one and one for another host name each fail with an error that says which; a
//! listener that wants a client certificate takes `MQTT_CLIENT_CERT_FILE`/`_KEY_FILE`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use ny_power::adapters::mqtt::{read_retained, ClientOptions, MqttClient, MqttError};
use ny_power::adapters::mqtt_config::{MqttConfig, Secret, TlsFiles};

use support::mosquitto::{self, Mosquitto, SERVICES_USER};
use support::nyiso_server::NyisoServer;
use support::pki::{Issued, Pki, Validity};

const FIXTURE: &str = "tests/fixtures/nyiso/20171122rtfuelmix.csv";
const REL: &str = "rtfuelmix/20171122rtfuelmix.csv";
/// 2017-11-22T23:59:00-05:00: "today" in New York is the fixture's day.
const NOW: &str = "2017-11-23T04:59:00Z";

/// A TLS listener's configuration lines (Mosquitto: the options after `listener` are that
/// listener's).
fn tls_listener(port: u16, websockets: bool, cert: &Issued, client_ca: Option<&Path>) -> String {
    let mut lines = if websockets {
        // A WebSocket listener ignores its bind address (TOOLING.md): its own free port.
        format!("listener {port}\nprotocol websockets\n")
    } else {
        format!("listener {port} 127.0.0.1\n")
    };
    lines.push_str(&format!(
        "certfile {}\nkeyfile {}\n",
        cert.cert.display(),
        cert.key.display()
    ));
    if let Some(ca) = client_ca {
        lines.push_str(&format!(
            "cafile {}\nrequire_certificate true\n",
            ca.display()
        ));
    }
    lines
}

/// Settings as the services parse them (`MqttConfig::from_parts`, the CLI's path).
fn config(url: &str, user: Option<(&str, &str)>, tls: TlsFiles) -> MqttConfig {
    MqttConfig::from_parts(Some(url), user.map(|u| u.0), user.map(|u| u.1), None, &tls).unwrap()
}

fn trusting(ca: &Path) -> TlsFiles {
    TlsFiles {
        ca_file: Some(ca.to_path_buf()),
        ..TlsFiles::default()
    }
}

/// A child process killed (by its own handle) when the test ends.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn inspect_last() -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_ny-power"))
        .args(["inspect", FIXTURE])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 289, "readings of the fixture day");
    serde_json::from_str(lines[288]).unwrap()
}

async fn retained_json(mqtt: &MqttConfig, topic: &str) -> Option<Value> {
    let id = format!(
        "probe-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    read_retained(mqtt, &id, topic)
        .await
        .unwrap()
        .map(|b| serde_json::from_slice(&b).unwrap())
}

async fn wait_for<F, Fut>(secs: u64, what: &str, logs: &[&Path], mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !check().await {
        if tokio::time::Instant::now() >= deadline {
            let logs: Vec<String> = logs
                .iter()
                .map(|p| std::fs::read_to_string(p).unwrap_or_default())
                .collect();
            panic!(
                "timed out waiting for {what}; logs:\n{}",
                logs.join("\n---\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pump_publishes_a_day_over_mqtts_and_the_calculator_follows_over_wss() {
    if !mosquitto::available() {
        eprintln!("skipped: needs `apt-get install mosquitto mosquitto-clients`");
        return;
    }
    let expected = inspect_last();
    let pki = Pki::new();
    let cert = pki.server("broker", &["localhost"], Validity::Current);
    let (tls_port, wss_port) = (mosquitto::free_port(), mosquitto::free_port());
    let extra = [
        tls_listener(tls_port, false, &cert, None),
        tls_listener(wss_port, true, &cert, None),
    ];
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let broker = Mosquitto::start_with_listeners(&[], &extra, &[tls_port, wss_port]);
    let server = NyisoServer::start().await;
    server.put(REL, &std::fs::read(FIXTURE).unwrap());

    let logs = tempfile::tempdir().unwrap();
    let (pump_log, co2_log) = (logs.path().join("pump.log"), logs.path().join("co2.log"));
    let spawn = |command: &str, url: String, log: &Path| {
        Service(
            Command::new(env!("CARGO_BIN_EXE_ny-power"))
                .arg(command)
                .env("MQTT_URL", url)
                .env("MQTT_USERNAME", SERVICES_USER)
                .env("MQTT_PASSWORD", &broker.password)
                .env("MQTT_CA_FILE", pki.ca_file())
                .env("NYISO_BASE_URL", server.url())
                .env("NYPOWER_NOW", NOW)
                .env("POLL_INTERVAL", "0.5")
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(log).unwrap())
                .spawn()
                .unwrap(),
        )
    };
    let _co2 = spawn("co2", format!("wss://localhost:{wss_port}/mqtt"), &co2_log);
    let _pump = spawn("pump", format!("mqtts://localhost:{tls_port}"), &pump_log);

    // Read back over TLS too, anonymously, trusting only the test's CA.
    let reader = config(
        &format!("mqtts://localhost:{tls_port}"),
        None,
        trusting(pki.ca_file()),
    );
    let all_logs = [pump_log.as_path(), co2_log.as_path()];
    wait_for(
        120,
        "the pump's cursor at the day's last reading",
        &all_logs,
        || async {
            retained_json(&reader, "ny-power/status/fuel-mix/updated")
                .await
                .is_some_and(|v| v["ts"] == expected["ts"])
        },
    )
    .await;
    wait_for(
        60,
        "the calculator's 24 h history of the whole day",
        &all_logs,
        || async {
            retained_json(&reader, "ny-power/archive/co2/24h")
                .await
                .is_some_and(|h| h["ts"].as_array().map(Vec::len) == Some(289))
        },
    )
    .await;
    let co2 = retained_json(&reader, "ny-power/computed/co2")
        .await
        .unwrap();
    assert_eq!(co2["ts"], expected["ts"]);
    let (got, want) = (
        co2["value"].as_f64().unwrap(),
        expected["co2"]["direct"].as_f64().unwrap(),
    );
    assert!((got - want).abs() < 1e-9, "co2 {got} vs inspect {want}");
    let mix = retained_json(&reader, "ny-power/upstream/fuel-mix")
        .await
        .unwrap();
    assert_eq!(mix["total_mw"], expected["total_mw"]);
}

/// Connects once and returns the error (every case here must fail, quickly and for good).
async fn connect_error(mqtt: MqttConfig) -> MqttError {
    let mut opts = ClientOptions::new(mqtt, "tls-probe");
    opts.timeout = Duration::from_secs(60);
    match MqttClient::connect(opts).await {
        Ok(client) => {
            client.close().await;
            panic!("connected, but the connection should have been refused");
        }
        Err(e) => e,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ca_an_expired_certificate_and_a_wrong_host_name_each_say_so() {
    if !mosquitto::available() {
        eprintln!("skipped: needs `apt-get install mosquitto mosquitto-clients`");
        return;
    }
    let pki = Pki::new();
    let good = pki.server("good", &["localhost"], Validity::Current);
    let expired = pki.server("expired", &["localhost"], Validity::Expired);
    let foreign = pki.server_of_other_ca("foreign", &["localhost"]);
    let ports: Vec<u16> = (0..5).map(|_| mosquitto::free_port()).collect();
    let (good_port, expired_port, foreign_port, mtls_port, wss_port) =
        (ports[0], ports[1], ports[2], ports[3], ports[4]);
    let extra = [
        tls_listener(good_port, false, &good, None),
        tls_listener(expired_port, false, &expired, None),
        tls_listener(foreign_port, false, &foreign, None),
        tls_listener(mtls_port, false, &good, Some(pki.ca_file())),
        tls_listener(wss_port, true, &good, None),
    ];
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let broker = Mosquitto::start_with_listeners(&[], &extra, &ports);
    let ca = pki.ca_file();
    let ca_shown = ca.display().to_string();

    // The control: the good listener, the right name, the right CA.
    let ok = MqttClient::connect(ClientOptions::new(
        config(
            &format!("mqtts://localhost:{good_port}"),
            None,
            trusting(ca),
        ),
        "tls-ok",
    ))
    .await
    .unwrap();
    ok.close().await;

    // A broker certificate signed by a CA we do not trust.
    let e = connect_error(config(
        &format!("mqtts://localhost:{foreign_port}"),
        None,
        trusting(ca),
    ))
    .await;
    let text = e.to_string();
    assert!(matches!(e, MqttError::Tls { .. }), "{text}");
    assert!(
        text.contains("not signed by a trusted CA") && text.contains(&ca_shown),
        "{text}"
    );
    // Trusting another CA than the broker's: the same check, naming the file trusted.
    let other = pki.other_ca_file().display().to_string();
    let text = connect_error(config(
        &format!("mqtts://localhost:{good_port}"),
        None,
        trusting(pki.other_ca_file()),
    ))
    .await
    .to_string();
    assert!(
        text.contains("not signed by a trusted CA") && text.contains(&other),
        "{text}"
    );

    // An expired broker certificate.
    let text = connect_error(config(
        &format!("mqtts://localhost:{expired_port}"),
        None,
        trusting(ca),
    ))
    .await
    .to_string();
    assert!(text.contains("certificate has expired"), "{text}");

    // The right certificate reached under a name it does not carry, over TCP and WebSocket.
    for url in [
        format!("mqtts://127.0.0.1:{good_port}"),
        format!("wss://127.0.0.1:{wss_port}/mqtt"),
    ] {
        let text = connect_error(config(&url, None, trusting(ca)))
            .await
            .to_string();
        assert!(
            text.contains("not valid for host name `127.0.0.1`")
                && text.contains("wrong host name"),
            "{url}: {text}"
        );
    }
    // The system roots (MQTT_CA_FILE unset) do not know the test's CA either.
    let text = connect_error(config(
        &format!("wss://localhost:{wss_port}/mqtt"),
        None,
        TlsFiles::default(),
    ))
    .await
    .to_string();
    assert!(
        text.contains("not signed by a trusted CA") && text.contains("MQTT_CA_FILE is unset"),
        "{text}"
    );

    // A listener that wants a client certificate: with one (and the services' password) the
    // services may publish; the retained value is there to read.
    let client = pki.client("client", SERVICES_USER);
    let mut mtls = config(
        &format!("mqtts://localhost:{mtls_port}"),
        Some((SERVICES_USER, &broker.password)),
        TlsFiles {
            ca_file: Some(ca.to_path_buf()),
            client_cert_file: Some(client.cert.clone()),
            client_key_file: Some(client.key.clone()),
        },
    );
    let publisher = MqttClient::connect(ClientOptions::new(mtls.clone(), "tls-mtls"))
        .await
        .unwrap();
    publisher
        .publish_qos1("ny-power/test/tls", b"{\"over\":\"mtls\"}", true)
        .await
        .unwrap();
    publisher.close().await;
    mtls.username = None;
    mtls.password = None::<Secret>;
    assert_eq!(
        retained_json(&mtls, "ny-power/test/tls").await.unwrap()["over"],
        "mtls"
    );
    // Without one, the broker ends the connection and the error points at the settings.
    let e = {
        let mut opts = ClientOptions::new(
            config(
                &format!("mqtts://localhost:{mtls_port}"),
                None,
                trusting(ca),
            ),
            "tls-no-client-cert",
        );
        opts.timeout = Duration::from_secs(10);
        MqttClient::connect(opts).await.err()
    };
    let text = e.map(|e| e.to_string()).unwrap_or_default();
    assert!(text.contains("MQTT_CLIENT_CERT_FILE"), "{text}");
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_stop_at_start_on_a_bad_certificate_file_or_an_expired_broker() {
    if !mosquitto::available() {
        eprintln!("skipped: needs `apt-get install mosquitto mosquitto-clients`");
        return;
    }
    let pki = Pki::new();
    let expired = pki.server("expired", &["localhost"], Validity::Expired);
    let port = mosquitto::free_port();
    let extra = [tls_listener(port, false, &expired, None)];
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let _broker = Mosquitto::start_with_listeners(&[], &extra, &[port]);
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();

    let run = |envs: &[(&str, String)]| {
        let out = Command::new(env!("CARGO_BIN_EXE_ny-power"))
            .arg("co2")
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "co2 should have stopped");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let url = format!("mqtts://localhost:{port}");
    let missing = dir.path().join("missing.pem");
    let err = run(&[
        ("MQTT_URL", url.clone()),
        ("MQTT_CA_FILE", missing.display().to_string()),
    ]);
    assert!(
        err.contains("MQTT_CA_FILE: cannot read") && err.contains("missing.pem"),
        "{err}"
    );
    let err = run(&[
        ("MQTT_URL", url.clone()),
        ("MQTT_CA_FILE", garbage.display().to_string()),
    ]);
    assert!(
        err.contains("MQTT_CA_FILE: ") && err.contains("garbage.pem holds no PEM certificate"),
        "{err}"
    );
    let err = run(&[
        ("MQTT_URL", url.clone()),
        ("MQTT_CLIENT_CERT_FILE", garbage.display().to_string()),
    ]);
    assert!(err.contains("MQTT_CLIENT_KEY_FILE is required"), "{err}");
    let err = run(&[
        ("MQTT_URL", format!("mqtt://localhost:{port}")),
        ("MQTT_CA_FILE", pki.ca_file().display().to_string()),
    ]);
    assert!(err.contains("is not a TLS URL"), "{err}");
    // A well-configured service meeting an expired broker certificate exits, saying so.
    let err = run(&[
        ("MQTT_URL", url),
        ("MQTT_CA_FILE", pki.ca_file().display().to_string()),
    ]);
    assert!(err.contains("certificate has expired"), "{err}");
}
