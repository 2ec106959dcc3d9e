//! Ports: the small capabilities the use cases need, one trait each (a use case takes only
//! the ports it uses). Adapters implement them for MQTT brokers, AWS IoT Core, InfluxDB,
//! SQLite, Timestream and NYISO over HTTP; [`crate::fakes`] has in-memory versions for tests.
//!
//! Every port lives here: [`Source`], [`Publisher`], [`RetainedReader`], [`CursorStore`],
//! [`Archive`] and [`ArchiveSink`] (the archiver's durable view of an archive), and [`Clock`].
//! This module imports only the domain ([`crate::reading`]), the stream contract
//! ([`crate::stream`]) and the archive points ([`crate::archive`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::archive::Point;
use crate::reading::{ParseError, Reading};
use crate::stream::Message;

/// An error from an adapter, classified for retry.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Worth retrying later: network, timeout, broker or database unavailable, throttling.
    #[error("{context}: {message}")]
    Transient {
        /// What was being done (e.g. `publish to ny-power/computed/co2`).
        context: String,
        /// What went wrong.
        message: String,
    },
    /// Retrying the same thing will fail again: bad input, refused by policy, bad config.
    #[error("{context}: {message}")]
    Permanent {
        /// What was being done.
        context: String,
        /// What went wrong.
        message: String,
    },
    /// The upstream file was not a fuel-mix CSV (rejected; nothing of it used).
    #[error(transparent)]
    Rejected(#[from] ParseError),
}

impl PortError {
    /// A transient error.
    pub fn transient(context: impl Into<String>, message: impl ToString) -> Self {
        PortError::Transient {
            context: context.into(),
            message: message.to_string(),
        }
    }

    /// A permanent error.
    pub fn permanent(context: impl Into<String>, message: impl ToString) -> Self {
        PortError::Permanent {
            context: context.into(),
            message: message.to_string(),
        }
    }

    /// Whether retrying later may succeed. A rejected NYISO file counts as retryable: NYISO
    /// may serve a good file on the next poll.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, PortError::Permanent { .. })
    }
}

/// Publishes retained messages at QoS 1.
#[async_trait]
pub trait Publisher: Send + Sync {
    /// Publishes one message (retained, QoS 1) and returns once the broker acknowledged it.
    ///
    /// # Errors
    /// [`PortError`] when the broker did not acknowledge it.
    async fn publish(&self, message: &Message) -> Result<(), PortError>;
}

/// The pump's resume cursor: the instant of the newest reading published.
#[async_trait]
pub trait CursorStore: Send + Sync {
    /// The stored cursor; `None` before the first reading was ever published.
    ///
    /// # Errors
    /// [`PortError`] when the store cannot be read (the pump must not guess then).
    async fn load(&self) -> Result<Option<DateTime<Utc>>, PortError>;

    /// Moves the cursor to `ts` (called only after the reading's messages were acknowledged).
    ///
    /// # Errors
    /// [`PortError`] when the store did not take it.
    async fn save(&self, ts: DateTime<Utc>) -> Result<(), PortError>;
}

/// Where readings come from (NYISO over HTTP, a folder of files, a replay).
#[async_trait]
pub trait Source: Send + Sync {
    /// Complete readings newer than `after` (all, when `None`) available at `now`, sorted by
    /// instant. A source may bound how far back it looks when `after` is `None`.
    ///
    /// # Errors
    /// [`PortError`] when the source could not be read or its data was rejected.
    async fn readings_after(
        &self,
        after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Reading>, PortError>;
}

/// A time-series store.
#[async_trait]
pub trait Archive: Send + Sync {
    /// Writes points idempotently: a point with the same measurement, tags and timestamp
    /// overwrites the earlier one.
    ///
    /// # Errors
    /// [`PortError`] when the store did not take all of them.
    async fn write(&self, points: &[Point]) -> Result<(), PortError>;
}

#[async_trait]
impl<A: Archive + ?Sized> Archive for Box<A> {
    async fn write(&self, points: &[Point]) -> Result<(), PortError> {
        (**self).write(points).await
    }
}

/// Where the archiver writes: an [`Archive`] with a name for logs and, for one behind an
/// on-disk backlog, a flush of what it held back.
#[async_trait]
pub trait ArchiveSink: Send + Sync {
    /// A short name for logs (`influxdb`, `sqlite`).
    fn name(&self) -> &str;

    /// Writes points durably (idempotently: same measurement, tags and timestamp overwrite).
    ///
    /// # Errors
    /// [`PortError`]; the archiver retries transient ones and does not acknowledge the batch
    /// until they succeed.
    async fn write(&self, points: &[Point]) -> Result<(), PortError>;

    /// Sends any held-back points (a backlog) to the database; called about every second.
    ///
    /// # Errors
    /// [`PortError`] when the database is still unavailable (the backlog is kept).
    async fn flush(&self) -> Result<(), PortError> {
        Ok(())
    }
}

/// Reads the retained message of a topic: one read, no retry (a caller that must wait for
/// an answer retries). MQTT brokers answer it with a subscribe of the exact topic
/// ([`MqttClient`](crate::adapters::mqtt::MqttClient)), AWS IoT Core with
/// `GetRetainedMessage`.
#[async_trait]
pub trait RetainedReader: Send + Sync {
    /// The retained payload of `topic`, `None` when there is none.
    ///
    /// # Errors
    /// [`PortError`] when the broker could not be asked.
    async fn retained(&self, topic: &str) -> Result<Option<Vec<u8>>, PortError>;
}

#[async_trait]
impl<T: RetainedReader + ?Sized> RetainedReader for &T {
    async fn retained(&self, topic: &str) -> Result<Option<Vec<u8>>, PortError> {
        (**self).retained(topic).await
    }
}

/// What time it is for the services: the wall clock, or an accelerated replay clock.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
