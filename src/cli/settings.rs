//! The command line's setting groups: one clap group per family of settings, flattened into
//! every command that uses it, so each flag, its environment variable, its default and its
//! check are written once. The checks themselves are [`ny_power::settings`] (shared with the
//! Lambdas) and [`ny_power::adapters::mqtt_config`]; every flag is its environment name in
//! kebab case (`--topic-root` / `TOPIC_ROOT`).

use std::path::PathBuf;

use ny_power::adapters::mqtt_config::{MqttConfig, TlsFiles};
use ny_power::adapters::nyiso::LoadForecastSettings;
use ny_power::adapters::nyiso::{HttpOptions, HttpSource};
use ny_power::homeassistant::DEFAULT_PREFIX;
use ny_power::intensity::Factors;
use ny_power::nyiso::DEFAULT_BASE_URL;
use ny_power::services::Co2Settings;
use ny_power::settings::{
    parse_discovery_prefix, parse_factors, parse_nyiso_base_url, parse_ready_by, parse_topic_root,
    ConfigError, LoadForecastSource, LogFormat, NYISO_BASE_URL,
};
use ny_power::stream::{Topics, DEFAULT_ROOT};

/// Broker settings (`MQTT_URL`, `MQTT_USERNAME`, `MQTT_PASSWORD`, `MQTT_PASSWORD_FILE`,
/// `MQTT_CA_FILE`, `MQTT_CLIENT_CERT_FILE`, `MQTT_CLIENT_KEY_FILE`).
#[derive(Debug, Clone, clap::Args)]
pub struct MqttArgs {
    /// The broker: `mqtt://host:port`, `ws://host:port/path`, or over TLS
    /// `mqtts://host:port` / `wss://host:port/path`.
    #[arg(long, env = "MQTT_URL", value_name = "URL")]
    pub mqtt_url: Option<String>,
    /// User name for the broker.
    #[arg(long, env = "MQTT_USERNAME", value_name = "USER")]
    pub mqtt_username: Option<String>,
    /// Password for the broker (prefer MQTT_PASSWORD_FILE).
    #[arg(
        long,
        env = "MQTT_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub mqtt_password: Option<String>,
    /// File holding the broker password (e.g. a mounted Secret).
    #[arg(long, env = "MQTT_PASSWORD_FILE", value_name = "PATH")]
    pub mqtt_password_file: Option<PathBuf>,
    /// PEM bundle of the CAs trusted for a TLS broker (default: the system's roots).
    #[arg(long, env = "MQTT_CA_FILE", value_name = "PATH")]
    pub mqtt_ca_file: Option<PathBuf>,
    /// PEM client certificate for a TLS broker that wants one (with MQTT_CLIENT_KEY_FILE).
    #[arg(long, env = "MQTT_CLIENT_CERT_FILE", value_name = "PATH")]
    pub mqtt_client_cert_file: Option<PathBuf>,
    /// PEM private key of MQTT_CLIENT_CERT_FILE.
    #[arg(long, env = "MQTT_CLIENT_KEY_FILE", value_name = "PATH")]
    pub mqtt_client_key_file: Option<PathBuf>,
}

impl MqttArgs {
    /// The typed broker settings.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the broker setting that is missing or malformed.
    pub fn config(&self) -> Result<MqttConfig, ConfigError> {
        MqttConfig::from_parts(
            self.mqtt_url.as_deref(),
            self.mqtt_username.as_deref(),
            self.mqtt_password.as_deref(),
            self.mqtt_password_file.as_deref(),
            &TlsFiles {
                ca_file: self.mqtt_ca_file.clone(),
                client_cert_file: self.mqtt_client_cert_file.clone(),
                client_key_file: self.mqtt_client_key_file.clone(),
            },
        )
    }
}

/// The topic tree (`TOPIC_ROOT`).
#[derive(Debug, Clone, clap::Args)]
pub struct TopicArgs {
    /// Root of the topic tree.
    #[arg(long, env = "TOPIC_ROOT", value_name = "ROOT", default_value = DEFAULT_ROOT)]
    pub topic_root: String,
}

impl TopicArgs {
    /// The topic tree, its root checked by [`Topics::from_root`].
    ///
    /// # Errors
    /// A [`ConfigError`] naming `TOPIC_ROOT`.
    pub fn topics(&self) -> Result<Topics, ConfigError> {
        parse_topic_root(&self.topic_root)
    }
}

