//! Configuration from the environment, read once per cold start. The names are the CLI's
//! (`TOPIC_ROOT`, `FACTORS`, `NYISO_BASE_URL`, `ARCHIVE_BACKEND`, …) so a setting has one name
//! in every mode, and so are the checks: each reader hands the value to the one parser of
//! `ny_power::settings` the CLI uses. Each function's typed config is built from these
//! readers; a bad value fails the cold start with a message naming the variable.

use ny_power::forecast::ready_by::ReadyBy;
use ny_power::nyiso::DEFAULT_BASE_URL;
use ny_power::settings::{
    parse_factors, parse_nyiso_base_url, parse_ready_by, parse_topic_root, ConfigError,
    CHARGE_READY_BY, FACTORS, NYISO_BASE_URL, TOPIC_ROOT,
};
use ny_power::stream::{Topics, DEFAULT_ROOT};
use ny_power::Factors;

use crate::error::{ErrorKind, FunctionError};

/// Where settings come from: the process environment, or a map in tests.
pub trait Env {
    /// The value of `name`, if set and not empty.
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl<const N: usize> Env for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
            .filter(|v| !v.trim().is_empty())
    }
}

fn bad(name: &str, problem: impl std::fmt::Display) -> FunctionError {
    FunctionError::permanent(
        ErrorKind::Config,
        format!("environment variable {name}: {problem}"),
    )
}

/// A setting the shared parser refused, as a cold-start error naming the variable.
fn refused(e: ConfigError) -> FunctionError {
    FunctionError::permanent(ErrorKind::Config, format!("environment variable {e}"))
}

/// `TOPIC_ROOT` (default `ny-power`): the topic tree, checked by
/// [`Topics::from_root`](ny_power::stream::Topics::from_root) as in every mode.
///
/// # Errors
/// A config error when the root is empty, has MQTT wildcards, or starts with `/` or `$`.
pub fn topics(env: &impl Env) -> Result<Topics, FunctionError> {
    let root = env
        .get(TOPIC_ROOT)
        .unwrap_or_else(|| DEFAULT_ROOT.to_owned());
    parse_topic_root(&root).map_err(refused)
}

/// `FACTORS` (default `direct`): the factor table of the 24 h history.
///
/// # Errors
/// A config error naming the known tables when the name is unknown.
pub fn factors(env: &impl Env) -> Result<Factors, FunctionError> {
    match env.get(FACTORS) {
        None => Ok(Factors::Direct),
        Some(name) => parse_factors(&name).map_err(refused),
    }
}

/// `CHARGE_READY_BY` (default `07:00`): the default ready-by time of the charge windows, a
/// New York `HH:MM`, checked by the CLI's parser.
///
/// # Errors
/// A config error naming the variable and the value when it is not `HH:MM`.
pub fn ready_by(env: &impl Env) -> Result<ReadyBy, FunctionError> {
    match env.get(CHARGE_READY_BY) {
        None => Ok(ReadyBy::default()),
        Some(value) => parse_ready_by(&value).map_err(refused),
    }
}

/// `NYISO_BASE_URL` (default NYISO's own): where NYISO's CSV files are.
///
/// # Errors
/// A config error when it is not an absolute `http://` or `https://` URL.
pub fn nyiso_base_url(env: &impl Env) -> Result<String, FunctionError> {
    let url = env
        .get(NYISO_BASE_URL)
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    parse_nyiso_base_url(&url).map_err(refused)
}

/// A required variable.
///
/// # Errors
/// A config error when it is unset or empty.
pub fn required(env: &impl Env, name: &str) -> Result<String, FunctionError> {
    env.get(name)
        .ok_or_else(|| bad(name, "is required but not set"))
}

/// The endpoint override for a service: `AWS_ENDPOINT_URL_<SERVICE>` or `AWS_ENDPOINT_URL`
/// (the SDK's own names). Set only against a local AWS-compatible server; with an override
/// the Timestream client skips endpoint discovery.
pub fn endpoint_override(env: &impl Env, service_env_suffix: &str) -> Option<String> {
    env.get(&format!("AWS_ENDPOINT_URL_{service_env_suffix}"))
        .or_else(|| env.get("AWS_ENDPOINT_URL"))
}

