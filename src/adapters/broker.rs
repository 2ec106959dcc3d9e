//! The demo's embedded MQTT broker: `rumqttd` with a TCP and a WebSocket listener, both bound
//! to 127.0.0.1 only.
//!
//! Retained messages work as with Mosquitto (the dashboard relies on them). What does not:
//! rumqttd has **no topic ACLs**, so anyone who can reach the loopback listeners may publish;
//! the read-only guarantee of DESIGN §5 is Mosquitto's (Kubernetes) and IoT Core's (AWS), not
//! the demo's. The broker keeps nothing on disk; the demo restores what it needs from its data
//! directory (see `docs/demo.md`).
//!
//! **Browsers are checked by origin.** Any web page the user visits may open a WebSocket to
//! `ws://127.0.0.1:9001`, and rumqttd would let it publish. So the WebSocket listener is a
//! small front of ours ([`OriginPolicy`]): it reads the HTTP upgrade request (at most
//! [`MAX_HANDSHAKE_BYTES`], within [`HANDSHAKE_TIMEOUT`]), answers **403** when the request's
//! `Origin` is neither a loopback origin (`http(s)://127.0.0.1`, `localhost` or `[::1]`, any
//! port) nor one of the configured ones (`--allowed-origin`), and otherwise splices the
//! connection, request included, to rumqttd's own WebSocket listener on an internal loopback
//! port. A request without `Origin` (a non-browser client: paho, mosquitto_sub, MQTT.js in
//! Node) is let through — browsers always send it on a WebSocket handshake.
//!
//! **Connections are capped with room kept for the services.** rumqttd holds at most
//! `max_connections` (`BROKER_MAX_CONNECTIONS`, default [`DEFAULT_MAX_CONNECTIONS`]) and,
//! when full, silently drops a new connection. The WebSocket front therefore admits at most
//! `max_connections - `[`RESERVED_FOR_SERVICES`] viewers and answers any more with **503**: the
//! demo's own clients (pump, calculator, archiver, monitor; all over TCP) always find a slot,
//! however many dashboards are open.
//!
//! rumqttd 0.20 runs on its own threads and has no shutdown API: once started, the broker
//! lives until the process exits. `ny-power demo` stops it by exiting.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Transport};
use rumqttd::{Config, ConnectionSettings, RouterConfig, ServerSettings};

/// How long [`EmbeddedBroker::start`] waits for both listeners to answer an MQTT CONNECT.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest payload the broker accepts (the 24 h history is ~10 KB; leave room).
const MAX_PAYLOAD: usize = 1024 * 1024;

/// The largest WebSocket upgrade request the front reads (browsers send well under 2 KB).
pub const MAX_HANDSHAKE_BYTES: usize = 16 * 1024;

/// How long the front waits for a complete upgrade request.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections the broker holds by default (`BROKER_MAX_CONNECTIONS`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1000;

/// Connections kept for the demo's own TCP clients: the WebSocket front admits at most
/// `max_connections - RESERVED_FOR_SERVICES` viewers.
pub const RESERVED_FOR_SERVICES: usize = 16;

/// Which browser origins may open the demo's WebSocket (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginPolicy {
    extra: Vec<String>,
}

/// A configured origin that is not `scheme://host[:port]`.
#[derive(Debug, thiserror::Error)]
#[error("allowed origin `{value}`: {problem} (expected e.g. http://192.168.1.20:8080)")]
pub struct OriginError {
    /// The value given (quoted short, control characters escaped).
    pub value: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl OriginPolicy {
    /// Loopback origins only.
    pub fn loopback() -> Self {
        OriginPolicy::default()
    }

    /// Loopback origins and `origins` (each `http(s)://host[:port]`, compared case-insensitively;
    /// a trailing `/` is ignored).
    ///
    /// # Errors
    /// [`OriginError`] for a value that is not an origin.
    pub fn with_origins<S: AsRef<str>>(origins: &[S]) -> Result<Self, OriginError> {
        let mut extra = Vec::new();
        for raw in origins {
            let raw = raw.as_ref().trim();
            let normal = raw.trim_end_matches('/').to_ascii_lowercase();
            let bad = |problem| OriginError {
                value: crate::quote::quote(raw),
                problem,
            };
            let Some((scheme, authority)) = normal.split_once("://") else {
                return Err(bad("no scheme"));
            };
            if scheme != "http" && scheme != "https" {
                return Err(bad("the scheme must be http or https"));
            }
            let ok = !authority.is_empty()
                && authority
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-_:[]".contains(c));
            if !ok {
                return Err(bad("not a host[:port] (no path, user or spaces)"));
            }
            extra.push(normal);
        }
        Ok(OriginPolicy { extra })
    }

    /// Whether a handshake with this `Origin` header value may proceed.
    pub fn allows(&self, origin: &str) -> bool {
        let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        is_loopback_origin(&origin) || self.extra.contains(&origin)
    }
}

/// `http(s)://127.0.0.1`, `localhost` or `[::1]`, with any port or none.
fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let (host, port) = if let Some(v6) = rest.strip_prefix("[::1]") {
        ("[::1]", v6)
    } else {
        match rest.find(':') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        }
    };
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|p| {
            !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
        });
    matches!(host, "127.0.0.1" | "localhost" | "[::1]") && port_ok
}

