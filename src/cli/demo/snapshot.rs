//! The demo's resume state: the stream's retained state messages (the topics of
//! [`Topics::state_topics`]), kept in `{data-dir}/{live|replay}/retained.json` and published
//! back into the embedded broker (which keeps nothing on disk) before the services start.
//! Reading, writing and checking the file is `ny_power::adapters::broker` (format v2, 8 MiB
//! cap, each payload validated, a bad file moved aside as `.rejected`); the broker is reached
//! through the demo's own [`MqttClient`].

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use ny_power::adapters::broker::{save_snapshot as write_snapshot, RetainedSnapshot};
use ny_power::adapters::mqtt::{MqttClient, MqttError};
use ny_power::stream::{CursorPayload, Topics};

/// Retained messages kept across runs: topic → JSON payload.
pub(super) type Snapshot = RetainedSnapshot;

/// Writes the snapshot (atomically, stamped now).
pub(super) fn save_snapshot(path: &Path, snapshot: &Snapshot) -> std::io::Result<()> {
    write_snapshot(path, snapshot, Utc::now())
}

/// Whether a topic's messages belong in the saved state: the contract's retained state
/// topics only (not the services' status, not the non-retained archive stream).
pub(super) fn kept(topics: &Topics, topic: &str) -> bool {
    topics.classify(topic).is_some_and(|kind| kind.is_state())
}

/// The pump's cursor in a snapshot.
pub(super) fn snapshot_cursor(topics: &Topics, snapshot: &Snapshot) -> Option<DateTime<Utc>> {
    snapshot
        .get(&topics.cursor())
        .and_then(|v| serde_json::from_value::<CursorPayload>(v.clone()).ok())
        .map(|c| c.ts)
}

/// Publishes the saved retained messages (cursor last) through `client` and returns the
/// cursor once the broker acknowledged every one. A message over the client's packet limit
/// is left out with a warning (the services could not have published it either).
pub(super) async fn restore_snapshot(
    client: &MqttClient,
    topics: &Topics,
    snapshot: &Snapshot,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let cursor_topic = topics.cursor();
    let mut ordered: Vec<(&String, &serde_json::Value)> =
        snapshot.iter().filter(|(t, _)| kept(topics, t)).collect();
    ordered.sort_by_key(|(t, _)| **t == cursor_topic);
    if !ordered.is_empty() {
        tokio::time::timeout(Duration::from_secs(10), async {
            for (topic, payload) in &ordered {
                let bytes = serde_json::to_vec(payload)?;
                match client.publish_qos1(topic, &bytes, true).await {
                    Ok(()) => {}
                    Err(e @ MqttError::TooLarge { .. }) => {
                        tracing::warn!(error = %e, "saved state message left out");
                    }
                    Err(e) => {
                        return Err(anyhow::Error::new(e).context(format!("restoring {topic}")))
                    }
                }
            }
            Ok::<(), anyhow::Error>(())
        })
        .await
        .context("restoring the saved state: the broker did not acknowledge it in 10 s")?
        .context("restoring the saved state")?;
    }
    let cursor = snapshot_cursor(topics, snapshot);
    if let Some(ts) = cursor {
        tracing::info!(cursor = %ts, messages = ordered.len(), "resuming after the saved cursor");
    }
    Ok(cursor)
}

/// Reads every state topic's retained message back from the broker and saves them; returns
/// the cursor.
pub(super) async fn save_final_snapshot(
    client: &MqttClient,
    topics: &Topics,
    path: &Path,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let mut snapshot = Snapshot::new();
    for topic in topics.state_topics() {
        if let Some(bytes) = client.retained(&topic).await? {
            snapshot.insert(topic, serde_json::from_slice(&bytes)?);
        }
    }
    if snapshot.is_empty() {
        return Ok(None);
    }
    save_snapshot(path, &snapshot)?;
    Ok(snapshot_cursor(topics, &snapshot))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn kept_topics_are_the_state_topics() {
        let t = Topics::default();
        for topic in t.state_topics() {
            assert!(kept(&t, &topic), "{topic}");
        }
        assert!(!kept(&t, &t.service_status("pump")));
        assert!(!kept(&t, &t.co2_archive()));
        assert!(!kept(&t, "elsewhere/upstream/fuel-mix"));
        let mut s = Snapshot::new();
        s.insert(
            t.cursor(),
            serde_json::json!({"ts": "2025-02-01T05:05:00Z"}),
        );
        assert_eq!(
            snapshot_cursor(&t, &s).unwrap().to_rfc3339(),
            "2025-02-01T05:05:00+00:00"
        );
    }
}