/// `IOT_ENDPOINT`: the account's IoT data endpoint (`https://xxxx-ats.iot.REGION.amazonaws.com`,
/// from `aws iot describe-endpoint --endpoint-type iot:Data-ATS`). A bare host gets `https://`.
pub fn iot_endpoint(env: &impl Env) -> Option<String> {
    env.get("IOT_ENDPOINT").map(|e| {
        if e.starts_with("https://") || e.starts_with("http://") {
            e
        } else {
            format!("https://{e}")
        }
    })
}

/// `ARCHIVE_BACKEND`: which archive the archive function writes to.
pub const ARCHIVE_BACKEND: &str = "ARCHIVE_BACKEND";
/// The default `ARCHIVE_PREFIX` (the prefix `infra/template.yaml` grants `s3:PutObject` on).
pub const DEFAULT_ARCHIVE_PREFIX: &str = "archive";
/// `ARCHIVE_BUCKET`: the S3 bucket of `ARCHIVE_BACKEND=s3`.
pub const ARCHIVE_BUCKET: &str = "ARCHIVE_BUCKET";
/// `ARCHIVE_PREFIX`: the key prefix of `ARCHIVE_BACKEND=s3` (default
/// `archive`, the template's grant).
pub const ARCHIVE_PREFIX: &str = "ARCHIVE_PREFIX";

/// Which archive the archive function writes to (`ARCHIVE_BACKEND`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveBackend {
    /// JSON-lines objects in S3 (`ARCHIVE_BUCKET`, `ARCHIVE_PREFIX`), read with Athena.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix, without slashes at its ends.
        prefix: String,
    },
    /// Amazon Timestream for LiveAnalytics (`TIMESTREAM_DATABASE`, `TIMESTREAM_TABLE`).
    Timestream {
        /// Database name.
        database: String,
        /// Table name.
        table: String,
    },
    /// An InfluxDB v2 write API (Timestream for InfluxDB or self-hosted), configured by the
    /// `INFLUX_*` variables the root crate's InfluxDB writer reads.
    Influx,
}

