//! NYISO file names and URLs. Daily files live at `{base}/{dataset}/{YYYYMMDD}{dataset}.csv`
//! for about the last week; older days only in monthly zips
//! `{base}/{dataset}/{YYYYMM}01{dataset}_csv.zip`.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;

/// NYISO's public CSV root.
pub const DEFAULT_BASE_URL: &str = "http://mis.nyiso.com/public/csv";

/// New York's time zone: NYISO's days are New York days.
pub const NEW_YORK: Tz = chrono_tz::America::New_York;

/// NYISO datasets published under the same naming scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dataset {
    /// Real-time fuel mix (5-minute generation by fuel).
    RtFuelMix,
    /// 5-minute actual load by zone.
    Pal,
    /// Hourly load forecast by zone, six days ahead.
    Isolf,
    /// Real-time zonal prices.
    RealtimeZone,
    /// Interface flows and limits.
    ExternalLimitsFlows,
}

impl Dataset {
    /// The folder under the base URL.
    pub const fn folder(self) -> &'static str {
        match self {
            Dataset::RtFuelMix => "rtfuelmix",
            Dataset::Pal => "pal",
            Dataset::Isolf => "isolf",
            Dataset::RealtimeZone => "realtime",
            Dataset::ExternalLimitsFlows => "ExternalLimitsFlows",
        }
    }

    /// The suffix after the date in file names.
    pub const fn suffix(self) -> &'static str {
        match self {
            Dataset::RtFuelMix => "rtfuelmix",
            Dataset::Pal => "pal",
            Dataset::Isolf => "isolf",
            Dataset::RealtimeZone => "realtime_zone",
            Dataset::ExternalLimitsFlows => "ExternalLimitsFlows",
        }
    }
}

/// `20250201rtfuelmix.csv`.
pub fn daily_file_name(dataset: Dataset, date: NaiveDate) -> String {
    format!("{}{}.csv", date.format("%Y%m%d"), dataset.suffix())
}

/// `20250201rtfuelmix_csv.zip`: the monthly archive holding `date`'s day.
pub fn monthly_zip_name(dataset: Dataset, date: NaiveDate) -> String {
    format!("{}01{}_csv.zip", date.format("%Y%m"), dataset.suffix())
}

fn join(base: &str, dataset: Dataset, name: &str) -> String {
    format!(
        "{}/{}/{}",
        base.trim_end_matches('/'),
        dataset.folder(),
        name
    )
}

/// URL of a day's file under `base` (e.g. [`DEFAULT_BASE_URL`]).
pub fn daily_url(base: &str, dataset: Dataset, date: NaiveDate) -> String {
    join(base, dataset, &daily_file_name(dataset, date))
}

/// URL of the monthly zip holding `date`'s day.
pub fn monthly_zip_url(base: &str, dataset: Dataset, date: NaiveDate) -> String {
    join(base, dataset, &monthly_zip_name(dataset, date))
}

/// The NYISO day (New York calendar date) that `now` falls in.
pub fn today_in_new_york(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&NEW_YORK).date_naive()
}

/// The date a NYISO file name starts with (`20250201rtfuelmix.csv` → 2025-02-01; for a monthly
/// zip, the first of the month). Directory parts are ignored.
pub fn file_date(name: &str) -> Option<NaiveDate> {
    let base = name.rsplit(['/', '\\', '!']).next()?;
    let digits = base.get(..8)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let d = NaiveDate::parse_from_str(digits, "%Y%m%d").ok()?;
    (d.year() > 1990).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn names_and_urls() {
        let d = NaiveDate::from_ymd_opt(2025, 2, 14).unwrap();
        assert_eq!(
            daily_file_name(Dataset::RtFuelMix, d),
            "20250214rtfuelmix.csv"
        );
        assert_eq!(
            monthly_zip_name(Dataset::RtFuelMix, d),
            "20250201rtfuelmix_csv.zip"
        );
        assert_eq!(
            daily_url(DEFAULT_BASE_URL, Dataset::RtFuelMix, d),
            "http://mis.nyiso.com/public/csv/rtfuelmix/20250214rtfuelmix.csv"
        );
        assert_eq!(
            monthly_zip_url("http://127.0.0.1:9/csv/", Dataset::RtFuelMix, d),
            "http://127.0.0.1:9/csv/rtfuelmix/20250201rtfuelmix_csv.zip"
        );
        assert_eq!(
            daily_url(DEFAULT_BASE_URL, Dataset::Isolf, d),
            "http://mis.nyiso.com/public/csv/isolf/20250214isolf.csv"
        );
        assert_eq!(
            daily_url(DEFAULT_BASE_URL, Dataset::RealtimeZone, d),
            "http://mis.nyiso.com/public/csv/realtime/20250214realtime_zone.csv"
        );
    }

    #[test]
    fn today_is_new_york_today() {
        // 03:30 UTC on 1 Feb is still 31 Jan in New York (EST, UTC-5).
        let now = Utc.with_ymd_and_hms(2025, 2, 1, 3, 30, 0).unwrap();
        assert_eq!(
            today_in_new_york(now),
            NaiveDate::from_ymd_opt(2025, 1, 31).unwrap()
        );
        // 04:30 UTC on 1 Jul is 00:30 EDT on 1 Jul.
        let now = Utc.with_ymd_and_hms(2025, 7, 1, 4, 30, 0).unwrap();
        assert_eq!(
            today_in_new_york(now),
            NaiveDate::from_ymd_opt(2025, 7, 1).unwrap()
        );
    }

    #[test]
    fn dates_from_names() {
        assert_eq!(
            file_date("fixtures/20171122rtfuelmix.csv"),
            NaiveDate::from_ymd_opt(2017, 11, 22)
        );
        assert_eq!(
            file_date("20250201rtfuelmix_csv.zip!20250203rtfuelmix.csv"),
            NaiveDate::from_ymd_opt(2025, 2, 3)
        );
        assert_eq!(file_date("rtfuelmix.csv"), None);
        assert_eq!(file_date("20251399rtfuelmix.csv"), None);
    }
}
