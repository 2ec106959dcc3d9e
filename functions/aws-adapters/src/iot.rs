//! AWS IoT Core adapters over the data-plane HTTPS API (`aws-sdk-iotdataplane`):
//! [`IotPublisher`] (`Publish`, QoS 1, retained), [`IotRetained`] (`GetRetainedMessage`),
//! [`IotCursor`] (the pump's cursor is the retained status message), [`load_history`]
//! (the calculator's 24 h window from its retained message) and [`load_forecaster_state`]
//! (the forecaster's retained state).

use async_trait::async_trait;
use aws_sdk_iotdataplane::primitives::Blob;
use aws_sdk_iotdataplane::Client;
use chrono::{DateTime, Utc};
#[cfg(any(test, feature = "fakes"))]
use ny_power::fakes::MemoryBroker;
use ny_power::ports::{CursorStore, PortError, Publisher};
use ny_power::stream::{
    cursor_message, decode_forecaster_state, decode_history, restore_cursor, Co2HistoryPayload,
    ForecasterStatePayload, Message, StreamError, Topics,
};

use crate::sdk_error::port_error;

/// QoS of every publish (IoT Core has no QoS 2; DESIGN §5).
pub const QOS: i32 = 1;

/// Publishes contract messages to IoT Core: `Publish` with QoS 1, retained as the message says
/// (all but the archive stream).
#[derive(Debug, Clone)]
pub struct IotPublisher {
    client: Client,
}

impl IotPublisher {
    /// A publisher over an IoT data-plane client.
    pub fn new(client: Client) -> Self {
        IotPublisher { client }
    }
}

#[async_trait]
impl Publisher for IotPublisher {
    async fn publish(&self, message: &Message) -> Result<(), PortError> {
        self.client
            .publish()
            .topic(&message.topic)
            .qos(QOS)
            .retain(message.retain)
            .payload(Blob::new(message.payload.clone()))
            .send()
            .await
            .map_err(|e| port_error(format!("publish to {}", message.topic), &e))?;
        tracing::debug!(topic = %message.topic, bytes = message.payload.len(), "published");
        Ok(())
    }
}

/// Reads the retained message of a topic. IoT Core's `GetRetainedMessage` is the real one;
/// the core's in-memory broker implements it too, for handler tests.
#[async_trait]
pub trait RetainedReader: Send + Sync {
    /// The retained payload of `topic`, `None` when there is none.
    ///
    /// # Errors
    /// [`PortError`] when the broker could not be asked.
    async fn retained(&self, topic: &str) -> Result<Option<Vec<u8>>, PortError>;
}

#[cfg(any(test, feature = "fakes"))]
#[async_trait]
impl RetainedReader for MemoryBroker {
    async fn retained(&self, topic: &str) -> Result<Option<Vec<u8>>, PortError> {
        Ok(MemoryBroker::retained(self).remove(topic))
    }
}

#[async_trait]
impl<T: RetainedReader + ?Sized> RetainedReader for &T {
    async fn retained(&self, topic: &str) -> Result<Option<Vec<u8>>, PortError> {
        (**self).retained(topic).await
    }
}

#[async_trait]
impl RetainedReader for IotRetained {
    async fn retained(&self, topic: &str) -> Result<Option<Vec<u8>>, PortError> {
        self.get(topic).await
    }
}

/// Reads retained messages (`GetRetainedMessage`).
#[derive(Debug, Clone)]
pub struct IotRetained {
    client: Client,
}

impl IotRetained {
    /// A reader over an IoT data-plane client.
    pub fn new(client: Client) -> Self {
        IotRetained { client }
    }

    /// The retained payload of `topic`; `None` when the topic has no retained message
    /// (`ResourceNotFoundException`).
    ///
    /// # Errors
    /// [`PortError`] when IoT Core could not be asked (transient) or refused (permanent).
    pub async fn get(&self, topic: &str) -> Result<Option<Vec<u8>>, PortError> {
        match self.client.get_retained_message().topic(topic).send().await {
            Ok(out) => Ok(Some(
                out.payload()
                    .map(|b| b.as_ref().to_vec())
                    .unwrap_or_default(),
            )),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(port_error(format!("get retained message of {topic}"), &e)),
        }
    }
}

