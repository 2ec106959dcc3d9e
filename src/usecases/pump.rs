//! The pump use case: new complete readings since the cursor become the messages of DESIGN §5,
//! in order; the cursor moves only after a reading's messages were acknowledged, so a restart
//! or a retry resumes from it and republishes nothing older.
//!
//! A reading dated later than now plus [`MAX_FUTURE_SLACK`] is refused: not published, warned,
//! and the poll stops there, so the cursor never moves past it (a clock running late, or a
//! file with a bad date, cannot push the cursor into the future and silence every real
//! reading after it).

use chrono::{DateTime, Utc};

use crate::ports::{CursorStore, PortError, Publisher, Source};
use crate::reading::MAX_FUTURE_SLACK;
use crate::stream::{reading_messages, Topics};

/// What one poll did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollOutcome {
    /// Readings published by this poll.
    pub published: usize,
    /// The cursor after the poll.
    pub cursor: Option<DateTime<Utc>>,
}

/// Errors of a poll. Whatever was published before the error stays published and the cursor
/// names the last reading fully published.
#[derive(Debug, thiserror::Error)]
pub enum PumpError {
    /// The cursor could not be read: nothing was fetched or published.
    #[error("reading the cursor: {0}")]
    Cursor(#[source] PortError),
    /// The source failed or its data was rejected: nothing was published.
    #[error("fetching readings: {0}")]
    Source(#[source] PortError),
    /// Publishing failed part-way; `outcome` says how far it got.
    #[error("publishing after {} readings: {error}", outcome.published)]
    Publish {
        /// The error.
        #[source]
        error: PortError,
        /// What was published (and the cursor) before it.
        outcome: PollOutcome,
    },
}

impl PumpError {
    /// Whether a later retry may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            PumpError::Cursor(e) | PumpError::Source(e) => e.is_retryable(),
            PumpError::Publish { error, .. } => error.is_retryable(),
        }
    }
}

/// The pump: a source, a publisher and a cursor store.
pub struct Pump<S, P, C> {
    source: S,
    publisher: P,
    cursor: C,
    topics: Topics,
}

impl<S: Source, P: Publisher, C: CursorStore> Pump<S, P, C> {
    /// A pump over the given ports.
    pub fn new(source: S, publisher: P, cursor: C, topics: Topics) -> Self {
        Pump {
            source,
            publisher,
            cursor,
            topics,
        }
    }

    /// The source (e.g. to inspect download statistics).
    pub fn source(&self) -> &S {
        &self.source
    }

