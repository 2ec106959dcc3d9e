//! `ny-power co2`: computes the CO2 intensity, its 24 h history and the 24 h forecast (one
//! service, for Kubernetes).

use std::process::ExitCode;

use ny_power::adapters::health::Readiness;
use ny_power::adapters::mqtt::MqttClient;
use ny_power::adapters::nyiso::LoadForecastSettings;
use ny_power::config::{parse_discovery_prefix, LoadForecastSource};
use ny_power::homeassistant::DEFAULT_PREFIX;
use ny_power::intensity::Factors;
use ny_power::nyiso::DEFAULT_BASE_URL;
use ny_power::services::{co2, Co2Settings};

use super::common::{run_service, shutdown_on_signals, start_health, ServiceArgs};

/// Arguments of `co2`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub co2: Co2Args,
    /// Where NYISO's CSV files are (the load forecast: `{base}/isolf/YYYYMMDDisolf.csv`).
    #[arg(long, env = "NYISO_BASE_URL", value_name = "URL", default_value = DEFAULT_BASE_URL)]
    pub nyiso_base_url: String,
}

/// The calculator's own settings.
#[derive(Debug, Clone, clap::Args)]
pub struct Co2Args {
    /// Factor table of the 24 h history and the forecast: `direct`, `lifecycle` or
    /// `ny-power-2016`.
    #[arg(long, env = "FACTORS", value_name = "TABLE", default_value = "direct")]
    pub factors: String,
    /// Load forecast that sharpens the intensity forecast: `off` or `nyiso` (NYISO's hourly
    /// `isolf` file, fetched at most once an hour from NYISO_BASE_URL).
    #[arg(
        long,
        env = "LOAD_FORECAST",
        value_name = "SOURCE",
        default_value = "off"
    )]
    pub load_forecast: String,
    #[command(flatten)]
    pub ha: HaArgs,
}

/// Home Assistant discovery settings (shared by `co2`, `run` and `demo`).
#[derive(Debug, Clone, clap::Args)]
pub struct HaArgs {
    /// Publish Home Assistant MQTT discovery configs (retained) at start: `--ha-discovery`, or
    /// HA_DISCOVERY=true|false.
    #[arg(
        long,
        env = "HA_DISCOVERY",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub ha_discovery: bool,
    /// Home Assistant's discovery prefix.
    #[arg(long, env = "HA_DISCOVERY_PREFIX", value_name = "PREFIX", default_value = DEFAULT_PREFIX)]
    pub ha_discovery_prefix: String,
}

impl HaArgs {
    /// Checks the prefix and sets the discovery fields of `settings`.
    pub fn apply(&self, settings: &mut Co2Settings) -> anyhow::Result<()> {
        settings.ha_discovery = self.ha_discovery;
        settings.ha_discovery_prefix = parse_discovery_prefix(&self.ha_discovery_prefix)?;
        Ok(())
    }
}

impl Co2Args {
    /// The calculator settings; `nyiso_base_url` is where the load forecast is read from.
    pub fn build(&self, nyiso_base_url: &str) -> anyhow::Result<Co2Settings> {
        let factors: Factors = self
            .factors
            .parse()
            .map_err(|e| anyhow::anyhow!("FACTORS: {e}"))?;
        let load_forecast = match self.load_forecast.parse::<LoadForecastSource>()? {
            LoadForecastSource::Off => None,
            LoadForecastSource::Nyiso => {
                let url = reqwest::Url::parse(nyiso_base_url)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
                if url.is_none() {
                    anyhow::bail!(
                        "NYISO_BASE_URL: `{nyiso_base_url}` is not an absolute http:// or https:// URL"
                    );
                }
                Some(LoadForecastSettings::nyiso(nyiso_base_url))
            }
        };
        let mut settings = Co2Settings {
            factors,
            load_forecast,
            ..Co2Settings::default()
        };
        self.ha.apply(&mut settings)?;
        Ok(settings)
    }
}

/// Runs `co2` until SIGINT/SIGTERM.
pub fn run(args: Args) -> ExitCode {
    run_service(&args.service.log_format.clone(), || async move {
        args.service.log_format()?;
        let common = args.service.common()?;
        let clock = args.service.clock()?;
        let settings = args.co2.build(&args.nyiso_base_url)?;
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        co2: Co2Args,
    }

    fn parse(args: &[&str]) -> Result<Co2Settings, String> {
        let cli = Cli::try_parse_from(std::iter::once("co2").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        cli.co2
            .build("http://127.0.0.1:1/csv")
            .map_err(|e| format!("{e:#}"))
    }

    #[test]
    fn flags() {
        // Run without HA_DISCOVERY / LOAD_FORECAST in the environment of the test process.
        let s = parse(&[]).unwrap();
        assert!(!s.ha_discovery);
        assert_eq!(s.ha_discovery_prefix, "homeassistant");
        assert!(s.load_forecast.is_none());
        let s = parse(&["--ha-discovery", "--ha-discovery-prefix", "ha/"]).unwrap();
        assert!(s.ha_discovery);
        assert_eq!(s.ha_discovery_prefix, "ha");
        assert!(!parse(&["--ha-discovery=false"]).unwrap().ha_discovery);
        assert!(parse(&["--ha-discovery=yes"]).unwrap().ha_discovery);
        assert!(parse(&["--ha-discovery=maybe"]).is_err());
        let s = parse(&["--load-forecast", "nyiso"]).unwrap();
        assert_eq!(s.load_forecast.unwrap().base_url, "http://127.0.0.1:1/csv");
        let e = parse(&["--load-forecast", "weather"]).unwrap_err();
        assert!(e.starts_with("LOAD_FORECAST: `weather`"), "{e}");
        let e = parse(&["--ha-discovery-prefix", "ha/#"]).unwrap_err();
        assert!(e.starts_with("HA_DISCOVERY_PREFIX: "), "{e}");
        let e = Co2Args {
            load_forecast: "nyiso".into(),
            ..Cli::try_parse_from(["co2"]).unwrap().co2
        }
        .build("mis.nyiso.com")
        .unwrap_err();
        assert!(e.to_string().starts_with("NYISO_BASE_URL: "), "{e}");
    }
}