/// Errors starting the embedded broker.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The requested port is taken (or could not be bound on 127.0.0.1).
    #[error(
        "cannot listen for MQTT {listener} on 127.0.0.1:{port}: {source} \
         (choose another port with {flag}, or 0 for any free port)"
    )]
    Port {
        /// `TCP` or `WebSocket`.
        listener: &'static str,
        /// The port asked for.
        port: u16,
        /// The flag that sets it.
        flag: &'static str,
        /// The bind error.
        source: std::io::Error,
    },
    /// The broker's threads could not be started.
    #[error("starting the embedded MQTT broker: {0}")]
    Start(String),
    /// A listener did not accept an MQTT connection in time.
    #[error("the embedded MQTT broker's {listener} listener on {addr} did not answer within {secs} s: {last}")]
    NotReady {
        /// `TCP` or `WebSocket`.
        listener: &'static str,
        /// Its address.
        addr: SocketAddr,
        /// How long was waited.
        secs: u64,
        /// The last connection error seen.
        last: String,
    },
}

/// A running embedded broker (see the module docs for its lifetime).
#[derive(Debug, Clone)]
pub struct EmbeddedBroker {
    tcp: SocketAddr,
    ws: SocketAddr,
    viewers: usize,
}

impl EmbeddedBroker {
    /// Starts the broker with an MQTT (v3.1.1) TCP listener on `127.0.0.1:tcp_port` and an
    /// MQTT-over-WebSocket listener on `127.0.0.1:ws_port` (0 = any free port), and returns once
    /// both accept MQTT connections.
    ///
    /// # Errors
    /// [`BrokerError`] when a port is taken or the broker does not come up.
    pub async fn start(tcp_port: u16, ws_port: u16) -> Result<EmbeddedBroker, BrokerError> {
        Self::start_with(tcp_port, ws_port, OriginPolicy::loopback()).await
    }

    /// As [`EmbeddedBroker::start`], with the browser origins the WebSocket listener accepts.
    ///
    /// # Errors
    /// [`BrokerError`] when a port is taken or the broker does not come up.
    pub async fn start_with(
        tcp_port: u16,
        ws_port: u16,
        origins: OriginPolicy,
    ) -> Result<EmbeddedBroker, BrokerError> {
        Self::start_with_limit(tcp_port, ws_port, origins, DEFAULT_MAX_CONNECTIONS).await
    }

    /// As [`EmbeddedBroker::start_with`], holding at most `max_connections` connections, of
    /// which WebSocket viewers get all but [`RESERVED_FOR_SERVICES`] (checked by
    /// [`crate::settings::parse_broker_max_connections`]; a smaller value is raised to
    /// `RESERVED_FOR_SERVICES + 1`).
    ///
    /// # Errors
    /// [`BrokerError`] when a port is taken or the broker does not come up.
    pub async fn start_with_limit(
        tcp_port: u16,
        ws_port: u16,
        origins: OriginPolicy,
        max_connections: usize,
    ) -> Result<EmbeddedBroker, BrokerError> {
        let max_connections = max_connections.max(RESERVED_FOR_SERVICES + 1);
        let viewers = max_connections - RESERVED_FOR_SERVICES;
        let (tcp, tcp_hold) = reserve("TCP", tcp_port, "--mqtt-port")?;
        let front = bind_front(ws_port)?;
        let ws = front.local_addr().map_err(|source| BrokerError::Port {
            listener: "WebSocket",
            port: ws_port,
            flag: "--ws-port",
            source,
        })?;
        let (inner_ws, inner_hold) = reserve("WebSocket (internal)", 0, "--ws-port")?;
        let config = broker_config(tcp, inner_ws, max_connections);
        // Both ports are distinct now; free them for rumqttd.
        drop((tcp_hold, inner_hold));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::Builder::new()
            .name("mqtt-broker".to_owned())
            .spawn(move || {
                let mut broker = rumqttd::Broker::new(config);
                // Blocks for the life of the process unless every listener fails.
                if let Err(e) = broker.start() {
                    let _ = tx.send(e.to_string());
                }
            })
            .map_err(|e| BrokerError::Start(e.to_string()))?;
        tokio::spawn(ws_front(front, inner_ws, Arc::new(origins), viewers));
        let broker = EmbeddedBroker { tcp, ws, viewers };
        let deadline = Instant::now() + READY_TIMEOUT;
        for (listener, transport) in [("TCP", false), ("WebSocket", true)] {
            broker
                .wait_ready(listener, transport, deadline, &rx)
                .await?;
        }
        tracing::info!(tcp = %tcp, ws = %broker.ws_url(), max_connections, viewers, "embedded MQTT broker ready");
        Ok(broker)
    }

