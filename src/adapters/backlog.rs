//! A durable backlog in front of any [`Archive`]: while the database is down, points wait in
//! a bounded queue on disk and are written when it returns — across process restarts too.
//!
//! [`BufferedArchive::write`] first appends the points to the queue (an SQLite file, committed
//! with `synchronous=FULL`), then tries to flush the queue, oldest first, in batches. A batch
//! leaves the queue only once the inner archive took it. If the database is unavailable
//! (a transient error) the write still succeeds — the points are safe on disk — and a later
//! [`BufferedArchive::flush_when_due`] (the archiver calls it on a timer) delivers them.
//!
//! **Retries back off.** After a failed delivery the next attempt waits on a [`Backoff`]
//! ([`BacklogOptions::retry_initial`] doubling up to [`BacklogOptions::retry_max`], 1 s → 30 s
//! by default), so a database that comes back is written to within `retry_max` of becoming
//! writable, and one that stays down is not hammered. A success starts the schedule over.
//!
//! **What is dropped.** Only a batch the database refuses *for its content* — a
//! [`PortError::Permanent`], which the InfluxDB writer reserves for unparsable points or a
//! field type conflict — is dropped with an error log, so one bad point cannot block the queue
//! forever. A database that is missing, unreachable, or refuses our credentials is transient:
//! the points stay queued, however long it takes.
//!
//! The queue is bounded ([`BacklogOptions::max_points`]); when full, the oldest points are
//! dropped with a loud warning.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, Connection};

use crate::adapters::sqlite::{decode_point, encode_point, PointRow};
use crate::archive::Point;
use crate::backoff::Backoff;
use crate::ports::{Archive, PortError};

/// File name of the queue inside the data folder.
pub const BACKLOG_FILE: &str = "archive-backlog.sqlite";

/// Tuning of [`BufferedArchive`].
#[derive(Debug, Clone)]
pub struct BacklogOptions {
    /// Most points kept; beyond it the oldest are dropped (with a warning).
    pub max_points: u64,
    /// Points per write to the inner archive when flushing.
    pub flush_batch: usize,
    /// Wait after the first failed delivery before [`BufferedArchive::flush_when_due`] tries
    /// again; doubled after each further failure…
    pub retry_initial: Duration,
    /// …up to this (the longest a returning database waits for its backlog).
    pub retry_max: Duration,
}

impl Default for BacklogOptions {
    fn default() -> Self {
        BacklogOptions {
            // About 230 days of fuel-mix and two intensity points every five minutes.
            max_points: 200_000,
            flush_batch: 5000,
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
        }
    }
}

/// When the next delivery attempt is due.
#[derive(Debug)]
struct RetryState {
    backoff: Backoff,
    not_before: Option<tokio::time::Instant>,
}

