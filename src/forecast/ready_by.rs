//! Ready-by charging (issue 12): the cleanest `H`-hour window that **ends by** a chosen New
//! York time — the overnight plug-in case ("ready by 7:00 AM").
//!
//! - **Deadline** of a ready-by time `HH:MM` for an `H`-hour charge issued at `t`: the first
//!   New York `HH:MM` at or after `t + H` (so a whole charge always fits), resolved with
//!   `America/New_York`: in the autumn's repeated hour the earlier instant, in the spring's
//!   missing hour the first instant after the gap. The night that loses an hour has one slot
//!   fewer before the deadline, the night that gains one has one more.
//! - **Window**: among the forecast's slots `j` whose window `[ts[j], ts[j] + H)` ends by the
//!   deadline (and inside the 24 h forecast), the lowest forecast mean, the earliest on a tie.
//! - The payload carries every ready-by time the page offers ([`READY_BY_OFFERED`], plus the
//!   `CHARGE_READY_BY` setting) × every charge length, so the page only selects.

use chrono::{DateTime, Duration, LocalResult, NaiveTime, TimeZone, Utc};

use super::{best_window, window_at, ChargeWindow, Forecast, CHARGE_HOURS};
use crate::nyiso::NEW_YORK;

/// The ready-by times the dashboard offers, New York time (`HH:MM`, 24-hour).
pub const READY_BY_OFFERED: [&str; 5] = ["05:00", "06:00", "07:00", "08:00", "09:00"];

/// The default ready-by time (`CHARGE_READY_BY`).
pub const DEFAULT_READY_BY: &str = "07:00";

/// A ready-by time that is not `HH:MM`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a New York time of day HH:MM (00:00 to 23:59, e.g. 07:00)")]
pub struct ReadyByError {
    /// The value given (quoted short).
    pub value: String,
}

/// A time of day in New York by which a charge should be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReadyBy(NaiveTime);

impl ReadyBy {
    /// Parses `HH:MM` (24-hour, `07:00`, `7:30`).
    ///
    /// # Errors
    /// [`ReadyByError`] for anything else.
    pub fn parse(s: &str) -> Result<ReadyBy, ReadyByError> {
        let t = s.trim();
        let bad = || ReadyByError {
            value: crate::quote::quote(t),
        };
        let (h, m) = t.split_once(':').ok_or_else(bad)?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return Err(bad());
        }
        let h: u32 = h.parse().map_err(|_| bad())?;
        let m: u32 = m.parse().map_err(|_| bad())?;
        NaiveTime::from_hms_opt(h, m, 0)
            .map(ReadyBy)
            .ok_or_else(bad)
    }

    /// `HH:MM`, the payload's `ready_by`.
    pub fn name(self) -> String {
        self.0.format("%H:%M").to_string()
    }

    /// The 12-hour label, `7:00 AM`.
    pub fn label(self) -> String {
        self.0.format("%-I:%M %p").to_string()
    }

    /// The first New York instant at this time of day at or after `after`.
    pub fn next_at_or_after(self, after: DateTime<Utc>) -> DateTime<Utc> {
        let mut date = after.with_timezone(&NEW_YORK).date_naive();
        // At most three dates: today's time may be past, and a gap moves it by an hour.
        for _ in 0..3 {
            let at = match NEW_YORK.from_local_datetime(&date.and_time(self.0)) {
                LocalResult::Single(t) => Some(t),
                LocalResult::Ambiguous(first, _) => Some(first),
                // In the spring gap: the first instant after it (the same wall time an hour on).
                LocalResult::None => NEW_YORK
                    .from_local_datetime(&(date.and_time(self.0) + Duration::hours(1)))
                    .earliest(),
            };
            if let Some(t) = at.map(|t| t.with_timezone(&Utc)) {
                if t >= after {
                    return t;
                }
            }
            date = date.succ_opt().unwrap_or(date);
        }
        after
    }
}

impl Default for ReadyBy {
    fn default() -> Self {
        ReadyBy(NaiveTime::from_hms_opt(7, 0, 0).unwrap_or(NaiveTime::MIN))
    }
}

