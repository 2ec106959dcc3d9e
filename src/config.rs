//! Typed configuration pieces shared by the commands and the embedded services: the broker
//! address (`MQTT_URL`), secrets read from a value or a `*_FILE`, the log format, the poll
//! interval, the fixed "now" (`NYPOWER_NOW`), the load-forecast source (`LOAD_FORECAST`) and
//! the Home Assistant discovery prefix (`HA_DISCOVERY_PREFIX`). Each is parsed once, failing
//! with a message that names the setting; secrets never appear in `Debug` output or logs.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};

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
    fn invalid(setting: &'static str, problem: impl Into<String>) -> Self {
        ConfigError::Invalid {
            setting,
            problem: problem.into(),
        }
    }
}

/// A secret (password, token). `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for handing to a client library (never to a log).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Reads a secret given either directly (`value`, from `NAME`) or as a file (`file`, from
/// `NAME_FILE`, e.g. a mounted Kubernetes Secret; one trailing newline is dropped).
///
/// # Errors
/// [`ConfigError::Contradictory`] when both are given, [`ConfigError::Invalid`] when the file
/// cannot be read or is empty.
pub fn read_secret(
    value: Option<&str>,
    file: Option<&Path>,
    name: &'static str,
    file_name: &'static str,
) -> Result<Option<Secret>, ConfigError> {
    match (value, file) {
        (Some(_), Some(_)) => Err(ConfigError::Contradictory {
            first: name,
            second: file_name,
            hint: format!("set only one of {name} and {file_name}"),
        }),
        (Some(v), None) => Ok(Some(Secret::new(v))),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::invalid(file_name, format!("cannot read {}: {e}", path.display()))
            })?;
            let text = text
                .strip_suffix("\r\n")
                .or_else(|| text.strip_suffix('\n'))
                .unwrap_or(&text);
            if text.is_empty() {
                return Err(ConfigError::invalid(
                    file_name,
                    format!("{} is empty", path.display()),
                ));
            }
            Ok(Some(Secret::new(text)))
        }
        (None, None) => Ok(None),
    }
}

/// Where the broker is: `mqtt://host[:port]` (also `tcp://`; default port 1883) or
/// `ws://host[:port][/path]` (MQTT over WebSocket; default port 80).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerUrl {
    /// Plain TCP.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// WebSocket; `url` is the full `ws://host:port/path`.
    Ws {
        /// The URL, with an explicit port.
        url: String,
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
}

impl BrokerUrl {
    /// `host:port`, for logs.
    pub fn authority(&self) -> String {
        match self {
            BrokerUrl::Tcp { host, port } | BrokerUrl::Ws { host, port, .. } => {
                format!("{host}:{port}")
            }
        }
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BrokerUrl::Tcp { host, port } => write!(f, "mqtt://{host}:{port}"),
            BrokerUrl::Ws { url, .. } => f.write_str(url),
        }
    }
}

impl FromStr for BrokerUrl {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, ConfigError> {
        const SETTING: &str = "MQTT_URL";
        let s = s.trim();
        let (scheme, rest) = s.split_once("://").ok_or_else(|| {
            ConfigError::invalid(
                SETTING,
                format!("`{s}` is not a URL; expected mqtt://host:port or ws://host:port/path"),
            )
        })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(ConfigError::invalid(
                SETTING,
                "credentials in the URL are not supported; use MQTT_USERNAME and MQTT_PASSWORD(_FILE)",
            ));
        }
        let default_port = match scheme {
            "mqtt" | "tcp" => 1883,
            "ws" => 80,
            "mqtts" | "ssl" | "wss" => {
                return Err(ConfigError::invalid(
                    SETTING,
                    format!("`{scheme}://` (TLS) is not supported; use mqtt:// or ws:// (terminate TLS in front of the broker)"),
                ))
            }
            other => {
                return Err(ConfigError::invalid(
                    SETTING,
                    format!("unknown scheme `{other}://`; expected mqtt:// or ws://"),
                ))
            }
        };
        let (host, port) = split_host_port(authority, default_port)
            .map_err(|problem| ConfigError::invalid(SETTING, format!("`{s}`: {problem}")))?;
        if scheme == "ws" {
            let path = if path.is_empty() { "/" } else { path };
            Ok(BrokerUrl::Ws {
                url: format!("ws://{}:{port}{path}", bracket(&host)),
                host,
                port,
            })
        } else {
            if !path.is_empty() && path != "/" {
                return Err(ConfigError::invalid(
                    SETTING,
                    format!("`{s}`: an mqtt:// URL has no path"),
                ));
            }
            Ok(BrokerUrl::Tcp { host, port })
        }
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

fn split_host_port(authority: &str, default_port: u16) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed `[` in the host".to_owned())?;
        match after.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if after.is_empty() => (host, None),
            None => return Err(format!("unexpected `{after}` after the host")),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("no host".to_owned());
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("port `{p}` is not a number from 1 to 65535"))?,
        None => default_port,
    };
    Ok((host.to_owned(), port))
}