/// Errors opening the backlog.
#[derive(Debug, thiserror::Error)]
pub enum BacklogError {
    /// The data folder could not be created.
    #[error("creating the data folder {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The queue file could not be opened.
    #[error("opening archive backlog {path}: {source}")]
    Open {
        /// The queue file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
}

/// An [`Archive`] that queues on disk and writes through to `A` (see the module docs).
pub struct BufferedArchive<A: Archive> {
    inner: A,
    path: PathBuf,
    options: BacklogOptions,
    conn: Arc<Mutex<Connection>>,
    flushing: tokio::sync::Mutex<()>,
    retry: Mutex<RetryState>,
}

impl<A: Archive> std::fmt::Debug for BufferedArchive<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufferedArchive")
            .field("path", &self.path)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<A: Archive> BufferedArchive<A> {
    /// Opens (or creates) the queue `BACKLOG_FILE` in `data_dir` (created if missing) in front
    /// of `inner`. Points queued by an earlier process are kept and flushed by the next
    /// [`BufferedArchive::write`] or [`BufferedArchive::flush`].
    ///
    /// # Errors
    /// [`BacklogError`] when the folder or queue file cannot be created or opened.
    pub fn open(
        data_dir: impl AsRef<Path>,
        inner: A,
        options: BacklogOptions,
    ) -> Result<Self, BacklogError> {
        let path = data_dir.as_ref().join(BACKLOG_FILE);
        let err = |source| BacklogError::Open {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(data_dir.as_ref()).map_err(|source| BacklogError::Folder {
            path: data_dir.as_ref().to_path_buf(),
            source,
        })?;
        let conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS queue (
                id          INTEGER PRIMARY KEY AUTOINCREMENT,
                measurement TEXT    NOT NULL,
                tags        TEXT    NOT NULL,
                ts          INTEGER NOT NULL,
                fields      TEXT    NOT NULL
            );",
        )
        .map_err(err)?;
        let retry = Mutex::new(RetryState {
            backoff: Backoff::new(options.retry_initial, options.retry_max),
            not_before: None,
        });
        Ok(BufferedArchive {
            inner,
            path,
            options,
            conn: Arc::new(Mutex::new(conn)),
            flushing: tokio::sync::Mutex::new(()),
            retry,
        })
    }

    /// The inner archive.
    pub fn inner(&self) -> &A {
        &self.inner
    }

    /// The queue file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn with_conn<T: Send + 'static>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, PortError> {
        let conn = Arc::clone(&self.conn);
        let context = format!("archive backlog {}: {what}", self.path.display());
        let joined = tokio::task::spawn_blocking(move || match conn.lock() {
            Ok(mut guard) => f(&mut guard).map_err(|e| e.to_string()),
            Err(_) => Err("connection unusable after a panic".to_owned()),
        })
        .await;
        match joined {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(message)) => Err(PortError::transient(context, message)),
            Err(e) => Err(PortError::transient(context, e)),
        }
    }

    /// Points waiting in the queue.
    ///
    /// # Errors
    /// [`PortError`] when the queue cannot be read.
    pub async fn pending(&self) -> Result<u64, PortError> {
        self.with_conn("counting", |conn| {
            conn.query_row("SELECT COUNT(*) FROM queue", [], |r| r.get::<_, i64>(0))
                .map(|n| u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    /// Like [`BufferedArchive::flush`], but only once the backoff after a failed delivery has
    /// passed (at once when the last delivery succeeded); `Ok(0)` before that.
    ///
    /// # Errors
    /// As [`BufferedArchive::flush`].
    pub async fn flush_when_due(&self) -> Result<u64, PortError> {
        let due = self
            .retry
            .lock()
            .map(|r| {
                r.not_before
                    .is_none_or(|t| tokio::time::Instant::now() >= t)
            })
            .unwrap_or(true);
        if due {
            self.flush().await
        } else {
            Ok(0)
        }
    }

    /// When the next attempt of [`BufferedArchive::flush_when_due`] is due (`None`: now).
    pub fn next_attempt(&self) -> Option<tokio::time::Instant> {
        self.retry.lock().ok().and_then(|r| r.not_before)
    }

    /// Writes the queue to the inner archive, oldest first, until it is empty or a write
    /// fails, now (whatever the backoff says). Returns how many points were delivered. A
    /// failure schedules the next [`BufferedArchive::flush_when_due`] on the backoff; a
    /// success resets it.
    ///
    /// # Errors
    /// The inner archive's [`PortError`] (the undelivered points stay queued; a batch refused
    /// permanently is dropped and reported), or a queue error.
    pub async fn flush(&self) -> Result<u64, PortError> {
        let _one_at_a_time = self.flushing.lock().await;
        let result = self.deliver().await;
        self.schedule(&result).await;
        result
    }

    /// Records the outcome of a delivery in the retry schedule (and logs the transitions).
    async fn schedule(&self, result: &Result<u64, PortError>) {
        let failed = matches!(result, Err(e) if e.is_retryable());
        let pending = if failed {
            self.pending().await.ok()
        } else {
            None
        };
        let Ok(mut retry) = self.retry.lock() else {
            return;
        };
        match result {
            Err(e) if failed => {
                let wait = retry.backoff.next();
                retry.not_before = Some(tokio::time::Instant::now() + wait);
                tracing::warn!(error = %e, pending = ?pending, retry_in = ?wait, failures = retry.backoff.failures(), "archive unavailable; backlog kept");
            }
            _ => {
                if retry.backoff.failures() > 0 {
                    tracing::info!(
                        failures = retry.backoff.failures(),
                        "archive reachable again"
                    );
                }
                retry.backoff.reset();
                retry.not_before = None;
            }
        }
    }

    async fn deliver(&self) -> Result<u64, PortError> {
        let batch = i64::try_from(self.options.flush_batch.max(1)).unwrap_or(5000);
        let mut delivered = 0u64;
        loop {
            let rows = self
                .with_conn("reading", move |conn| {
                    let mut stmt = conn.prepare_cached(
                        "SELECT id, measurement, tags, ts, fields FROM queue ORDER BY id LIMIT ?1",
                    )?;
                    let rows = stmt.query_map(params![batch], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, i64>(3)?,
                            r.get::<_, String>(4)?,
                        ))
                    })?;
                    rows.collect::<rusqlite::Result<Vec<_>>>()
                })
                .await?;
            let Some(last_id) = rows.last().map(|r| r.0) else {
                return Ok(delivered);
            };
            let mut points = Vec::with_capacity(rows.len());
            for (id, measurement, tags, ts, fields) in rows {
                match decode_point(measurement, &tags, ts, &fields) {
                    Ok(p) => points.push(p),
                    Err(problem) => tracing::error!(id, %problem, "dropping corrupt backlog entry"),
                }
            }
            let result = self.inner.write(&points).await;
            match result {
                Ok(()) => delivered += points.len() as u64,
                Err(e) if e.is_retryable() => return Err(e),
                Err(ref e) => {
                    tracing::error!(error = %e, dropped = points.len(), "archive refused a backlog batch for good; dropping it");
                }
            }
            self.with_conn("removing delivered points", move |conn| {
                conn.execute("DELETE FROM queue WHERE id <= ?1", params![last_id])
            })
            .await?;
            result?;
        }
    }

    /// Appends points to the queue durably and enforces the bound.
    async fn enqueue(&self, points: &[Point]) -> Result<(), PortError> {
        let rows: Vec<PointRow> = points.iter().map(encode_point).collect();
        let max = i64::try_from(self.options.max_points).unwrap_or(i64::MAX);
        let dropped = self
            .with_conn("appending", move |conn| {
                let tx = conn.transaction()?;
                {
                    let mut stmt = tx.prepare_cached(
                        "INSERT INTO queue (measurement, tags, ts, fields) VALUES (?1, ?2, ?3, ?4)",
                    )?;
                    for (m, tags, ts, fields) in &rows {
                        stmt.execute(params![m, tags, ts, fields])?;
                    }
                }
                let count: i64 = tx.query_row("SELECT COUNT(*) FROM queue", [], |r| r.get(0))?;
                let excess = count - max;
                let dropped = if excess > 0 {
                    tx.execute(
                        "DELETE FROM queue WHERE id IN (SELECT id FROM queue ORDER BY id LIMIT ?1)",
                        params![excess],
                    )?
                } else {
                    0
                };
                tx.commit()?;
                Ok(dropped)
            })
            .await?;
        if dropped > 0 {
            tracing::warn!(
                dropped,
                max_points = self.options.max_points,
                backlog = %self.path.display(),
                "ARCHIVE BACKLOG FULL: dropped the oldest points; they will not be archived"
            );
        }
        Ok(())
    }
}

