//! Replay of real NYISO days at an accelerated pace, for the demo when live NYISO data is
//! unreachable (or with `ny-power demo --replay`).
//!
//! - [`ReplaySource`] is a [`Source`] over real fuel-mix files (by default the two days
//!   bundled in `demo-data/`, compiled into the binary). After the last reading it starts over
//!   with the same readings dated a whole number of days later (the smallest number of whole
//!   days longer than the files' span), so instants keep increasing, times of day stay true and
//!   the pump's cursor never has to go backwards.
//! - [`ReplayClock`] is the accelerated clock: demo time = `start + speed × wall time elapsed`.
//!   Readings "become available" as demo time passes them; started at a reading's instant, that
//!   reading is available at once.

use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use crate::nyiso::{FuelMixAccumulator, ParseError};
use crate::ports::{Clock, PortError, Source};
use crate::reading::Reading;

/// The days bundled for the demo: original NYISO file names and their bytes.
#[cfg(feature = "self-hosted")]
pub const BUNDLED_DAYS: &[(&str, &[u8])] = &[
    (
        "20250203rtfuelmix.csv",
        include_bytes!("../demo-data/20250203rtfuelmix.csv"),
    ),
    (
        "20250204rtfuelmix.csv",
        include_bytes!("../demo-data/20250204rtfuelmix.csv"),
    ),
];

/// The month the demo replays: NYISO's February 2025 monthly archive, unchanged (28 days,
/// 8246 complete readings; the two [`BUNDLED_DAYS`] are among them). A fresh demo publishes its
/// first days at once, so the forecaster, the band and the advice start with real history.
#[cfg(feature = "self-hosted")]
pub const BUNDLED_MONTH: (&str, &[u8]) = (
    "20250201rtfuelmix_csv.zip",
    include_bytes!("../demo-data/20250201rtfuelmix_csv.zip"),
);

/// The most readings one [`Source::readings_after`] call returns (a far-ahead clock is caught
/// up over several polls).
pub const MAX_READINGS_PER_CALL: usize = 2_000;

/// Errors building a replay.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A file is not a fuel-mix CSV (or zip).
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The files hold no complete reading.
    #[error("{files}: no complete fuel-mix reading to replay")]
    Empty {
        /// The files' names.
        files: String,
    },
    /// The speed is not a positive finite number.
    #[error("--speed {0}: must be a number greater than 0")]
    Speed(f64),
}

/// A [`Source`] replaying real readings, looping (see the module docs).
#[derive(Debug, Clone)]
pub struct ReplaySource {
    readings: Vec<Reading>,
    period: Duration,
}

impl ReplaySource {
    /// The bundled days ([`BUNDLED_DAYS`]).
    ///
    /// # Errors
    /// [`ReplayError`] if the bundled files do not parse (a build from a broken tree).
    #[cfg(feature = "self-hosted")]
    pub fn bundled() -> Result<ReplaySource, ReplayError> {
        ReplaySource::from_files(BUNDLED_DAYS.iter().map(|(name, bytes)| (*name, *bytes)))
    }

    /// The bundled month ([`BUNDLED_MONTH`]), what `ny-power demo` replays.
    ///
    /// # Errors
    /// [`ReplayError`] if the bundled archive does not parse (a build from a broken tree).
    #[cfg(feature = "self-hosted")]
    pub fn bundled_month() -> Result<ReplaySource, ReplayError> {
        ReplaySource::from_files([BUNDLED_MONTH])
    }

    /// Readings of these files (daily CSVs or monthly zips, rows combined as `inspect` does).
    ///
    /// # Errors
    /// [`ReplayError::Parse`] naming the file and line of the first bad input;
    /// [`ReplayError::Empty`] when no complete reading remains.
    pub fn from_files<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<ReplaySource, ReplayError> {
        let mut acc = FuelMixAccumulator::new();
        let mut names = Vec::new();
        for (name, bytes) in files {
            acc.add(name, bytes)?;
            names.push(name.to_owned());
        }
        ReplaySource::new(acc.finish().readings).ok_or_else(|| ReplayError::Empty {
            files: names.join(", "),
        })
    }

