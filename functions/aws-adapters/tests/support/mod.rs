//! Test support shared by the functions' integration tests (included with `#[path]`): a
//! local AWS-compatible server (moto, started by the test on a free loopback port) and SDK
//! configs pointed at it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_iotdataplane::config::Credentials;
use serde_json::Value;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on `port`.
pub fn wait_for_port(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listening on 127.0.0.1:{port} after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A moto server (with `GetRetainedMessage` added by `tests/aws/moto_server.py`) and
/// request recording on. Killed on drop.
pub struct Moto {
    child: Child,
    /// Its port.
    pub port: u16,
    recording: PathBuf,
}

impl Moto {
    /// Starts one on a free port and waits until it answers.
    pub fn start() -> Moto {
        Moto::start_with_env(&[])
    }

    /// Starts one with extra environment (e.g. `tests/aws/moto_server.py`'s
    /// `NY_POWER_MOTO_S3_PUT_FAILURES` fault injection).
    pub fn start_with_env(env: &[(&str, &str)]) -> Moto {
        let port = free_port();
        let recording = std::env::temp_dir().join(format!("ny-power-moto-{port}.recording"));
        let _ = std::fs::remove_file(&recording);
        let child = Command::new("python3")
            .arg(repo_root().join("tests/aws/moto_server.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ENABLE_RECORDING", "True")
            .env("MOTO_RECORDER_FILEPATH", &recording)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with moto[server] installed (pip install 'moto[server]')");
        let moto = Moto {
            child,
            port,
            recording,
        };
        wait_for_port(port, Duration::from_secs(30));
        moto
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn get(&self, path: &str) -> String {
        reqwest::get(format!("{}{path}", self.url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Every `Publish` moto recorded, in order: (topic, query string, payload).
    pub async fn published(&self) -> Vec<(String, String, Vec<u8>)> {
        let text = self.get("/moto-api/recorder/download-recording").await;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|r| r["method"] == "POST" && r["url"].as_str().unwrap().contains("/topics/"))
            .map(|r| {
                let url = reqwest::Url::parse(r["url"].as_str().unwrap()).unwrap();
                let topic = url.path().strip_prefix("/topics/").unwrap();
                let topic = percent_decode(topic);
                let body = r["body"].as_str().unwrap();
                let body = if r["body_encoded"] == true {
                    aws_smithy_types::base64::decode(body).unwrap()
                } else {
                    body.as_bytes().to_vec()
                };
                (topic, url.query().unwrap_or("").to_owned(), body)
            })
            .collect()
    }

    /// Every request moto recorded, as (method, url).
    pub async fn requests(&self) -> Vec<(String, String)> {
        let text = self.get("/moto-api/recorder/download-recording").await;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .map(|r| {
                (
                    r["method"].as_str().unwrap().to_owned(),
                    r["url"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// The records moto holds for a Timestream table (`/moto-api/data.json`).
    pub async fn timestream_records(&self, database: &str, table: &str) -> Vec<Value> {
        let data: Value = serde_json::from_str(&self.get("/moto-api/data.json").await).unwrap();
        data["timestreamwrite"]["TimestreamTable"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["db_name"] == database && t["name"] == table)
            .map(|t| t["records"].as_array().unwrap().clone())
            .unwrap_or_default()
    }

    /// An SDK config pointed at this server, with fixed test credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .endpoint_url(self.url())
            .load()
            .await
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.recording);
    }
}
