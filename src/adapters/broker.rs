//! The demo's embedded MQTT broker: `rumqttd` with a TCP and a WebSocket listener, both bound
//! to 127.0.0.1 only.
//!
//! Retained messages work as with Mosquitto (the dashboard relies on them). What does not:
//! rumqttd has **no topic ACLs**, so anyone who can reach the loopback listeners may publish;
//! the read-only guarantee of DESIGN §5 is Mosquitto's (Kubernetes) and IoT Core's (AWS), not
//! the demo's. The broker keeps nothing on disk; the demo restores what it needs from its data
//! directory (see `docs/demo.md`).
//!
//! rumqttd 0.20 runs on its own threads and has no shutdown API: once started, the broker
//! lives until the process exits. `ny-power demo` stops it by exiting.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Transport};
use rumqttd::{Config, ConnectionSettings, RouterConfig, ServerSettings};

/// How long [`EmbeddedBroker::start`] waits for both listeners to answer an MQTT CONNECT.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest payload the broker accepts (the 24 h history is ~10 KB; leave room).
const MAX_PAYLOAD: usize = 1024 * 1024;

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
}

impl EmbeddedBroker {
    /// Starts the broker with an MQTT (v3.1.1) TCP listener on `127.0.0.1:tcp_port` and an
    /// MQTT-over-WebSocket listener on `127.0.0.1:ws_port` (0 = any free port), and returns once
    /// both accept MQTT connections.
    ///
    /// # Errors
    /// [`BrokerError`] when a port is taken or the broker does not come up.
    pub async fn start(tcp_port: u16, ws_port: u16) -> Result<EmbeddedBroker, BrokerError> {
        let tcp = reserve("TCP", tcp_port, "--mqtt-port")?;
        let ws = reserve("WebSocket", ws_port, "--ws-port")?;
        let config = broker_config(tcp, ws);
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
        let broker = EmbeddedBroker { tcp, ws };
        let deadline = Instant::now() + READY_TIMEOUT;
        for (listener, transport) in [("TCP", false), ("WebSocket", true)] {
            broker
                .wait_ready(listener, transport, deadline, &rx)
                .await?;
        }
        tracing::info!(tcp = %tcp, ws = %broker.ws_url(), "embedded MQTT broker ready");
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

/// Checks that `port` can be bound on loopback now and returns the address to give rumqttd
/// (for port 0, a free port picked by the OS).
fn reserve(
    listener: &'static str,
    port: u16,
    flag: &'static str,
) -> Result<SocketAddr, BrokerError> {
    let bound =
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map_err(|source| BrokerError::Port {
            listener,
            port,
            flag,
            source,
        })?;
    bound.local_addr().map_err(|source| BrokerError::Port {
        listener,
        port,
        flag,
        source,
    })
    // `bound` is dropped here so rumqttd can bind the same address.
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

fn broker_config(tcp: SocketAddr, ws: SocketAddr) -> Config {
    Config {
        id: 0,
        router: RouterConfig {
            max_connections: 1000,
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

    #[tokio::test]
    async fn a_taken_port_is_a_clear_error() {
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = EmbeddedBroker::start(port, 0).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(text.contains("--mqtt-port"), "{text}");
    }
}
