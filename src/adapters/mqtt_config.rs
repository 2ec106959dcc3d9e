//! Broker connection settings: the broker address (`MQTT_URL`), the credentials
//! (`MQTT_USERNAME`, `MQTT_PASSWORD` / `MQTT_PASSWORD_FILE`), TLS (`MQTT_CA_FILE`,
//! `MQTT_CLIENT_CERT_FILE` + `MQTT_CLIENT_KEY_FILE`, loaded by [`crate::adapters::mqtt_tls`])
//! and secrets read from a value or a `*_FILE`. Each is parsed once, failing with a [`ConfigError`] that names the setting;
//! secrets never appear in `Debug` output or logs. The CLI's flags for them are
//! `cli::settings::MqttArgs`.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

pub use crate::adapters::mqtt_tls::{TlsClient, TlsFiles};
pub use crate::settings::ConfigError;

/// `MQTT_URL`: the broker.
pub const MQTT_URL: &str = "MQTT_URL";
/// `MQTT_USERNAME`: user name for the broker.
pub const MQTT_USERNAME: &str = "MQTT_USERNAME";
/// `MQTT_PASSWORD`: password for the broker (prefer `MQTT_PASSWORD_FILE`).
pub const MQTT_PASSWORD: &str = "MQTT_PASSWORD";
/// `MQTT_PASSWORD_FILE`: file holding the broker password (e.g. a mounted Secret).
pub const MQTT_PASSWORD_FILE: &str = "MQTT_PASSWORD_FILE";
/// `MQTT_CA_FILE`: PEM bundle of the CAs trusted for a TLS broker (`mqtts://`, `wss://`);
/// the system's roots when unset.
pub const MQTT_CA_FILE: &str = "MQTT_CA_FILE";
/// `MQTT_CLIENT_CERT_FILE`: PEM client certificate (chain) for brokers that want one; with
/// `MQTT_CLIENT_KEY_FILE`.
pub const MQTT_CLIENT_CERT_FILE: &str = "MQTT_CLIENT_CERT_FILE";
/// `MQTT_CLIENT_KEY_FILE`: PEM private key of `MQTT_CLIENT_CERT_FILE`.
pub const MQTT_CLIENT_KEY_FILE: &str = "MQTT_CLIENT_KEY_FILE";

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

/// Where the broker is: `mqtt://host[:port]` (also `tcp://`; default port 1883),
/// `ws://host[:port][/path]` (MQTT over WebSocket; default port 80), or their TLS forms
/// `mqtts://host[:port]` (also `ssl://`; default port 8883) and `wss://host[:port][/path]`
/// (default port 443). Over TLS the broker's certificate must be valid for `host`.
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
    /// TCP with TLS (`mqtts://`).
    Tls {
        /// Host name or address (the name the certificate must carry).
        host: String,
        /// Port.
        port: u16,
    },
    /// WebSocket with TLS; `url` is the full `wss://host:port/path`.
    Wss {
        /// The URL, with an explicit port.
        url: String,
        /// Host name or address (the name the certificate must carry).
        host: String,
        /// Port.
        port: u16,
    },
}