    /// The TCP listener's address.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp
    }

    /// The WebSocket listener's address.
    pub fn ws_addr(&self) -> SocketAddr {
        self.ws
    }

    /// How many WebSocket connections (viewers) the front admits at once.
    pub fn max_viewers(&self) -> usize {
        self.viewers
    }

    /// The URL browsers (MQTT.js) connect to: `ws://127.0.0.1:PORT/mqtt`. rumqttd accepts any
    /// path; `/mqtt` is what Mosquitto setups and MQTT.js examples use, so the same URL shape
    /// works everywhere.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/mqtt", self.ws)
    }

    async fn wait_ready(
        &self,
        listener: &'static str,
        websocket: bool,
        deadline: Instant,
        failed: &std::sync::mpsc::Receiver<String>,
    ) -> Result<(), BrokerError> {
        let addr = if websocket { self.ws } else { self.tcp };
        loop {
            if let Ok(e) = failed.try_recv() {
                return Err(BrokerError::Start(e));
            }
            let last = match probe(addr, websocket).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(BrokerError::NotReady {
                    listener,
                    addr,
                    secs: READY_TIMEOUT.as_secs(),
                    last,
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Binds the public WebSocket listener (the origin-checking front) on loopback.
fn bind_front(port: u16) -> Result<tokio::net::TcpListener, BrokerError> {
    let err = |source| BrokerError::Port {
        listener: "WebSocket",
        port,
        flag: "--ws-port",
        source,
    };
    let std = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map_err(err)?;
    std.set_nonblocking(true).map_err(err)?;
    tokio::net::TcpListener::from_std(std).map_err(err)
}

/// The WebSocket front: accepts browsers' and other clients' connections and hands the allowed
/// ones to rumqttd's internal listener (see the module docs); past `viewers` connections at
/// once, a new one gets 503.
async fn ws_front(
    listener: tokio::net::TcpListener,
    inner: SocketAddr,
    origins: Arc<OriginPolicy>,
    viewers: usize,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(viewers));
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            Err(e) => {
                tracing::warn!(error = %e, "embedded broker: accepting a WebSocket connection");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tokio::spawn(async move {
                let mut client = client;
                tracing::warn!(viewers, "embedded broker: WebSocket connections at the cap (BROKER_MAX_CONNECTIONS); refused one with 503");
                let _ = respond(
                    &mut client,
                    "503 Service Unavailable",
                    "too many connections\n",
                )
                .await;
            });
            continue;
        };
        let origins = Arc::clone(&origins);
        tokio::spawn(async move {
            if let Err(e) = ws_connection(client, inner, &origins).await {
                tracing::debug!(error = %e, "embedded broker: WebSocket connection ended");
            }
            drop(slot);
        });
    }
}

/// What the front decided about one upgrade request.
#[derive(Debug, PartialEq, Eq)]
enum Handshake {
    /// Complete and allowed: splice it to rumqttd.
    Pass,
    /// A browser origin that is not allowed (the value, quoted short).
    Forbidden(String),
    /// Not an HTTP request head we accept (too large, several `Origin` headers, not UTF-8).
    Bad(&'static str),
    /// The head is not complete yet.
    Incomplete,
}

/// Judges the bytes read so far of an upgrade request.
fn judge(head: &[u8], origins: &OriginPolicy) -> Handshake {
    let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if head.len() >= MAX_HANDSHAKE_BYTES {
            Handshake::Bad("request head too large")
        } else {
            Handshake::Incomplete
        };
    };
    let Ok(text) = std::str::from_utf8(&head[..end]) else {
        return Handshake::Bad("request head is not UTF-8");
    };
    let mut found = None;
    for line in text.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("origin") {
            if found.is_some() {
                return Handshake::Bad("more than one Origin header");
            }
            found = Some(value.trim());
        }
    }
    match found {
        Some(origin) if !origins.allows(origin) => {
            Handshake::Forbidden(crate::quote::quote(origin))
        }
        _ => Handshake::Pass,
    }
}

async fn ws_connection(
    mut client: tokio::net::TcpStream,
    inner: SocketAddr,
    origins: &OriginPolicy,
) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let verdict = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        let mut buf = [0u8; 2048];
        loop {
            let n = client.read(&mut buf).await?;
            if n == 0 {
                return Ok(Handshake::Bad("closed before the request was complete"));
            }
            head.extend_from_slice(&buf[..n]);
            match judge(&head, origins) {
                Handshake::Incomplete => {}
                verdict => return Ok::<_, std::io::Error>(verdict),
            }
        }
    })
    .await
    .unwrap_or(Ok(Handshake::Bad(
        "no complete request within the handshake timeout",
    )))?;
    match verdict {
        Handshake::Pass => {
            let mut upstream = tokio::net::TcpStream::connect(inner).await?;
            upstream.write_all(&head).await?;
            tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
            Ok(())
        }
        Handshake::Forbidden(origin) => {
            tracing::warn!(%origin, "embedded broker: refused a WebSocket from a web page of another origin (allow it with --allowed-origin)");
            respond(&mut client, "403 Forbidden", "origin not allowed\n").await
        }
        Handshake::Bad(problem) => {
            tracing::debug!(problem, "embedded broker: bad WebSocket handshake");
            respond(&mut client, "400 Bad Request", "bad WebSocket handshake\n").await
        }
        Handshake::Incomplete => Ok(()),
    }
}