/// Broker connection settings: `MQTT_URL`, `MQTT_USERNAME`, `MQTT_PASSWORD` /
/// `MQTT_PASSWORD_FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttConfig {
    /// The broker.
    pub url: BrokerUrl,
    /// User name, if the broker wants one.
    pub username: Option<String>,
    /// Password (with a user name).
    pub password: Option<Secret>,
}

impl MqttConfig {
    /// An anonymous connection to `url`.
    pub fn anonymous(url: BrokerUrl) -> Self {
        MqttConfig {
            url,
            username: None,
            password: None,
        }
    }

    /// Builds the settings from their raw values.
    ///
    /// # Errors
    /// [`ConfigError`] for a missing or malformed URL, both a password and a password file,
    /// or a password without a user name.
    pub fn from_parts(
        url: Option<&str>,
        username: Option<&str>,
        password: Option<&str>,
        password_file: Option<&Path>,
    ) -> Result<Self, ConfigError> {
        let url: BrokerUrl = url
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| ConfigError::Missing {
                setting: "MQTT_URL",
                hint: "the broker, e.g. --mqtt-url mqtt://127.0.0.1:1883 or MQTT_URL=ws://host:9001/mqtt"
                    .to_owned(),
            })?
            .parse()?;
        let password = read_secret(
            password,
            password_file,
            "MQTT_PASSWORD",
            "MQTT_PASSWORD_FILE",
        )?;
        let username = username.filter(|u| !u.is_empty()).map(str::to_owned);
        if password.is_some() && username.is_none() {
            return Err(ConfigError::Missing {
                setting: "MQTT_USERNAME",
                hint: "a password was given without a user name".to_owned(),
            });
        }
        Ok(MqttConfig {
            url,
            username,
            password,
        })
    }
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
                "LOG_FORMAT",
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
        ConfigError::invalid("POLL_INTERVAL", format!("`{s}` is not a number of seconds"))
    })?;
    if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
        return Err(ConfigError::invalid(
            "POLL_INTERVAL",
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
                "NYPOWER_NOW",
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
                "LOAD_FORECAST",
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
            "HA_DISCOVERY_PREFIX",
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

    #[test]
    fn broker_urls() {
        assert_eq!(
            "mqtt://127.0.0.1:1884".parse::<BrokerUrl>().unwrap(),
            BrokerUrl::Tcp {
                host: "127.0.0.1".into(),
                port: 1884
            }
        );
        assert_eq!(
            "mqtt://broker".parse::<BrokerUrl>().unwrap(),
            BrokerUrl::Tcp {
                host: "broker".into(),
                port: 1883
            }
        );
        let ws: BrokerUrl = "ws://localhost:9001/mqtt".parse().unwrap();
        assert_eq!(ws.to_string(), "ws://localhost:9001/mqtt");
        assert_eq!(ws.authority(), "localhost:9001");
        assert_eq!(
            "ws://h".parse::<BrokerUrl>().unwrap().to_string(),
            "ws://h:80/"
        );
        for (bad, needle) in [
            ("localhost:1883", "not a URL"),
            ("http://h:1", "unknown scheme"),
            ("mqtts://h", "TLS"),
            ("mqtt://h:99999", "port `99999`"),
            ("mqtt://:1883", "no host"),
            ("mqtt://u:p@h", "credentials"),
            ("mqtt://h/x", "no path"),
        ] {
            let e = bad.parse::<BrokerUrl>().unwrap_err().to_string();
            assert!(
                e.starts_with("MQTT_URL: ") && e.contains(needle),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn secrets_and_contradictions() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").unwrap();
        let c = MqttConfig::from_parts(Some("mqtt://h"), Some("u"), None, Some(&file)).unwrap();
        assert_eq!(c.password.as_ref().unwrap().expose(), "s3cret");
        assert!(!format!("{c:?}").contains("s3cret"));
        let e = MqttConfig::from_parts(Some("mqtt://h"), Some("u"), Some("x"), Some(&file))
            .unwrap_err();
        assert!(e
            .to_string()
            .contains("MQTT_PASSWORD and MQTT_PASSWORD_FILE are contradictory"));
        let e = MqttConfig::from_parts(Some("mqtt://h"), None, Some("x"), None).unwrap_err();
        assert!(
            e.to_string().starts_with("MQTT_USERNAME is required"),
            "{e}"
        );
        let e = MqttConfig::from_parts(None, None, None, None).unwrap_err();
        assert!(e.to_string().starts_with("MQTT_URL is required"), "{e}");
        let e = MqttConfig::from_parts(
            Some("mqtt://h"),
            Some("u"),
            None,
            Some(&dir.path().join("no")),
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("MQTT_PASSWORD_FILE: cannot read"),
            "{e}"
        );
    }

    #[test]
    fn intervals_and_now() {
        assert_eq!(parse_poll_interval("60").unwrap(), Duration::from_secs(60));
        assert_eq!(
            parse_poll_interval("0.5").unwrap(),
            Duration::from_millis(500)
        );
        assert!(parse_poll_interval("0").is_err());
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
}
