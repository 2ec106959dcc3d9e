//! The archiver service: a persistent MQTT session (clean session off, QoS 1, manual acks) on
//! [`Topics::archived`](crate::stream::Topics::archived); each message becomes points
//! ([`points_for_message`]), written in batches to every configured [`ArchiveSink`]; a batch is
//! acknowledged to the broker only once every sink took it durably (written, or kept in an
//! on-disk backlog), so nothing is lost across restarts of the archiver, the broker or the
//! database. Invalid payloads are logged and acknowledged: they never block the stream.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{Common, ServiceError, Shutdown};
use crate::adapters::backlog::BufferedArchive;
use crate::adapters::mqtt::{ClientOptions, Inbound, MqttClient};
use crate::archive::{points_for_message, Point};
use crate::backoff::Backoff;
use crate::ports::{Archive, ArchiveSink, PortError};

/// Any [`Archive`] as a sink without a backlog.
#[derive(Debug)]
pub struct PlainSink<A> {
    name: String,
    archive: A,
}

impl<A: Archive> PlainSink<A> {
    /// Wraps `archive`, named `name` in logs.
    pub fn new(name: impl Into<String>, archive: A) -> Self {
        PlainSink {
            name: name.into(),
            archive,
        }
    }
}

#[async_trait]
impl<A: Archive> ArchiveSink for PlainSink<A> {
    fn name(&self) -> &str {
        &self.name
    }

    async fn write(&self, points: &[Point]) -> Result<(), PortError> {
        self.archive.write(points).await
    }
}

/// An archive behind an on-disk backlog ([`BufferedArchive`]): writes succeed once the points
/// are queued on disk; [`ArchiveSink::flush`] delivers the queue when the database is back.
pub struct BufferedSink<A: Archive> {
    name: String,
    archive: BufferedArchive<A>,
}

impl<A: Archive> BufferedSink<A> {
    /// Wraps `archive`, named `name` in logs.
    pub fn new(name: impl Into<String>, archive: BufferedArchive<A>) -> Self {
        BufferedSink {
            name: name.into(),
            archive,
        }
    }

    /// The buffered archive.
    pub fn archive(&self) -> &BufferedArchive<A> {
        &self.archive
    }
}

#[async_trait]
impl<A: Archive> ArchiveSink for BufferedSink<A> {
    fn name(&self) -> &str {
        &self.name
    }

    async fn write(&self, points: &[Point]) -> Result<(), PortError> {
        self.archive.write(points).await
    }

    /// Flushes the backlog when its retry backoff allows ([`BufferedArchive::flush_when_due`]).
    async fn flush(&self) -> Result<(), PortError> {
        let delivered = self.archive.flush_when_due().await?;
        if delivered > 0 {
            tracing::info!(sink = %self.name, points = delivered, "backlog delivered");
        }
        Ok(())
    }
}

/// Batching settings.
#[derive(Debug, Clone)]
pub struct ArchiveSettings {
    /// Most messages in one batch.
    pub max_batch: usize,
    /// A batch is written when no further message arrived for this long…
    pub idle: Duration,
    /// …or when its first message is this old.
    pub max_age: Duration,
    /// How often sinks are asked to flush their backlog.
    pub flush_every: Duration,
}

impl Default for ArchiveSettings {
    fn default() -> Self {
        ArchiveSettings {
            max_batch: 500,
            idle: Duration::from_millis(25),
            max_age: Duration::from_secs(1),
            flush_every: Duration::from_secs(1),
        }
    }
}

/// The archiver's client options: client id `{root}-archive`, persistent session, manual acks,
/// QoS 1 subscriptions to the archived topics, status on `{root}/status/archive`.
pub fn client_options(common: &Common) -> ClientOptions {
    let mut opts = common.client_options("archive");
    opts.clean_session = false;
    opts.manual_acks = true;
    opts.subscriptions = common.topics.archived();
    opts
}

