//! NYISO's hourly load forecast (`isolf`): one row per hour for six days ahead, one column per
//! zone plus the `NYISO` total, and — unlike the fuel mix — **no time-zone column**.
//!
//! Times are New York wall-clock hours. On the autumn change day the `01:00` row appears twice
//! (first EDT, then EST); on the spring day `02:00` is missing. Rows are converted to UTC by
//! their order: the first occurrence of an ambiguous hour is the earlier instant (EDT), a repeat
//! of it the later one (EST). A file is all-or-nothing: any unreadable row rejects it with the
//! file, the line and the problem.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::files::NEW_YORK;
use crate::quote::quote;

/// The column holding the state-wide total.
pub const TOTAL_COLUMN: &str = "NYISO";

/// Why an `isolf` file was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}{}: {problem}", line.map(|l| format!(": line {l}")).unwrap_or_default())]
pub struct IsolfError {
    /// The file name as given.
    pub file: String,
    /// 1-based line, where the problem is on a line.
    pub line: Option<u64>,
    /// What is wrong.
    pub problem: IsolfProblem,
}

/// The classes of rejection of an `isolf` file.
#[derive(Debug, Clone, PartialEq)]
pub enum IsolfProblem {
    /// Zero bytes, or only white space.
    Empty,
    /// Not UTF-8 text, or an HTML page.
    NotCsv,
    /// The header does not start with `Time Stamp` or has no `NYISO` column.
    WrongHeader(String),
    /// A row with a different number of fields than the header.
    FieldCount {
        /// Fields in the header.
        expected: usize,
        /// Fields in the row.
        found: usize,
    },
    /// A time stamp that is not `MM/DD/YYYY HH:MM`.
    BadTime(String),
    /// A wall-clock time that does not exist in New York (inside the spring-forward gap).
    NonexistentTime(String),
    /// A time seen before that is not the repeat of the autumn change hour (or its third copy).
    DuplicateTime(String),
    /// A row whose instant is not after the previous row's.
    OutOfOrder(String),
    /// A `NYISO` value that is not a finite, non-negative number.
    BadNumber(String),
    /// The CSV reader failed (e.g. an unterminated quote).
    Csv(String),
    /// A header but no rows.
    NoRows,
}

impl fmt::Display for IsolfProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IsolfProblem::Empty => write!(f, "empty file: no header"),
            IsolfProblem::NotCsv => write!(f, "not an isolf CSV: not UTF-8 text or an HTML page"),
            IsolfProblem::WrongHeader(h) => write!(
                f,
                "not an isolf CSV: header is `{h}`, expected `Time Stamp,<zones>…,NYISO`"
            ),
            IsolfProblem::FieldCount { expected, found } => {
                write!(
                    f,
                    "expected {expected} fields (as in the header), found {found}"
                )
            }
            IsolfProblem::BadTime(v) => {
                write!(
                    f,
                    "field `Time Stamp`: bad time `{v}` (expected MM/DD/YYYY HH:MM)"
                )
            }
            IsolfProblem::NonexistentTime(v) => write!(
                f,
                "field `Time Stamp`: `{v}` does not exist in New York (spring-forward gap)"
            ),
            IsolfProblem::DuplicateTime(v) => write!(
                f,
                "field `Time Stamp`: `{v}` repeated (only the autumn change hour may appear twice)"
            ),
            IsolfProblem::OutOfOrder(v) => {
                write!(f, "field `Time Stamp`: `{v}` is not after the previous row")
            }
            IsolfProblem::BadNumber(v) => write!(f, "field `NYISO`: bad number `{v}`"),
            IsolfProblem::Csv(e) => write!(f, "unreadable CSV: {e}"),
            IsolfProblem::NoRows => write!(f, "no rows after the header"),
        }
    }
}

/// One hour of the forecast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadPoint {
    /// The hour's start, in UTC.
    pub ts: DateTime<Utc>,
    /// Forecast state-wide load (`NYISO` column), MW.
    pub mw: f64,
}

/// NYISO's state-wide load forecast: hourly points in UTC order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadForecast {
    points: BTreeMap<DateTime<Utc>, f64>,
}

impl LoadForecast {
    /// A forecast from points (a later point for the same hour wins).
    pub fn from_points(points: impl IntoIterator<Item = LoadPoint>) -> Self {
        LoadForecast {
            points: points.into_iter().map(|p| (p.ts, p.mw)).collect(),
        }
    }

    /// The points, oldest first.
    pub fn points(&self) -> Vec<LoadPoint> {
        self.points
            .iter()
            .map(|(ts, mw)| LoadPoint { ts: *ts, mw: *mw })
            .collect()
    }

