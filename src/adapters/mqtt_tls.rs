//! TLS for the broker connection (`mqtts://`, `wss://`), over the rustls that rumqttc uses.
//!
//! - **Trust**: the CAs of `MQTT_CA_FILE` (a PEM bundle) or, when it is unset, the system's
//!   roots (`rustls-native-certs`: `/etc/ssl/certs` on Debian and distroless).
//! - **Client certificate** (optional): `MQTT_CLIENT_CERT_FILE` and `MQTT_CLIENT_KEY_FILE`,
//!   both or neither.
//! - **Server-name checking is always on**: the broker's certificate must be valid for the
//!   host of `MQTT_URL` (a DNS name or an IP address in its subject alternative names). There
//!   is no setting to turn it off.
//!
//! Files are read once, size-capped, when the settings are parsed ([`TlsClient::load`]): a
//! missing, unreadable or malformed file fails at start with an error naming the setting and
//! the path. A certificate the broker presents that does not verify is explained by
//! [`explain`] (expired, not signed by a trusted CA, not valid for the host name, …).

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rumqttc::tokio_rustls::rustls::{
    self,
    pki_types::{CertificateDer, PrivateKeyDer},
    CertificateError, ClientConfig, RootCertStore,
};

use crate::adapters::mqtt_config::{
    BrokerUrl, ConfigError, MQTT_CA_FILE, MQTT_CLIENT_CERT_FILE, MQTT_CLIENT_KEY_FILE,
};

/// Largest PEM file read (Debian's whole CA bundle is ~220 KB).
const MAX_PEM_BYTES: u64 = 4 * 1024 * 1024;

/// The TLS files as configured (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// `MQTT_CA_FILE`: trusted CAs; the system roots when `None`.
    pub ca_file: Option<PathBuf>,
    /// `MQTT_CLIENT_CERT_FILE`: the client certificate chain.
    pub client_cert_file: Option<PathBuf>,
    /// `MQTT_CLIENT_KEY_FILE`: the client certificate's private key.
    pub client_key_file: Option<PathBuf>,
}

impl TlsFiles {
    /// Whether any TLS file is set.
    pub fn any(&self) -> bool {
        self.ca_file.is_some() || self.client_cert_file.is_some() || self.client_key_file.is_some()
    }

    /// The setting of the first file that is set, for "only with a TLS URL" errors.
    fn first_set(&self) -> Option<&'static str> {
        [
            (MQTT_CA_FILE, &self.ca_file),
            (MQTT_CLIENT_CERT_FILE, &self.client_cert_file),
            (MQTT_CLIENT_KEY_FILE, &self.client_key_file),
        ]
        .into_iter()
        .find_map(|(name, file)| file.is_some().then_some(name))
    }
}

/// A loaded TLS client configuration: what the files held, ready for rumqttc. Compares and
/// prints as its files (the key never appears in `Debug`).
#[derive(Clone)]
pub struct TlsClient {
    files: TlsFiles,
    config: Arc<ClientConfig>,
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl PartialEq for TlsClient {
    fn eq(&self, other: &Self) -> bool {
        self.files == other.files
    }
}

impl Eq for TlsClient {}

impl TlsClient {
    /// Reads the files (or the system roots) and builds the client configuration.
    ///
    /// # Errors
    /// [`ConfigError`] naming the setting and path: a file that cannot be read, is over 4 MiB,
    /// is not PEM or holds no certificate / key; a client certificate without its key (or the
    /// reverse); no system roots when `MQTT_CA_FILE` is unset.
    pub fn load(files: &TlsFiles) -> Result<TlsClient, ConfigError> {
        let roots = match &files.ca_file {
            Some(path) => ca_roots(path)?,
            None => system_roots()?,
        };
        let builder = ClientConfig::builder().with_root_certificates(roots);
        let config = match (&files.client_cert_file, &files.client_key_file) {
            (None, None) => builder.with_no_client_auth(),
            (Some(_), None) => {
                return Err(ConfigError::Missing {
                    setting: MQTT_CLIENT_KEY_FILE,
                    hint: "MQTT_CLIENT_CERT_FILE is set: give its private key too".to_owned(),
                })
            }
            (None, Some(_)) => {
                return Err(ConfigError::Missing {
                    setting: MQTT_CLIENT_CERT_FILE,
                    hint: "MQTT_CLIENT_KEY_FILE is set: give its certificate too".to_owned(),
                })
            }
            (Some(cert), Some(key)) => {
                let chain = certificates(MQTT_CLIENT_CERT_FILE, cert)?;
                let key_der = private_key(key)?;
                builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                    ConfigError::invalid(
                        MQTT_CLIENT_KEY_FILE,
                        format!("{}: the key cannot be used: {e}", key.display()),
                    )
                })?
            }
        };
        Ok(TlsClient {
            files: files.clone(),
            config: Arc::new(config),
        })
    }

    /// The files it was loaded from.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// The rustls configuration (for rumqttc's `TlsConfiguration::Rustls`).
    pub fn config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }
}

