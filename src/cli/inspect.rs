//! `ny-power inspect FILE…`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use ny_power::intensity::Factors;
use ny_power::nyiso::{FuelMixAccumulator, ParsedFile};
use ny_power::reading::{FuelMix, Reading};

/// Arguments of `inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Daily `…rtfuelmix.csv` files or monthly `…rtfuelmix_csv.zip` archives. Rows of all files
    /// are combined into readings (a reading split across two days' files joins up).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(Serialize)]
struct Line<'a> {
    ts: chrono::DateTime<chrono::Utc>,
    fuels: &'a FuelMix,
    total_mw: f64,
    co2: serde_json::Map<String, serde_json::Value>,
}

/// The JSON line `inspect` prints for a reading.
fn line(reading: &Reading) -> String {
    let co2 = Factors::ALL
        .iter()
        .map(|f| {
            let v = f
                .intensity(&reading.mix)
                .map_or(serde_json::Value::Null, serde_json::Value::from);
            (f.name().to_owned(), v)
        })
        .collect();
    serde_json::to_string(&Line {
        ts: reading.ts,
        fuels: &reading.mix,
        total_mw: reading.total_mw(),
        co2,
    })
    .unwrap_or_default()
}

/// Runs `inspect`: every file is parsed before anything is printed; a rejected file prints its
/// error and fails the command, and none of its rows are used.
pub fn run(args: Args) -> ExitCode {
    let mut acc = FuelMixAccumulator::new();
    let mut failed = false;
    for path in &args.files {
        let name = path.display().to_string();
        match std::fs::read(path) {
            Ok(bytes) => {
                if let Err(e) = acc.add(&name, &bytes) {
                    eprintln!("error: {e}");
                    failed = true;
                }
            }
            Err(e) => {
                eprintln!("error: {name}: cannot read: {e}");
                failed = true;
            }
        }
    }
    let ParsedFile {
        readings,
        incomplete,
        invalid,
    } = acc.finish();
    for inc in &incomplete {
        let missing: Vec<&str> = inc.missing.iter().map(|f| f.slug()).collect();
        eprintln!(
            "warning: {}: line {}: incomplete reading at {} left out (missing {})",
            inc.file,
            inc.line,
            inc.ts.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            missing.join(", ")
        );
    }
    for bad in &invalid {
        eprintln!("warning: {bad}");
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for r in &readings {
        if writeln!(out, "{}", line(r)).is_err() {
            return ExitCode::FAILURE; // closed pipe
        }
    }
    if out.flush().is_err() {
        return ExitCode::FAILURE;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