    /// Number of hours held.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// True when no hour is held.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Adds a newer forecast: its hours replace the ones held.
    pub fn merge(&mut self, newer: &LoadForecast) {
        self.points
            .extend(newer.points.iter().map(|(k, v)| (*k, *v)));
    }

    /// Drops hours before `cutoff` (keep memory bounded in a long-running service).
    pub fn trim_before(&mut self, cutoff: DateTime<Utc>) {
        self.points = self.points.split_off(&cutoff);
    }

    /// The load at `ts`, linearly interpolated between the surrounding hours; `None` outside
    /// the forecast or across a gap of more than two hours.
    pub fn at(&self, ts: DateTime<Utc>) -> Option<f64> {
        let (t0, v0) = self.points.range(..=ts).next_back()?;
        if *t0 == ts {
            return Some(*v0);
        }
        let (t1, v1) = self.points.range(ts..).next()?;
        let span = (*t1 - *t0).num_seconds() as f64;
        if span <= 0.0 || span > Duration::hours(2).num_seconds() as f64 {
            return None;
        }
        let f = (ts - *t0).num_seconds() as f64 / span;
        Some(v0 + (v1 - v0) * f)
    }
}

/// Parses one `isolf` CSV (e.g. `20191103isolf.csv`) into its hourly state-wide forecast.
///
/// # Errors
/// [`IsolfError`] naming the file, line and problem: not a CSV, wrong header, a bad time or
/// number, a time that cannot be placed (spring-forward gap, an unexplained repeat, out of order).
pub fn parse_isolf(name: &str, bytes: &[u8]) -> Result<LoadForecast, IsolfError> {
    let err = |line: Option<u64>, problem| IsolfError {
        file: name.to_owned(),
        line,
        problem,
    };
    let text = std::str::from_utf8(bytes).map_err(|_| err(None, IsolfProblem::NotCsv))?;
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err(err(None, IsolfProblem::Empty));
    }
    if text.trim_start().starts_with('<') {
        return Err(err(Some(1), IsolfProblem::NotCsv));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(err(Some(1), IsolfProblem::Csv(e.to_string()))),
        None => return Err(err(None, IsolfProblem::Empty)),
    };
    let header_text = header.iter().collect::<Vec<_>>().join(",");
    let total_col = header.iter().position(|h| h == TOTAL_COLUMN);
    let total_col = match (header.get(0), total_col) {
        (Some("Time Stamp"), Some(c)) => c,
        _ => return Err(err(Some(1), IsolfProblem::WrongHeader(quote(&header_text)))),
    };
    let mut points = Vec::new();
    let mut prev: Option<(NaiveDateTime, DateTime<Utc>)> = None;
    for record in records {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line());
            err(line, IsolfProblem::Csv(e.to_string()))
        })?;
        let line = record.position().map(|p| p.line());
        if record.len() == 1 && record.get(0).is_some_and(str::is_empty) {
            continue; // blank line
        }
        if record.len() != header.len() {
            return Err(err(
                line,
                IsolfProblem::FieldCount {
                    expected: header.len(),
                    found: record.len(),
                },
            ));
        }
        let time = record.get(0).unwrap_or_default();
        let naive = NaiveDateTime::parse_from_str(time, "%m/%d/%Y %H:%M")
            .map_err(|_| err(line, IsolfProblem::BadTime(quote(time))))?;
        let repeat = prev.is_some_and(|(n, _)| n == naive);
        let ts = place(&NEW_YORK, naive, repeat, prev.map(|(_, t)| t))
            .map_err(|p| err(line, p(quote(time))))?;
        let raw = record.get(total_col).unwrap_or_default();
        let mw: f64 = raw
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| err(line, IsolfProblem::BadNumber(quote(raw))))?;
        points.push(LoadPoint { ts, mw });
        prev = Some((naive, ts));
    }
    if points.is_empty() {
        return Err(err(None, IsolfProblem::NoRows));
    }
    Ok(LoadForecast::from_points(points))
}

type ProblemOf = fn(String) -> IsolfProblem;

