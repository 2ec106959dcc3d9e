//! What the charge windows tell a person (issue 12): advice only when it is worth following,
//! none while the forecaster is still learning, and times in New York's clock.
//!
//! - **Learning**: with fewer than [`ADVICE_MIN_HOURS`] hourly means in the profile's span
//!   (the last [`PROFILE_DAYS`](super::PROFILE_DAYS) days) the forecast has no whole day of
//!   shape behind it (below 12 hours it is flat persistence), so it gives no advice.
//! - **Margin rule**: a later start is advised only when its forecast mean is at least
//!   [`ADVICE_MARGIN_PCT`] % below starting now; a smaller gain is `not_worth_it` ("No
//!   meaningfully cleaner time in the next 24 h — charge when it suits you"). The margin was
//!   chosen from the backtest's margin table (`docs/forecast.md`, "Margin rule").
//! - **New York time**: [`ny_label`] writes an instant as New York's 12-hour clock with the
//!   day relative to a reference instant (`"1:00 AM tomorrow"`), for Home Assistant's
//!   attributes; payload instants stay UTC.

use chrono::{DateTime, Utc};

use crate::nyiso::NEW_YORK;

/// Fewest hourly means (in the profile's span) for advice: one whole day, the least from
/// which the method has a daily shape at all.
pub const ADVICE_MIN_HOURS: u32 = 24;

/// A later start is advised only when it is at least this much cleaner than now, %.
pub const ADVICE_MARGIN_PCT: f64 = 2.0;

/// The advice for one charge length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advice {
    /// Wait: the window starts later and is at least the margin cleaner than now.
    Later,
    /// The cleanest start is now.
    Now,
    /// A later start is cleaner, but by less than the margin.
    NotWorthIt,
    /// Too little history to advise.
    Learning,
}

impl Advice {
    /// Every advice, as named in the payload.
    pub const ALL: [Advice; 4] = [
        Advice::Later,
        Advice::Now,
        Advice::NotWorthIt,
        Advice::Learning,
    ];

    /// `later`, `now`, `not_worth_it` or `learning` (the payload's `advice`).
    pub const fn name(self) -> &'static str {
        match self {
            Advice::Later => "later",
            Advice::Now => "now",
            Advice::NotWorthIt => "not_worth_it",
            Advice::Learning => "learning",
        }
    }
}

/// The advice for a window starting `starts_now` (or later) that is `cleaner_pct` % cleaner
/// than starting now, with `history_hours` hourly means behind the forecast and the margin
/// `margin_pct`.
pub fn advise(starts_now: bool, cleaner_pct: f64, history_hours: u32, margin_pct: f64) -> Advice {
    if history_hours < ADVICE_MIN_HOURS {
        Advice::Learning
    } else if starts_now {
        Advice::Now
    } else if cleaner_pct >= margin_pct {
        Advice::Later
    } else {
        Advice::NotWorthIt
    }
}

/// `ts` on New York's 12-hour clock (`"1:00 AM"`, `"12:30 PM"`), then the day relative to
/// `reference`'s New York date when `with_day`: `today`, `tomorrow`, or the weekday and
/// date further out (`"Mon Feb 3"`).
pub fn ny_label(ts: DateTime<Utc>, reference: DateTime<Utc>, with_day: bool) -> String {
    let local = ts.with_timezone(&NEW_YORK);
    let clock = local.format("%-I:%M %p").to_string();
    if !with_day {
        return clock;
    }
    let days = (local.date_naive() - reference.with_timezone(&NEW_YORK).date_naive()).num_days();
    match days {
        0 => format!("{clock} today"),
        1 => format!("{clock} tomorrow"),
        _ => format!("{clock} {}", local.format("%a %b %-d")),
    }
}

/// Whether `a` and `b` fall on the same New York date.
pub fn same_ny_day(a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
    a.with_timezone(&NEW_YORK).date_naive() == b.with_timezone(&NEW_YORK).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn labels_are_new_york_twelve_hour_with_the_day() {
        // 2025-02-01 18:15 UTC = 1:15 PM EST; 2025-02-02 06:00 UTC = 1:00 AM EST next day.
        let issued = utc(2025, 2, 1, 18, 15);
        assert_eq!(
            ny_label(utc(2025, 2, 2, 6, 0), issued, true),
            "1:00 AM tomorrow"
        );
        assert_eq!(ny_label(utc(2025, 2, 2, 10, 0), issued, false), "5:00 AM");
        assert_eq!(
            ny_label(utc(2025, 2, 1, 17, 0), issued, true),
            "12:00 PM today"
        );
        assert_eq!(
            ny_label(utc(2025, 2, 2, 5, 0), issued, true),
            "12:00 AM tomorrow"
        );
        assert_eq!(
            ny_label(utc(2025, 2, 3, 15, 30), issued, true),
            "10:30 AM Mon Feb 3"
        );
        // Summer time: 2025-07-01 04:00 UTC is midnight EDT.
        assert_eq!(
            ny_label(utc(2025, 7, 1, 4, 0), utc(2025, 6, 30, 20, 0), true),
            "12:00 AM tomorrow"
        );
        // 23:30 UTC on 1 February is still 1 February in New York (6:30 PM).
        assert!(same_ny_day(utc(2025, 2, 1, 23, 30), issued));
        assert!(!same_ny_day(utc(2025, 2, 2, 5, 0), issued));
    }

    #[test]
    fn advice_follows_history_then_start_then_margin() {
        assert_eq!(advise(false, 40.0, 23, 5.0), Advice::Learning);
        assert_eq!(advise(true, 0.0, 23, 5.0), Advice::Learning);
        assert_eq!(advise(true, 0.0, 24, 5.0), Advice::Now);
        assert_eq!(advise(false, 5.0, 24, 5.0), Advice::Later);
        assert_eq!(advise(false, 4.99, 300, 5.0), Advice::NotWorthIt);
        assert_eq!(advise(false, 0.0, 300, 5.0), Advice::NotWorthIt);
        let names: Vec<&str> = Advice::ALL.iter().map(|a| a.name()).collect();
        assert_eq!(names, ["later", "now", "not_worth_it", "learning"]);
    }
}
