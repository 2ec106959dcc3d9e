//! `ny-power backfill --from DATE --to DATE [--source-dir DIR]`: stores the fuel mix and CO2
//! intensity (direct and lifecycle) of past New York days in the configured archives.
//!
//! Readings come from NYISO over HTTP (daily files for the last week, monthly zips before) or
//! from a folder of downloaded daily files and monthly zips. A day `D` covers the readings
//! after `D 00:00` up to and including `D+1 00:00` New York time — exactly the rows of NYISO's
//! file for `D`. Points are built as the live path builds them (the contract messages of each
//! reading and of the CO2 calculator, mapped by `archive::points_for_message`), so a backfill
//! and the live archiver store the same points, and running it twice changes nothing.
//!
//! Over HTTP, a finished day's file is confirmed by a second (conditional) request before its
//! newest reading is used (DESIGN §6, a cut-off last row is not a fact); today's file may still
//! be written, so a range that includes today stops short of its newest reading.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone as _, Utc};
use indicatif::{ProgressBar, ProgressStyle};

use ny_power::adapters::nyiso::FolderSource;
use ny_power::adapters::nyiso::{HttpOptions, HttpSource};
use ny_power::archive::{points_for_message, Point};
use ny_power::intensity::Factors;
use ny_power::nyiso::NEW_YORK;
use ny_power::ports::Source;
use ny_power::reading::Reading;
use ny_power::stream::{reading_messages, FuelMixPayload, Topics};
use ny_power::usecases::co2::Co2Calculator;

use super::archive_args::ArchiveArgs;
use super::common::{error_text, run_service};
use super::settings::{LogArgs, NyisoArgs};

/// Arguments of `backfill`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// First New York day to store (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub from: NaiveDate,
    /// Last New York day to store (YYYY-MM-DD), included.
    #[arg(long, value_name = "DATE")]
    pub to: NaiveDate,
    /// Read daily `…rtfuelmix.csv` files and monthly `…rtfuelmix_csv.zip` archives from this
    /// folder instead of NYISO.
    #[arg(long, env = "SOURCE_DIR", value_name = "DIR")]
    pub source_dir: Option<PathBuf>,
    #[command(flatten)]
    pub nyiso: NyisoArgs,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub archive: ArchiveArgs,
}

/// Where readings come from.
enum Input {
    /// NYISO over HTTP, and its base URL (for the error message).
    Http(Box<HttpSource>, String),
    Folder(FolderSource),
}

impl Input {
    async fn readings(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Reading>> {
        Ok(match self {
            Input::Http(s, _) => s.readings_between(Some(after), until, Utc::now()).await?,
            Input::Folder(s) => s.readings_after(Some(after), until).await?,
        })
    }

    /// `error` of reading `first..=last`, said with where from and, for HTTP, the way round it.
    fn failure(&self, first: NaiveDate, last: NaiveDate, error: anyhow::Error) -> anyhow::Error {
        let cause = error_text(&error);
        match self {
            Input::Http(_, base) => anyhow::anyhow!(
                "reading {first} to {last} from {base}: {cause}. Without network, put NYISO's \
                 monthly archives ({}01rtfuelmix_csv.zip, …) or daily CSVs in a folder DIR and \
                 pass --source-dir DIR",
                first.format("%Y%m")
            ),
            Input::Folder(_) => anyhow::anyhow!("reading {first} to {last}: {cause}"),
        }
    }
}

/// New York midnight at the start of `day`, in UTC.
fn start_of(day: NaiveDate) -> anyhow::Result<DateTime<Utc>> {
    NEW_YORK
        .from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| format!("no New York midnight on {day}"))
}

/// The calendar-month pieces of `[from, to]`.
fn months(from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut start = from;
    while start <= to {
        let next_month = if start.month() == 12 {
            NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)
        };
        let end = next_month
            .and_then(|d| d.pred_opt())
            .map_or(to, |d| d.min(to));
        out.push((start, end));
        match end.succ_opt() {
            Some(d) => start = d,
            None => break,
        }
    }
    out
}

