//! `ny-power co2`: computes the CO2 intensity and its 24 h history (one service, for
//! Kubernetes).

use std::process::ExitCode;

use ny_power::adapters::health::Readiness;
use ny_power::adapters::mqtt::MqttClient;
use ny_power::intensity::Factors;
use ny_power::services::{co2, Co2Settings};

use super::common::{run_service, shutdown_on_signals, start_health, ServiceArgs};

/// Arguments of `co2`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub co2: Co2Args,
}

/// The calculator's own settings.
#[derive(Debug, Clone, clap::Args)]
pub struct Co2Args {
    /// Factor table of the 24 h history: `direct`, `lifecycle` or `ny-power-2016`.
    #[arg(long, env = "FACTORS", value_name = "TABLE", default_value = "direct")]
    pub factors: String,
}

impl Co2Args {
    /// The calculator settings.
    pub fn build(&self) -> anyhow::Result<Co2Settings> {
        let factors: Factors = self
            .factors
            .parse()
            .map_err(|e| anyhow::anyhow!("FACTORS: {e}"))?;
        Ok(Co2Settings { factors })
    }
}

/// Runs `co2` until SIGINT/SIGTERM.
pub fn run(args: Args) -> ExitCode {
    run_service(&args.service.log_format.clone(), || async move {
        args.service.log_format()?;
        let common = args.service.common()?;
        let settings = args.co2.build()?;
        let health = start_health(args.service.health_addr).await?;
        let shutdown = shutdown_on_signals();
        let client = MqttClient::start(co2::client_options(&common));
        if let Some(h) = &health {
            h.set_readiness(Readiness::new(vec![client.connection()]));
        }
        tracing::info!(broker = %common.mqtt.url, factors = settings.factors.name(), "starting the co2 calculator");
        co2::run(&client, &common, &settings, shutdown).await?;
        Ok(())
    })
}
