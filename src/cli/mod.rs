//! Command-line parsing and dispatch. One file per command.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod archive;
pub mod archive_args;
mod backfill;
mod backtest;
mod co2;
mod common;
mod contract;
mod demo;
mod inspect;
mod pump;
mod run;
mod settings;
mod web;

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
    /// Store the fuel mix and CO2 intensity of past days (from NYISO or a folder of files)
    /// in the configured archives (SQLite and/or InfluxDB); idempotent.
    Backfill(backfill::Args),
    /// Run everything in one process: embedded MQTT broker, pump, calculator, archiver
    /// (SQLite) and the dashboard on http://127.0.0.1:8080. Live NYISO data when reachable,
    /// else a fast replay of bundled real days.
    Demo(demo::Args),
    /// Serve the dashboard's static files and config.json (the Kubernetes web container).
    Web(web::Args),
    /// Replay real fuel-mix files hour by hour and score the 24 h intensity forecast and the
    /// charging windows against persistence and "same time yesterday".
    Backtest(backtest::Args),
    /// Poll NYISO and publish each new complete reading to the broker (retained, QoS 1),
    /// resuming from the retained cursor.
    Pump(pump::Args),
    /// Compute the CO2 intensity and its rolling 24 h history from the published fuel mix.
    Co2(co2::Args),
    /// Store the published fuel mix and intensities in InfluxDB and/or SQLite (persistent
    /// session: nothing is lost while the archiver or the database is down).
    Archive(archive::Args),
    /// Run the pump, the CO2 calculator and (when an archive is configured) the archiver in
    /// one process.
    Run(run::Args),
    /// Print the MQTT contract: every topic, retained or not, its QoS and a real example
    /// payload (`--json`: one document, read by the web dashboard's tests).
    Contract(contract::Args),
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Inspect(args) => inspect::run(args),
        Command::Backfill(args) => backfill::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Web(args) => web::run(args),
        Command::Backtest(args) => backtest::run(args),
        Command::Pump(args) => pump::run(args),
        Command::Co2(args) => co2::run(args),
        Command::Archive(args) => archive::run(args),
        Command::Run(args) => run::run(args),
        Command::Contract(args) => contract::run(args),
    }
}
