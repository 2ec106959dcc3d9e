//! MQTT over rumqttc: one [`MqttClient`] per service, its event loop polled in a task.
//!
//! - **Publish and wait for the PubAck of that very packet.** The packet id rumqttc assigns is
//!   learnt from the `Outgoing::Publish(pkid)` event (requests are handled in order, so waiters
//!   queue in the order their requests were sent), and the waiter is woken by the `PubAck`
//!   carrying that id. A packet re-sent after a reconnect keeps its id and its waiter.
//! - **Reconnect with backoff** (a [`Backoff`], 100 ms doubling up to 2 s) when the broker goes
//!   away; subscriptions are made again when the broker did not keep the session.
//! - **Retained reads** ([`MqttClient::retained`]): subscribe to the exact topic, wait for the
//!   SubAck, then unsubscribe and wait for the UnsubAck. The broker handles packets of one
//!   connection in order, so a retained message, if any, arrived before the UnsubAck: "no
//!   retained message" is an answer, "not connected" is an error — never a guess.
//! - **Status**: a retained `online` on every connect, `offline` as the last will and on
//!   [`MqttClient::close`].
//! - **Acks are bound to their connection.** Each connection (each CONNACK) has a generation;
//!   an [`Inbound`] remembers the one it arrived on, and [`MqttClient::ack`] drops the ack of
//!   a message from an earlier connection (the broker delivers it again on the new one, or
//!   already has). At a reconnect the PubAcks rumqttc kept queued from the old connection are
//!   purged from its pending list too. A packet id is only meaningful on the connection it
//!   came on: an ack sent on another one acknowledges a different message (Mosquitto 2.0 then
//!   raises its send quota and delivers newer messages ahead of older ones) or none (rumqttd
//!   drops the connection: "out of order ack").
//! - The [`Publisher`] port is implemented on the client (QoS 1, retained as the message says),
//!   and the [`RetainedReader`] port (one retained read).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, LastWill, Outgoing, Packet,
    QoS, Request, SubscribeFilter, SubscribeReasonCode, TlsConfiguration, Transport,
};
use tokio::sync::{mpsc, oneshot, watch};

use crate::adapters::mqtt_config::{BrokerUrl, MqttConfig, TlsClient, TlsFiles};
use crate::adapters::mqtt_tls;
use crate::backoff::Backoff;
use crate::ports::{PortError, Publisher, RetainedReader};
use crate::stream::{Message, ServiceState, ServiceStatusPayload};

/// Largest packet accepted or sent (the 24 h history is ~12 KB; rumqttc's default is 10 KB).
const MAX_PACKET: usize = 1024 * 1024;
/// First wait before reconnecting after the connection dropped.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Errors of the MQTT adapter.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    /// The broker could not be reached (yet).
    #[error("broker {broker} not reachable: {last_error}")]
    NotConnected {
        /// `host:port`.
        broker: String,
        /// The last connection error seen.
        last_error: String,
    },
    /// The broker refused the connection (credentials, client id).
    #[error("broker {broker} refused the connection: {reason}")]
    Refused {
        /// `host:port`.
        broker: String,
        /// The CONNACK return code, explained.
        reason: String,
    },
    /// The TLS handshake failed for good: the broker's certificate does not verify (expired,
    /// not signed by a trusted CA, not valid for the host name: the reason says which), or
    /// the broker ended the handshake.
    #[error("broker {broker}: {reason}")]
    Tls {
        /// `host:port`.
        broker: String,
        /// What failed, and which setting to check.
        reason: String,
    },
    /// The broker refused a subscription (ACL).
    #[error("broker refused the subscription to `{topic}` (not authorized?)")]
    SubscribeRefused {
        /// The topic filter.
        topic: String,
    },
    /// No acknowledgement in time.
    #[error("{what}: no acknowledgement from the broker within {timeout:?}")]
    Timeout {
        /// What was waited for.
        what: String,
        /// How long.
        timeout: Duration,
    },
    /// The request was lost with the connection (retry it).
    #[error("{what}: connection lost before the broker acknowledged it")]
    Lost {
        /// What was lost.
        what: String,
    },
    /// The client was closed.
    #[error("MQTT client closed")]
    Closed,
    /// A message larger than the packet limit.
    #[error("publish to {topic}: {bytes} bytes is over the {MAX_PACKET}-byte packet limit")]
    TooLarge {
        /// The topic.
        topic: String,
        /// The payload size.
        bytes: usize,
    },
}