/// The log format (`LOG_FORMAT`).
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// Log format: `text` or `json` (levels from RUST_LOG, default `info`).
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_name = "FORMAT",
        default_value = "text"
    )]
    pub log_format: String,
}

impl LogArgs {
    /// The log format.
    ///
    /// # Errors
    /// A [`ConfigError`] naming `LOG_FORMAT`.
    pub fn format(&self) -> Result<LogFormat, ConfigError> {
        self.log_format.parse()
    }
}

/// Where NYISO's files are (`NYISO_BASE_URL`).
#[derive(Debug, Clone, clap::Args)]
pub struct NyisoArgs {
    /// Where NYISO's CSV files are (the fuel mix `{base}/rtfuelmix/YYYYMMDDrtfuelmix.csv`, the
    /// load forecast `{base}/isolf/YYYYMMDDisolf.csv`).
    #[arg(long, env = "NYISO_BASE_URL", value_name = "URL", default_value = DEFAULT_BASE_URL)]
    pub nyiso_base_url: String,
}

impl NyisoArgs {
    /// The checked base URL.
    ///
    /// # Errors
    /// A [`ConfigError`] naming `NYISO_BASE_URL`.
    pub fn base_url(&self) -> Result<String, ConfigError> {
        parse_nyiso_base_url(&self.nyiso_base_url)
    }

    /// The fuel-mix source over HTTP at the checked base URL.
    ///
    /// # Errors
    /// A bad base URL (naming `NYISO_BASE_URL`), or an HTTP client that cannot be built.
    pub fn http_source(&self, options: HttpOptions) -> anyhow::Result<HttpSource> {
        let base = self.base_url()?;
        HttpSource::new(&base, options).map_err(|e| anyhow::anyhow!("{NYISO_BASE_URL}: {e}"))
    }
}

/// The factor table (`FACTORS`; shared by `co2`, `run` and `backtest`).
#[derive(Debug, Clone, clap::Args)]
pub struct FactorsArgs {
    /// Factor table of the intensity (the calculator's 24 h history and forecast, the
    /// backtest's series): `direct`, `lifecycle` or `ny-power-2016`.
    #[arg(long, env = "FACTORS", value_name = "TABLE", default_value = "direct")]
    pub factors: String,
}

impl FactorsArgs {
    /// The factor table.
    ///
    /// # Errors
    /// A [`ConfigError`] naming `FACTORS` and the known tables.
    pub fn factors(&self) -> Result<Factors, ConfigError> {
        parse_factors(&self.factors)
    }
}

/// The calculator's own settings (`FACTORS`, `LOAD_FORECAST`, and the Home Assistant
/// discovery settings of [`HaArgs`]).
#[derive(Debug, Clone, clap::Args)]
pub struct Co2Args {
    #[command(flatten)]
    pub table: FactorsArgs,
    /// Load forecast that sharpens the intensity forecast: `off` or `nyiso` (NYISO's hourly
    /// `isolf` file, fetched at most once an hour from NYISO_BASE_URL).
    #[arg(
        long,
        env = "LOAD_FORECAST",
        value_name = "SOURCE",
        default_value = "off"
    )]
    pub load_forecast: String,
    /// Default ready-by time of the charge windows, New York HH:MM (the dashboard offers
    /// 05:00–09:00 and this one).
    #[arg(
        long,
        env = "CHARGE_READY_BY",
        value_name = "HH:MM",
        default_value = "07:00"
    )]
    pub charge_ready_by: String,
    #[command(flatten)]
    pub ha: HaArgs,
}

impl Co2Args {
    /// The calculator settings; `nyiso_base_url` is where the load forecast is read from.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the setting that is malformed (`NYISO_BASE_URL` only when the
    /// load forecast is on).
    pub fn build(&self, nyiso_base_url: &str) -> Result<Co2Settings, ConfigError> {
        let factors = self.table.factors()?;
        let load_forecast = match self.load_forecast.parse::<LoadForecastSource>()? {
            LoadForecastSource::Off => None,
            LoadForecastSource::Nyiso => Some(LoadForecastSettings::nyiso(parse_nyiso_base_url(
                nyiso_base_url,
            )?)),
        };
        let mut settings = Co2Settings {
            factors,
            load_forecast,
            ready_by: parse_ready_by(&self.charge_ready_by)?,
            ..Co2Settings::default()
        };
        self.ha.apply(&mut settings)?;
        Ok(settings)
    }
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
    ///
    /// # Errors
    /// A [`ConfigError`] naming `HA_DISCOVERY_PREFIX`.
    pub fn apply(&self, settings: &mut Co2Settings) -> Result<(), ConfigError> {
        settings.ha_discovery = self.ha_discovery;
        settings.ha_discovery_prefix = parse_discovery_prefix(&self.ha_discovery_prefix)?;
        Ok(())
    }
}