/// Checks the TLS files against the URL and loads them when the URL is a TLS one.
///
/// # Errors
/// [`ConfigError`] when a TLS file is set for a plain `mqtt://` / `ws://` URL (the user meant
/// TLS and would not get it), or from [`TlsClient::load`].
pub fn for_url(url: &BrokerUrl, files: &TlsFiles) -> Result<Option<TlsClient>, ConfigError> {
    if url.is_tls() {
        return TlsClient::load(files).map(Some);
    }
    match files.first_set() {
        Some(setting) => Err(ConfigError::invalid(
            setting,
            format!(
                "is set, but MQTT_URL `{url}` is not a TLS URL (use mqtts:// or wss://, or unset {setting})"
            ),
        )),
        None => Ok(None),
    }
}

/// Reads a PEM file, at most [`MAX_PEM_BYTES`].
fn read_pem(setting: &'static str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    let cannot = |e: std::io::Error| {
        ConfigError::invalid(setting, format!("cannot read {}: {e}", path.display()))
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(ConfigError::invalid(
            setting,
            format!(
                "{} is over {} MiB: not a PEM certificate or key file",
                path.display(),
                MAX_PEM_BYTES / 1024 / 1024
            ),
        ));
    }
    Ok(bytes)
}

/// The PEM items of a file; malformed PEM is an error naming the setting and path.
fn pem_items(setting: &'static str, path: &Path) -> Result<Vec<rustls_pemfile::Item>, ConfigError> {
    let bytes = read_pem(setting, path)?;
    rustls_pemfile::read_all(&mut bytes.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            ConfigError::invalid(setting, format!("{}: malformed PEM: {e}", path.display()))
        })
}

/// The certificates of a PEM file (at least one).
fn certificates(
    setting: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certs: Vec<_> = pem_items(setting, path)?
        .into_iter()
        .filter_map(|item| match item {
            rustls_pemfile::Item::X509Certificate(c) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(ConfigError::invalid(
            setting,
            format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ),
        ));
    }
    Ok(certs)
}

/// The trusted CAs of `MQTT_CA_FILE`; each certificate must be usable as a trust anchor.
fn ca_roots(path: &Path) -> Result<RootCertStore, ConfigError> {
    let mut roots = RootCertStore::empty();
    for (i, cert) in certificates(MQTT_CA_FILE, path)?.into_iter().enumerate() {
        roots.add(cert).map_err(|e| {
            ConfigError::invalid(
                MQTT_CA_FILE,
                format!(
                    "{}: certificate {} is not a usable CA certificate: {e}",
                    path.display(),
                    i + 1
                ),
            )
        })?;
    }
    Ok(roots)
}