impl MqttError {
    /// As a port error: refusals are permanent, the rest transient.
    pub fn into_port(self, context: impl Into<String>) -> PortError {
        match self {
            MqttError::Refused { .. }
            | MqttError::Tls { .. }
            | MqttError::SubscribeRefused { .. }
            | MqttError::TooLarge { .. } => PortError::permanent(context, self),
            _ => PortError::transient(context, self),
        }
    }
}

/// How one client connects.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Broker and credentials.
    pub mqtt: MqttConfig,
    /// Client id (stable for a persistent session).
    pub client_id: String,
    /// `false` for a persistent session (the broker queues QoS 1 messages while away).
    pub clean_session: bool,
    /// Acknowledge received QoS 1 messages only through [`MqttClient::ack`].
    pub manual_acks: bool,
    /// Topic filters subscribed at QoS 1 whenever the broker has no session for us.
    pub subscriptions: Vec<String>,
    /// The retained status topic (`{root}/status/{service}`): `online` on connect, `offline`
    /// as last will and on close.
    pub status_topic: Option<String>,
    /// How long a publish, subscribe or first connection may take.
    pub timeout: Duration,
}

impl ClientOptions {
    /// Options with a clean session, automatic acks, no subscriptions, no status, 10 s
    /// timeout.
    pub fn new(mqtt: MqttConfig, client_id: impl Into<String>) -> Self {
        ClientOptions {
            mqtt,
            client_id: client_id.into(),
            clean_session: true,
            manual_acks: false,
            subscriptions: Vec::new(),
            status_topic: None,
            timeout: Duration::from_secs(10),
        }
    }
}

/// A message received on a subscription.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// The topic.
    pub topic: String,
    /// The payload.
    pub payload: Bytes,
    /// Whether the broker sent it as a retained message.
    pub retained: bool,
    publish: rumqttc::Publish,
    /// The connection it arrived on (see [`MqttClient::ack`]).
    generation: u64,
}

/// How a connection attempt failed: waiting helps only for [`Failure::Transient`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// Not reachable (yet), dropped: reconnecting may help.
    Transient,
    /// The broker refused us (CONNACK).
    Refused,
    /// The TLS handshake failed on a certificate or alert.
    Tls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Publish,
    Subscribe,
    Unsubscribe,
}

#[derive(Debug)]
enum Ack {
    Done,
    Subscribed(Vec<SubscribeReasonCode>),
}

type Waiter = Option<oneshot::Sender<Ack>>;

#[derive(Default)]
struct State {
    /// Waiters whose request was sent but whose packet id is not known yet, in send order.
    unassigned: HashMap<Kind, VecDeque<Waiter>>,
    /// Waiters by packet id.
    assigned: HashMap<(Kind, u16), Waiter>,
    /// Exact topics being read for their retained message, with what arrived.
    catchers: HashMap<String, Option<Bytes>>,
    /// The last connection error.
    last_error: Option<(String, Failure)>,
    /// The current connection's generation (one more at every CONNACK).
    generation: u64,
    /// Whether the connection of `generation` is up (acks of it may be sent).
    live: bool,
}

struct Inner {
    client: AsyncClient,
    opts: ClientOptions,
    state: Mutex<State>,
    connected: watch::Sender<bool>,
    inbox: tokio::sync::Mutex<mpsc::UnboundedReceiver<Inbound>>,
    publish_lock: tokio::sync::Mutex<()>,
    control_lock: tokio::sync::Mutex<()>,
    closing: AtomicBool,
    /// Set when the event loop task has ended.
    ended: Arc<AtomicBool>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An MQTT client with its event loop running in a task. Cheap to clone.
#[derive(Clone)]
pub struct MqttClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MqttClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttClient")
            .field("client_id", &self.inner.opts.client_id)
            .field("broker", &self.inner.opts.mqtt.url.to_string())
            .finish()
    }
}

