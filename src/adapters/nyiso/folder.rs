//! NYISO files in a local folder: a [`Source`] over daily `…rtfuelmix.csv` files and monthly
//! `…rtfuelmix_csv.zip` archives (for a backfill from downloaded files and the demo's replay).
//!
//! Files are chosen by the date in their name: those that may hold readings after the cursor
//! and not after `now` (a day's file also holds the next day's 00:00 reading, so the day before
//! the cursor's is read too). All chosen files are parsed together, zips first, so a reading
//! split over two files joins up; a rejected file fails the whole call.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::nyiso::{
    file_date, Dataset, FuelMixAccumulator, ParseError, ParseProblem, MAX_CSV_BYTES, MAX_ZIP_BYTES,
    NEW_YORK,
};
use crate::ports::{PortError, Source};
use crate::reading::Reading;

/// A folder of NYISO fuel-mix files (not searched recursively).
#[derive(Debug, Clone)]
pub struct FolderSource {
    dir: PathBuf,
}

/// One file found in the folder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Found {
    /// Zips sort before daily files (daily rows win over a zip's copy of the same day).
    is_daily: bool,
    date: NaiveDate,
    path: PathBuf,
}

impl FolderSource {
    /// A source over `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FolderSource { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The fuel-mix files in the folder, zips first, each group by date.
    fn files(&self) -> Result<Vec<Found>, PortError> {
        let context = || format!("reading folder {}", self.dir.display());
        let entries =
            std::fs::read_dir(&self.dir).map_err(|e| PortError::permanent(context(), e))?;
        let suffix = Dataset::RtFuelMix.suffix();
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| PortError::transient(context(), e))?;
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let lower = name.to_ascii_lowercase();
            let is_daily = lower.ends_with(&format!("{suffix}.csv"));
            let is_zip = lower.ends_with(&format!("{suffix}_csv.zip"));
            if !(is_daily || is_zip) || !path.is_file() {
                continue;
            }
            if let Some(date) = file_date(name) {
                out.push(Found {
                    is_daily,
                    date,
                    path,
                });
            }
        }
        out.sort();
        Ok(out)
    }
}

#[async_trait]
impl Source for FolderSource {
    async fn readings_after(
        &self,
        after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Reading>, PortError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.read(after, now))
            .await
            .map_err(|e| {
                PortError::transient(format!("reading folder {}", self.dir.display()), e)
            })?
    }
}

impl FolderSource {
    fn read(
        &self,
        after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Reading>, PortError> {
        let last = now.with_timezone(&NEW_YORK).date_naive();
        let first = after.map(|a| {
            let day = a.with_timezone(&NEW_YORK).date_naive();
            day.pred_opt().unwrap_or(day)
        });
        let mut acc = FuelMixAccumulator::new();
        for found in self.files()? {
            let (from, to) = if found.is_daily {
                (found.date, found.date)
            } else {
                (
                    found.date.with_day(1).unwrap_or(found.date),
                    last_of_month(found.date),
                )
            };
            if from > last || first.is_some_and(|f| to < f) {
                continue;
            }
            let name = found.path.display().to_string();
            let limit = if found.is_daily {
                MAX_CSV_BYTES
            } else {
                MAX_ZIP_BYTES
            };
            let bytes = read_capped(&found.path, limit)
                .map_err(|e| PortError::transient(format!("reading {name}"), e))?
                .ok_or_else(|| {
                    PortError::Rejected(ParseError {
                        file: name.clone(),
                        line: None,
                        problem: ParseProblem::TooLarge(limit),
                    })
                })?;
            acc.add(&name, &bytes)?;
        }
        let parsed = acc.finish();
        for inc in &parsed.incomplete {
            tracing::debug!(ts = %inc.ts, file = %inc.file, line = inc.line, "incomplete reading left out");
        }
        for bad in &parsed.invalid {
            tracing::warn!("{bad}");
        }
        Ok(parsed
            .readings
            .into_iter()
            .filter(|r| after.is_none_or(|a| r.ts > a) && r.ts <= now)
            .collect())
    }
}

/// The file's bytes, or `None` when it holds more than `limit` (the same limits as over HTTP).
fn read_capped(path: &Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

fn last_of_month(day: NaiveDate) -> NaiveDate {
    let (y, m) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.pred_opt())
        .unwrap_or(day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const ZIP: &[u8] = include_bytes!("../../../tests/fixtures/nyiso/20250201rtfuelmix_csv.zip");
    const DAY_2017: &[u8] = include_bytes!("../../../tests/fixtures/nyiso/20171122rtfuelmix.csv");

    fn folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("20250201rtfuelmix_csv.zip"), ZIP).unwrap();
        std::fs::write(dir.path().join("20171122rtfuelmix.csv"), DAY_2017).unwrap();
        std::fs::write(dir.path().join("20171122pal.csv"), b"not fuel mix").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
        dir
    }

