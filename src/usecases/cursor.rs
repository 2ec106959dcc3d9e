//! The pump's cursor is a retained message: `{root}/status/fuel-mix/updated` (DESIGN §5),
//! read back through the [`RetainedReader`] port and saved by publishing
//! [`cursor_message`] through the [`Publisher`] port. One type for every broker: MQTT (the
//! services) and AWS IoT Core (the pump function).
//!
//! It survives restarts and cold starts: a restarted or retried pump resumes from the last
//! reading whose messages were all acknowledged, so nothing is lost or repeated. The cursor
//! saved last is also kept in memory and `load` returns the newer of it and the retained one,
//! so a retained read that lags a just-acknowledged publish cannot move it back.

use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::{CursorStore, PortError, Publisher, RetainedReader};
use crate::stream::{cursor_message, restore_cursor, Topics};

/// The pump's cursor kept as its retained status message.
#[derive(Debug)]
pub struct RetainedCursor<P, R> {
    publisher: P,
    reader: R,
    topics: Topics,
    /// Read the retained cursor on every load (`false`: on the first only).
    reread: bool,
    /// The cursor saved last by this instance.
    saved: Mutex<Option<DateTime<Utc>>>,
    /// What the first load found (held when not re-reading).
    loaded: Mutex<Option<Option<DateTime<Utc>>>>,
}

impl<P: Publisher, R: RetainedReader> RetainedCursor<P, R> {
    /// A cursor on `topics.cursor()`, saved with `publisher` and read with `reader` on every
    /// load (a warm Lambda container: another invocation may have moved it since).
    pub fn new(publisher: P, reader: R, topics: Topics) -> Self {
        RetainedCursor {
            publisher,
            reader,
            topics,
            reread: true,
            saved: Mutex::new(None),
            loaded: Mutex::new(None),
        }
    }

    /// Reads the retained cursor on the first load only and holds it from then on (a
    /// long-running pump, the only one moving the cursor).
    #[must_use]
    pub fn read_once(mut self) -> Self {
        self.reread = false;
        self
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[async_trait]
impl<P: Publisher, R: RetainedReader> CursorStore for RetainedCursor<P, R> {
    async fn load(&self) -> Result<Option<DateTime<Utc>>, PortError> {
        let held = *lock(&self.loaded);
        if let (false, Some(known)) = (self.reread, held) {
            return Ok(known.max(*lock(&self.saved)));
        }
        let topic = self.topics.cursor();
        // A cleared retained message (empty payload) means no cursor; one that is not a
        // cursor, or one from the future, is logged and ignored: the pump starts as with no
        // cursor rather than refusing to start.
        let retained = self
            .reader
            .retained(&topic)
            .await?
            .and_then(|bytes| restore_cursor(&topic, &bytes, Utc::now()));
        if held.is_none() {
            tracing::info!(cursor = ?retained, "cursor read from the broker");
        }
        *lock(&self.loaded) = Some(retained);
        Ok(retained.max(*lock(&self.saved)))
    }

    async fn save(&self, ts: DateTime<Utc>) -> Result<(), PortError> {
        self.publisher
            .publish(&cursor_message(&self.topics, ts))
            .await?;
        *lock(&self.saved) = Some(ts);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::fakes::MemoryBroker;
    use chrono::TimeZone;

    #[tokio::test]
    async fn saved_cursor_is_read_back_and_never_moves_back() {
        let broker = MemoryBroker::new();
        let t = Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap();
        let cursor = RetainedCursor::new(&broker, &broker, Topics::default());
        assert_eq!(cursor.load().await.unwrap(), None);
        cursor.save(t).await.unwrap();
        assert_eq!(cursor.load().await.unwrap(), Some(t));
        // A cold start reads it back from the retained message.
        let cold = RetainedCursor::new(&broker, &broker, Topics::default());
        assert_eq!(cold.load().await.unwrap(), Some(t));
        // A newer one retained by another instance: read again, unless reading once.
        let once = RetainedCursor::new(&broker, &broker, Topics::default()).read_once();
        assert_eq!(once.load().await.unwrap(), Some(t));
        let later = t + chrono::Duration::minutes(5);
        broker
            .publish(&cursor_message(&Topics::default(), later))
            .await
            .unwrap();
        assert_eq!(cold.load().await.unwrap(), Some(later));
        assert_eq!(once.load().await.unwrap(), Some(t));
        // A retained one older than the one saved here does not move it back.
        cursor
            .save(later + chrono::Duration::minutes(5))
            .await
            .unwrap();
        broker
            .publish(&cursor_message(&Topics::default(), t))
            .await
            .unwrap();
        assert_eq!(
            cursor.load().await.unwrap(),
            Some(later + chrono::Duration::minutes(5))
        );
    }
}