fn status_payload(state: ServiceState) -> Vec<u8> {
    let since = (state == ServiceState::Online).then(Utc::now);
    // A state and a timestamp: serialising them cannot fail.
    serde_json::to_vec(&ServiceStatusPayload { state, since }).unwrap_or_default()
}

fn refusal(code: ConnectReturnCode) -> &'static str {
    match code {
        ConnectReturnCode::BadUserNamePassword => {
            "bad user name or password (check MQTT_USERNAME and MQTT_PASSWORD/MQTT_PASSWORD_FILE)"
        }
        ConnectReturnCode::NotAuthorized => {
            "not authorized (check MQTT_USERNAME and MQTT_PASSWORD/MQTT_PASSWORD_FILE)"
        }
        ConnectReturnCode::BadClientId => "client id rejected",
        ConnectReturnCode::RefusedProtocolVersion => "MQTT 3.1.1 not supported",
        ConnectReturnCode::ServiceUnavailable => "service unavailable",
        ConnectReturnCode::Success => "success",
    }
}

/// The rustls configuration of a TLS connection: the loaded settings, or the system's roots
/// (a config built by hand, e.g. [`MqttConfig::anonymous`]). Without any trusted root every
/// handshake fails as "not signed by a trusted CA", which [`describe`] says.
fn tls_configuration(mqtt: &MqttConfig) -> TlsConfiguration {
    let loaded = match &mqtt.tls {
        Some(tls) => Ok(tls.clone()),
        None => TlsClient::load(&TlsFiles::default()),
    };
    match loaded {
        Ok(tls) => TlsConfiguration::Rustls(tls.config()),
        Err(e) => {
            tracing::error!(error = %e, "no CA certificates to trust for the TLS broker");
            let empty = rumqttc::tokio_rustls::rustls::RootCertStore::empty();
            TlsConfiguration::Rustls(Arc::new(
                rumqttc::tokio_rustls::rustls::ClientConfig::builder()
                    .with_root_certificates(empty)
                    .with_no_client_auth(),
            ))
        }
    }
}

/// A connection error for the log and [`MqttError`], and whether waiting can help (not for
/// bad credentials or a certificate that does not verify).
fn describe(error: &ConnectionError, mqtt: &MqttConfig) -> (String, Failure) {
    if let ConnectionError::ConnectionRefused(code) = error {
        return (refusal(*code).to_owned(), Failure::Refused);
    }
    match mqtt_tls::find_rustls_error(error) {
        Some(tls) => {
            let ca = mqtt.tls.as_ref().and_then(|t| t.files().ca_file.as_deref());
            let failure = if matches!(
                tls,
                rumqttc::tokio_rustls::rustls::Error::InvalidCertificate(_)
                    | rumqttc::tokio_rustls::rustls::Error::AlertReceived(_)
                    | rumqttc::tokio_rustls::rustls::Error::InvalidMessage(_)
                    | rumqttc::tokio_rustls::rustls::Error::InappropriateMessage { .. }
            ) {
                Failure::Tls
            } else {
                Failure::Transient
            };
            (mqtt_tls::explain(tls, &mqtt.url, ca), failure)
        }
        None => (error.to_string(), Failure::Transient),
    }
}

