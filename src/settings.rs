//! The settings every mode shares, each declared once: its environment name (the CLI flag is
//! the same name in kebab case: `TOPIC_ROOT` / `--topic-root`), its default, and the one
//! function that parses and checks it, failing with a [`ConfigError`] that names the setting.
//!
//! No command-line parsing here (no clap): the CLI (`src/cli/settings.rs`) declares one flag
//! group per setting family over these functions, and the Lambda crates read the same names
//! from their environment through them. Broker settings (`MQTT_*`) live with the MQTT adapter
//! ([`crate::adapters::mqtt_config`]).

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::intensity::Factors;
use crate::stream::Topics;

/// `TOPIC_ROOT`: root of the topic tree (default [`crate::stream::DEFAULT_ROOT`]).
pub const TOPIC_ROOT: &str = "TOPIC_ROOT";
/// `NYISO_BASE_URL`: where NYISO's CSV files are (default [`crate::nyiso::DEFAULT_BASE_URL`]).
pub const NYISO_BASE_URL: &str = "NYISO_BASE_URL";
/// `FACTORS`: the factor table of the 24 h history and the forecast (default `direct`).
pub const FACTORS: &str = "FACTORS";
/// `LOAD_FORECAST`: the load forecast source, `off` (default) or `nyiso`.
pub const LOAD_FORECAST: &str = "LOAD_FORECAST";
/// `LOG_FORMAT`: `text` (default) or `json`.
pub const LOG_FORMAT: &str = "LOG_FORMAT";
/// `POLL_INTERVAL`: seconds between the pump's polls (default 60).
pub const POLL_INTERVAL: &str = "POLL_INTERVAL";
/// `NYPOWER_NOW`: a fixed "now" (RFC 3339) for replays and deterministic tests.
pub const NYPOWER_NOW: &str = "NYPOWER_NOW";
/// `CHARGE_READY_BY`: the default ready-by time of the charge windows, New York `HH:MM`
/// (default `07:00`).
pub const CHARGE_READY_BY: &str = "CHARGE_READY_BY";
/// `HA_DISCOVERY`: publish Home Assistant discovery configs (default `false`).
pub const HA_DISCOVERY: &str = "HA_DISCOVERY";
/// `HA_DISCOVERY_PREFIX`: Home Assistant's discovery prefix (default
/// [`crate::homeassistant::DEFAULT_PREFIX`]).
pub const HA_DISCOVERY_PREFIX: &str = "HA_DISCOVERY_PREFIX";

/// `BROKER_MAX_CONNECTIONS`: connections the demo's embedded broker holds (default
/// [`crate::adapters::broker::DEFAULT_MAX_CONNECTIONS`]); viewers get all but
/// [`crate::adapters::broker::RESERVED_FOR_SERVICES`].
pub const BROKER_MAX_CONNECTIONS: &str = "BROKER_MAX_CONNECTIONS";
/// The most `BROKER_MAX_CONNECTIONS` accepts (rumqttd sets aside its tables for all of them).
pub const MAX_BROKER_CONNECTIONS: usize = 100_000;

/// A configuration error: which setting, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A setting has a value that cannot be used.
    #[error("{setting}: {problem}")]
    Invalid {
        /// The setting's name (`MQTT_URL`, …).
        setting: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A required setting is missing.
    #[error("{setting} is required: {hint}")]
    Missing {
        /// The setting's name.
        setting: &'static str,
        /// How to provide it.
        hint: String,
    },
    /// Two settings that cannot be used together.
    #[error("{first} and {second} are contradictory: {hint}")]
    Contradictory {
        /// One setting.
        first: &'static str,
        /// The other.
        second: &'static str,
        /// Which one to keep.
        hint: String,
    },
}

impl ConfigError {
    /// [`ConfigError::Invalid`] for `setting`.
    pub fn invalid(setting: &'static str, problem: impl Into<String>) -> Self {
        ConfigError::Invalid {
            setting,
            problem: problem.into(),
        }
    }

    /// The setting the error is about (the first one, for a contradiction).
    pub fn setting(&self) -> &'static str {
        match self {
            ConfigError::Invalid { setting, .. } | ConfigError::Missing { setting, .. } => setting,
            ConfigError::Contradictory { first, .. } => first,
        }
    }
}

/// Parses `TOPIC_ROOT` with the one rule of [`Topics::from_root`].
///
/// # Errors
/// [`ConfigError::Invalid`] naming `TOPIC_ROOT`.
pub fn parse_topic_root(s: &str) -> Result<Topics, ConfigError> {
    Topics::from_root(s).map_err(|e| ConfigError::invalid(TOPIC_ROOT, e.to_string()))
}

