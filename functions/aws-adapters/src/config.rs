//! Configuration from the environment, read once per cold start. The names are the CLI's
//! (`TOPIC_ROOT`, `FACTORS`, `NYISO_BASE_URL`, `ARCHIVE_BACKEND`, …) so a setting has one name
//! in every mode. Each function's typed config is built from these readers; a bad value fails
//! the cold start with a message naming the variable.

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

/// `TOPIC_ROOT` (default `ny-power`): the topic tree.
///
/// # Errors
/// A config error when the root contains MQTT wildcards or is only slashes.
pub fn topics(env: &impl Env) -> Result<Topics, FunctionError> {
    let root = env
        .get("TOPIC_ROOT")
        .unwrap_or_else(|| DEFAULT_ROOT.to_owned());
    let trimmed = root.trim_end_matches('/');
    if trimmed.is_empty() || trimmed.contains(['#', '+']) || trimmed.starts_with('/') {
        return Err(bad(
            "TOPIC_ROOT",
            format!("`{root}` is not a topic root (no wildcards, no leading slash)"),
        ));
    }
    Ok(Topics::new(trimmed))
}

/// `FACTORS` (default `direct`): the factor table of the 24 h history.
///
/// # Errors
/// A config error naming the known tables when the name is unknown.
pub fn factors(env: &impl Env) -> Result<Factors, FunctionError> {
    match env.get("FACTORS") {
        None => Ok(Factors::Direct),
        Some(name) => name.parse::<Factors>().map_err(|e| bad("FACTORS", e)),
    }
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

/// Which archive the archive function writes to (`ARCHIVE_BACKEND`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveBackend {
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

/// `ARCHIVE_BACKEND` = `timestream` (default) or `influxdb`, and the backend's settings.
///
/// # Errors
/// A config error for an unknown backend or a missing Timestream name.
pub fn archive_backend(env: &impl Env) -> Result<ArchiveBackend, FunctionError> {
    match env.get("ARCHIVE_BACKEND").as_deref() {
        None | Some("timestream") => Ok(ArchiveBackend::Timestream {
            database: required(env, "TIMESTREAM_DATABASE")?,
            table: required(env, "TIMESTREAM_TABLE")?,
        }),
        Some("influxdb") => Ok(ArchiveBackend::Influx),
        Some(other) => Err(bad(
            "ARCHIVE_BACKEND",
            format!("`{other}` is not a backend (use `timestream` or `influxdb`)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let e = factors(&[("FACTORS", "coal")]).unwrap_err();
        assert!(
            e.message.contains("FACTORS") && e.message.contains("coal"),
            "{e}"
        );
        let e = archive_backend(&[("TIMESTREAM_DATABASE", "db")]).unwrap_err();
        assert!(e.message.contains("TIMESTREAM_TABLE"), "{e}");
        assert_eq!(
            archive_backend(&[("ARCHIVE_BACKEND", "influxdb")]).unwrap(),
            ArchiveBackend::Influx
        );
        let e = archive_backend(&[("ARCHIVE_BACKEND", "s3")]).unwrap_err();
        assert!(!e.retryable && e.message.contains("`s3`"), "{e}");
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
