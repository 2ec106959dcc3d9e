//! `ny-power run`: the pump, the calculator (with its forecast) and the archiver in one
//! process. The archiver runs when `SQLITE_PATH` and/or `INFLUX_URL` is set; the calculator
//! reads NYISO's load forecast from the pump's `NYISO_BASE_URL` when `LOAD_FORECAST=nyiso`.

use std::process::ExitCode;

use ny_power::services::{run_all, ArchiveSettings, Parts, RunConfig};

use super::archive::build_sinks;
use super::archive_args::ArchiveArgs;
use super::common::{run_service, shutdown_on_signals, start_health, ServiceArgs};
use super::pump::PumpArgs;
use super::settings::{Co2Args, DataDirArgs, NyisoArgs};

/// Arguments of `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub nyiso: NyisoArgs,
    #[command(flatten)]
    pub pump: PumpArgs,
    #[command(flatten)]
    pub co2: Co2Args,
    #[command(flatten)]
    pub archive: ArchiveArgs,
    #[command(flatten)]
    pub data: DataDirArgs,
}

/// Runs `run` until SIGINT/SIGTERM.
pub fn run(args: Args) -> ExitCode {
    run_service(&args.service.log.log_format.clone(), || async move {
        args.service.log_format()?;
        let common = args.service.common()?;
        let clock = args.service.clock()?;
        let (pump, source) = args.pump.build(&args.nyiso)?;
        let co2 = args.co2.build(&args.nyiso.nyiso_base_url)?;
        let sinks = build_sinks(&args.archive, args.data.data_dir.as_deref()).await?;
        if sinks.is_empty() {
            tracing::info!(
                "no archive configured (SQLITE_PATH, INFLUX_URL): running without the archiver"
            );
        }
        let health = start_health(args.service.health_addr).await?;
        let shutdown = shutdown_on_signals();
        tracing::info!(broker = %common.mqtt.url, nyiso = %args.nyiso.nyiso_base_url, "starting pump, co2 and archive");
        let config = RunConfig {
            common,
            pump: Some(pump),
            co2: Some(co2),
            archive: (!sinks.is_empty()).then(ArchiveSettings::default),
        };
        let parts = Parts {
            source,
            clock,
            sinks,
        };
        run_all(config, parts, shutdown, health.as_ref()).await?;
        Ok(())
    })
}
