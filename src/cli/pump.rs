//! `ny-power pump`: polls NYISO and publishes new readings (one service, for Kubernetes).

use std::process::ExitCode;
use std::sync::Arc;

use ny_power::adapters::health::Readiness;
use ny_power::adapters::mqtt::MqttClient;
use ny_power::adapters::nyiso::{HttpOptions, HttpSource};
use ny_power::config::parse_poll_interval;
use ny_power::nyiso::DEFAULT_BASE_URL;
use ny_power::ports::Source;
use ny_power::services::{pump, PumpSettings};

use super::common::{run_service, shutdown_on_signals, start_health, ServiceArgs};

/// Arguments of `pump`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub pump: PumpArgs,
}

/// The pump's own settings.
#[derive(Debug, Clone, clap::Args)]
pub struct PumpArgs {
    /// Where NYISO's CSV files are (`{base}/rtfuelmix/YYYYMMDDrtfuelmix.csv`).
    #[arg(long, env = "NYISO_BASE_URL", value_name = "URL", default_value = DEFAULT_BASE_URL)]
    pub nyiso_base_url: String,
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
    /// The pump settings and its NYISO source.
    pub fn build(&self) -> anyhow::Result<(PumpSettings, Arc<dyn Source>)> {
        let settings = PumpSettings {
            poll_interval: parse_poll_interval(&self.poll_interval)?,
        };
        let source = HttpSource::new(&self.nyiso_base_url, HttpOptions::default())
            .map_err(|e| anyhow::anyhow!("NYISO_BASE_URL: {e}"))?;
        Ok((settings, Arc::new(source)))
    }
}

/// Runs `pump` until SIGINT/SIGTERM.
pub fn run(args: Args) -> ExitCode {
    run_service(&args.service.log_format.clone(), || async move {
        args.service.log_format()?;
        let common = args.service.common()?;
        let clock = args.service.clock()?;
        let (settings, source) = args.pump.build()?;
        let health = start_health(args.service.health_addr).await?;
        let shutdown = shutdown_on_signals();
        let client = MqttClient::start(pump::client_options(&common));
        if let Some(h) = &health {
            h.set_readiness(Readiness::new(vec![client.connection()]));
        }
        tracing::info!(broker = %common.mqtt.url, nyiso = %args.pump.nyiso_base_url, "starting the pump");
        pump::run(&client, &common, &settings, source, clock, shutdown).await?;
        Ok(())
    })
}