#[async_trait]
impl<A: Archive> Archive for BufferedArchive<A> {
    async fn write(&self, points: &[Point]) -> Result<(), PortError> {
        if !points.is_empty() {
            self.enqueue(points).await?;
        }
        match self.flush_when_due().await {
            Ok(_) => Ok(()),
            // Logged by `flush`; the points are safe on disk.
            Err(e) if e.is_retryable() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::MemoryArchive;
    use chrono::{TimeZone, Utc};
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// An archive that can be switched off (answers a transient or permanent error).
    #[derive(Default)]
    struct Switchable {
        store: MemoryArchive,
        down: AtomicBool,
        refuse: AtomicBool,
        calls: AtomicUsize,
    }

    #[async_trait]
    impl Archive for &Switchable {
        async fn write(&self, points: &[Point]) -> Result<(), PortError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Err(PortError::transient("test", "down"));
            }
            if self.refuse.load(Ordering::SeqCst) {
                return Err(PortError::permanent("test", "refused"));
            }
            self.store.write(points).await
        }
    }

    fn point(i: i64) -> Point {
        Point {
            measurement: "co2".into(),
            tags: BTreeMap::from([("factors".to_owned(), "direct".to_owned())]),
            fields: vec![("value".to_owned(), 200.0 + i as f64)],
            ts: Utc.with_ymd_and_hms(2025, 2, 1, 0, 0, 0).unwrap()
                + chrono::Duration::minutes(5 * i),
        }
    }