/// Runs the archiver until `shutdown`, then flushes the sinks once, publishes its offline
/// status and disconnects.
///
/// # Errors
/// [`ServiceError`] when the broker refuses the archiver.
pub async fn run(
    client: &MqttClient,
    common: &Common,
    settings: &ArchiveSettings,
    sinks: Vec<Arc<dyn ArchiveSink>>,
    mut shutdown: Shutdown,
) -> Result<(), ServiceError> {
    let result = archive_loop(client, common, settings, &sinks, &mut shutdown).await;
    for sink in &sinks {
        if let Err(e) = sink.flush().await {
            tracing::warn!(sink = sink.name(), error = %e, "backlog kept for the next start");
        }
    }
    client.close().await;
    result
}

async fn archive_loop(
    client: &MqttClient,
    common: &Common,
    settings: &ArchiveSettings,
    sinks: &[Arc<dyn ArchiveSink>],
    shutdown: &mut Shutdown,
) -> Result<(), ServiceError> {
    if !super::wait_connected_or_stopped(client, "archive", shutdown).await? {
        return Ok(());
    }
    let names: Vec<&str> = sinks.iter().map(|s| s.name()).collect();
    tracing::info!(sinks = ?names, "archiver started");
    let mut flush_tick = tokio::time::interval(settings.flush_every);
    flush_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let first = tokio::select! {
            m = client.recv() => m,
            _ = flush_tick.tick() => {
                flush(sinks).await;
                continue;
            }
            _ = shutdown.wait() => break,
        };
        let Some(first) = first else { break };
        let batch = collect(client, settings, first).await;
        let points = to_points(common, &batch);
        if !points.is_empty() && !write_all(sinks, &points, shutdown).await {
            break; // shutdown before the batch was stored: not acknowledged, delivered again
        }
        for message in &batch {
            if let Err(e) = client.ack(message).await {
                tracing::warn!(error = %e, "acknowledging an archived message");
            }
        }
        tracing::debug!(
            messages = batch.len(),
            points = points.len(),
            "batch archived"
        );
    }
    tracing::info!("archiver stopping");
    Ok(())
}

async fn collect(client: &MqttClient, settings: &ArchiveSettings, first: Inbound) -> Vec<Inbound> {
    let deadline = Instant::now() + settings.max_age;
    let mut batch = vec![first];
    while batch.len() < settings.max_batch {
        let until = (Instant::now() + settings.idle).min(deadline);
        match tokio::time::timeout_at(until, client.recv()).await {
            Ok(Some(m)) => batch.push(m),
            Ok(None) | Err(_) => break,
        }
    }
    batch
}

fn to_points(common: &Common, batch: &[Inbound]) -> Vec<Point> {
    let mut points = Vec::new();
    for message in batch {
        match points_for_message(&common.topics, &message.topic, &message.payload) {
            Ok(p) => points.extend(p),
            Err(e) => tracing::warn!(error = %e, "message not archived"),
        }
    }
    points
}

/// First wait of [`write_all`]'s retries; doubled up to [`WRITE_RETRY_MAX`].
const WRITE_RETRY_INITIAL: Duration = Duration::from_millis(200);
/// Longest wait between two attempts of [`write_all`].
const WRITE_RETRY_MAX: Duration = Duration::from_secs(30);

/// Writes to every sink, retrying transient errors on a [`Backoff`] (the batch is not
/// acknowledged meanwhile); `false` when shutdown came first.
async fn write_all(
    sinks: &[Arc<dyn ArchiveSink>],
    points: &[Point],
    shutdown: &mut Shutdown,
) -> bool {
    for sink in sinks {
        let mut backoff = Backoff::new(WRITE_RETRY_INITIAL, WRITE_RETRY_MAX);
        loop {
            match sink.write(points).await {
                Ok(()) => break,
                Err(e) if e.is_retryable() => {
                    let retry = backoff.next();
                    tracing::warn!(sink = sink.name(), error = %e, retry_in = ?retry, "archive write failed; retrying");
                    if !shutdown.sleep(retry).await {
                        return false;
                    }
                }
                Err(e) => {
                    tracing::error!(sink = sink.name(), error = %e, points = points.len(), "archive refused the points; skipped");
                    break;
                }
            }
        }
    }
    true
}

async fn flush(sinks: &[Arc<dyn ArchiveSink>]) {
    for sink in sinks {
        if let Err(e) = sink.flush().await {
            tracing::debug!(sink = sink.name(), error = %e, "backlog not flushed yet");
        }
    }
}
