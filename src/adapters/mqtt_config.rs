//! Broker connection settings: the broker address (`MQTT_URL`), the credentials
//! (`MQTT_USERNAME`, `MQTT_PASSWORD` / `MQTT_PASSWORD_FILE`) and secrets read from a value or
//! a `*_FILE`. Each is parsed once, failing with a [`ConfigError`] that names the setting;
//! secrets never appear in `Debug` output or logs. The CLI's flags for them are
//! `cli::settings::MqttArgs`.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

pub use crate::settings::ConfigError;

/// `MQTT_URL`: the broker.
pub const MQTT_URL: &str = "MQTT_URL";
/// `MQTT_USERNAME`: user name for the broker.
pub const MQTT_USERNAME: &str = "MQTT_USERNAME";
/// `MQTT_PASSWORD`: password for the broker (prefer `MQTT_PASSWORD_FILE`).
pub const MQTT_PASSWORD: &str = "MQTT_PASSWORD";
/// `MQTT_PASSWORD_FILE`: file holding the broker password (e.g. a mounted Secret).
pub const MQTT_PASSWORD_FILE: &str = "MQTT_PASSWORD_FILE";

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
        const SETTING: &str = MQTT_URL;
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
                setting: MQTT_URL,
                hint: "the broker, e.g. --mqtt-url mqtt://127.0.0.1:1883 or MQTT_URL=ws://host:9001/mqtt"
                    .to_owned(),
            })?
            .parse()?;
        let password = read_secret(password, password_file, MQTT_PASSWORD, MQTT_PASSWORD_FILE)?;
        let username = username.filter(|u| !u.is_empty()).map(str::to_owned);
        if password.is_some() && username.is_none() {
            return Err(ConfigError::Missing {
                setting: MQTT_USERNAME,
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
}