/// The system's trusted CAs.
fn system_roots() -> Result<RootCertStore, ConfigError> {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs().map_err(|e| {
        ConfigError::invalid(
            MQTT_CA_FILE,
            format!("unset, and the system's CA certificates cannot be read: {e}"),
        )
    })?;
    let (_added, _unusable) = roots.add_parsable_certificates(found);
    if roots.is_empty() {
        return Err(ConfigError::Missing {
            setting: MQTT_CA_FILE,
            hint: "no system CA certificates were found (install ca-certificates, or give the broker's CA bundle)".to_owned(),
        });
    }
    Ok(roots)
}

/// The first private key of `MQTT_CLIENT_KEY_FILE` (PKCS#8, PKCS#1 or SEC1).
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, ConfigError> {
    pem_items(MQTT_CLIENT_KEY_FILE, path)?
        .into_iter()
        .find_map(|item| match item {
            rustls_pemfile::Item::Pkcs8Key(k) => Some(PrivateKeyDer::Pkcs8(k)),
            rustls_pemfile::Item::Pkcs1Key(k) => Some(PrivateKeyDer::Pkcs1(k)),
            rustls_pemfile::Item::Sec1Key(k) => Some(PrivateKeyDer::Sec1(k)),
            _ => None,
        })
        .ok_or_else(|| {
            ConfigError::invalid(
                MQTT_CLIENT_KEY_FILE,
                format!(
                    "{} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)",
                    path.display()
                ),
            )
        })
}

