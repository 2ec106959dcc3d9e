//! The SQLite archive: an [`Archive`] in one file (the demo's embedded store; also handy for a
//! backfill without a database server).
//!
//! Schema (idempotent, created on open): one table `points` keyed by measurement, tags (a JSON
//! object with sorted keys) and timestamp (Unix seconds, the line protocol's precision), so
//! writing a point again replaces it. Fields are a JSON array of `[name, value]` pairs in
//! their order. The database runs in WAL mode; calls run on the blocking thread pool.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use crate::archive::{Point, FUEL_MIX_MEASUREMENT};
use crate::ports::{Archive, PortError};
use crate::reading::{Fuel, FuelMix, Reading};

/// Errors opening or querying the SQLite archive.
#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
    /// The database could not be opened or its schema created.
    #[error("opening SQLite archive {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// A query failed.
    #[error("SQLite archive {path}: {source}")]
    Query {
        /// The database file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored row does not decode as a point.
    #[error("SQLite archive {path}: stored point is corrupt: {problem}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The connection was poisoned by a panic in another thread.
    #[error("SQLite archive {0}: connection unusable after a panic")]
    Poisoned(PathBuf),
}

/// An [`Archive`] in a SQLite file.
#[derive(Clone)]
pub struct SqliteArchive {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteArchive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteArchive")
            .field("path", &self.path)
            .finish()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS points (
    measurement TEXT    NOT NULL,
    tags        TEXT    NOT NULL,
    ts          INTEGER NOT NULL,
    fields      TEXT    NOT NULL,
    PRIMARY KEY (measurement, tags, ts)
) WITHOUT ROWID;
";

impl SqliteArchive {
    /// Opens (creating if needed) the archive at `path`; its folder must exist.
    ///
    /// # Errors
    /// [`SqliteError::Open`] when the file cannot be opened or is not a database.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SqliteError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |source| SqliteError::Open {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.execute_batch(SCHEMA).map_err(open_err)?;
        Ok(SqliteArchive {
            path,
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection, &Path) -> Result<T, SqliteError> + Send + 'static,
    ) -> Result<T, SqliteError> {
        let conn = Arc::clone(&self.conn);
        let path = self.path.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| SqliteError::Poisoned(path.clone()))?;
            f(&mut guard, &path)
        })
        .await;
        joined.unwrap_or_else(|_| Err(SqliteError::Poisoned(self.path.clone())))
    }

    /// Number of points of `measurement`.
    ///
    /// # Errors
    /// [`SqliteError`] when the query fails.
    pub async fn count(&self, measurement: &str) -> Result<u64, SqliteError> {
        let m = measurement.to_owned();
        self.with_conn(move |conn, path| {
            conn.query_row(
                "SELECT COUNT(*) FROM points WHERE measurement = ?1",
                params![m],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(|source| query_err(path, source))
        })
        .await
    }

    /// All points of `measurement`, by tags then time.
    ///
    /// # Errors
    /// [`SqliteError`] when the query fails or a stored row is corrupt.
    pub async fn points(&self, measurement: &str) -> Result<Vec<Point>, SqliteError> {
        let m = measurement.to_owned();
        self.with_conn(move |conn, path| {
            query_points(
                conn,
                path,
                "SELECT measurement, tags, ts, fields FROM points \
                 WHERE measurement = ?1 ORDER BY tags, ts",
                params![m],
            )
        })
        .await
    }

    /// Fuel-mix readings at or after `since`, oldest first (points missing a fuel are left
    /// out).
    ///
    /// # Errors
    /// [`SqliteError`] when the query fails or a stored row is corrupt.
    pub async fn latest_fuel_mix_readings(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<Reading>, SqliteError> {
        let since = since.timestamp();
        self.with_conn(move |conn, path| {
            let points = query_points(
                conn,
                path,
                "SELECT measurement, tags, ts, fields FROM points \
                 WHERE measurement = ?1 AND tags = '{}' AND ts >= ?2 ORDER BY ts",
                params![FUEL_MIX_MEASUREMENT, since],
            )?;
            Ok(points.iter().filter_map(reading_of).collect())
        })
        .await
    }

    /// The newest timestamp stored for `measurement`.
    ///
    /// # Errors
    /// [`SqliteError`] when the query fails.
    pub async fn newest(&self, measurement: &str) -> Result<Option<DateTime<Utc>>, SqliteError> {
        let m = measurement.to_owned();
        self.with_conn(move |conn, path| {
            let ts: Option<Option<i64>> = conn
                .query_row(
                    "SELECT MAX(ts) FROM points WHERE measurement = ?1",
                    params![m],
                    |row| row.get(0),
                )
                .optional()
                .map_err(|source| query_err(path, source))?;
            Ok(ts.flatten().and_then(|s| DateTime::from_timestamp(s, 0)))
        })
        .await
    }
}

#[async_trait]
impl Archive for SqliteArchive {
    async fn write(&self, points: &[Point]) -> Result<(), PortError> {
        if points.is_empty() {
            return Ok(());
        }
        let rows: Vec<PointRow> = points.iter().map(encode_point).collect();
        let n = rows.len();
        self.with_conn(move |conn, path| {
            let tx = conn.transaction().map_err(|source| query_err(path, source))?;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT INTO points (measurement, tags, ts, fields) VALUES (?1, ?2, ?3, ?4) \
                         ON CONFLICT (measurement, tags, ts) DO UPDATE SET fields = excluded.fields",
                    )
                    .map_err(|source| query_err(path, source))?;
                for (m, tags, ts, fields) in &rows {
                    stmt.execute(params![m, tags, ts, fields])
                        .map_err(|source| query_err(path, source))?;
                }
            }
            tx.commit().map_err(|source| query_err(path, source))
        })
        .await
        .map_err(|e| PortError::transient(format!("writing {n} points to SQLite"), e))
    }
}