/// The deadline of `ready_by` for an `hours`-long charge issued at `issued`: the first New
/// York `ready_by` at or after `issued + hours`.
pub fn deadline(issued: DateTime<Utc>, ready_by: ReadyBy, hours: u32) -> DateTime<Utc> {
    ready_by.next_at_or_after(issued + Duration::hours(i64::from(hours)))
}

/// The cleanest `hours`-long window of `forecast` that ends by `ready_by`'s deadline (see the
/// module docs); `None` when no window fits (a forecast shorter than `hours`).
pub fn ready_by_window(forecast: &Forecast, hours: u32, ready_by: ReadyBy) -> Option<ChargeWindow> {
    let n = hours as usize;
    if n == 0 || forecast.values.len() < n {
        return None;
    }
    let due = deadline(forecast.issued, ready_by, hours);
    let span = Duration::hours(i64::from(hours));
    // Slots whose window ends by the deadline: a prefix of the forecast.
    let last_start = forecast.ts.iter().take_while(|s| **s + span <= due).count();
    let fits = (last_start + n - 1).min(forecast.values.len());
    let (j, mean) = best_window(&forecast.values[..fits], n)?;
    window_at(forecast, hours, j, mean)
}

/// The ready-by times a payload carries: [`READY_BY_OFFERED`] plus `chosen`, in time order.
pub fn offered(chosen: ReadyBy) -> Vec<ReadyBy> {
    let mut all: Vec<ReadyBy> = READY_BY_OFFERED
        .iter()
        .filter_map(|s| ReadyBy::parse(s).ok())
        .collect();
    if !all.contains(&chosen) {
        all.push(chosen);
    }
    all.sort();
    all
}