impl BrokerUrl {
    /// `host:port`, for logs.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host(), self.port())
    }

    /// The host name or address.
    pub fn host(&self) -> &str {
        match self {
            BrokerUrl::Tcp { host, .. }
            | BrokerUrl::Ws { host, .. }
            | BrokerUrl::Tls { host, .. }
            | BrokerUrl::Wss { host, .. } => host,
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        match self {
            BrokerUrl::Tcp { port, .. }
            | BrokerUrl::Ws { port, .. }
            | BrokerUrl::Tls { port, .. }
            | BrokerUrl::Wss { port, .. } => *port,
        }
    }

    /// Whether the connection is over TLS (`mqtts://`, `wss://`).
    pub fn is_tls(&self) -> bool {
        matches!(self, BrokerUrl::Tls { .. } | BrokerUrl::Wss { .. })
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BrokerUrl::Tcp { host, port } => write!(f, "mqtt://{}:{port}", bracket(host)),
            BrokerUrl::Tls { host, port } => write!(f, "mqtts://{}:{port}", bracket(host)),
            BrokerUrl::Ws { url, .. } | BrokerUrl::Wss { url, .. } => f.write_str(url),
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
                format!("`{s}` is not a URL; expected mqtt://host:port, mqtts://host:port, ws://host:port/path or wss://host:port/path"),
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
            "mqtts" | "ssl" => 8883,
            "ws" => 80,
            "wss" => 443,
            other => {
                return Err(ConfigError::invalid(
                    SETTING,
                    format!(
                        "unknown scheme `{other}://`; expected mqtt://, mqtts://, ws:// or wss://"
                    ),
                ))
            }
        };
        let (host, port) = split_host_port(authority, default_port)
            .map_err(|problem| ConfigError::invalid(SETTING, format!("`{s}`: {problem}")))?;
        if scheme == "ws" || scheme == "wss" {
            let path = if path.is_empty() { "/" } else { path };
            let url = format!("{scheme}://{}:{port}{path}", bracket(&host));
            Ok(if scheme == "ws" {
                BrokerUrl::Ws { url, host, port }
            } else {
                BrokerUrl::Wss { url, host, port }
            })
        } else {
            if !path.is_empty() && path != "/" {
                return Err(ConfigError::invalid(
                    SETTING,
                    format!("`{s}`: an {scheme}:// URL has no path"),
                ));
            }
            Ok(if default_port == 1883 {
                BrokerUrl::Tcp { host, port }
            } else {
                BrokerUrl::Tls { host, port }
            })
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
/// `MQTT_PASSWORD_FILE`, and for a TLS URL `MQTT_CA_FILE`, `MQTT_CLIENT_CERT_FILE`,
/// `MQTT_CLIENT_KEY_FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttConfig {
    /// The broker.
    pub url: BrokerUrl,
    /// User name, if the broker wants one.
    pub username: Option<String>,
    /// Password (with a user name).
    pub password: Option<Secret>,
    /// TLS trust and client certificate, loaded (`Some` for `mqtts://` / `wss://`; when a TLS
    /// URL has `None` here the client trusts the system's roots).
    pub tls: Option<TlsClient>,
}

impl MqttConfig {
    /// An anonymous connection to `url` (over TLS: trusting the system's roots).
    pub fn anonymous(url: BrokerUrl) -> Self {
        MqttConfig {
            url,
            username: None,
            password: None,
            tls: None,
        }
    }

    /// The same settings trusting the CAs and presenting the client certificate of `files`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the TLS setting whose file is missing, unreadable or malformed,
    /// or set for a plain URL.
    pub fn with_tls(mut self, files: &TlsFiles) -> Result<Self, ConfigError> {
        self.tls = crate::adapters::mqtt_tls::for_url(&self.url, files)?;
        Ok(self)
    }

    /// Builds the settings from their raw values; TLS files are read here (fail fast).
    ///
    /// # Errors
    /// [`ConfigError`] for a missing or malformed URL, both a password and a password file,
    /// a password without a user name, or a bad TLS file (see [`MqttConfig::with_tls`]).
    pub fn from_parts(
        url: Option<&str>,
        username: Option<&str>,
        password: Option<&str>,
        password_file: Option<&Path>,
        tls: &TlsFiles,
    ) -> Result<Self, ConfigError> {
        let url: BrokerUrl = url
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| ConfigError::Missing {
                setting: MQTT_URL,
                hint:
                    "the broker, e.g. --mqtt-url mqtt://127.0.0.1:1883 or MQTT_URL=wss://host/mqtt"
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
        MqttConfig {
            url,
            username,
            password,
            tls: None,
        }
        .with_tls(tls)
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
        let tls: BrokerUrl = "mqtts://broker.example".parse().unwrap();
        assert_eq!(
            tls,
            BrokerUrl::Tls {
                host: "broker.example".into(),
                port: 8883
            }
        );
        assert!(tls.is_tls());
        assert_eq!(tls.to_string(), "mqtts://broker.example:8883");
        assert_eq!(
            "ssl://h:9999".parse::<BrokerUrl>().unwrap().to_string(),
            "mqtts://h:9999"
        );
        let wss: BrokerUrl = "wss://broker.example/mqtt".parse().unwrap();
        assert!(wss.is_tls());
        assert_eq!(wss.to_string(), "wss://broker.example:443/mqtt");
        assert_eq!(wss.authority(), "broker.example:443");
        assert!(!"ws://h".parse::<BrokerUrl>().unwrap().is_tls());
        for (bad, needle) in [
            ("localhost:1883", "not a URL"),
            ("http://h:1", "unknown scheme"),
            ("mqtts://h/x", "an mqtts:// URL has no path"),
            ("ftp://h", "expected mqtt://, mqtts://, ws:// or wss://"),
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
        let none = TlsFiles::default();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").unwrap();
        let c =
            MqttConfig::from_parts(Some("mqtt://h"), Some("u"), None, Some(&file), &none).unwrap();
        assert_eq!(c.password.as_ref().unwrap().expose(), "s3cret");
        assert!(!format!("{c:?}").contains("s3cret"));
        let e = MqttConfig::from_parts(Some("mqtt://h"), Some("u"), Some("x"), Some(&file), &none)
            .unwrap_err();
        assert!(e
            .to_string()
            .contains("MQTT_PASSWORD and MQTT_PASSWORD_FILE are contradictory"));
        let e = MqttConfig::from_parts(Some("mqtt://h"), None, Some("x"), None, &none).unwrap_err();
        assert!(
            e.to_string().starts_with("MQTT_USERNAME is required"),
            "{e}"
        );
        let e = MqttConfig::from_parts(None, None, None, None, &none).unwrap_err();
        assert!(e.to_string().starts_with("MQTT_URL is required"), "{e}");
        let e = MqttConfig::from_parts(
            Some("mqtt://h"),
            Some("u"),
            None,
            Some(&dir.path().join("no")),
            &none,
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("MQTT_PASSWORD_FILE: cannot read"),
            "{e}"
        );
    }
}