/// `ARCHIVE_BACKEND` = `s3` (default), `timestream` or `influxdb`, and the backend's settings.
/// (`ArchiveBackend=none` in the template deploys no archive function at all.)
///
/// # Errors
/// A config error for an unknown backend, a missing bucket or Timestream name, or a prefix
/// that is not a clean key prefix.
pub fn archive_backend(env: &impl Env) -> Result<ArchiveBackend, FunctionError> {
    match env.get(ARCHIVE_BACKEND).as_deref() {
        None | Some("s3") => {
            let prefix = env
                .get(ARCHIVE_PREFIX)
                .unwrap_or_else(|| DEFAULT_ARCHIVE_PREFIX.to_owned());
            let trimmed = prefix.trim_matches('/');
            let clean = trimmed.split('/').all(|seg| {
                !seg.is_empty()
                    && seg != "."
                    && seg != ".."
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            });
            if !clean {
                return Err(bad(
                    ARCHIVE_PREFIX,
                    format!("`{prefix}` is not a key prefix (segments of letters, digits, _ - . separated by /)"),
                ));
            }
            Ok(ArchiveBackend::S3 {
                bucket: required(env, ARCHIVE_BUCKET)?,
                prefix: trimmed.to_owned(),
            })
        }
        Some("timestream") => Ok(ArchiveBackend::Timestream {
            database: required(env, "TIMESTREAM_DATABASE")?,
            table: required(env, "TIMESTREAM_TABLE")?,
        }),
        Some("influxdb") => Ok(ArchiveBackend::Influx),
        Some(other) => Err(bad(
            ARCHIVE_BACKEND,
            format!("`{other}` is not a backend (use `s3`, `timestream` or `influxdb`)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charge_ready_by_is_checked_as_the_cli_checks_it() {
        let empty: [(&str, &str); 0] = [];
        assert_eq!(ready_by(&empty).unwrap(), ReadyBy::default());
        assert_eq!(
            ready_by(&[("CHARGE_READY_BY", "06:30")]).unwrap(),
            parse_ready_by("06:30").unwrap()
        );
        for bad in ["7", "25:00", "07:60", "seven"] {
            let e = ready_by(&[("CHARGE_READY_BY", bad)]).unwrap_err();
            assert!(
                !e.retryable
                    && e.message
                        .starts_with("environment variable CHARGE_READY_BY: ")
                    && e.message.contains(bad),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn defaults_and_errors_name_the_variable() {
        let empty: [(&str, &str); 0] = [];
        assert_eq!(topics(&empty).unwrap().root(), "ny-power");
        assert_eq!(factors(&empty).unwrap(), Factors::Direct);
        assert_eq!(
            topics(&[("TOPIC_ROOT", "dev/ny-power/")]).unwrap().root(),
            "dev/ny-power"
        );
        let e = topics(&[("TOPIC_ROOT", "ny-power/#")]).unwrap_err();
        assert!(e.message.contains("TOPIC_ROOT"), "{e}");
        // The CLI's rule (one function): `/x` fails in both.
        for bad in ["/x", "a/#", "a/+/b", "/", "$aws/x"] {
            let e = topics(&[("TOPIC_ROOT", bad)]).unwrap_err();
            assert!(
                !e.retryable && e.message.starts_with("environment variable TOPIC_ROOT: "),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            nyiso_base_url(&empty).unwrap(),
            ny_power::nyiso::DEFAULT_BASE_URL
        );
        assert_eq!(
            nyiso_base_url(&[("NYISO_BASE_URL", "http://127.0.0.1:9/")]).unwrap(),
            "http://127.0.0.1:9/"
        );
        let e = nyiso_base_url(&[("NYISO_BASE_URL", "mis.nyiso.com")]).unwrap_err();
        assert!(
            e.message
                .starts_with("environment variable NYISO_BASE_URL: `mis.nyiso.com`"),
            "{e}"
        );
        let e = factors(&[("FACTORS", "coal")]).unwrap_err();
        assert!(
            e.message.contains("FACTORS") && e.message.contains("coal"),
            "{e}"
        );
        let e = archive_backend(&[
            ("ARCHIVE_BACKEND", "timestream"),
            ("TIMESTREAM_DATABASE", "db"),
        ])
        .unwrap_err();
        assert!(e.message.contains("TIMESTREAM_TABLE"), "{e}");
        assert_eq!(
            archive_backend(&[("ARCHIVE_BACKEND", "influxdb")]).unwrap(),
            ArchiveBackend::Influx
        );
        // S3 is the default; the prefix defaults to `archive` and loses its end slashes.
        let e = archive_backend(&empty).unwrap_err();
        assert!(!e.retryable && e.message.contains("ARCHIVE_BUCKET"), "{e}");
        assert_eq!(
            archive_backend(&[("ARCHIVE_BUCKET", "b")]).unwrap(),
            ArchiveBackend::S3 {
                bucket: "b".into(),
                prefix: "archive".into()
            }
        );
        assert_eq!(
            archive_backend(&[
                ("ARCHIVE_BACKEND", "s3"),
                ("ARCHIVE_BUCKET", "b"),
                ("ARCHIVE_PREFIX", "/x/ny-power/")
            ])
            .unwrap(),
            ArchiveBackend::S3 {
                bucket: "b".into(),
                prefix: "x/ny-power".into()
            }
        );
        for bad in ["a//b", "../x", "a b"] {
            let e =
                archive_backend(&[("ARCHIVE_BUCKET", "b"), ("ARCHIVE_PREFIX", bad)]).unwrap_err();
            assert!(e.message.contains("ARCHIVE_PREFIX"), "{bad}: {e}");
        }
        let e = archive_backend(&[("ARCHIVE_BACKEND", "none")]).unwrap_err();
        assert!(!e.retryable && e.message.contains("`none`"), "{e}");
        assert_eq!(
            endpoint_override(
                &[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")],
                "IOT_DATA_PLANE"
            ),
            Some("http://127.0.0.1:5000".into())
        );
        assert_eq!(
            iot_endpoint(&[("IOT_ENDPOINT", "abc-ats.iot.us-east-1.amazonaws.com")]),
            Some("https://abc-ats.iot.us-east-1.amazonaws.com".into())
        );
    }
}
