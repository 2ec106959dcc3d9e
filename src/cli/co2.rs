//! `ny-power co2`: computes the CO2 intensity, its 24 h history and the 24 h forecast (one
//! service, for Kubernetes).

use std::process::ExitCode;

use ny_power::adapters::health::Readiness;
use ny_power::adapters::mqtt::MqttClient;
use ny_power::services::co2;

use super::common::{run_service, shutdown_on_signals, start_health, ServiceArgs};
use super::settings::{Co2Args, NyisoArgs};

/// Arguments of `co2`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub co2: Co2Args,
    #[command(flatten)]
    pub nyiso: NyisoArgs,
}

/// Runs `co2` until SIGINT/SIGTERM.
pub fn run(args: Args) -> ExitCode {
    run_service(&args.service.log.log_format.clone(), || async move {
        args.service.log_format()?;
        let common = args.service.common()?;
        let clock = args.service.clock()?;
        let settings = args.co2.build(&args.nyiso.nyiso_base_url)?;
        let health = start_health(args.service.health_addr).await?;
        let shutdown = shutdown_on_signals();
        let client = MqttClient::start(co2::client_options(&common));
        if let Some(h) = &health {
            h.set_readiness(Readiness::new(vec![client.connection()]));
        }
        tracing::info!(
            broker = %common.mqtt.url,
            factors = settings.factors.name(),
            load_forecast = settings.load_forecast.is_some(),
            ha_discovery = settings.ha_discovery,
            "starting the co2 calculator"
        );
        co2::run(&client, &common, &settings, clock, shutdown).await?;
        Ok(())
    })
}