impl MqttClient {
    /// Starts a client: the event loop runs in a task of the current tokio runtime and
    /// connects (and reconnects) in the background. Use [`MqttClient::wait_connected`] to wait
    /// for the first connection.
    pub fn start(opts: ClientOptions) -> Self {
        let mut mo = match &opts.mqtt.url {
            BrokerUrl::Tcp { host, port } => {
                rumqttc::MqttOptions::new(opts.client_id.clone(), host.clone(), *port)
            }
            BrokerUrl::Ws { url, port, .. } => {
                let mut mo = rumqttc::MqttOptions::new(opts.client_id.clone(), url.clone(), *port);
                mo.set_transport(Transport::Ws);
                mo
            }
            BrokerUrl::Tls { host, port } => {
                let mut mo = rumqttc::MqttOptions::new(opts.client_id.clone(), host.clone(), *port);
                mo.set_transport(Transport::Tls(tls_configuration(&opts.mqtt)));
                mo
            }
            BrokerUrl::Wss { url, port, .. } => {
                let mut mo = rumqttc::MqttOptions::new(opts.client_id.clone(), url.clone(), *port);
                mo.set_transport(Transport::Wss(tls_configuration(&opts.mqtt)));
                mo
            }
        };
        mo.set_keep_alive(Duration::from_secs(30))
            .set_clean_session(opts.clean_session)
            .set_manual_acks(opts.manual_acks)
            .set_max_packet_size(MAX_PACKET, MAX_PACKET)
            .set_request_channel_capacity(256);
        if let Some(user) = &opts.mqtt.username {
            let pw = opts.mqtt.password.as_ref().map(|p| p.expose().to_owned());
            mo.set_credentials(user.clone(), pw.unwrap_or_default());
        }
        if let Some(topic) = &opts.status_topic {
            mo.set_last_will(LastWill::new(
                topic.clone(),
                status_payload(ServiceState::Offline),
                QoS::AtLeastOnce,
                true,
            ));
        }
        let (client, eventloop) = AsyncClient::new(mo, 256);
        let (inbox_tx, inbox_rx) = mpsc::unbounded_channel();
        let (connected, _) = watch::channel(false);
        let (stop, stop_rx) = watch::channel(false);
        let inner = Arc::new(Inner {
            client,
            opts,
            state: Mutex::new(State::default()),
            connected,
            inbox: tokio::sync::Mutex::new(inbox_rx),
            publish_lock: tokio::sync::Mutex::new(()),
            control_lock: tokio::sync::Mutex::new(()),
            closing: AtomicBool::new(false),
            ended: Arc::new(AtomicBool::new(false)),
            stop,
            task: Mutex::new(None),
        });
        let ended = inner.ended.clone();
        let event_loop = run_event_loop(Arc::downgrade(&inner), eventloop, inbox_tx, stop_rx);
        let task = tokio::spawn(async move {
            event_loop.await;
            ended.store(true, Ordering::SeqCst);
        });
        *lock(&inner.task) = Some(task);
        MqttClient { inner }
    }

    /// Starts a client and waits for its first connection.
    ///
    /// # Errors
    /// [`MqttError::Refused`] when the broker refuses us (bad credentials: no point retrying),
    /// [`MqttError::NotConnected`] when it cannot be reached within the timeout.
    pub async fn connect(opts: ClientOptions) -> Result<Self, MqttError> {
        let timeout = opts.timeout;
        let client = Self::start(opts);
        client.wait_connected(timeout).await?;
        Ok(client)
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.inner.opts.client_id
    }

    /// Whether the client is connected now.
    pub fn is_connected(&self) -> bool {
        *self.inner.connected.borrow()
    }

    /// Follows the connection state (for readiness probes).
    pub fn connection(&self) -> watch::Receiver<bool> {
        self.inner.connected.subscribe()
    }

