//! Certificates made by the test itself (rcgen): a CA, server certificates it signs (valid,
//! expired, for another host name), a second CA nobody trusts, and a client certificate.
//! Everything is written as PEM into a temp directory readable by the `mosquitto` user.
//!
//! ```ignore
//! let pki = Pki::new();
//! let good = pki.server("good", &["localhost"], Validity::Current);
//! // broker: certfile good.crt, keyfile good.key; client: MQTT_CA_FILE=pki.ca_file()
//! ```

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// How long a certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// From 1975 to 4096 (rcgen's default).
    Current,
    /// 2020-01-01 to 2020-01-02: long expired.
    Expired,
}

/// A certificate and its key on disk.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The PEM certificate.
    pub cert: PathBuf,
    /// The PEM private key (PKCS#8).
    pub key: PathBuf,
}

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
    file: PathBuf,
}

/// A throwaway PKI in its own temp directory.
pub struct Pki {
    dir: tempfile::TempDir,
    ca: Ca,
    other_ca: Ca,
}

impl Pki {
    /// Makes the two CAs.
    pub fn new() -> Pki {
        let dir = tempfile::Builder::new()
            .prefix("ny-power-pki-")
            .tempdir()
            .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let ca = make_ca(dir.path(), "ca", "ny-power test CA");
        let other_ca = make_ca(dir.path(), "other-ca", "someone else's CA");
        Pki { dir, ca, other_ca }
    }

    /// The trusted CA's certificate (for `MQTT_CA_FILE` and the broker's `cafile`).
    pub fn ca_file(&self) -> &Path {
        &self.ca.file
    }

    /// A CA that signed nothing the broker presents.
    pub fn other_ca_file(&self) -> &Path {
        &self.other_ca.file
    }

    /// A server certificate for `names` (DNS names or IP addresses) signed by the trusted CA.
    pub fn server(&self, name: &str, names: &[&str], validity: Validity) -> Issued {
        self.issue(
            &self.ca,
            name,
            names,
            validity,
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A server certificate for `names` signed by the other (untrusted) CA.
    pub fn server_of_other_ca(&self, name: &str, names: &[&str]) -> Issued {
        self.issue(
            &self.other_ca,
            name,
            names,
            Validity::Current,
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A client certificate with common name `cn`, signed by the trusted CA.
    pub fn client(&self, name: &str, cn: &str) -> Issued {
        self.issue(
            &self.ca,
            name,
            &[cn],
            Validity::Current,
            ExtendedKeyUsagePurpose::ClientAuth,
        )
    }

    fn issue(
        &self,
        ca: &Ca,
        name: &str,
        names: &[&str],
        validity: Validity,
        usage: ExtendedKeyUsagePurpose,
    ) -> Issued {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().copied().unwrap_or(name));
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![usage];
        if validity == Validity::Expired {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2020, 1, 2);
        }
        let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
        let issued = Issued {
            cert: self.dir.path().join(format!("{name}.crt")),
            key: self.dir.path().join(format!("{name}.key")),
        };
        write_readable(&issued.cert, &cert.pem());
        write_readable(&issued.key, &key.serialize_pem());
        issued
    }
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

fn make_ca(dir: &Path, name: &str, cn: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).unwrap();
    let file = dir.join(format!("{name}.crt"));
    write_readable(&file, &cert.pem());
    Ca { cert, key, file }
}

/// Written world-readable: Mosquitto started as root reads its files as user `mosquitto`.
fn write_readable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}