    /// A replay of `readings` (sorted here); `None` when there are none.
    pub fn new(mut readings: Vec<Reading>) -> Option<ReplaySource> {
        readings.sort_by_key(|r| r.ts);
        readings.dedup_by_key(|r| r.ts);
        let first = readings.first()?.ts;
        let last = readings.last()?.ts;
        let days = (last - first).num_days() + 1;
        Some(ReplaySource {
            readings,
            period: Duration::days(days),
        })
    }

    /// The first reading's instant.
    pub fn first(&self) -> DateTime<Utc> {
        self.readings[0].ts
    }

    /// How many distinct readings the files hold (one pass).
    pub fn len(&self) -> usize {
        self.readings.len()
    }

    /// Always false: a replay has at least one reading.
    pub fn is_empty(&self) -> bool {
        self.readings.is_empty()
    }

    /// How much later each pass is dated than the one before (whole days).
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The `k`-th reading of the endless replay (pass `k / len`), if its instant is
    /// representable.
    pub fn nth(&self, k: u64) -> Option<Reading> {
        let n = self.readings.len() as u64;
        let pass = i32::try_from(k / n).ok()?;
        let base = self.readings.get(usize::try_from(k % n).ok()?)?;
        let shift = self.period.checked_mul(pass)?;
        Some(Reading {
            ts: base.ts.checked_add_signed(shift)?,
            mix: base.mix,
        })
    }

    /// The index (for [`ReplaySource::nth`]) of the first reading strictly after `after`.
    pub fn index_after(&self, after: Option<DateTime<Utc>>) -> u64 {
        let Some(after) = after else { return 0 };
        let first = self.first();
        if after < first {
            return 0;
        }
        let n = self.readings.len() as u64;
        let period_s = self.period.num_seconds().max(1);
        let pass = (after - first).num_seconds() / period_s;
        let Ok(pass32) = i32::try_from(pass) else {
            return u64::MAX;
        };
        let Some(shift) = self.period.checked_mul(pass32) else {
            return u64::MAX;
        };
        let Some(offset) = after.checked_sub_signed(shift) else {
            return u64::MAX;
        };
        let within = self.readings.partition_point(|r| r.ts <= offset) as u64;
        (pass as u64).saturating_mul(n).saturating_add(within)
    }

    /// The first reading strictly after `after` (the whole replay's first for `None`).
    pub fn next_after(&self, after: Option<DateTime<Utc>>) -> Option<Reading> {
        self.nth(self.index_after(after))
    }
}

#[async_trait]
impl Source for ReplaySource {
    async fn readings_after(
        &self,
        after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Reading>, PortError> {
        let mut out = Vec::new();
        let mut k = self.index_after(after);
        while out.len() < MAX_READINGS_PER_CALL {
            match self.nth(k) {
                Some(r) if r.ts <= now => out.push(r),
                _ => break,
            }
            k += 1;
        }
        Ok(out)
    }
}

/// The accelerated clock: demo time = `start + speed × (wall time since creation)`.
#[derive(Debug, Clone)]
pub struct ReplayClock {
    start: DateTime<Utc>,
    speed: f64,
    started: Instant,
}

impl ReplayClock {
    /// A clock reading `start` now and running `speed` times faster than the wall clock.
    ///
    /// # Errors
    /// [`ReplayError::Speed`] unless `speed` is finite and greater than 0.
    pub fn new(start: DateTime<Utc>, speed: f64) -> Result<ReplayClock, ReplayError> {
        if !(speed.is_finite() && speed > 0.0) {
            return Err(ReplayError::Speed(speed));
        }
        Ok(ReplayClock {
            start,
            speed,
            started: Instant::now(),
        })
    }