    /// Waits until connected, at most `timeout`.
    ///
    /// # Errors
    /// [`MqttError::Refused`] as soon as the broker refuses the connection,
    /// [`MqttError::NotConnected`] after `timeout`.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<(), MqttError> {
        self.wait_connected_until(tokio::time::Instant::now().checked_add(timeout))
            .await
    }

    /// Waits until connected, however long the broker takes (a service started before its
    /// broker waits for it; the client keeps reconnecting meanwhile). Race it against a
    /// shutdown signal.
    ///
    /// # Errors
    /// [`MqttError::Refused`] as soon as the broker refuses the connection (bad credentials:
    /// waiting longer will not help), [`MqttError::Closed`] when the client was closed.
    pub async fn wait_until_connected(&self) -> Result<(), MqttError> {
        self.wait_connected_until(None).await
    }

    /// Waits until connected or, with a deadline, until it passes.
    async fn wait_connected_until(
        &self,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<(), MqttError> {
        let mut rx = self.inner.connected.subscribe();
        loop {
            if *rx.borrow_and_update() {
                return Ok(());
            }
            if let Some(fatal) = self.fatal_error() {
                return Err(fatal);
            }
            let changed = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, rx.changed()).await,
                None => Ok(rx.changed().await),
            };
            match changed {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(MqttError::Closed),
                Err(_) => {
                    if let Some(fatal) = self.fatal_error() {
                        return Err(fatal);
                    }
                    let last = lock(&self.inner.state).last_error.clone();
                    return Err(MqttError::NotConnected {
                        broker: self.inner.opts.mqtt.url.authority(),
                        last_error: last.map_or_else(|| "no answer yet".to_owned(), |(e, _)| e),
                    });
                }
            }
        }
    }

    /// The last connection error when waiting cannot help (a refusal, a TLS failure).
    fn fatal_error(&self) -> Option<MqttError> {
        let (reason, failure) = lock(&self.inner.state).last_error.clone()?;
        let broker = self.inner.opts.mqtt.url.authority();
        match failure {
            Failure::Transient => None,
            Failure::Refused => Some(MqttError::Refused { broker, reason }),
            Failure::Tls => Some(MqttError::Tls { broker, reason }),
        }
    }

    /// Sends a request and queues a waiter for its acknowledgement (atomically, so waiters
    /// line up with the order rumqttc handles requests).
    fn send(
        &self,
        kind: Kind,
        request: impl FnOnce(&AsyncClient) -> Result<(), rumqttc::ClientError>,
    ) -> Result<oneshot::Receiver<Ack>, MqttError> {
        let (tx, rx) = oneshot::channel();
        let mut state = lock(&self.inner.state);
        request(&self.inner.client).map_err(|_| MqttError::Closed)?;
        state
            .unassigned
            .entry(kind)
            .or_default()
            .push_back(Some(tx));
        Ok(rx)
    }

    async fn wait(&self, rx: oneshot::Receiver<Ack>, what: String) -> Result<Ack, MqttError> {
        let timeout = self.inner.opts.timeout;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(ack)) => Ok(ack),
            Ok(Err(_)) => Err(MqttError::Lost { what }),
            Err(_) => Err(MqttError::Timeout { what, timeout }),
        }
    }

    /// Publishes (QoS 1) and waits for the broker's PubAck of this packet.
    ///
    /// # Errors
    /// [`MqttError::Timeout`] without an acknowledgement in time (the packet stays queued
    /// and is sent again after a reconnect), [`MqttError::Closed`].
    pub async fn publish_qos1(
        &self,
        topic: &str,
        payload: &[u8],
        retain: bool,
    ) -> Result<(), MqttError> {
        if topic.len() + payload.len() + 16 > MAX_PACKET {
            // rumqttc would drop the connection over it and the waiters would fall out of step.
            return Err(MqttError::TooLarge {
                topic: topic.to_owned(),
                bytes: payload.len(),
            });
        }
        let _one_at_a_time = self.inner.publish_lock.lock().await;
        let rx = self.send(Kind::Publish, |c| {
            c.try_publish(topic, QoS::AtLeastOnce, retain, payload.to_vec())
        })?;
        self.wait(rx, format!("publish to {topic}"))
            .await
            .map(|_| ())
    }

    async fn subscribe_acked(&self, topic: &str, qos: QoS) -> Result<(), MqttError> {
        let rx = self.send(Kind::Subscribe, |c| c.try_subscribe(topic, qos))?;
        match self.wait(rx, format!("subscribe to {topic}")).await? {
            Ack::Subscribed(codes)
                if codes
                    .iter()
                    .all(|c| matches!(c, SubscribeReasonCode::Success(_))) =>
            {
                Ok(())
            }
            _ => Err(MqttError::SubscribeRefused {
                topic: topic.to_owned(),
            }),
        }
    }

    async fn unsubscribe_acked(&self, topic: &str) -> Result<(), MqttError> {
        let rx = self.send(Kind::Unsubscribe, |c| c.try_unsubscribe(topic))?;
        self.wait(rx, format!("unsubscribe from {topic}"))
            .await
            .map(|_| ())
    }

    /// The retained message of an exact topic, `None` when it has none.
    ///
    /// # Errors
    /// [`MqttError`] when not connected, refused or not acknowledged in time: the caller
    /// must not take that for "no retained message".
    pub async fn retained(&self, topic: &str) -> Result<Option<Bytes>, MqttError> {
        let _one_at_a_time = self.inner.control_lock.lock().await;
        self.wait_connected(self.inner.opts.timeout).await?;
        lock(&self.inner.state)
            .catchers
            .insert(topic.to_owned(), None);
        let result = async {
            self.subscribe_acked(topic, QoS::AtMostOnce).await?;
            // The barrier: handled after the subscription, so any retained message came first.
            self.unsubscribe_acked(topic).await
        }
        .await;
        let caught = lock(&self.inner.state).catchers.remove(topic).flatten();
        result.map(|()| caught)
    }

    /// The next message received on the subscriptions; `None` once the client is closed.
    pub async fn recv(&self) -> Option<Inbound> {
        self.inner.inbox.lock().await.recv().await
    }

    /// The next message if one is waiting.
    pub async fn try_recv(&self) -> Option<Inbound> {
        self.inner.inbox.lock().await.try_recv().ok()
    }

    /// Acknowledges a received QoS 1 message (with `manual_acks`), on the connection it
    /// arrived on: when that connection is gone the ack is dropped (a packet id means nothing
    /// on another connection) and the broker delivers the message again.
    ///
    /// # Errors
    /// [`MqttError::Closed`] when the client is gone.
    pub async fn ack(&self, message: &Inbound) -> Result<(), MqttError> {
        if message.publish.qos == QoS::AtMostOnce {
            return Ok(());
        }
        loop {
            {
                // Checked and queued under the state lock: the event loop takes it before it
                // purges the old connection's acks, so none slips in after the purge.
                let state = lock(&self.inner.state);
                if !state.live || state.generation != message.generation {
                    tracing::debug!(client = %self.client_id(), pkid = message.publish.pkid, "ack dropped: the message came on an earlier connection");
                    return Ok(());
                }
                if self.inner.client.try_ack(&message.publish).is_ok() {
                    return Ok(());
                }
            }
            // The request queue is full (a burst): wait for the event loop to take some.
            if self.inner.ended.load(Ordering::SeqCst) || self.inner.closing.load(Ordering::SeqCst)
            {
                return Err(MqttError::Closed);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Publishes the retained `offline` status (if the client has a status topic), disconnects
    /// cleanly and stops the event loop.
    pub async fn close(&self) {
        if let Some(topic) = self.inner.opts.status_topic.clone() {
            if self.is_connected() {
                if let Err(e) = self
                    .publish_qos1(&topic, &status_payload(ServiceState::Offline), true)
                    .await
                {
                    tracing::warn!(client = %self.client_id(), error = %e, "offline status not published");
                }
            }
        }
        self.inner.closing.store(true, Ordering::SeqCst);
        if self.is_connected() && self.inner.client.disconnect().await.is_ok() {
            let mut rx = self.inner.connected.subscribe();
            let _ =
                tokio::time::timeout(Duration::from_secs(2), rx.wait_for(|connected| !*connected))
                    .await;
        }
        let _ = self.inner.stop.send(true);
        let task = lock(&self.inner.task).take();
        if let Some(task) = task {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
    }
}

/// One retained read ([`MqttClient::retained`]); refusals are permanent, the rest transient.
#[async_trait]
impl RetainedReader for MqttClient {
    async fn retained(&self, topic: &str) -> Result<Option<Vec<u8>>, PortError> {
        MqttClient::retained(self, topic)
            .await
            .map(|found| found.map(|bytes| bytes.to_vec()))
            .map_err(|e| e.into_port(format!("reading the retained message of {topic}")))
    }
}

#[async_trait]
impl Publisher for MqttClient {
    async fn publish(&self, message: &Message) -> Result<(), PortError> {
        self.publish_qos1(&message.topic, &message.payload, message.retain)
            .await
            .map_err(|e| e.into_port(format!("publish to {}", message.topic)))
    }
}

/// The event loop task: drives rumqttc, routes acks to waiters and messages to the inbox,
/// reconnects with backoff. Ends when the client is dropped or closed.
async fn run_event_loop(
    inner: std::sync::Weak<Inner>,
    mut eventloop: EventLoop,
    inbox: mpsc::UnboundedSender<Inbound>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
    let mut logged_down = false;
    loop {
        let event = tokio::select! {
            event = eventloop.poll() => event,
            _ = stop.wait_for(|s| *s) => return,
        };
        let Some(inner) = inner.upgrade() else { return };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                backoff.reset();
                if logged_down {
                    tracing::info!(client = %inner.opts.client_id, session_present = ack.session_present, "reconnected to the broker");
                } else {
                    tracing::debug!(client = %inner.opts.client_id, session_present = ack.session_present, "connected to the broker");
                }
                logged_down = false;
                drop_acks(&mut eventloop);
                on_connected(&inner, ack.session_present);
            }
            Ok(Event::Incoming(Packet::PubAck(a))) => {
                resolve(&inner, Kind::Publish, a.pkid, Ack::Done)
            }
            Ok(Event::Incoming(Packet::SubAck(a))) => {
                resolve(
                    &inner,
                    Kind::Subscribe,
                    a.pkid,
                    Ack::Subscribed(a.return_codes),
                );
            }
            Ok(Event::Incoming(Packet::UnsubAck(a))) => {
                resolve(&inner, Kind::Unsubscribe, a.pkid, Ack::Done);
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let caught = {
                    let mut state = lock(&inner.state);
                    match state.catchers.get_mut(&p.topic) {
                        Some(slot) => {
                            *slot = Some(p.payload.clone());
                            true
                        }
                        None => false,
                    }
                };
                if caught {
                    if inner.opts.manual_acks && p.qos != QoS::AtMostOnce {
                        let _ = inner.client.try_ack(&p);
                    }
                } else {
                    let generation = lock(&inner.state).generation;
                    let _ = inbox.send(Inbound {
                        topic: p.topic.clone(),
                        payload: p.payload.clone(),
                        retained: p.retain,
                        publish: p,
                        generation,
                    });
                }
            }
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) => assign(&inner, Kind::Publish, pkid),
            Ok(Event::Outgoing(Outgoing::Subscribe(pkid))) => assign(&inner, Kind::Subscribe, pkid),
            Ok(Event::Outgoing(Outgoing::Unsubscribe(pkid))) => {
                assign(&inner, Kind::Unsubscribe, pkid);
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                inner.connected.send_replace(false);
                if inner.closing.load(Ordering::SeqCst) {
                    return;
                }
            }
            Ok(_) => {}
            Err(ConnectionError::RequestsDone) => return,
            Err(e) => {
                if inner.closing.load(Ordering::SeqCst) {
                    inner.connected.send_replace(false);
                    return;
                }
                let (message, failure) = describe(&e, &inner.opts.mqtt);
                if !logged_down || failure != Failure::Transient {
                    tracing::warn!(client = %inner.opts.client_id, broker = %inner.opts.mqtt.url.authority(), error = %message, "broker connection down; reconnecting");
                    logged_down = true;
                }
                {
                    let mut state = lock(&inner.state);
                    state.last_error = Some((message, failure));
                    // No ack of this connection's messages may be queued from here on; then
                    // take back what was queued since rumqttc drained its request channel.
                    state.live = false;
                    eventloop.clean();
                    drop_acks(&mut eventloop);
                }
                // After the error is recorded, so a waiter woken by this sees it.
                inner.connected.send_replace(false);
                drop(inner);
                tokio::select! {
                    _ = tokio::time::sleep(backoff.next()) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        }
    }
}

/// Removes the acks of an earlier connection from rumqttc's pending requests (it replays
/// them on the next connection otherwise). Publishes, subscribes and the rest stay, in order.
fn drop_acks(eventloop: &mut EventLoop) {
    let before = eventloop.pending.len();
    eventloop
        .pending
        .retain(|r| !matches!(r, Request::PubAck(_) | Request::PubRec(_)));
    let dropped = before - eventloop.pending.len();
    if dropped > 0 {
        tracing::debug!(
            dropped,
            "acks of the lost connection dropped (the broker delivers those messages again)"
        );
    }
}

fn on_connected(inner: &Inner, session_present: bool) {
    let mut state = lock(&inner.state);
    state.last_error = None;
    state.generation += 1;
    state.live = true;
    // Subscribe and unsubscribe requests of the old connection are gone with it.
    state.assigned.retain(|(kind, _), _| *kind == Kind::Publish);
    if !session_present && !inner.opts.subscriptions.is_empty() {
        let filters = inner
            .opts
            .subscriptions
            .iter()
            .map(|t| SubscribeFilter::new(t.clone(), QoS::AtLeastOnce));
        match inner.client.try_subscribe_many(filters) {
            Ok(()) => state
                .unassigned
                .entry(Kind::Subscribe)
                .or_default()
                .push_back(None),
            Err(e) => {
                tracing::error!(client = %inner.opts.client_id, error = %e, "cannot subscribe")
            }
        }
    }
    if let Some(topic) = &inner.opts.status_topic {
        let online = status_payload(ServiceState::Online);
        if inner
            .client
            .try_publish(topic.clone(), QoS::AtLeastOnce, true, online)
            .is_ok()
        {
            state
                .unassigned
                .entry(Kind::Publish)
                .or_default()
                .push_back(None);
        }
    }
    drop(state);
    inner.connected.send_replace(true);
}

fn assign(inner: &Inner, kind: Kind, pkid: u16) {
    let mut state = lock(&inner.state);
    if state.assigned.contains_key(&(kind, pkid)) {
        return; // re-sent after a reconnect: same packet, same waiter
    }
    if let Some(waiter) = state
        .unassigned
        .get_mut(&kind)
        .and_then(VecDeque::pop_front)
    {
        state.assigned.insert((kind, pkid), waiter);
    }
}

fn resolve(inner: &Inner, kind: Kind, pkid: u16, ack: Ack) {
    let waiter = lock(&inner.state).assigned.remove(&(kind, pkid));
    if let Some(Some(tx)) = waiter {
        let _ = tx.send(ack);
    }
}

/// Reads one retained message with a short-lived anonymous-or-authenticated client (for tools
/// and tests): connects, reads, disconnects.
///
/// # Errors
/// [`MqttError`] when the broker cannot be reached or refuses.
pub async fn read_retained(
    mqtt: &MqttConfig,
    client_id: &str,
    topic: &str,
) -> Result<Option<Bytes>, MqttError> {
    let client = MqttClient::connect(ClientOptions::new(mqtt.clone(), client_id)).await?;
    let result = client.retained(topic).await;
    client.close().await;
    result
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use rumqttc::{PubAck, Publish};

    /// rumqttc replays the acks queued on a lost connection on the next one; they are purged,
    /// publishes (re-sent with their packet ids) stay in order.
    #[test]
    fn acks_of_a_lost_connection_are_purged_and_publishes_kept() {
        let mut eventloop = EventLoop::new(rumqttc::MqttOptions::new("t", "127.0.0.1", 1), 8);
        let publish = |n: u8| Request::Publish(Publish::new("t", QoS::AtLeastOnce, vec![n]));
        eventloop.pending.extend([
            publish(1),
            Request::PubAck(PubAck::new(7)),
            publish(2),
            Request::PubAck(PubAck::new(8)),
        ]);
        drop_acks(&mut eventloop);
        let left: Vec<_> = eventloop.pending.iter().cloned().collect();
        assert_eq!(left, vec![publish(1), publish(2)]);
    }

    /// A service started before its broker waits for it with no deadline: past the client's
    /// connect timeout it is still waiting, and it is connected once the broker is up.
    #[tokio::test]
    async fn wait_until_connected_waits_for_a_late_broker() {
        let port = {
            let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            free.local_addr().unwrap().port()
        };
        let mqtt = MqttConfig::anonymous(BrokerUrl::Tcp {
            host: "127.0.0.1".into(),
            port,
        });
        let mut opts = ClientOptions::new(mqtt, "late-broker");
        opts.timeout = Duration::from_millis(50);
        let client = MqttClient::start(opts);
        let e = client
            .wait_connected(Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(matches!(e, MqttError::NotConnected { .. }), "{e}");

        let waiter = tokio::spawn({
            let client = client.clone();
            async move { client.wait_until_connected().await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!waiter.is_finished(), "no deadline: still waiting");
        let _broker = crate::adapters::broker::EmbeddedBroker::start(port, 0)
            .await
            .unwrap();
        waiter.await.unwrap().unwrap();
        assert!(client.is_connected());
        client.close().await;
    }
}