fn query_err(path: &Path, source: rusqlite::Error) -> SqliteError {
    SqliteError::Query {
        path: path.to_path_buf(),
        source,
    }
}

/// A point's stored columns: measurement, tags (JSON), ts (Unix seconds), fields (JSON).
pub(crate) type PointRow = (String, String, i64, String);

/// The stored columns of a point (shared by the archive table and the backlog queue).
pub(crate) fn encode_point(p: &Point) -> PointRow {
    (
        p.measurement.clone(),
        encode_tags(&p.tags),
        p.ts.timestamp(),
        encode_fields(&p.fields),
    )
}

/// Runs a `SELECT measurement, tags, ts, fields …` query and decodes every row.
fn query_points(
    conn: &Connection,
    path: &Path,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Point>, SqliteError> {
    let mut stmt = conn
        .prepare(sql)
        .map_err(|source| query_err(path, source))?;
    let rows = stmt
        .query_map(params, |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, String>(3)?,
            ))
        })
        .map_err(|source| query_err(path, source))?;
    let mut out = Vec::new();
    for row in rows {
        let (measurement, tags, ts, fields) = row.map_err(|source| query_err(path, source))?;
        out.push(
            decode_point(measurement, &tags, ts, &fields).map_err(|problem| {
                SqliteError::Corrupt {
                    path: path.to_path_buf(),
                    problem,
                }
            })?,
        );
    }
    Ok(out)
}

/// Tags as a JSON object with sorted keys (`{}` for none): the key column.
pub(crate) fn encode_tags(tags: &BTreeMap<String, String>) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "{}".to_owned())
}

/// Fields as a JSON array of `[name, value]` pairs, in order.
pub(crate) fn encode_fields(fields: &[(String, f64)]) -> String {
    serde_json::to_string(fields).unwrap_or_else(|_| "[]".to_owned())
}

/// A point from its stored columns.
pub(crate) fn decode_point(
    measurement: String,
    tags: &str,
    ts: i64,
    fields: &str,
) -> Result<Point, String> {
    let tags: BTreeMap<String, String> =
        serde_json::from_str(tags).map_err(|e| format!("tags `{tags}`: {e}"))?;
    let fields: Vec<(String, f64)> =
        serde_json::from_str(fields).map_err(|e| format!("fields `{fields}`: {e}"))?;
    let ts =
        DateTime::from_timestamp(ts, 0).ok_or_else(|| format!("timestamp {ts} out of range"))?;
    Ok(Point {
        measurement,
        tags,
        fields,
        ts,
    })
}

/// The reading a `fuel_mix` point stores, if it has all seven fuels.
fn reading_of(point: &Point) -> Option<Reading> {
    let mut mix = [None; 7];
    for (name, value) in &point.fields {
        if let Some(fuel) = Fuel::from_slug(name) {
            mix[fuel.index()] = Some(*value);
        }
    }
    let mut out = FuelMix::default();
    for fuel in Fuel::ALL {
        out.set(fuel, mix[fuel.index()]?);
    }
    Some(Reading {
        ts: point.ts,
        mix: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::points_for_message;
    use crate::stream::{reading_messages, Topics};
    use chrono::TimeZone;

    fn reading(minute: u32) -> Reading {
        Reading {
            ts: Utc.with_ymd_and_hms(2025, 2, 1, 5, minute, 0).unwrap(),
            mix: FuelMix([
                4613.0,
                3487.0,
                3357.0,
                2.0,
                220.0,
                853.0,
                1592.5 + f64::from(minute),
            ]),
        }
    }

    fn points(r: &Reading) -> Vec<Point> {
        let t = Topics::default();
        reading_messages(&t, r)
            .iter()
            .flat_map(|m| points_for_message(&t, &m.topic, &m.payload).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn writes_are_idempotent_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive.sqlite");
        let db = SqliteArchive::open(&path).unwrap();
        let mut all = points(&reading(5));
        all.extend(points(&reading(10)));
        let co2 = Point {
            measurement: "co2".into(),
            tags: BTreeMap::from([("factors".to_owned(), "direct".to_owned())]),
            fields: vec![("value".to_owned(), 248.75)],
            ts: reading(5).ts,
        };
        all.push(co2.clone());
        db.write(&all).await.unwrap();
        db.write(&all).await.unwrap();
        assert_eq!(db.count(FUEL_MIX_MEASUREMENT).await.unwrap(), 2);
        assert_eq!(db.count("co2").await.unwrap(), 1);
        assert_eq!(db.points("co2").await.unwrap(), vec![co2.clone()]);
        // Same key, new value: replaced.
        let mut changed = co2.clone();
        changed.fields[0].1 = 250.0;
        db.write(std::slice::from_ref(&changed)).await.unwrap();
        assert_eq!(db.points("co2").await.unwrap(), vec![changed]);
        // Readings come back as stored; reopening keeps everything.
        drop(db);
        let db = SqliteArchive::open(&path).unwrap();
        let got = db.latest_fuel_mix_readings(reading(10).ts).await.unwrap();
        assert_eq!(got, vec![reading(10)]);
        assert_eq!(
            db.newest(FUEL_MIX_MEASUREMENT).await.unwrap(),
            Some(reading(10).ts)
        );
    }

    #[test]
    fn not_a_database_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.sqlite");
        std::fs::write(
            &path,
            b"this is not a database file at all, not even close......",
        )
        .unwrap();
        let e = SqliteArchive::open(&path).unwrap_err();
        assert!(e.to_string().contains("x.sqlite"), "{e}");
    }
}