/// Checks `NYISO_BASE_URL`: an absolute `http://` or `https://` URL with a host.
///
/// # Errors
/// [`ConfigError::Invalid`] naming `NYISO_BASE_URL`.
pub fn parse_nyiso_base_url(s: &str) -> Result<String, ConfigError> {
    // The one base-URL check (`adapters::http::base_url`), its message under this setting.
    crate::adapters::http::base_url(NYISO_BASE_URL, s)
        .map(|_| s.to_owned())
        .map_err(|e| {
            let text = e.to_string();
            let problem = text
                .strip_prefix(concat!("NYISO_BASE_URL", ": "))
                .unwrap_or(&text)
                .to_owned();
            ConfigError::invalid(NYISO_BASE_URL, problem)
        })
}

/// Parses `BROKER_MAX_CONNECTIONS`: a whole number with room for the services' reserved
/// connections and at least one viewer, at most [`MAX_BROKER_CONNECTIONS`].
///
/// # Errors
/// [`ConfigError::Invalid`] naming `BROKER_MAX_CONNECTIONS`.
#[cfg(feature = "self-hosted")]
pub fn parse_broker_max_connections(s: &str) -> Result<usize, ConfigError> {
    let reserved = crate::adapters::broker::RESERVED_FOR_SERVICES;
    let n: usize = s.trim().parse().map_err(|_| {
        ConfigError::invalid(
            BROKER_MAX_CONNECTIONS,
            format!("`{s}` is not a whole number of connections"),
        )
    })?;
    if n <= reserved || n > MAX_BROKER_CONNECTIONS {
        return Err(ConfigError::invalid(
            BROKER_MAX_CONNECTIONS,
            format!(
                "`{s}` must be from {} to {MAX_BROKER_CONNECTIONS} ({reserved} are kept for the demo's own services)",
                reserved + 1
            ),
        ));
    }
    Ok(n)
}

/// Parses `FACTORS`: `direct`, `lifecycle` or `ny-power-2016`.
///
/// # Errors
/// [`ConfigError::Invalid`] naming `FACTORS` and the known tables.
pub fn parse_factors(s: &str) -> Result<Factors, ConfigError> {
    s.parse::<Factors>()
        .map_err(|e| ConfigError::invalid(FACTORS, e.to_string()))
}

/// Parses `CHARGE_READY_BY`: a New York time of day `HH:MM` (`07:00`).
///
/// # Errors
/// [`ConfigError::Invalid`] naming `CHARGE_READY_BY` and the value.
pub fn parse_ready_by(s: &str) -> Result<crate::forecast::ready_by::ReadyBy, ConfigError> {
    crate::forecast::ready_by::ReadyBy::parse(s)
        .map_err(|e| ConfigError::invalid(CHARGE_READY_BY, e.to_string()))
}

/// Log output format (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(ConfigError::invalid(
                LOG_FORMAT,
                format!("`{other}` is not `text` or `json`"),
            )),
        }
    }
}

/// Parses `POLL_INTERVAL`: seconds, a positive number (fractions allowed, e.g. `0.5`).
///
/// # Errors
/// [`ConfigError::Invalid`] for anything else.
pub fn parse_poll_interval(s: &str) -> Result<Duration, ConfigError> {
    let secs: f64 = s.trim().parse().map_err(|_| {
        ConfigError::invalid(POLL_INTERVAL, format!("`{s}` is not a number of seconds"))
    })?;
    if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
        return Err(ConfigError::invalid(
            POLL_INTERVAL,
            format!("`{s}` must be more than 0 and at most 86400 seconds"),
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses `NYPOWER_NOW`: an RFC 3339 instant (`2025-02-01T12:00:00Z`,
/// `2017-11-22T23:59:00-05:00`).
///
/// # Errors
/// [`ConfigError::Invalid`] for anything else.
pub fn parse_now(s: &str) -> Result<DateTime<Utc>, ConfigError> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            ConfigError::invalid(
                NYPOWER_NOW,
                format!("`{s}` is not an RFC 3339 time such as 2025-02-01T12:00:00Z: {e}"),
            )
        })
}

/// Where the calculator takes a load forecast from (`LOAD_FORECAST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadForecastSource {
    /// None: the forecast uses the intensity history alone (the default).
    #[default]
    Off,
    /// NYISO's state-wide load forecast (`{NYISO_BASE_URL}/isolf/{YYYYMMDD}isolf.csv`).
    Nyiso,
}

impl FromStr for LoadForecastSource {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(LoadForecastSource::Off),
            "nyiso" => Ok(LoadForecastSource::Nyiso),
            other => Err(ConfigError::invalid(
                LOAD_FORECAST,
                format!("`{other}` is not `off` or `nyiso`"),
            )),
        }
    }
}

