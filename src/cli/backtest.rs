//! `ny-power backtest FILE…`: replays real fuel-mix months hour by hour and scores the forecast
//! against persistence and "same time yesterday" (method in `docs/forecast.md`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use ny_power::forecast::backtest::{backtest, BacktestReport, Scores};
use ny_power::nyiso::FuelMixAccumulator;

use super::settings::FactorsArgs;

/// Arguments of `backtest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Daily `…rtfuelmix.csv` files or monthly `…rtfuelmix_csv.zip` archives (combined into
    /// one series; give at least two consecutive days).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    #[command(flatten)]
    table: FactorsArgs,
    /// Print one JSON object: `{"readings", "mae", "window_regret_4h", "captured_saving_4h",
    /// "captured_saving_ready_by_4h", "margins_4h"}` (g/kWh; shares 0–1).
    #[arg(long)]
    json: bool,
}

fn table(r: &BacktestReport) -> String {
    let mut s = format!(
        "{} readings, {} issue hours (24 h of history before, 24 h of truth after)\n\n",
        r.readings, r.hours
    );
    s += "g/kWh                      method  persistence  yesterday\n";
    let row =
        |label: &str, m: f64, p: f64, y: f64| format!("{label:<24} {m:>8.2} {p:>12.2} {y:>10.2}\n");
    s += &row(
        "MAE, leads 1-24 h",
        r.mae.method,
        r.mae.persistence,
        r.mae.yesterday,
    );
    for lead in [1usize, 2, 4, 8, 12, 24] {
        let i = lead - 1;
        s += &row(
            &format!("  MAE at {lead} h"),
            r.mae_by_lead.method[i],
            r.mae_by_lead.persistence[i],
            r.mae_by_lead.yesterday[i],
        );
    }
    for w in &r.window_regret {
        s += &row(
            &format!("window regret, {} h", w.hours),
            w.regret.method,
            w.regret.persistence,
            w.regret.yesterday,
        );
    }
    // Captured shares (fractions) as percentages, in the same columns.
    let pct_row = |label: &str, c: &Scores| {
        format!(
            "{label:<24} {:>7.1}% {:>11.1}% {:>9.1}%\n",
            c.method * 100.0,
            c.persistence * 100.0,
            c.yesterday * 100.0
        )
    };
    s += &pct_row("captured saving, 4 h", &r.captured_saving_4h);
    s += &pct_row("  ready by 7:00 AM, 4 h", &r.captured_saving_ready_by_4h);
    s += "\nmargin rule, 4 h (wait only when the forecast is at least the margin cleaner than now)\n";
    s += "margin   told to wait   saving when waiting   waits no cleaner   captured\n";
    for m in &r.margins_4h {
        s += &format!(
            "{:>5.0} % {:>12.1}% {:>15.1} g/kWh {:>17.1}% {:>9.1}%\n",
            m.margin_pct,
            m.wait_share * 100.0,
            m.saving_when_waiting,
            m.worse_share * 100.0,
            m.captured * 100.0,
        );
    }
    s
}

/// Runs `backtest`: a rejected file fails the command before anything is scored.
pub fn run(args: Args) -> ExitCode {
    let factors = match args.table.factors() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut acc = FuelMixAccumulator::new();
    for path in &args.files {
        let name = path.display().to_string();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {name}: cannot read: {e}");
                return ExitCode::FAILURE;
            }
        };
        if let Err(e) = acc.add(&name, &bytes) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    let readings = acc.finish().readings;
    let report = match backtest(&readings, factors) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = if args.json {
        format!("{}\n", report.summary_json())
    } else {
        table(&report)
    };
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