/// The pump's cursor kept as the retained status message `{root}/status/fuel-mix/updated`
/// (DESIGN §5): loading reads it back with `GetRetainedMessage`, saving publishes it. It
/// survives cold starts, and a retried invocation resumes from the last reading whose
/// messages were all acknowledged, so nothing is lost or repeated. While the container stays
/// warm the cursor it saved last is also kept in memory, and `load` returns the newer of the
/// two, so a retained read that lags a just-acknowledged publish cannot move it back.
#[derive(Debug)]
pub struct IotCursor {
    retained: IotRetained,
    publisher: IotPublisher,
    topics: Topics,
    saved: std::sync::Mutex<Option<DateTime<Utc>>>,
}

impl IotCursor {
    /// A cursor on `topics.cursor()`.
    pub fn new(client: Client, topics: Topics) -> Self {
        IotCursor {
            retained: IotRetained::new(client.clone()),
            publisher: IotPublisher::new(client),
            topics,
            saved: std::sync::Mutex::new(None),
        }
    }

    fn saved(&self) -> Option<DateTime<Utc>> {
        *self
            .saved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl CursorStore for IotCursor {
    async fn load(&self) -> Result<Option<DateTime<Utc>>, PortError> {
        let topic = self.topics.cursor();
        // A cleared retained message (empty payload) means no cursor; a bad or future one is
        // logged and ignored (the pump starts as with no cursor).
        let retained = self
            .retained
            .get(&topic)
            .await?
            .and_then(|bytes| restore_cursor(&topic, &bytes, Utc::now()));
        Ok(retained.max(self.saved()))
    }

    async fn save(&self, ts: DateTime<Utc>) -> Result<(), PortError> {
        self.publisher
            .publish(&cursor_message(&self.topics, ts))
            .await?;
        *self
            .saved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(ts);
        Ok(())
    }
}

/// The retained payload of `topic`; `None` when there is none or it was cleared (an empty
/// retained payload, as in MQTT).
///
/// # Errors
/// [`PortError`] when the broker could not be asked.
pub async fn retained_payload(
    retained: &impl RetainedReader,
    topic: &str,
) -> Result<Option<Vec<u8>>, PortError> {
    Ok(retained
        .retained(topic)
        .await?
        .filter(|bytes| !bytes.is_empty()))
}

/// The calculator's 24 h window from its retained message (`{root}/archive/co2/24h`); `None`
/// when there is none, or when it breaks the contract: that is logged and the window starts
/// empty (a bad retained value must never stop the calculator for good). Entries dated after
/// `now` are left out by [`Co2Calculator::restore`](ny_power::co2::Co2Calculator::restore).
///
/// # Errors
/// [`PortError`] when the broker could not be asked.
pub async fn load_history(
    retained: &impl RetainedReader,
    topics: &Topics,
) -> Result<Option<Co2HistoryPayload>, PortError> {
    let topic = topics.co2_history();
    match retained_payload(retained, &topic).await? {
        None => Ok(None),
        Some(bytes) => match decode_history(&topic, &bytes) {
            Ok(history) => Ok(Some(history)),
            Err(e) => {
                tracing::warn!(error = %e, "retained history ignored; starting the window empty");
                Ok(None)
            }
        },
    }
}

/// The forecaster's retained state (`{root}/state/co2/forecaster`, `docs/forecast.md`),
/// checked and migrated to the current version by [`decode_forecaster_state`] against `now`:
/// the raw read, then the decode, kept apart because they fail differently. The outer `Result`
/// is the broker (could not ask); the inner one the payload, which a caller ignores with a
/// warning (the forecaster rebuilds from the 24 h history and the next state it publishes
/// replaces it).
///
/// # Errors
/// [`PortError`] when the broker could not be asked.
pub async fn load_forecaster_state(
    retained: &impl RetainedReader,
    topics: &Topics,
    now: DateTime<Utc>,
) -> Result<Option<Result<ForecasterStatePayload, StreamError>>, PortError> {
    let topic = topics.forecaster_state();
    Ok(retained_payload(retained, &topic)
        .await?
        .map(|bytes| decode_forecaster_state(&topic, &bytes, now)))
}
