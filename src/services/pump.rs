//! The pump service: polls the source every `POLL_INTERVAL`, publishes new complete readings
//! (DESIGN §5) and moves the retained cursor only after a reading's messages were
//! acknowledged ([`crate::usecases::pump::Pump`] over [`MqttClient`] and [`RetainedCursor`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Clock, Common, ServiceError, Shutdown};
use crate::adapters::mqtt::{ClientOptions, MqttClient};
use crate::backoff::Backoff;
use crate::ports::{PortError, Source};
use crate::reading::Reading;
use crate::usecases::cursor::RetainedCursor;
use crate::usecases::pump::{Pump, PumpError};

/// How long an interrupted poll may still finish after shutdown was signalled.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// The wait before the poll after a failed one (doubled after each further failure, up to the
/// poll interval).
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// Pump settings.
#[derive(Debug, Clone)]
pub struct PumpSettings {
    /// Time between polls (`POLL_INTERVAL`, default 60 s). After a failed poll the next comes
    /// sooner (1 s, doubling up to this).
    pub poll_interval: Duration,
}

impl Default for PumpSettings {
    fn default() -> Self {
        PumpSettings {
            poll_interval: Duration::from_secs(60),
        }
    }
}

/// The pump's MQTT client options: clean session, status on `{root}/status/pump`.
pub fn client_options(common: &Common) -> ClientOptions {
    common.client_options("pump")
}

struct DynSource(Arc<dyn Source>);

#[async_trait]
impl Source for DynSource {
    async fn readings_after(
        &self,
        after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Reading>, PortError> {
        self.0.readings_after(after, now).await
    }
}

/// Runs the pump until `shutdown`, then publishes its offline status and disconnects.
///
/// # Errors
/// [`ServiceError`] when the broker refuses the pump or its cursor cannot be read for a reason
/// retrying will not fix (a refused subscription, a malformed retained cursor).
pub async fn run(
    client: &MqttClient,
    common: &Common,
    settings: &PumpSettings,
    source: Arc<dyn Source>,
    clock: Arc<dyn Clock>,
    mut shutdown: Shutdown,
) -> Result<(), ServiceError> {
    let result = poll_loop(client, common, settings, source, clock, &mut shutdown).await;
    client.close().await;
    result
}

async fn poll_loop(
    client: &MqttClient,
    common: &Common,
    settings: &PumpSettings,
    source: Arc<dyn Source>,
    clock: Arc<dyn Clock>,
    shutdown: &mut Shutdown,
) -> Result<(), ServiceError> {
    if !super::wait_connected_or_stopped(client, "pump", shutdown).await? {
        return Ok(());
    }
    let topics = common.topics.clone();
    let pump = Pump::new(
        DynSource(source),
        client.clone(),
        RetainedCursor::new(client.clone(), client.clone(), topics.clone()).read_once(),
        topics,
    );
    tracing::info!(interval = ?settings.poll_interval, "pump started");
    let mut backoff = Backoff::new(FIRST_RETRY, settings.poll_interval);
    while !shutdown.is_triggered() {
        let poll = pump.poll_once(clock.now());
        tokio::pin!(poll);
        let result = tokio::select! {
            r = &mut poll => r,
            _ = shutdown.wait() => match tokio::time::timeout(SHUTDOWN_GRACE, &mut poll).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::warn!("shutdown: the poll in progress was abandoned (nothing is lost: the cursor names the last reading fully published)");
                    return Ok(());
                }
            },
        };
        let wait = match result {
            Ok(outcome) => {
                backoff.reset();
                if outcome.published > 0 {
                    tracing::info!(
                        published = outcome.published,
                        cursor = ?outcome.cursor,
                        "published new readings"
                    );
                } else {
                    tracing::debug!(cursor = ?outcome.cursor, "no new reading");
                }
                settings.poll_interval
            }
            Err(PumpError::Cursor(e)) if !e.is_retryable() => {
                return Err(ServiceError::Port {
                    service: "pump",
                    source: e,
                });
            }
            Err(e) => {
                let retry = backoff.next();
                if e.is_retryable() {
                    tracing::warn!(error = %e, retry_in = ?retry, "poll failed; nothing more was published and the cursor stays");
                } else {
                    tracing::error!(error = %e, retry_in = ?retry, "poll failed; nothing more was published and the cursor stays");
                }
                retry
            }
        };
        if !shutdown.sleep(wait).await {
            break;
        }
    }
    tracing::info!("pump stopping");
    Ok(())
}