/// Places a wall-clock time by row order: an ambiguous hour is the earlier instant the first
/// time it appears and the later one when the previous row was the same wall-clock time.
fn place(
    tz: &Tz,
    naive: NaiveDateTime,
    repeat: bool,
    prev: Option<DateTime<Utc>>,
) -> Result<DateTime<Utc>, ProblemOf> {
    let ts = match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) if !repeat => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(early, late) => {
            if !repeat {
                early.with_timezone(&Utc)
            } else if prev == Some(early.with_timezone(&Utc)) {
                late.with_timezone(&Utc)
            } else {
                return Err(IsolfProblem::DuplicateTime);
            }
        }
        chrono::LocalResult::Single(_) => return Err(IsolfProblem::DuplicateTime),
        chrono::LocalResult::None => return Err(IsolfProblem::NonexistentTime),
    };
    if prev.is_some_and(|p| ts <= p) {
        return Err(IsolfProblem::OutOfOrder);
    }
    Ok(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "\"Time Stamp\",\"Capitl\",\"NYISO\"\n";

    #[test]
    fn ambiguous_hour_by_row_order() {
        let csv = HEADER.to_owned()
            + "\"11/03/2019 00:00\",1,10\n\"11/03/2019 01:00\",1,11\n\"11/03/2019 01:00\",1,12\n\"11/03/2019 02:00\",1,13\n";
        let f = parse_isolf("x.csv", csv.as_bytes()).unwrap();
        let ts: Vec<String> = f.points().iter().map(|p| p.ts.to_rfc3339()).collect();
        assert_eq!(
            ts,
            [
                "2019-11-03T04:00:00+00:00",
                "2019-11-03T05:00:00+00:00",
                "2019-11-03T06:00:00+00:00",
                "2019-11-03T07:00:00+00:00"
            ]
        );
        assert_eq!(f.points()[2].mw, 12.0);
    }

    #[test]
    fn bad_rows_name_file_line_and_field() {
        let cases = [
            (
                "\"03/10/2019 02:00\",1,10\n",
                "line 2: field `Time Stamp`: `03/10/2019 02:00` does not exist",
            ),
            (
                "\"03/10/2019 01:00\",1,x\n",
                "line 2: field `NYISO`: bad number `x`",
            ),
            (
                "\"3/10/2019\",1,1\n",
                "line 2: field `Time Stamp`: bad time `3/10/2019`",
            ),
            (
                "\"03/10/2019 01:00\",1\n",
                "line 2: expected 3 fields (as in the header), found 2",
            ),
            (
                "\"03/11/2019 01:00\",1,1\n\"03/11/2019 01:00\",1,1\n",
                "line 3: field `Time Stamp`: `03/11/2019 01:00` repeated",
            ),
            (
                "\"03/11/2019 05:00\",1,1\n\"03/11/2019 04:00\",1,1\n",
                "line 3: field `Time Stamp`: `03/11/2019 04:00` is not after",
            ),
            (
                "\"11/03/2019 01:00\",1,1\n\"11/03/2019 01:00\",1,1\n\"11/03/2019 01:00\",1,1\n",
                "line 4: field `Time Stamp`: `11/03/2019 01:00` repeated",
            ),
        ];
        for (rows, want) in cases {
            let e = parse_isolf("f.csv", (HEADER.to_owned() + rows).as_bytes()).unwrap_err();
            assert!(
                e.to_string().starts_with(&format!("f.csv: {want}")),
                "{e} vs {want}"
            );
        }
        let e = parse_isolf("f.csv", b"<html>oops</html>").unwrap_err();
        assert_eq!(e.problem, IsolfProblem::NotCsv);
        let e = parse_isolf("f.csv", b"Time Stamp,Time Zone,Fuel Category,Gen MW\n").unwrap_err();
        assert!(matches!(e.problem, IsolfProblem::WrongHeader(_)), "{e}");
        assert_eq!(
            parse_isolf("f.csv", HEADER.as_bytes()).unwrap_err().problem,
            IsolfProblem::NoRows
        );
        assert_eq!(
            parse_isolf("f.csv", b"").unwrap_err().problem,
            IsolfProblem::Empty
        );
    }

    #[test]
    fn interpolates_and_merges() {
        let t0 = Utc.with_ymd_and_hms(2025, 2, 1, 5, 0, 0).unwrap();
        let mut f = LoadForecast::from_points([
            LoadPoint { ts: t0, mw: 100.0 },
            LoadPoint {
                ts: t0 + Duration::hours(1),
                mw: 200.0,
            },
        ]);
        assert_eq!(f.at(t0 + Duration::minutes(30)), Some(150.0));
        assert_eq!(f.at(t0 - Duration::minutes(1)), None);
        assert_eq!(f.at(t0 + Duration::minutes(61)), None);
        f.merge(&LoadForecast::from_points([LoadPoint { ts: t0, mw: 0.0 }]));
        assert_eq!(f.at(t0), Some(0.0));
        f.trim_before(t0 + Duration::hours(1));
        assert_eq!(f.len(), 1);
    }
}