/// Parses `HA_DISCOVERY_PREFIX`: a topic prefix without wildcards (a trailing `/` is
/// dropped), e.g. `homeassistant`.
///
/// # Errors
/// [`ConfigError::Invalid`] for an empty prefix or one with `#` or `+`.
pub fn parse_discovery_prefix(s: &str) -> Result<String, ConfigError> {
    let prefix = s.trim().trim_end_matches('/');
    if prefix.is_empty() || prefix.contains(['#', '+']) {
        return Err(ConfigError::invalid(
            HA_DISCOVERY_PREFIX,
            format!(
                "`{s}` must be a non-empty topic prefix without wildcards (e.g. homeassistant)"
            ),
        ));
    }
    Ok(prefix.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// Every error names its setting first.
    fn names(e: ConfigError, setting: &str) {
        assert_eq!(e.setting(), setting);
        assert!(e.to_string().starts_with(&format!("{setting}: ")), "{e}");
    }

    #[test]
    fn intervals_and_now() {
        assert_eq!(parse_poll_interval("60").unwrap(), Duration::from_secs(60));
        assert_eq!(
            parse_poll_interval("0.5").unwrap(),
            Duration::from_millis(500)
        );
        assert!(parse_poll_interval("0").is_err());
        let reserved = crate::adapters::broker::RESERVED_FOR_SERVICES;
        assert_eq!(parse_broker_max_connections("10000").unwrap(), 10_000);
        assert_eq!(
            parse_broker_max_connections(&(reserved + 1).to_string()).unwrap(),
            reserved + 1
        );
        for bad in [
            reserved.to_string(),
            "0".into(),
            "many".into(),
            "100001".into(),
        ] {
            let e = parse_broker_max_connections(&bad).unwrap_err().to_string();
            assert!(e.starts_with("BROKER_MAX_CONNECTIONS: "), "{e}");
        }
        assert!(parse_poll_interval("soon")
            .unwrap_err()
            .to_string()
            .contains("POLL_INTERVAL"));
        assert_eq!(
            parse_now("2017-11-22T23:59:00-05:00").unwrap().to_rfc3339(),
            "2017-11-23T04:59:00+00:00"
        );
        assert!(parse_now("yesterday")
            .unwrap_err()
            .to_string()
            .starts_with("NYPOWER_NOW"));
        assert_eq!(
            " NYISO ".parse::<LoadForecastSource>().unwrap(),
            LoadForecastSource::Nyiso
        );
        assert_eq!(
            "off".parse::<LoadForecastSource>().unwrap(),
            LoadForecastSource::Off
        );
        assert!("isolf"
            .parse::<LoadForecastSource>()
            .unwrap_err()
            .to_string()
            .starts_with("LOAD_FORECAST: `isolf`"));
        assert_eq!(
            parse_discovery_prefix("homeassistant/").unwrap(),
            "homeassistant"
        );
        assert_eq!(parse_discovery_prefix("ha/dev").unwrap(), "ha/dev");
        for bad in ["", " / ", "ha/#", "+"] {
            assert!(
                parse_discovery_prefix(bad)
                    .unwrap_err()
                    .to_string()
                    .starts_with("HA_DISCOVERY_PREFIX: "),
                "{bad:?}"
            );
        }
        assert_eq!("JSON".parse::<LogFormat>().unwrap(), LogFormat::Json);
        assert!("xml".parse::<LogFormat>().is_err());
    }

    #[test]
    fn each_setting_names_itself() {
        names(parse_topic_root("/x").unwrap_err(), TOPIC_ROOT);
        names(parse_topic_root("a/#").unwrap_err(), TOPIC_ROOT);
        names(parse_topic_root("a/+/b").unwrap_err(), TOPIC_ROOT);
        names(parse_topic_root("").unwrap_err(), TOPIC_ROOT);
        assert_eq!(parse_topic_root("a/b/").unwrap().root(), "a/b");
        names(
            parse_nyiso_base_url("mis.nyiso.com").unwrap_err(),
            NYISO_BASE_URL,
        );
        names(
            parse_nyiso_base_url("ftp://h/x").unwrap_err(),
            NYISO_BASE_URL,
        );
        names(parse_nyiso_base_url("http://").unwrap_err(), NYISO_BASE_URL);
        assert_eq!(
            parse_nyiso_base_url("http://127.0.0.1:1/csv").unwrap(),
            "http://127.0.0.1:1/csv"
        );
        assert!(parse_nyiso_base_url(crate::nyiso::DEFAULT_BASE_URL).is_ok());
        let e = parse_factors("coal").unwrap_err();
        assert!(e.to_string().contains("coal"), "{e}");
        names(e, FACTORS);
        assert_eq!(parse_factors("lifecycle").unwrap(), Factors::Lifecycle);
        names(
            "weather".parse::<LoadForecastSource>().unwrap_err(),
            LOAD_FORECAST,
        );
        names("xml".parse::<LogFormat>().unwrap_err(), LOG_FORMAT);
        names(parse_poll_interval("-1").unwrap_err(), POLL_INTERVAL);
        names(parse_poll_interval("86401").unwrap_err(), POLL_INTERVAL);
        names(parse_now("2025-02-01").unwrap_err(), NYPOWER_NOW);
        names(
            parse_discovery_prefix("ha/+").unwrap_err(),
            HA_DISCOVERY_PREFIX,
        );
    }
}
