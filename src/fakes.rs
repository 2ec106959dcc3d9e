//! In-memory implementations of the ports, for unit tests of the use cases (and the Lambda
//! handlers). Reusable fakes, not mocks: they behave like the real thing, in memory.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::archive::{Point, PointKey};
use crate::ports::{Archive, CursorStore, PortError, Publisher, RetainedReader, Source};
use crate::reading::Reading;
use crate::stream::Message;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A broker in memory: every publish is logged and the retained value per topic kept.
/// `fail_after` makes it refuse publishes after that many, to test partial failure.
#[derive(Debug, Default)]
pub struct MemoryBroker {
    log: Mutex<Vec<Message>>,
    fail_after: Mutex<Option<usize>>,
}

impl MemoryBroker {
    /// An empty broker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message published, in order.
    pub fn published(&self) -> Vec<Message> {
        lock(&self.log).clone()
    }

    /// The retained message of each topic.
    pub fn retained(&self) -> BTreeMap<String, Vec<u8>> {
        lock(&self.log)
            .iter()
            .filter(|m| m.retain)
            .map(|m| (m.topic.clone(), m.payload.clone()))
            .collect()
    }

    /// Refuse every publish after `n` more successful ones (`None`: never).
    pub fn fail_after(&self, n: Option<usize>) {
        *lock(&self.fail_after) = n;
    }
}

#[async_trait]
impl Publisher for MemoryBroker {
    async fn publish(&self, message: &Message) -> Result<(), PortError> {
        let mut budget = lock(&self.fail_after);
        if let Some(n) = budget.as_mut() {
            if *n == 0 {
                return Err(PortError::transient(
                    format!("publish to {}", message.topic),
                    "broker unavailable (fake)",
                ));
            }
            *n -= 1;
        }
        lock(&self.log).push(message.clone());
        Ok(())
    }
}

#[async_trait]
impl Publisher for &MemoryBroker {
    async fn publish(&self, message: &Message) -> Result<(), PortError> {
        (*self).publish(message).await
    }
}

/// Answers retained reads from what was published (handler tests of the Lambdas and the
/// use cases that read retained state).
#[async_trait]
impl RetainedReader for MemoryBroker {
    async fn retained(&self, topic: &str) -> Result<Option<Vec<u8>>, PortError> {
        Ok(MemoryBroker::retained(self).remove(topic))
    }
}

/// A cursor in memory.
#[derive(Debug, Default)]
pub struct MemoryCursor(Mutex<Option<DateTime<Utc>>>);

impl MemoryCursor {
    /// A cursor at `ts`.
    pub fn at(ts: Option<DateTime<Utc>>) -> Self {
        MemoryCursor(Mutex::new(ts))
    }

    /// Its value.
    pub fn get(&self) -> Option<DateTime<Utc>> {
        *lock(&self.0)
    }
}

#[async_trait]
impl CursorStore for MemoryCursor {
    async fn load(&self) -> Result<Option<DateTime<Utc>>, PortError> {
        Ok(self.get())
    }
    async fn save(&self, ts: DateTime<Utc>) -> Result<(), PortError> {
        *lock(&self.0) = Some(ts);
        Ok(())
    }
}

#[async_trait]
impl CursorStore for &MemoryCursor {
    async fn load(&self) -> Result<Option<DateTime<Utc>>, PortError> {
        (*self).load().await
    }
    async fn save(&self, ts: DateTime<Utc>) -> Result<(), PortError> {
        (*self).save(ts).await
    }
}

/// A source over a fixed list of readings; only those at or before `now` are available.
#[derive(Debug, Default)]
pub struct MemorySource(Mutex<Vec<Reading>>);

impl MemorySource {
    /// A source of these readings (sorted here).
    pub fn new(mut readings: Vec<Reading>) -> Self {
        readings.sort_by_key(|r| r.ts);
        MemorySource(Mutex::new(readings))
    }

    /// Replaces the readings (e.g. a file that grew).
    pub fn set(&self, mut readings: Vec<Reading>) {
        readings.sort_by_key(|r| r.ts);
        *lock(&self.0) = readings;
    }
}

#[async_trait]
impl Source for MemorySource {
    async fn readings_after(
        &self,
        after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Reading>, PortError> {
        Ok(lock(&self.0)
            .iter()
            .filter(|r| r.ts <= now && after.is_none_or(|a| r.ts > a))
            .copied()
            .collect())
    }
}

#[async_trait]
impl Source for &MemorySource {
    async fn readings_after(
        &self,
        after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Reading>, PortError> {
        (*self).readings_after(after, now).await
    }
}

/// An archive in memory, keyed like the real ones (measurement + tags + timestamp).
#[derive(Debug, Default)]
pub struct MemoryArchive {
    points: Mutex<BTreeMap<PointKey, Point>>,
    writes: Mutex<usize>,
}

impl MemoryArchive {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// All points, by key.
    pub fn points(&self) -> Vec<Point> {
        lock(&self.points).values().cloned().collect()
    }

    /// Number of `write` calls.
    pub fn writes(&self) -> usize {
        *lock(&self.writes)
    }
}

#[async_trait]
impl Archive for MemoryArchive {
    async fn write(&self, points: &[Point]) -> Result<(), PortError> {
        *lock(&self.writes) += 1;
        let mut map = lock(&self.points);
        for p in points {
            map.insert(p.key(), p.clone());
        }
        Ok(())
    }
}

#[async_trait]
impl Archive for &MemoryArchive {
    async fn write(&self, points: &[Point]) -> Result<(), PortError> {
        (*self).write(points).await
    }
}