    #[tokio::test]
    async fn keeps_points_while_down_and_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let inner = Switchable::default();
        let opts = BacklogOptions {
            max_points: 100,
            flush_batch: 3,
            retry_initial: Duration::ZERO,
            ..BacklogOptions::default()
        };
        let b = BufferedArchive::open(dir.path(), &inner, opts.clone()).unwrap();
        b.write(&[point(0)]).await.unwrap();
        assert_eq!(inner.store.points().len(), 1);
        inner.down.store(true, Ordering::SeqCst);
        b.write(&(1..8).map(point).collect::<Vec<_>>())
            .await
            .unwrap();
        assert_eq!(b.pending().await.unwrap(), 7);
        assert!(b.flush().await.is_err());
        drop(b);
        // A new process: the backlog is still there and goes out once the archive is back.
        let b = BufferedArchive::open(dir.path(), &inner, opts).unwrap();
        assert_eq!(b.pending().await.unwrap(), 7);
        inner.down.store(false, Ordering::SeqCst);
        assert_eq!(b.flush().await.unwrap(), 7);
        assert_eq!(b.pending().await.unwrap(), 0);
        assert_eq!(inner.store.points(), (0..8).map(point).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn bounded_drops_oldest_and_permanent_refusal_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let inner = Switchable::default();
        inner.down.store(true, Ordering::SeqCst);
        let b = BufferedArchive::open(
            dir.path(),
            &inner,
            BacklogOptions {
                max_points: 5,
                flush_batch: 10,
                retry_initial: Duration::ZERO,
                ..BacklogOptions::default()
            },
        )
        .unwrap();
        b.write(&(0..8).map(point).collect::<Vec<_>>())
            .await
            .unwrap();
        assert_eq!(b.pending().await.unwrap(), 5);
        inner.down.store(false, Ordering::SeqCst);
        b.flush().await.unwrap();
        assert_eq!(inner.store.points(), (3..8).map(point).collect::<Vec<_>>());
        inner.refuse.store(true, Ordering::SeqCst);
        assert!(b.write(&[point(9)]).await.is_err());
        assert_eq!(b.pending().await.unwrap(), 0);
    }

    /// A failed delivery schedules the next one on the backoff: until it is due, timer
    /// flushes and writes only queue (the database is not hammered, nothing is dropped); an
    /// explicit flush tries at once, and a success resets the schedule.
    #[tokio::test]
    async fn a_failed_delivery_backs_off_and_a_success_resets() {
        let dir = tempfile::tempdir().unwrap();
        let inner = Switchable::default();
        let b = BufferedArchive::open(
            dir.path(),
            &inner,
            BacklogOptions {
                flush_batch: 2,
                retry_initial: Duration::from_secs(3600),
                ..BacklogOptions::default()
            },
        )
        .unwrap();
        assert!(b.next_attempt().is_none());
        inner.down.store(true, Ordering::SeqCst);
        b.write(&[point(0), point(1)]).await.unwrap();
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
        let due = b.next_attempt().expect("a retry is scheduled");
        assert!(due > tokio::time::Instant::now());
        // Not due: the timer and further writes only queue.
        assert_eq!(b.flush_when_due().await.unwrap(), 0);
        b.write(&[point(2)]).await.unwrap();
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
        assert_eq!(b.pending().await.unwrap(), 3);
        // An explicit flush tries now; a second failure pushes the schedule further out.
        assert!(b.flush().await.is_err());
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
        assert!(b.next_attempt().expect("still scheduled") > due);
        inner.down.store(false, Ordering::SeqCst);
        assert_eq!(b.flush().await.unwrap(), 3);
        assert!(b.next_attempt().is_none(), "a success resets the schedule");
        assert_eq!(inner.store.points(), (0..3).map(point).collect::<Vec<_>>());
        b.write(&[point(3)]).await.unwrap();
        assert_eq!(b.pending().await.unwrap(), 0, "written through at once");
    }
}
