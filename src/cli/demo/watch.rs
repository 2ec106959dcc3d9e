//! The demo's own subscriber: follows the stream to open the source's gate, print `READY`,
//! keep the resume state saved, and tell when the calculator has caught up at stop.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use ny_power::adapters::mqtt::MqttClient;
use ny_power::stream::{decode, CursorPayload, TopicKind, Topics};

use super::snapshot::{save_snapshot, Snapshot};

/// What the demo's own subscriber has seen: the cursor and the newest intensity.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Progress {
    /// The pump's cursor.
    cursor: Option<DateTime<Utc>>,
    /// The newest direct intensity.
    co2: Option<DateTime<Utc>>,
}

/// Waits (at most 5 s) until the calculator has handled the pump's last reading and nothing
/// moved for 200 ms, so stopping loses no reading between the two.
pub(super) async fn drain(progress: watch::Receiver<Progress>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut last = *progress.borrow();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = *progress.borrow();
        if now == last && now.cursor == now.co2 {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(cursor = ?now.cursor, co2 = ?now.co2, "stopping before the calculator caught up");
            return;
        }
        last = now;
    }
}

/// What [`watch_stream`] works with.
pub(super) struct StreamWatch {
    /// The demo's own client, subscribed to the whole tree.
    pub(super) client: MqttClient,
    /// The topic tree.
    pub(super) topics: Topics,
    /// The resume state so far.
    pub(super) snapshot: Snapshot,
    /// Where it is saved.
    pub(super) path: PathBuf,
    /// Opens the source's gate.
    pub(super) gate: watch::Sender<bool>,
    /// The cursor and the newest intensity seen.
    pub(super) progress: watch::Sender<Progress>,
    /// The dashboard's URL, for the `READY` line.
    pub(super) dashboard: String,
    /// When set (a first replay run), `READY` also waits for the charge windows computed from
    /// this reading or a newer one: the end of the initial backfill.
    pub(super) ready_after: Option<DateTime<Utc>>,
    /// Stops the watch.
    pub(super) shutdown: ny_power::services::Shutdown,
}

/// Follows the stream: opens the source's gate once the calculator and the archiver are
/// subscribed, prints `READY <url>` once an intensity is on the broker (and, on a first replay
/// run, the charge windows of the backfill's last reading), and saves the resume
/// state (at most once a second) whenever the cursor moves.
pub(super) async fn watch_stream(watch: StreamWatch) {
    let StreamWatch {
        client,
        topics,
        mut snapshot,
        path,
        gate,
        progress,
        dashboard,
        ready_after,
        mut shutdown,
    } = watch;
    let mut co2_seen = false;
    let mut windows_caught_up = ready_after.is_none();
    let mut online = BTreeMap::<String, bool>::new();
    let mut ready = false;
    let mut dirty = false;
    let mut last_save = tokio::time::Instant::now();
    loop {
        let message = tokio::select! {
            m = client.recv() => m,
            _ = shutdown.wait() => None,
            _ = tokio::time::sleep(Duration::from_secs(1)), if dirty => {
                if let Err(e) = save_snapshot(&path, &snapshot) {
                    tracing::warn!(error = %e, "saving the resume state");
                }
                dirty = false;
                last_save = tokio::time::Instant::now();
                continue;
            }
        };
        let Some(message) = message else { break };
        match topics.classify(&message.topic) {
            Some(TopicKind::ServiceStatus(service)) => {
                let up = decode::<ny_power::stream::ServiceStatusPayload>(
                    &message.topic,
                    &message.payload,
                )
                .is_ok_and(|s| s.state == ny_power::stream::ServiceState::Online);
                online.insert(service, up);
                let subscribed = ["co2", "archive"]
                    .iter()
                    .all(|s| online.get(*s).copied().unwrap_or(false));
                if subscribed && !*gate.borrow() {
                    tracing::debug!("calculator and archiver subscribed; the pump may publish");
                    gate.send_replace(true);
                }
            }
            // The non-retained archive stream is not state to restore.
            Some(kind) if !kind.is_state() => {}
            None => {}
            Some(kind) => {
                if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&message.payload) {
                    snapshot.insert(message.topic.clone(), value);
                }
                if kind == TopicKind::Cursor {
                    if let Ok(c) = decode::<CursorPayload>(&message.topic, &message.payload) {
                        progress.send_modify(|p| p.cursor = Some(c.ts));
                    }
                    dirty = true;
                    if last_save.elapsed() >= Duration::from_secs(1) {
                        if let Err(e) = save_snapshot(&path, &snapshot) {
                            tracing::warn!(error = %e, "saving the resume state");
                        }
                        dirty = false;
                        last_save = tokio::time::Instant::now();
                    }
                }
                if kind == TopicKind::Co2(ny_power::Factors::Direct) {
                    if let Ok(c) =
                        decode::<ny_power::stream::Co2Payload>(&message.topic, &message.payload)
                    {
                        progress.send_modify(|p| p.co2 = Some(c.ts));
                    }
                }
                if message.topic == topics.co2(ny_power::Factors::Direct) {
                    co2_seen = true;
                }
                if kind == TopicKind::ChargeWindow && !windows_caught_up {
                    if let Ok(w) = decode::<ny_power::stream::ChargeWindowPayload>(
                        &message.topic,
                        &message.payload,
                    ) {
                        windows_caught_up = ready_after.is_none_or(|t| w.issued >= t);
                    }
                }
                if !ready && co2_seen && windows_caught_up {
                    ready = true;
                    println!("READY {dashboard}");
                }
            }
        }
    }
    if dirty {
        let _ = save_snapshot(&path, &snapshot);
    }
}
