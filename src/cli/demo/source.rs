//! A [`Source`] decorator: the demo's pump takes nothing until the calculator and the archiver
//! are subscribed, and nothing once the demo is stopping.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use ny_power::ports::{PortError, Source};
use ny_power::reading::Reading;

/// A source that yields nothing until its gate opens (the calculator and archiver must be
/// subscribed before the first reading, or they would miss the backfill) and nothing once the
/// demo is stopping.
pub(super) struct GatedSource {
    /// The source it gates.
    pub(super) inner: Arc<dyn Source>,
    /// Open once the calculator and the archiver are subscribed.
    pub(super) gate: watch::Receiver<bool>,
    /// Set once the demo is stopping.
    pub(super) stopping: watch::Receiver<bool>,
}

#[async_trait]
impl Source for GatedSource {
    async fn readings_after(
        &self,
        after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Reading>, PortError> {
        // Wait (a little) for the gate rather than return nothing, so the first readings go
        // out the moment the calculator and archiver are subscribed, not a poll later.
        let mut gate = self.gate.clone();
        let mut stopping = self.stopping.clone();
        let opened = tokio::select! {
            r = tokio::time::timeout(Duration::from_secs(5), gate.wait_for(|open| *open)) => {
                matches!(r, Ok(Ok(_)))
            }
            _ = stopping.wait_for(|s| *s) => false,
        };
        if !opened || *self.stopping.borrow() {
            return Ok(Vec::new());
        }
        self.inner.readings_after(after, now).await
    }
}
