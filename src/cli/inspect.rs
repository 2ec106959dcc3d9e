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

/// One line of `inspect`'s output, borrowed from its reading: written straight into the output
/// buffer, nothing allocated per line.
#[derive(Serialize)]
struct Line<'a> {
    ts: &'a chrono::DateTime<chrono::Utc>,
    fuels: &'a FuelMix,
    total_mw: f64,
    co2: Co2,
}

impl<'a> Line<'a> {
    fn of(reading: &'a Reading) -> Self {
        Line {
            ts: &reading.ts,
            fuels: &reading.mix,
            total_mw: reading.total_mw(),
            co2: Co2(Factors::ALL.map(|f| f.intensity(&reading.mix))),
        }
    }
}

/// The intensity under every factor table, written as the object `{"direct": v, …}` in
/// [`Factors::ALL`] order (`null` for a reading without generation, and for a value that is not
/// a finite number, as JSON has none).
struct Co2([Option<f64>; Factors::ALL.len()]);

impl Serialize for Co2 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (table, value) in Factors::ALL.iter().zip(&self.0) {
            map.serialize_entry(table.name(), value)?;
        }
        map.end()
    }
}

/// Writes the JSON line of each reading, then flushes.
///
/// # Errors
/// The write error (a closed pipe, a full disk).
fn write_lines(out: &mut impl Write, readings: &[Reading]) -> std::io::Result<()> {
    for r in readings {
        serde_json::to_writer(&mut *out, &Line::of(r))?;
        out.write_all(b"\n")?;
    }
    out.flush()
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
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    if write_lines(&mut out, &readings).is_err() {
        return ExitCode::FAILURE; // closed pipe
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