async fn respond(
    client: &mut tokio::net::TcpStream,
    status: &str,
    body: &str,
) -> std::io::Result<()> {
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(reply.as_bytes()).await?;
    client.shutdown().await
}

/// Checks that `port` can be bound on loopback now and returns the address to give rumqttd
/// (for port 0, a free port picked by the OS).
///
/// The listener is returned too: keep it until every port is reserved, so the OS cannot hand
/// the same free port out twice; drop it just before rumqttd binds the address.
fn reserve(
    listener: &'static str,
    port: u16,
    flag: &'static str,
) -> Result<(SocketAddr, TcpListener), BrokerError> {
    let err = |source| BrokerError::Port {
        listener,
        port,
        flag,
        source,
    };
    let bound = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map_err(err)?;
    let addr = bound.local_addr().map_err(err)?;
    Ok((addr, bound))
}

fn connection_settings() -> ConnectionSettings {
    ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: MAX_PAYLOAD,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    }
}

fn server(name: &str, listen: SocketAddr) -> HashMap<String, ServerSettings> {
    HashMap::from([(
        "1".to_owned(),
        ServerSettings {
            name: name.to_owned(),
            listen,
            tls: None,
            next_connection_delay_ms: 1,
            connections: connection_settings(),
        },
    )])
}

fn broker_config(tcp: SocketAddr, ws: SocketAddr, max_connections: usize) -> Config {
    Config {
        id: 0,
        router: RouterConfig {
            max_connections,
            max_outgoing_packet_count: 200,
            max_segment_size: 4 * 1024 * 1024,
            max_segment_count: 4,
            ..RouterConfig::default()
        },
        v4: Some(server("demo-tcp", tcp)),
        ws: Some(server("demo-ws", ws)),
        ..Config::default()
    }
}

/// One MQTT CONNECT/CONNACK round trip (a clean handshake, so the broker logs no error).
async fn probe(addr: SocketAddr, websocket: bool) -> Result<(), String> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let id = format!(
        "ny-power-probe-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut options = if websocket {
        let mut o = MqttOptions::new(id, format!("ws://{addr}/mqtt"), addr.port());
        o.set_transport(Transport::Ws);
        o
    } else {
        MqttOptions::new(id, addr.ip().to_string(), addr.port())
    };
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut eventloop) = AsyncClient::new(options, 4);
    let handshake = async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    };
    let result = tokio::time::timeout(Duration::from_secs(2), handshake)
        .await
        .unwrap_or_else(|_| Err("no CONNACK within 2 s".to_owned()));
    if result.is_ok() {
        let _ = client.disconnect().await;
        // Let the DISCONNECT go out so the broker sees a clean close.
        let _ = tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await;
    }
    result
}

