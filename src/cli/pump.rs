//! `ny-power pump`: polls NYISO and publishes new readings (one service, for Kubernetes).

use std::process::ExitCode;
use std::sync::Arc;

use ny_power::adapters::health::Readiness;
use ny_power::adapters::mqtt::MqttClient;
use ny_power::adapters::nyiso::HttpOptions;
use ny_power::ports::Source;
use ny_power::services::{pump, PumpSettings};
use ny_power::settings::parse_poll_interval;

use super::common::{run_service, shutdown_on_signals, start_health, ServiceArgs};
use super::settings::NyisoArgs;

/// Arguments of `pump`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub nyiso: NyisoArgs,
    #[command(flatten)]
    pub pump: PumpArgs,
}

/// The pump's own settings.
#[derive(Debug, Clone, clap::Args)]
pub struct PumpArgs {
    /// Seconds between polls.
    #[arg(
        long,
        env = "POLL_INTERVAL",
        value_name = "SECONDS",
        default_value = "60"
    )]
    pub poll_interval: String,
}

impl PumpArgs {
    /// The pump settings and its NYISO source (at `nyiso`'s base URL).
    pub fn build(&self, nyiso: &NyisoArgs) -> anyhow::Result<(PumpSettings, Arc<dyn Source>)> {
        let settings = PumpSettings {
            poll_interval: parse_poll_interval(&self.poll_interval)?,
        };
        let source = nyiso.http_source(HttpOptions::default())?;
        Ok((settings, Arc::new(source)))
    }
}

/// Runs `pump` until SIGINT/SIGTERM.
pub fn run(args: Args) -> ExitCode {
    run_service(&args.service.log.log_format.clone(), || async move {
        args.service.log_format()?;
        let common = args.service.common()?;
        let clock = args.service.clock()?;
        let (settings, source) = args.pump.build(&args.nyiso)?;
        let health = start_health(args.service.health_addr).await?;
        let shutdown = shutdown_on_signals();
        let client = MqttClient::start(pump::client_options(&common));
        if let Some(h) = &health {
            h.set_readiness(Readiness::new(vec![client.connection()]));
        }
        tracing::info!(broker = %common.mqtt.url, nyiso = %args.nyiso.nyiso_base_url, "starting the pump");
        pump::run(&client, &common, &settings, source, clock, shutdown).await?;
        Ok(())
    })
}
