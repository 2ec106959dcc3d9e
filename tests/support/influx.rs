//! A real InfluxDB 1.x (`influxd run -config FILE`) for tests: its own temp config, meta, data
//! and WAL folders; HTTP and RPC bound to 127.0.0.1 on free ports; reporting off. Stop and
//! restart keep the data and ports. The process is killed when the value is dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;

/// A running (or stopped) `influxd`.
pub struct Influxd {
    dir: tempfile::TempDir,
    config: PathBuf,
    http_port: u16,
    child: Option<Child>,
}

impl Drop for Influxd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Influxd {
    /// Starts `influxd` and waits until `/ping` answers.
    pub fn start() -> Influxd {
        let mut influxd = Influxd::stopped();
        influxd.run();
        influxd
    }

    /// Configures `influxd` (ports, folders) without starting it: [`Influxd::url`] refuses
    /// connections until [`Influxd::restart`] starts it (with no database).
    pub fn stopped() -> Influxd {
        let dir = tempfile::tempdir().expect("temp dir");
        let http_port = free_port();
        let rpc_port = free_port();
        let root = dir.path().display().to_string();
        let config = dir.path().join("influxdb.conf");
        std::fs::write(
            &config,
            format!(
                r#"reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root}/meta"
  logging-enabled = false

[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
  trace-logging-enabled = false

[retention]
  enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false

[continuous_queries]
  enabled = false

[subscriber]
  enabled = false
"#
            ),
        )
        .expect("write influxdb.conf");
        Influxd {
            dir,
            config,
            http_port,
            child: None,
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("influxd.log")
    }

    fn run(&mut self) {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let child = Command::new("influxd")
            .arg("run")
            .arg("-config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("influxd on PATH (apt-get install influxdb)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.ping() {
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "influxd exited ({status}) before answering /ping:\n{}",
                        std::fs::read_to_string(self.log_path()).unwrap_or_default()
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "influxd did not answer /ping within 20 s:\n{}",
            std::fs::read_to_string(self.log_path()).unwrap_or_default()
        );
    }

    /// Whether `/ping` answers 204.
    pub fn ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.http_port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut reply = String::new();
        let _ = s.read_to_string(&mut reply);
        reply.starts_with("HTTP/1.0 204") || reply.starts_with("HTTP/1.1 204")
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// The folder holding config, data and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the server (SIGTERM, then waits), keeping its data.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Starts it again on the same ports with the same data.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// Runs an InfluxQL statement (`POST /query`) and returns the JSON reply.
    pub async fn query(&self, db: &str, q: &str) -> serde_json::Value {
        let reply = reqwest::Client::new()
            .post(format!("{}/query", self.url()))
            .form(&[("db", db), ("q", q), ("epoch", "s")])
            .send()
            .await
            .expect("query sent");
        let text = reply.text().await.expect("query reply");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("query reply `{text}`: {e}"))
    }

    /// Creates a database.
    pub async fn create_database(&self, db: &str) {
        let v = self.query(db, &format!("CREATE DATABASE \"{db}\"")).await;
        assert!(v["results"][0].get("error").is_none(), "{v}");
    }

    /// Rows of `SELECT …` as (columns, values).
    pub async fn select(&self, db: &str, q: &str) -> (Vec<String>, Vec<Vec<serde_json::Value>>) {
        let v = self.query(db, q).await;
        let series = &v["results"][0]["series"][0];
        if series.is_null() {
            return (Vec::new(), Vec::new());
        }
        let columns = series["columns"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| c.as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let values = series["values"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| r.as_array().cloned().unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        (columns, values)
    }

    /// Number of points of `measurement` (counted on `field`), optionally with a `WHERE`.
    pub async fn count(&self, db: &str, measurement: &str, field: &str, filter: &str) -> u64 {
        let q = format!("SELECT COUNT(\"{field}\") FROM \"{measurement}\" {filter}");
        let (_, values) = self.select(db, &q).await;
        values
            .first()
            .and_then(|r| r.get(1))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    }
}
