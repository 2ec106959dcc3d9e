//! AWS IoT Core adapters over the data-plane HTTPS API (`aws-sdk-iotdataplane`):
//! [`IotPublisher`] (the `Publisher` port: `Publish`, QoS 1, retained), [`IotRetained`] (the
//! `RetainedReader` port: `GetRetainedMessage`) and [`IotCursor`], the core's
//! [`RetainedCursor`] over both (the pump's cursor is the retained status message).

use async_trait::async_trait;
use aws_sdk_iotdataplane::primitives::Blob;
use aws_sdk_iotdataplane::Client;
use ny_power::ports::{PortError, Publisher, RetainedReader};
use ny_power::stream::{Message, Topics};
use ny_power::usecases::cursor::RetainedCursor;

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
/// (DESIGN §5): the core's [`RetainedCursor`] over IoT Core, reading the retained message
/// on every load (a warm container keeps the one it saved and returns the newer of the two).
pub type IotCursor = RetainedCursor<IotPublisher, IotRetained>;

/// The pump's cursor over an IoT data-plane client, on `topics.cursor()`.
pub fn iot_cursor(client: Client, topics: Topics) -> IotCursor {
    RetainedCursor::new(
        IotPublisher::new(client.clone()),
        IotRetained::new(client),
        topics,
    )
}