/// The rustls error somewhere in a connection error's chain (rumqttc and tungstenite wrap it
/// in `io::Error`s, whose `source` skips the wrapped error itself).
pub fn find_rustls_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(found) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// A TLS failure explained for the log and the error: which check failed, and which setting
/// to look at. `ca` is `MQTT_CA_FILE` (the system roots when `None`).
pub fn explain(error: &rustls::Error, url: &BrokerUrl, ca: Option<&Path>) -> String {
    let trust = match ca {
        Some(path) => format!("MQTT_CA_FILE {}", path.display()),
        None => "the system's CA certificates (MQTT_CA_FILE is unset)".to_owned(),
    };
    let host = url.host();
    match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::Expired => {
                "TLS: the broker's certificate has expired (renew it on the broker)".to_owned()
            }
            CertificateError::NotValidYet => {
                "TLS: the broker's certificate is not valid yet (check the clocks)".to_owned()
            }
            CertificateError::UnknownIssuer => format!(
                "TLS: the broker's certificate is not signed by a trusted CA (trusted: {trust})"
            ),
            CertificateError::NotValidForName => format!(
                "TLS: the broker's certificate is not valid for host name `{host}` of MQTT_URL (wrong host name; server-name checking is always on)"
            ),
            CertificateError::BadSignature => format!(
                "TLS: the broker's certificate has a bad signature (trusted: {trust})"
            ),
            CertificateError::Revoked => "TLS: the broker's certificate is revoked".to_owned(),
            CertificateError::InvalidPurpose => {
                "TLS: the broker's certificate is not for a TLS server (extended key usage)"
                    .to_owned()
            }
            other => format!("TLS: the broker's certificate was rejected: {other:?}"),
        },
        rustls::Error::AlertReceived(alert) => format!(
            "TLS: the broker ended the handshake ({alert:?}); if it wants a client certificate, check MQTT_CLIENT_CERT_FILE and MQTT_CLIENT_KEY_FILE"
        ),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => format!(
            "TLS: handshake failed ({error}); is {} a TLS listener?",
            url.authority()
        ),
        other => format!("TLS: {other}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn tls_url() -> BrokerUrl {
        "mqtts://broker.example:8883".parse().unwrap()
    }

    fn files(ca: Option<&Path>, cert: Option<&Path>, key: Option<&Path>) -> TlsFiles {
        TlsFiles {
            ca_file: ca.map(Path::to_path_buf),
            client_cert_file: cert.map(Path::to_path_buf),
            client_key_file: key.map(Path::to_path_buf),
        }
    }

    fn error(files: &TlsFiles) -> String {
        for_url(&tls_url(), files).unwrap_err().to_string()
    }

    #[test]
    fn bad_files_name_their_setting_and_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = error(&files(Some(&missing), None, None));
        assert!(
            e.starts_with("MQTT_CA_FILE: cannot read ") && e.contains("missing.pem"),
            "{e}"
        );

        let text = dir.path().join("not-pem.txt");
        std::fs::write(&text, "hello, not a certificate\n").unwrap();
        let e = error(&files(Some(&text), None, None));
        assert!(
            e.starts_with("MQTT_CA_FILE: ") && e.contains("not-pem.txt holds no PEM certificate"),
            "{e}"
        );

        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = error(&files(Some(&broken), None, None));
        assert!(
            e.starts_with("MQTT_CA_FILE: ") && e.contains("broken.pem: malformed PEM"),
            "{e}"
        );

        // Well-formed PEM around bytes that are no certificate.
        let junk = dir.path().join("junk.pem");
        std::fs::write(
            &junk,
            "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = error(&files(Some(&junk), None, None));
        assert!(
            e.starts_with("MQTT_CA_FILE: ")
                && e.contains("certificate 1 is not a usable CA certificate"),
            "{e}"
        );

        let big = dir.path().join("big.pem");
        std::fs::write(&big, vec![b'a'; (MAX_PEM_BYTES + 1) as usize]).unwrap();
        let e = error(&files(Some(&big), None, None));
        assert!(e.contains("is over 4 MiB"), "{e}");
    }

    #[test]
    fn a_client_certificate_needs_its_key_and_the_reverse() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("client.crt");
        let key = dir.path().join("client.key");
        let e = error(&files(None, Some(&cert), None));
        assert!(e.starts_with("MQTT_CLIENT_KEY_FILE is required"), "{e}");
        let e = error(&files(None, None, Some(&key)));
        assert!(e.starts_with("MQTT_CLIENT_CERT_FILE is required"), "{e}");
    }

    #[test]
    fn tls_files_with_a_plain_url_are_refused() {
        let plain: BrokerUrl = "mqtt://broker:1883".parse().unwrap();
        let e = for_url(&plain, &files(Some(Path::new("/ca.pem")), None, None))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "MQTT_CA_FILE: is set, but MQTT_URL `mqtt://broker:1883` is not a TLS URL"
            ),
            "{e}"
        );
        assert!(for_url(&plain, &TlsFiles::default()).unwrap().is_none());
    }

    #[test]
    fn certificate_failures_say_which_check_failed() {
        let url = tls_url();
        let ca = Path::new("/etc/ny-power/ca.pem");
        let say = |e: CertificateError, ca: Option<&Path>| {
            explain(&rustls::Error::InvalidCertificate(e), &url, ca)
        };
        assert!(say(CertificateError::Expired, Some(ca)).contains("has expired"));
        let unknown = say(CertificateError::UnknownIssuer, Some(ca));
        assert!(
            unknown.contains("not signed by a trusted CA")
                && unknown.contains("MQTT_CA_FILE /etc/ny-power/ca.pem"),
            "{unknown}"
        );
        assert!(say(CertificateError::UnknownIssuer, None).contains("system's CA certificates"));
        let name = say(CertificateError::NotValidForName, None);
        assert!(
            name.contains("not valid for host name `broker.example`")
                && name.contains("wrong host name"),
            "{name}"
        );
    }

    #[test]
    fn the_rustls_error_is_found_inside_io_errors() {
        let inner = rustls::Error::InvalidCertificate(CertificateError::Expired);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, inner);
        let wrapped = rumqttc::ConnectionError::Tls(rumqttc::TlsError::Io(io));
        assert_eq!(
            find_rustls_error(&wrapped),
            Some(&rustls::Error::InvalidCertificate(
                CertificateError::Expired
            ))
        );
        let plain = rumqttc::ConnectionError::NetworkTimeout;
        assert_eq!(find_rustls_error(&plain), None);
    }
}