/// Every charge length's ready-by window for `ready_by`.
pub fn ready_by_windows(forecast: &Forecast, ready_by: ReadyBy) -> Vec<ChargeWindow> {
    CHARGE_HOURS
        .iter()
        .filter_map(|h| ready_by_window(forecast, *h, ready_by))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn forecast(issued: DateTime<Utc>, values: Vec<f64>) -> Forecast {
        Forecast {
            issued,
            ts: (0..values.len() as i64)
                .map(|k| issued + Duration::hours(k))
                .collect(),
            values,
            history_hours: 300,
        }
    }

    #[test]
    fn parses_hh_mm_only() {
        assert_eq!(ReadyBy::parse("07:00").unwrap().name(), "07:00");
        assert_eq!(ReadyBy::parse("7:30").unwrap().label(), "7:30 AM");
        assert_eq!(ReadyBy::parse("23:59").unwrap().label(), "11:59 PM");
        assert_eq!(ReadyBy::default().name(), DEFAULT_READY_BY);
        for bad in [
            "", "7", "24:00", "07:60", "07:0", "7am", "-1:00", "07:00:00", "٠٧:00",
        ] {
            let e = ReadyBy::parse(bad).unwrap_err();
            assert!(e.to_string().contains("HH:MM"), "{bad}: {e}");
        }
    }

    #[test]
    fn deadline_is_the_next_new_york_time_after_a_whole_charge() {
        let seven = ReadyBy::parse("07:00").unwrap();
        // 1:15 PM EST: 7:00 AM EST tomorrow = 12:00 UTC.
        let issued = utc(2025, 2, 1, 18, 15);
        assert_eq!(deadline(issued, seven, 4), utc(2025, 2, 2, 12, 0));
        // 4:00 AM EST: a 2 h charge is ready by 7:00 today; a 4 h one only by tomorrow's.
        let early = utc(2025, 2, 1, 9, 0);
        assert_eq!(deadline(early, seven, 2), utc(2025, 2, 1, 12, 0));
        assert_eq!(deadline(early, seven, 4), utc(2025, 2, 2, 12, 0));
    }

    /// The spring night (9 March 2025, 2:00 EST → 3:00 EDT) has one hour fewer before 7:00.
    #[test]
    fn the_night_that_loses_an_hour() {
        let seven = ReadyBy::parse("07:00").unwrap();
        let issued = utc(2025, 3, 9, 3, 0); // 10:00 PM EST on the 8th
        let due = deadline(issued, seven, 8);
        assert_eq!(due, utc(2025, 3, 9, 11, 0), "7:00 AM EDT");
        assert_eq!(
            due - issued,
            Duration::hours(8),
            "9 wall hours, 8 real ones"
        );
        // Cleanest hours at the end: the 8 h window must start now to be ready by 7.
        let mut v: Vec<f64> = (0..24).map(|k| 300.0 - f64::from(k)).collect();
        v[23] = 0.0;
        let w = ready_by_window(&forecast(issued, v.clone()), 8, seven).unwrap();
        assert_eq!((w.start, w.end), (issued, due));
        // A 4 h charge ends by 7:00 EDT at the latest: starts at 3:00 AM EDT (07:00 UTC).
        let w = ready_by_window(&forecast(issued, v), 4, seven).unwrap();
        assert_eq!(w.end, due);
        assert_eq!(w.start, utc(2025, 3, 9, 7, 0));
        // A ready-by time inside the gap (2:30 AM) is the first instant after it: 3:30 AM EDT.
        let gap = ReadyBy::parse("02:30").unwrap();
        assert_eq!(deadline(issued, gap, 1), utc(2025, 3, 9, 7, 30));
    }

    /// The autumn night (2 November 2025, 2:00 EDT → 1:00 EST) has one hour more before 7:00.
    #[test]
    fn the_night_that_gains_an_hour() {
        let seven = ReadyBy::parse("07:00").unwrap();
        let issued = utc(2025, 11, 2, 2, 0); // 10:00 PM EDT on the 1st
        let due = deadline(issued, seven, 8);
        assert_eq!(due, utc(2025, 11, 2, 12, 0), "7:00 AM EST");
        assert_eq!(
            due - issued,
            Duration::hours(10),
            "9 wall hours, 10 real ones"
        );
        let mut v: Vec<f64> = (0..24).map(|k| 300.0 - f64::from(k)).collect();
        v[23] = 0.0;
        // The latest 8 h window ending by 7:00 EST starts at 04:00 UTC (12:00 AM EDT): one
        // slot later than on an ordinary night (10:00 PM to 7:00 AM is 9 hours).
        let w = ready_by_window(&forecast(issued, v), 8, seven).unwrap();
        assert_eq!((w.start, w.end), (utc(2025, 11, 2, 4, 0), due));
        // 1:30 AM is ambiguous that night: the first (EDT) instant.
        let one_thirty = ReadyBy::parse("01:30").unwrap();
        assert_eq!(deadline(issued, one_thirty, 1), utc(2025, 11, 2, 5, 30));
    }

    #[test]
    fn window_is_the_cleanest_that_ends_by_the_deadline() {
        let seven = ReadyBy::parse("07:00").unwrap();
        let issued = utc(2025, 2, 1, 23, 0); // 6:00 PM EST; 7:00 AM = 13 slots on
        let mut v = vec![250.0; 24];
        // Cleanest overall at slots 15–18 (after 7 AM); cleaner than now at 6–9.
        v[15..19].fill(100.0);
        v[6..10].fill(200.0);
        let f = forecast(issued, v);
        let any = super::super::charge_window(&f, 4).unwrap();
        assert_eq!(any.start, issued + Duration::hours(15));
        let w = ready_by_window(&f, 4, seven).unwrap();
        assert_eq!(w.start, issued + Duration::hours(6));
        assert!(w.end <= deadline(issued, seven, 4));
        assert!((w.cleaner_than_now_pct - 20.0).abs() < 1e-9);
        assert_eq!(ready_by_windows(&f, seven).len(), CHARGE_HOURS.len());
        let names: Vec<String> = offered(ReadyBy::parse("06:30").unwrap())
            .iter()
            .map(|r| r.name())
            .collect();
        assert_eq!(
            names,
            ["05:00", "06:00", "06:30", "07:00", "08:00", "09:00"]
        );
        assert_eq!(offered(seven).len(), READY_BY_OFFERED.len());
    }
}