    /// One poll: load the cursor, fetch newer readings, publish each in order and move the
    /// cursor after each.
    ///
    /// # Errors
    /// [`PumpError`]; see its variants for what was done before the error.
    pub async fn poll_once(&self, now: DateTime<Utc>) -> Result<PollOutcome, PumpError> {
        let mut cursor = self.cursor.load().await.map_err(PumpError::Cursor)?;
        let readings = self
            .source
            .readings_after(cursor, now)
            .await
            .map_err(PumpError::Source)?;
        let mut published = 0;
        for reading in readings {
            if cursor.is_some_and(|c| reading.ts <= c) {
                continue; // a source may return more than asked; never go backwards
            }
            if reading.is_too_far_ahead(now) {
                // Readings come sorted: every later one is further ahead still.
                tracing::warn!(
                    ts = %reading.ts,
                    %now,
                    slack = ?MAX_FUTURE_SLACK,
                    "reading dated too far in the future refused: not published, the cursor stays"
                );
                break;
            }
            let result = async {
                for message in reading_messages(&self.topics, &reading) {
                    self.publisher.publish(&message).await?;
                }
                self.cursor.save(reading.ts).await
            }
            .await;
            if let Err(error) = result {
                return Err(PumpError::Publish {
                    error,
                    outcome: PollOutcome { published, cursor },
                });
            }
            cursor = Some(reading.ts);
            published += 1;
            tracing::debug!(ts = %reading.ts, "published reading");
        }
        Ok(PollOutcome { published, cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{MemoryBroker, MemoryCursor, MemorySource};
    use crate::reading::{FuelMix, Reading};
    use chrono::{Duration, TimeZone};

    fn readings(n: usize) -> Vec<Reading> {
        let t0 = Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap();
        (0..n)
            .map(|i| Reading {
                ts: t0 + Duration::minutes(5 * i as i64),
                mix: FuelMix([i as f64; 7]),
            })
            .collect()
    }

    #[tokio::test]
    async fn publishes_in_order_and_twice_is_once() {
        let (source, broker, cursor) = (
            MemorySource::new(readings(3)),
            MemoryBroker::new(),
            MemoryCursor::default(),
        );
        let pump = Pump::new(&source, &broker, &cursor, Topics::default());
        let now = Utc.with_ymd_and_hms(2025, 2, 2, 0, 0, 0).unwrap();
        let out = pump.poll_once(now).await.unwrap();
        assert_eq!(out.published, 3);
        assert_eq!(broker.published().len(), 3 * 8);
        assert_eq!(broker.published()[7].topic, "ny-power/upstream/fuel-mix");
        let again = pump.poll_once(now).await.unwrap();
        assert_eq!(again.published, 0);
        assert_eq!(broker.published().len(), 24);
        assert_eq!(cursor.get(), Some(readings(3)[2].ts));
    }

    /// A source that returns whatever it holds after the cursor, however far ahead of `now`
    /// (as `HttpSource` does: NYISO's file decides, the pump refuses).
    struct Unfiltered(Vec<Reading>);

    #[async_trait::async_trait]
    impl Source for Unfiltered {
        async fn readings_after(
            &self,
            after: Option<DateTime<Utc>>,
            _now: DateTime<Utc>,
        ) -> Result<Vec<Reading>, PortError> {
            Ok(self
                .0
                .iter()
                .filter(|r| after.is_none_or(|a| r.ts > a))
                .copied()
                .collect())
        }
    }

    #[tokio::test]
    async fn readings_too_far_ahead_are_refused_and_the_cursor_stays() {
        let all = readings(4);
        // "Now" is the second reading's instant: the third is within the slack, the fourth
        // beyond it.
        let now = all[1].ts;
        let mut future = all.clone();
        future[2].ts = now + MAX_FUTURE_SLACK;
        future[3].ts = now + MAX_FUTURE_SLACK + Duration::seconds(1);
        let last = future[3].ts;
        let within = future[2].ts;
        let (source, broker, cursor) = (
            Unfiltered(future),
            MemoryBroker::new(),
            MemoryCursor::default(),
        );
        let pump = Pump::new(source, &broker, &cursor, Topics::default());
        let out = pump.poll_once(now).await.unwrap();
        assert_eq!(out.published, 3);
        assert_eq!(cursor.get(), Some(within));
        assert_eq!(broker.published().len(), 3 * 8);
        // Again: still refused, nothing more published.
        assert_eq!(pump.poll_once(now).await.unwrap().published, 0);
        // Once the clock has caught up, it goes out.
        let later = now + Duration::seconds(1);
        assert_eq!(pump.poll_once(later).await.unwrap().published, 1);
        assert_eq!(cursor.get(), Some(last));
    }

    #[tokio::test]
    async fn failure_mid_reading_keeps_the_cursor_on_the_last_whole_reading() {
        let (source, broker, cursor) = (
            MemorySource::new(readings(3)),
            MemoryBroker::new(),
            MemoryCursor::default(),
        );
        broker.fail_after(Some(8 + 3));
        let pump = Pump::new(&source, &broker, &cursor, Topics::default());
        let now = Utc.with_ymd_and_hms(2025, 2, 2, 0, 0, 0).unwrap();
        let err = pump.poll_once(now).await.unwrap_err();
        assert!(err.is_retryable());
        assert_eq!(cursor.get(), Some(readings(3)[0].ts));
        broker.fail_after(None);
        let out = pump.poll_once(now).await.unwrap();
        assert_eq!(out.published, 2);
        let mixes = broker
            .published()
            .iter()
            .filter(|m| m.topic == "ny-power/upstream/fuel-mix")
            .count();
        assert_eq!(mixes, 3, "each reading's combined message exactly once");
    }
}