/// The archiver's backlog folder (`DATA_DIR`).
#[derive(Debug, Clone, clap::Args)]
pub struct DataDirArgs {
    /// Writable folder for the on-disk backlog kept while InfluxDB is unavailable.
    #[arg(long, env = "DATA_DIR", value_name = "PATH")]
    pub data_dir: Option<PathBuf>,
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
        // Run without HA_DISCOVERY / LOAD_FORECAST / CHARGE_READY_BY in the environment of the
        // test process.
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
        assert_eq!(parse(&[]).unwrap().ready_by.name(), "07:00");
        let s = parse(&["--charge-ready-by", "6:30"]).unwrap();
        assert_eq!(s.ready_by.name(), "06:30");
        let e = parse(&["--charge-ready-by", "7am"]).unwrap_err();
        assert!(e.starts_with("CHARGE_READY_BY: \"7am\""), "{e}");
        let e = Co2Args {
            load_forecast: "nyiso".into(),
            ..Cli::try_parse_from(["co2"]).unwrap().co2
        }
        .build("mis.nyiso.com")
        .unwrap_err();
        assert!(e.to_string().starts_with("NYISO_BASE_URL: "), "{e}");
    }

    /// A command that flattens every group, as `run` does: the groups' flags do not clash.
    #[derive(Debug, Parser)]
    struct All {
        #[command(flatten)]
        mqtt: MqttArgs,
        #[command(flatten)]
        topics: TopicArgs,
        #[command(flatten)]
        log: LogArgs,
        #[command(flatten)]
        nyiso: NyisoArgs,
        #[command(flatten)]
        co2: Co2Args,
        #[command(flatten)]
        data: DataDirArgs,
    }

    #[test]
    fn groups_check_their_settings() {
        let all = All::try_parse_from([
            "x",
            "--topic-root",
            "dev/ny-power/",
            "--log-format",
            "json",
            "--nyiso-base-url",
            "http://127.0.0.1:1/",
            "--mqtt-url",
            "mqtt://127.0.0.1:1884",
            "--data-dir",
            "/tmp/d",
        ])
        .unwrap();
        assert_eq!(all.topics.topics().unwrap().root(), "dev/ny-power");
        assert_eq!(all.log.format().unwrap(), LogFormat::Json);
        assert_eq!(all.nyiso.base_url().unwrap(), "http://127.0.0.1:1/");
        assert!(all.nyiso.http_source(HttpOptions::default()).is_ok());
        assert_eq!(all.mqtt.config().unwrap().url.authority(), "127.0.0.1:1884");
        assert_eq!(all.data.data_dir, Some(PathBuf::from("/tmp/d")));
        for root in ["/x", "a/#", "a/+/b", ""] {
            let e = TopicArgs {
                topic_root: root.into(),
            }
            .topics()
            .unwrap_err();
            assert!(e.to_string().starts_with("TOPIC_ROOT: "), "{root:?}: {e}");
        }
        let e = NyisoArgs {
            nyiso_base_url: "mis.nyiso.com".into(),
        }
        .http_source(HttpOptions::default())
        .unwrap_err();
        assert!(e.to_string().starts_with("NYISO_BASE_URL: "), "{e}");
        let e = FactorsArgs {
            factors: "coal".into(),
        }
        .factors()
        .unwrap_err();
        assert!(e.to_string().starts_with("FACTORS: "), "{e}");
        assert!(parse(&["--factors", "coal"])
            .unwrap_err()
            .starts_with("FACTORS: "));
        assert_eq!(
            parse(&["--factors", "lifecycle"]).unwrap().factors,
            Factors::Lifecycle
        );
        let e = LogArgs {
            log_format: "xml".into(),
        }
        .format()
        .unwrap_err();
        assert!(e.to_string().starts_with("LOG_FORMAT: "), "{e}");
    }
}