    #[tokio::test]
    async fn reads_zips_and_daily_files_between_cursor_and_now() {
        let dir = folder();
        let src = FolderSource::new(dir.path());
        let now = Utc.with_ymd_and_hms(2025, 3, 10, 0, 0, 0).unwrap();
        let all = src.readings_after(None, now).await.unwrap();
        // As `ny-power inspect` counts them: 289 readings on 2017-11-22 (one off-grid
        // snapshot), 8246 in February 2025 (a 5-minute grid plus off-grid snapshots).
        let in_2017 = all.iter().filter(|r| r.ts.year() == 2017).count();
        assert_eq!(in_2017, 289);
        assert_eq!(all.len() - in_2017, 8246);
        assert!(all.windows(2).all(|w| w[0].ts < w[1].ts));
        // After 2025-02-27 23:55 EST (04:55 UTC on the 28th): the last day's 293 readings.
        let after = Utc.with_ymd_and_hms(2025, 2, 28, 4, 55, 0).unwrap();
        let tail = src.readings_after(Some(after), now).await.unwrap();
        assert_eq!(tail.len(), 293);
        assert_eq!(
            tail[0].ts,
            Utc.with_ymd_and_hms(2025, 2, 28, 5, 0, 0).unwrap()
        );
        // `now` bounds the result: up to 2025-02-01 01:00 EST.
        let early = Utc.with_ymd_and_hms(2025, 2, 1, 6, 0, 0).unwrap();
        let first = src
            .readings_after(
                Some(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()),
                early,
            )
            .await
            .unwrap();
        assert_eq!(first.len(), 12);
    }

    #[tokio::test]
    async fn a_bad_file_rejects_the_call() {
        let dir = folder();
        std::fs::write(
            dir.path().join("20250301rtfuelmix.csv"),
            b"<html>oops</html>",
        )
        .unwrap();
        let src = FolderSource::new(dir.path());
        let now = Utc.with_ymd_and_hms(2025, 3, 10, 0, 0, 0).unwrap();
        let err = src.readings_after(None, now).await.unwrap_err();
        assert!(matches!(err, PortError::Rejected(_)), "{err}");
        assert!(err.to_string().contains("20250301rtfuelmix.csv"), "{err}");
        // A file larger than a NYISO file may be is not read whole: rejected, bounded memory.
        let huge = dir.path().join("20250302rtfuelmix.csv");
        std::fs::write(&huge, vec![b'x'; (MAX_CSV_BYTES + 1) as usize]).unwrap();
        std::fs::remove_file(dir.path().join("20250301rtfuelmix.csv")).unwrap();
        let err = src.readings_after(None, now).await.unwrap_err();
        assert!(
            matches!(&err, PortError::Rejected(e) if e.problem == ParseProblem::TooLarge(MAX_CSV_BYTES)),
            "{err}"
        );
        // A missing folder is a permanent error.
        let gone = FolderSource::new(dir.path().join("nope"));
        assert!(!gone
            .readings_after(None, now)
            .await
            .unwrap_err()
            .is_retryable());
    }
}
