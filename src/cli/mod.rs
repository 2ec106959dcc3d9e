//! Command-line parsing and dispatch. One file per command.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod backtest;
mod inspect;

/// ny-power: New York's grid (NYISO fuel mix) as a live MQTT stream with CO2 intensity.
#[derive(Debug, Parser)]
#[command(name = "ny-power", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse NYISO fuel-mix files (daily CSVs or monthly zips) and print one JSON object per
    /// complete reading, in UTC order, with its CO2 intensity under every factor table.
    Inspect(inspect::Args),
    /// Replay real fuel-mix files hour by hour and score the 24 h intensity forecast and the
    /// charging windows against persistence and "same time yesterday".
    Backtest(backtest::Args),
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Inspect(args) => inspect::run(args),
        Command::Backtest(args) => backtest::run(args),
    }
}