/// The archive points of readings, in order: each reading's fuel-mix message and the CO2
/// calculator's intensity messages (direct and lifecycle), mapped as the live archiver maps
/// them.
///
/// # Errors
/// A message that does not follow the contract (a bug, not bad input).
pub fn points_for_readings(
    topics: &Topics,
    calculator: &mut Co2Calculator,
    readings: &[Reading],
) -> anyhow::Result<Vec<Point>> {
    let mut points = Vec::with_capacity(readings.len() * 3);
    for reading in readings {
        let mut messages = reading_messages(topics, reading);
        messages.extend(calculator.on_fuel_mix(&FuelMixPayload::of(reading)));
        for m in &messages {
            points.extend(points_for_message(topics, &m.topic, &m.payload)?);
        }
    }
    Ok(points)
}

/// Runs `backfill`.
pub fn run(args: Args) -> ExitCode {
    run_service(&args.log.log_format.clone(), || backfill(args))
}

async fn backfill(args: Args) -> anyhow::Result<()> {
    if args.from > args.to {
        anyhow::bail!("--from {} is after --to {}", args.from, args.to);
    }
    if !args.archive.is_configured() {
        anyhow::bail!("no archive configured: set SQLITE_PATH and/or INFLUX_URL (see --help)");
    }
    let archives = args.archive.build().await?;
    let source = match &args.source_dir {
        Some(dir) => {
            if !dir.is_dir() {
                anyhow::bail!("--source-dir {}: not a folder", dir.display());
            }
            Input::Folder(FolderSource::new(dir))
        }
        None => Input::Http(
            Box::new(args.nyiso.http_source(HttpOptions::default())?),
            args.nyiso.base_url()?,
        ),
    };
    let days = (args.to - args.from).num_days() + 1;
    let progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(u64::try_from(days).unwrap_or(0));
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {pos}/{len} days {msg} [{elapsed_precise}]")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let topics = Topics::default();
    let mut calculator = Co2Calculator::new(topics.clone(), Factors::Direct);
    let (mut readings_total, mut points_total) = (0usize, 0usize);
    for (first, last) in months(args.from, args.to) {
        progress.set_message(first.format("%Y-%m").to_string());
        let after = start_of(first)?;
        let until = start_of(last.succ_opt().context("date out of range")?)?;
        let readings = source
            .readings(after, until)
            .await
            .map_err(|e| source.failure(first, last, e))?;
        let points = points_for_readings(&topics, &mut calculator, &readings)?;
        for a in &archives {
            a.archive
                .write(&points)
                .await
                .with_context(|| format!("writing {first} to {last} to {}", a.name))?;
        }
        readings_total += readings.len();
        points_total += points.len();
        progress.inc(u64::try_from((last - first).num_days() + 1).unwrap_or(0));
    }
    progress.finish_and_clear();
    let names: Vec<&str> = archives.iter().map(|a| a.name.as_str()).collect();
    if readings_total == 0 {
        tracing::warn!(from = %args.from, to = %args.to, "no readings found for these days");
    }
    tracing::info!(
        readings = readings_total,
        points = points_total,
        from = %args.from,
        to = %args.to,
        into = %names.join(", "),
        "backfill done"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn month_pieces() {
        assert_eq!(
            months(d(2024, 12, 30), d(2025, 2, 3)),
            vec![
                (d(2024, 12, 30), d(2024, 12, 31)),
                (d(2025, 1, 1), d(2025, 1, 31)),
                (d(2025, 2, 1), d(2025, 2, 3))
            ]
        );
        assert_eq!(
            months(d(2025, 2, 5), d(2025, 2, 5)),
            vec![(d(2025, 2, 5), d(2025, 2, 5))]
        );
    }

    #[test]
    fn days_start_at_new_york_midnight() {
        assert_eq!(
            start_of(d(2025, 2, 1)).unwrap().to_rfc3339(),
            "2025-02-01T05:00:00+00:00"
        );
        assert_eq!(
            start_of(d(2025, 7, 1)).unwrap().to_rfc3339(),
            "2025-07-01T04:00:00+00:00"
        );
    }
}