/// The demo's saved retained messages (see [`load_snapshot`]): topic → JSON payload.
pub type RetainedSnapshot = std::collections::BTreeMap<String, serde_json::Value>;

/// The format version [`save_snapshot`] writes. Version 1 (before issue 10) was the bare
/// topic → payload object, without a version; it is migrated on load.
pub const SNAPSHOT_VERSION: u64 = 2;

/// The `format` field of a saved snapshot.
const SNAPSHOT_FORMAT: &str = "ny-power demo retained messages";

/// The largest snapshot file [`load_snapshot`] reads (a real one is tens of KB).
pub const MAX_SNAPSHOT_BYTES: u64 = 8 * 1024 * 1024;

/// Saves `snapshot` to `path` atomically (a temp file renamed over it), in the current format:
/// `{"format": …, "version": 2, "saved_at": RFC 3339, "retained": {topic: payload}}`.
///
/// # Errors
/// The I/O error when the file cannot be written.
pub fn save_snapshot(
    path: &std::path::Path,
    snapshot: &RetainedSnapshot,
    now: chrono::DateTime<chrono::Utc>,
) -> std::io::Result<()> {
    let file = serde_json::json!({
        "format": SNAPSHOT_FORMAT,
        "version": SNAPSHOT_VERSION,
        "saved_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "retained": snapshot,
    });
    let bytes = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Reads the snapshot at `path` for restoring, never failing: a missing file is an empty
/// snapshot; a file that is too large ([`MAX_SNAPSHOT_BYTES`]), not JSON, or of an unknown
/// (newer) version is logged, moved aside to `…json.rejected` and the demo starts clean; a
/// version-1 file is migrated. Each entry is then checked on its own and left out (logged)
/// when its topic is not one of the contract's data topics (`topics`), its payload does not
/// decode as that topic's type, or — for a reading's topics (fuel mix, per-fuel, intensities,
/// cursor, 24 h history) — it is dated later than `now` plus 15 minutes.
pub fn load_snapshot(
    path: &std::path::Path,
    topics: &crate::stream::Topics,
    now: chrono::DateTime<chrono::Utc>,
) -> RetainedSnapshot {
    match read_snapshot(path) {
        Ok(None) => RetainedSnapshot::new(),
        Ok(Some(raw)) => validate_snapshot(path, raw, topics, now),
        Err(problem) => {
            let aside = path.with_extension("json.rejected");
            let moved = std::fs::rename(path, &aside).is_ok();
            tracing::warn!(
                file = %path.display(),
                %problem,
                moved_to = %if moved { aside.display().to_string() } else { "(could not move it)".to_owned() },
                "saved demo state not usable; starting clean"
            );
            RetainedSnapshot::new()
        }
    }
}

/// The file's retained map (migrated to the current version), `None` when there is no file.
fn read_snapshot(path: &std::path::Path) -> Result<Option<RetainedSnapshot>, String> {
    use std::io::Read as _;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    let mut bytes = Vec::new();
    file.take(MAX_SNAPSHOT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > MAX_SNAPSHOT_BYTES {
        return Err(format!("larger than {MAX_SNAPSHOT_BYTES} bytes"));
    }
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("not JSON ({})", crate::quote::quote(&e.to_string())))?;
    let serde_json::Value::Object(mut object) = value else {
        return Err("not a JSON object".to_owned());
    };
    match object.get("version") {
        // Version 1: the bare topic → payload map of earlier releases.
        None => {
            tracing::info!(file = %path.display(), "migrating the saved demo state from format version 1");
            Ok(Some(object.into_iter().collect()))
        }
        Some(v) if v.as_u64() == Some(SNAPSHOT_VERSION) => match object.remove("retained") {
            Some(serde_json::Value::Object(map)) => Ok(Some(map.into_iter().collect())),
            _ => Err("version 2 without a `retained` object".to_owned()),
        },
        Some(v) => Err(format!(
            "format version {} is not one this ny-power reads (it reads 1 and {SNAPSHOT_VERSION})",
            crate::quote::quote(&v.to_string())
        )),
    }
}

/// Keeps the entries that are valid retained messages of the contract (see [`load_snapshot`]).
fn validate_snapshot(
    path: &std::path::Path,
    raw: RetainedSnapshot,
    topics: &crate::stream::Topics,
    now: chrono::DateTime<chrono::Utc>,
) -> RetainedSnapshot {
    let latest = crate::reading::latest_acceptable(now);
    let mut kept = RetainedSnapshot::new();
    for (topic, payload) in raw {
        match check_entry(topics, &topic, &payload, latest) {
            Ok(()) => {
                kept.insert(topic, payload);
            }
            Err(problem) => tracing::warn!(
                file = %path.display(),
                topic = %crate::quote::quote(&topic),
                %problem,
                "saved demo state: entry not restored"
            ),
        }
    }
    kept
}

fn check_entry(
    topics: &crate::stream::Topics,
    topic: &str,
    payload: &serde_json::Value,
    latest: chrono::DateTime<chrono::Utc>,
) -> Result<(), String> {
    use crate::stream::{self as s, TopicKind};
    let bytes = serde_json::to_vec(payload).map_err(|e| e.to_string())?;
    let bad = |e: s::StreamError| crate::quote::quote(&e.to_string());
    let dated = match topics.classify(topic) {
        None | Some(TopicKind::ServiceStatus(_)) => {
            return Err("not a data topic of the stream".to_owned())
        }
        Some(TopicKind::Co2Archive) => return Err("the archive stream is not retained".to_owned()),
        Some(TopicKind::FuelMix) => Some(s::decode_fuel_mix(topic, &bytes).map_err(bad)?.ts),
        Some(TopicKind::Fuel(_)) => Some(
            s::decode::<s::FuelValuePayload>(topic, &bytes)
                .map_err(bad)?
                .ts,
        ),
        Some(TopicKind::Co2(_)) => Some(s::decode::<s::Co2Payload>(topic, &bytes).map_err(bad)?.ts),
        Some(TopicKind::Cursor) => Some(
            s::decode::<s::CursorPayload>(topic, &bytes)
                .map_err(bad)?
                .ts,
        ),
        Some(TopicKind::Co2History) => s::decode_history(topic, &bytes)
            .map_err(bad)?
            .ts
            .into_iter()
            .max(),
        Some(TopicKind::Co2Forecast) => {
            s::decode_forecast(topic, &bytes).map_err(bad)?;
            None
        }
        Some(TopicKind::Co2Band) => {
            s::decode::<s::Co2BandPayload>(topic, &bytes).map_err(bad)?;
            None
        }
        Some(TopicKind::ChargeWindow) => {
            s::decode::<s::ChargeWindowPayload>(topic, &bytes).map_err(bad)?;
            None
        }
        Some(TopicKind::ForecasterState) => {
            // The calculator's own restore check (lengths, values, not from the future).
            let now = latest - crate::reading::MAX_FUTURE_SLACK;
            Some(
                s::decode_forecaster_state(topic, &bytes, now)
                    .map_err(bad)?
                    .latest
                    .ts,
            )
        }
    };
    match dated {
        Some(ts) if ts > latest => Err(format!(
            "dated {ts}, later than now plus {} minutes",
            crate::reading::MAX_FUTURE_SLACK.num_minutes()
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use rumqttc::QoS;

    async fn client(
        broker: &EmbeddedBroker,
        id: &str,
        websocket: bool,
    ) -> (AsyncClient, rumqttc::EventLoop) {
        let mut o = if websocket {
            let mut o = MqttOptions::new(id, broker.ws_url(), broker.ws_addr().port());
            o.set_transport(Transport::Ws);
            o
        } else {
            MqttOptions::new(id, "127.0.0.1", broker.tcp_addr().port())
        };
        o.set_keep_alive(Duration::from_secs(5));
        AsyncClient::new(o, 16)
    }

    /// Publishes retained over TCP, then a later WebSocket subscriber to the exact topic gets it.
    #[tokio::test]
    async fn retained_message_reaches_a_later_websocket_subscriber() {
        let broker = EmbeddedBroker::start(0, 0).await.unwrap();
        assert!(broker.tcp_addr().ip().is_loopback());
        assert!(broker.ws_addr().ip().is_loopback());
        assert_ne!(broker.tcp_addr().port(), 0);

        let (publisher, mut events) = client(&broker, "pub", false).await;
        publisher
            .publish(
                "ny-power/computed/co2",
                QoS::AtLeastOnce,
                true,
                b"{\"value\":1}".to_vec(),
            )
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Event::Incoming(Packet::PubAck(_)) = events.poll().await.unwrap() {
                    break;
                }
            }
        })
        .await
        .unwrap();

        let (subscriber, mut events) = client(&broker, "sub", true).await;
        subscriber
            .subscribe("ny-power/computed/co2", QoS::AtLeastOnce)
            .await
            .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Event::Incoming(Packet::Publish(p)) = events.poll().await.unwrap() {
                    break p;
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(got.topic, "ny-power/computed/co2");
        assert_eq!(&got.payload[..], b"{\"value\":1}");
    }

    /// Waits for a CONNACK (or the connection's end) on one event loop.
    async fn connack(events: &mut rumqttc::EventLoop) -> Result<(), String> {
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
        })
        .await
        .unwrap_or_else(|_| Err("no CONNACK within 20 s".to_owned()))
    }

    /// Viewers (WebSocket) fill only their share: the next one gets 503, the services' TCP
    /// clients still connect, and a viewer that leaves frees its slot.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn viewers_at_the_cap_get_503_and_the_services_still_connect() {
        let max = RESERVED_FOR_SERVICES + 3;
        let broker = EmbeddedBroker::start_with_limit(0, 0, OriginPolicy::loopback(), max)
            .await
            .unwrap();
        assert_eq!(broker.max_viewers(), 3);
        let mut viewers = Vec::new();
        for i in 0..3 {
            let (c, mut events) = client(&broker, &format!("viewer-{i}"), true).await;
            connack(&mut events).await.unwrap();
            viewers.push((c, events));
        }
        // A fourth viewer: the front answers the upgrade with 503.
        let mut raw = tokio::net::TcpStream::connect(broker.ws_addr())
            .await
            .unwrap();
        raw.write_all(b"GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n").await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), raw.read_to_end(&mut answer))
            .await
            .unwrap()
            .unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        let (_c, mut events) = client(&broker, "viewer-refused", true).await;
        assert!(connack(&mut events).await.is_err());
        // The services' connections (TCP) are not counted against the viewers.
        let mut services = Vec::new();
        for i in 0..RESERVED_FOR_SERVICES {
            let (c, mut events) = client(&broker, &format!("service-{i}"), false).await;
            connack(&mut events).await.unwrap();
            services.push((c, events));
        }
        // A viewer leaves: its slot is free again.
        let (c, events) = viewers.pop().unwrap();
        drop((c, events));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_c, mut events) = client(&broker, "viewer-late", true).await;
            match connack(&mut events).await {
                Ok(()) => break,
                Err(e) => assert!(Instant::now() < deadline, "slot never freed: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    #[tokio::test]
    async fn a_taken_port_is_a_clear_error() {
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = EmbeddedBroker::start(port, 0).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(text.contains("--mqtt-port"), "{text}");
    }

    #[test]
    fn origins_loopback_configured_and_foreign() {
        let policy = OriginPolicy::with_origins(&["HTTP://Dash.Example:8080/"]).unwrap();
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.0.0.1",
            "https://localhost:5173",
            "http://[::1]:8080",
            "http://localhost/",
            "http://dash.example:8080",
        ] {
            assert!(policy.allows(ok), "{ok}");
        }
        for refused in [
            "http://evil.example",
            "null",
            "",
            "http://127.0.0.1.evil.example",
            "http://localhost.evil.example:8080",
            "http://127.0.0.1:80x",
            "ws://127.0.0.1:8080",
            "http://dash.example:8081",
            "http://[::1]evil",
        ] {
            assert!(!policy.allows(refused), "{refused}");
        }
        for bad in ["dash.example", "ftp://x", "http://x/path", "http://a b", ""] {
            let e = OriginPolicy::with_origins(&[bad]).unwrap_err();
            assert!(e.to_string().contains("allowed origin"), "{e}");
        }
    }

    #[test]
    fn handshakes_are_judged_by_their_origin() {
        let policy = OriginPolicy::loopback();
        let req = |extra: &str| {
            format!(
                "GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUpgrade: websocket\r\n{extra}\r\n"
            )
        };
        assert_eq!(judge(req("").as_bytes(), &policy), Handshake::Pass);
        assert_eq!(
            judge(req("origin: http://localhost:8080\r\n").as_bytes(), &policy),
            Handshake::Pass
        );
        assert_eq!(
            judge(req("Origin: http://evil.example\r\n").as_bytes(), &policy),
            Handshake::Forbidden("http://evil.example".to_owned())
        );
        assert!(matches!(
            judge(
                req("Origin: http://localhost\r\nOrigin: http://evil.example\r\n").as_bytes(),
                &policy
            ),
            Handshake::Bad(_)
        ));
        assert_eq!(
            judge(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n", &policy),
            Handshake::Incomplete
        );
        let huge = vec![b'a'; MAX_HANDSHAKE_BYTES];
        assert!(matches!(judge(&huge, &policy), Handshake::Bad(_)));
        let forged = judge(
            req("Origin: http://evil\u{1b}[2J.example\r\n").as_bytes(),
            &policy,
        );
        assert!(
            matches!(&forged, Handshake::Forbidden(o) if !o.contains('\u{1b}')),
            "{forged:?}"
        );
    }

    mod snapshot {
        use super::super::*;
        use crate::stream::{CursorPayload, FuelMixPayload, Topics};
        use crate::{FuelMix, Reading};
        use chrono::{DateTime, TimeZone, Utc};
        use serde_json::json;

        fn now() -> DateTime<Utc> {
            Utc.with_ymd_and_hms(2025, 2, 2, 0, 0, 0).unwrap()
        }

        fn fuel_mix(ts: DateTime<Utc>) -> serde_json::Value {
            let reading = Reading {
                ts,
                mix: FuelMix([4613.0, 3487.0, 3357.0, 2.0, 220.0, 853.0, 1592.0]),
            };
            serde_json::to_value(FuelMixPayload::of(&reading)).unwrap()
        }

        fn good(topics: &Topics) -> RetainedSnapshot {
            let ts = Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap();
            RetainedSnapshot::from([
                (
                    topics.cursor(),
                    serde_json::to_value(CursorPayload { ts }).unwrap(),
                ),
                (topics.fuel_mix(), fuel_mix(ts)),
                (
                    topics.co2_history(),
                    json!({"units": "g/kWh", "ts": ["2025-02-01T05:00:00Z", "2025-02-01T05:05:00Z"], "values": [250.0, 248.75]}),
                ),
            ])
        }

        #[test]
        fn round_trip_in_the_current_format() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("retained.json");
            let topics = Topics::default();
            save_snapshot(&path, &good(&topics), now()).unwrap();
            let file: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            assert_eq!(file["version"], SNAPSHOT_VERSION);
            assert_eq!(load_snapshot(&path, &topics, now()), good(&topics));
            assert!(load_snapshot(&dir.path().join("none.json"), &topics, now()).is_empty());
        }

        #[test]
        fn version_1_is_migrated_not_thrown_away() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("retained.json");
            let topics = Topics::default();
            std::fs::write(&path, serde_json::to_vec(&good(&topics)).unwrap()).unwrap();
            assert_eq!(load_snapshot(&path, &topics, now()), good(&topics));
        }

        #[test]
        fn a_bad_file_is_moved_aside_and_the_demo_starts_clean() {
            let topics = Topics::default();
            for bad in [
                b"garbage \x1b[2J".to_vec(),
                b"[1, 2]".to_vec(),
                br#"{"version": 99, "retained": {}}"#.to_vec(),
                br#"{"version": 2}"#.to_vec(),
                vec![b' '; MAX_SNAPSHOT_BYTES as usize + 1],
            ] {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("retained.json");
                std::fs::write(&path, &bad).unwrap();
                assert!(load_snapshot(&path, &topics, now()).is_empty());
                assert!(!path.exists(), "moved aside");
                assert_eq!(
                    std::fs::read(dir.path().join("retained.json.rejected")).unwrap(),
                    bad
                );
            }
        }

        #[test]
        fn bad_and_future_entries_are_left_out() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("retained.json");
            let topics = Topics::default();
            let mut snapshot = good(&topics);
            let future = Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap();
            snapshot.insert(topics.fuel_mix(), fuel_mix(future));
            snapshot.insert(topics.cursor(), json!({"ts": "garbage"}));
            snapshot.insert(
                topics.co2_history(),
                json!({"units": "g/kWh", "ts": ["2025-02-01T05:00:00Z", "2100-01-01T00:00:00Z"], "values": [250.0, 1.0]}),
            );
            snapshot.insert("ny-power/status/co2".to_owned(), json!({"state": "online"}));
            snapshot.insert("elsewhere/topic".to_owned(), json!(1));
            save_snapshot(&path, &snapshot, now()).unwrap();
            assert!(load_snapshot(&path, &topics, now()).is_empty());
            // Within the slack (clock skew) is kept.
            let mut snapshot = good(&topics);
            snapshot.insert(
                topics.fuel_mix(),
                fuel_mix(now() + chrono::Duration::minutes(10)),
            );
            save_snapshot(&path, &snapshot, now()).unwrap();
            assert_eq!(load_snapshot(&path, &topics, now()), snapshot);
        }
    }
}
