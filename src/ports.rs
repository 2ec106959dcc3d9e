//! Ports: the small capabilities the use cases need, one trait each (a use case takes only
//! the ports it uses). Adapters implement them for MQTT brokers, AWS IoT Core, InfluxDB,
//! SQLite, Timestream and NYISO over HTTP; [`crate::fakes`] has in-memory versions for tests.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::archive::Point;
use crate::nyiso::ParseError;
use crate::reading::Reading;
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