    /// The demo time `elapsed` of wall time after creation.
    pub fn at(&self, elapsed: std::time::Duration) -> DateTime<Utc> {
        let ms = (elapsed.as_secs_f64() * self.speed * 1000.0).min(1e15);
        // `ms` is finite and below ~30 000 years, so the cast cannot wrap.
        #[allow(clippy::cast_possible_truncation)]
        let ms = ms as i64;
        self.start
            .checked_add_signed(Duration::milliseconds(ms))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The speed.
    pub fn speed(&self) -> f64 {
        self.speed
    }
}

impl Clock for ReplayClock {
    fn now(&self) -> DateTime<Utc> {
        self.at(self.started.elapsed())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn bundled_days_parse_and_span_two_days() {
        let r = ReplaySource::bundled().unwrap();
        // Values checked with `ny-power inspect demo-data/*.csv`.
        assert_eq!(r.len(), 583);
        assert_eq!(r.first(), utc(2025, 2, 3, 5, 5));
        assert_eq!(r.period(), Duration::days(2));
        let first = r.nth(0).unwrap();
        assert_eq!(first.mix.total_mw(), 14834.0);
        assert_eq!(r.nth(582).unwrap().ts, utc(2025, 2, 5, 5, 0));
    }

    #[test]
    fn the_bundled_month_holds_february_2025() {
        let r = ReplaySource::bundled_month().unwrap();
        // Values checked with `ny-power inspect demo-data/20250201rtfuelmix_csv.zip` and the
        // backtest's reading count for the same archive (docs/forecast.md).
        assert_eq!(r.len(), 8246);
        assert_eq!(r.first(), utc(2025, 2, 1, 5, 5));
        assert_eq!(r.period(), Duration::days(28));
        let days = ReplaySource::bundled().unwrap();
        let k = r.index_after(Some(days.first() - Duration::minutes(1)));
        assert_eq!(r.nth(k).unwrap(), days.nth(0).unwrap());
    }

    #[test]
    fn the_replay_loops_with_instants_increasing_and_values_repeating() {
        let r = ReplaySource::bundled().unwrap();
        let second_pass = r.nth(583).unwrap();
        assert_eq!(second_pass.ts, utc(2025, 2, 5, 5, 5));
        assert_eq!(second_pass.mix, r.nth(0).unwrap().mix);
        for k in 0..(3 * 583) {
            assert!(r.nth(k).unwrap().ts < r.nth(k + 1).unwrap().ts, "k={k}");
            assert_eq!(r.index_after(Some(r.nth(k).unwrap().ts)), k + 1);
        }
        assert_eq!(r.index_after(None), 0);
        assert_eq!(r.index_after(Some(utc(2000, 1, 1, 0, 0))), 0);
        assert_eq!(r.nth(u64::MAX), None);
    }

    #[tokio::test]
    async fn readings_become_available_as_the_clock_passes_them() {
        let r = ReplaySource::bundled().unwrap();
        let t0 = r.first();
        let got = r.readings_after(None, t0).await.unwrap();
        assert_eq!(got.len(), 1);
        let got = r
            .readings_after(Some(t0), t0 + Duration::minutes(30))
            .await
            .unwrap();
        assert_eq!(got.len(), 6);
        assert!(got
            .iter()
            .all(|x| x.ts > t0 && x.ts <= t0 + Duration::minutes(30)));
        let none = r
            .readings_after(Some(t0), t0 - Duration::minutes(5))
            .await
            .unwrap();
        assert!(none.is_empty());
        let far = r
            .readings_after(None, t0 + Duration::days(400))
            .await
            .unwrap();
        assert_eq!(far.len(), MAX_READINGS_PER_CALL);
    }

    #[test]
    fn the_clock_runs_speed_times_faster() {
        let t0 = utc(2025, 2, 3, 5, 5);
        let c = ReplayClock::new(t0, 60.0).unwrap();
        assert_eq!(
            c.at(std::time::Duration::from_secs(5)),
            t0 + Duration::minutes(5)
        );
        assert!(c.now() >= t0);
        assert!(ReplayClock::new(t0, 0.0).is_err());
        assert!(ReplayClock::new(t0, f64::NAN).is_err());
        // An absurd speed saturates instead of overflowing.
        let far = ReplayClock::new(t0, 1e300)
            .unwrap()
            .at(std::time::Duration::from_secs(1_000_000));
        assert!(far > utc(9999, 1, 1, 0, 0));
    }

    #[test]
    fn a_bad_file_is_named() {
        let e = ReplaySource::from_files([("x.csv", &b"<html>oops</html>"[..])]).unwrap_err();
        assert!(e.to_string().contains("x.csv"), "{e}");
        let e = ReplaySource::from_files([(
            "empty.csv",
            &b"Time Stamp,Time Zone,Fuel Category,Gen MW\n"[..],
        )])
        .unwrap_err();
        assert!(matches!(e, ReplayError::Empty { .. }), "{e}");
    }
}
