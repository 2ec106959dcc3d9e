//! A real Mosquitto (Debian package `mosquitto`) for integration tests, set up like the
//! production broker: a TCP listener and a WebSocket listener on free loopback ports, a
//! password file with the services' user, an ACL under which anonymous clients may only read
//! `ny-power/#` while the services' user may write, and persistence in a temp directory so a
//! restart keeps retained messages and persistent sessions.
//!
//! ```ignore
//! let mut broker = Mosquitto::start();
//! let services = broker.services_config();  // MqttConfig with the user and password
//! broker.restart();                          // same ports, same data
//! // The services may also write another tree (read-only for anonymous clients):
//! let broker = Mosquitto::start_with_trees(&["homeassistant/#"], &[]);
//! ```
//!
//! Traps handled (see TOOLING.md): Mosquitto started as root drops to user `mosquitto`, so the
//! directory and files are handed to it; a WebSocket listener ignores its bind address, so it
//! gets a free port of its own; a TCP listener is always present.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ny_power::adapters::mqtt_config::{BrokerUrl, MqttConfig, Secret};

/// The services' user name in the password file.
pub const SERVICES_USER: &str = "ny-power";

/// Whether Mosquitto is installed (tests print why they are skipped otherwise).
pub fn available() -> bool {
    Command::new("mosquitto")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
        && Path::new("/usr/bin/mosquitto_passwd").exists()
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A running (or stopped) Mosquitto with its own directory.
pub struct Mosquitto {
    dir: tempfile::TempDir,
    /// TCP port (MQTT 3.1.1 / 5).
    pub port: u16,
    /// WebSocket port (path `/`; any path is accepted).
    pub ws_port: u16,
    /// The services' password.
    pub password: String,
    /// Ports of listeners given in the extra configuration (waited for at start).
    extra_ports: Vec<u16>,
    child: Option<Child>,
}

impl Mosquitto {
    /// Writes the configuration and starts the broker; waits until both listeners accept
    /// connections.
    pub fn start() -> Mosquitto {
        Self::start_with(&[])
    }

    /// Like [`Mosquitto::start`] with extra configuration lines (e.g. `max_queued_messages`).
    pub fn start_with(extra: &[&str]) -> Mosquitto {
        Self::start_with_trees(&[], extra)
    }

    /// Like [`Mosquitto::start_with`], and the ACL gives the services' user `readwrite` and
    /// anonymous clients `read` on each topic filter of `trees` as well (e.g. Home Assistant's
    /// discovery prefix `homeassistant/#`).
    pub fn start_with_trees(trees: &[&str], extra: &[&str]) -> Mosquitto {
        Self::start_with_listeners(trees, extra, &[])
    }

    /// Like [`Mosquitto::start_with_trees`], where `extra` declares more listeners (e.g. TLS
    /// ones) on `ports`: the start waits until those accept connections too.
    pub fn start_with_listeners(trees: &[&str], extra: &[&str], ports: &[u16]) -> Mosquitto {
        let dir = tempfile::Builder::new()
            .prefix("ny-power-mosquitto-")
            .tempdir()
            .expect("temp dir");
        let password = format!("pw-{}", std::process::id());
        let mut broker = Mosquitto {
            port: free_port(),
            ws_port: free_port(),
            password,
            dir,
            extra_ports: ports.to_vec(),
            child: None,
        };
        broker.write_config(trees, extra);
        broker.spawn();
        broker
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write_config(&self, trees: &[&str], extra: &[&str]) {
        let passwd = self.path("passwd");
        let status = Command::new("mosquitto_passwd")
            .args(["-b", "-c"])
            .arg(&passwd)
            .args([SERVICES_USER, &self.password])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run mosquitto_passwd");
        assert!(status.success(), "mosquitto_passwd failed");
        // Lines before the first `user` apply to anonymous clients.
        let mut anonymous = "topic read ny-power/#\n".to_owned();
        let mut services = format!("user {SERVICES_USER}\ntopic readwrite ny-power/#\n");
        for tree in trees {
            anonymous.push_str(&format!("topic read {tree}\n"));
            services.push_str(&format!("topic readwrite {tree}\n"));
        }
        let acl = format!("{anonymous}\n{services}");
        std::fs::write(self.path("acl"), acl).expect("write acl");
        std::fs::create_dir_all(self.path("data")).expect("data dir");
        let mut conf = format!(
            "per_listener_settings false\n\
             allow_anonymous true\n\
             password_file {passwd}\n\
             acl_file {acl}\n\
             persistence true\n\
             persistence_location {data}/\n\
             log_dest file {log}\n\
             log_type error\nlog_type warning\nlog_type notice\nlog_type information\n\
             connection_messages true\n\
             listener {port} 127.0.0.1\n\
             listener {ws_port} 127.0.0.1\n\
             protocol websockets\n",
            passwd = passwd.display(),
            acl = self.path("acl").display(),
            data = self.path("data").display(),
            log = self.path("mosquitto.log").display(),
            port = self.port,
            ws_port = self.ws_port,
        );
        for line in extra {
            conf.push_str(line);
            conf.push('\n');
        }
        std::fs::write(self.path("mosquitto.conf"), conf).expect("write config");
        hand_to_mosquitto(self.dir.path());
    }

    fn spawn(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(self.path("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let ports: Vec<u16> = [self.port, self.ws_port]
            .into_iter()
            .chain(self.extra_ports.iter().copied())
            .collect();
        for port in ports {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Some(status) = self
                    .child
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten())
                {
                    panic!("mosquitto exited ({status}):\n{}", self.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "mosquitto not listening on {port}:\n{}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// Stops the broker cleanly (SIGTERM: it saves its persistence file) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same ports with the same data.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "broker still running");
        // The ports were released by the old process; wait until they are bindable.
        self.spawn();
    }

    /// Stops and starts again.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Whether the broker process runs.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// `ws://127.0.0.1:WS_PORT/mqtt`.
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/mqtt", self.ws_port)
    }

    /// Anonymous (read-only) connection settings.
    pub fn anonymous_config(&self) -> MqttConfig {
        MqttConfig::anonymous(BrokerUrl::Tcp {
            host: "127.0.0.1".into(),
            port: self.port,
        })
    }

    /// The services' connection settings (may write `ny-power/#`).
    pub fn services_config(&self) -> MqttConfig {
        MqttConfig {
            username: Some(SERVICES_USER.into()),
            password: Some(Secret::new(self.password.clone())),
            ..self.anonymous_config()
        }
    }

    /// The environment the `ny-power` services need to reach this broker as the services'
    /// user.
    pub fn services_env(&self) -> Vec<(String, String)> {
        vec![
            ("MQTT_URL".into(), self.url()),
            ("MQTT_USERNAME".into(), SERVICES_USER.into()),
            ("MQTT_PASSWORD".into(), self.password.clone()),
        ]
    }

    /// The broker's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Mosquitto started as root switches to user `mosquitto`: let it read its files and write
/// its persistence directory.
fn hand_to_mosquitto(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if is_root {
        let status = Command::new("chown")
            .args(["-R", "mosquitto:mosquitto"])
            .arg(dir)
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "chown mosquitto {} failed",
            dir.display()
        );
    }
}
