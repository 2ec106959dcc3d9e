//! The archive function: triggered by the IoT topic rules on `{root}/upstream/fuel-mix` and
//! `{root}/archive/co2/points` (every reading's intensities), it maps each contract message to
//! archive points (the core's [`points_for_message`]) and writes them to the configured backend
//! (`ARCHIVE_BACKEND`): JSON-lines objects in S3 (the default), Timestream for LiveAnalytics or
//! an InfluxDB v2 write API. Writes are idempotent, so a retried event changes nothing.

use async_trait::async_trait;
use lambda_runtime::LambdaEvent;
use ny_power::adapters::influx::{InfluxConfig, InfluxWriter};
use ny_power::archive::{points_for_message, Point};
use ny_power::ports::{Archive, PortError};
use ny_power::stream::Topics;
use ny_power_aws::config::{self, Env};
use ny_power_aws::event::split_rule_event;
use ny_power_aws::s3::S3Archive;
use ny_power_aws::timestream::TimestreamArchive;
use ny_power_aws::{ErrorKind, FunctionError};
use serde::Serialize;
use serde_json::Value;

/// The configured archive backend.
pub enum Backend {
    /// JSON-lines objects in S3, queried with Athena.
    S3(S3Archive),
    /// Timestream for LiveAnalytics.
    Timestream(TimestreamArchive),
    /// InfluxDB v2 line protocol (Timestream for InfluxDB, or any InfluxDB 2).
    Influx(Box<InfluxWriter>),
}

#[async_trait]
impl Archive for Backend {
    async fn write(&self, points: &[Point]) -> Result<(), PortError> {
        match self {
            Backend::S3(a) => a.write(points).await,
            Backend::Timestream(a) => a.write(points).await,
            Backend::Influx(a) => a.write(points).await,
        }
    }
}

/// The function's dependencies, built once per cold start.
pub struct ArchiveFunction<A> {
    archive: A,
    topics: Topics,
}

impl<A: Archive> ArchiveFunction<A> {
    /// A function writing to `archive`.
    pub fn new(archive: A, topics: Topics) -> Self {
        ArchiveFunction { archive, topics }
    }
}

/// What one invocation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchiveResponse {
    /// The message's topic.
    pub topic: String,
    /// Points written (0 for a topic that is not archived).
    pub points: usize,
}

/// Archives one message from a topic rule.
///
/// # Errors
/// [`FunctionError`]: permanent for a payload that breaks the contract (nothing is written);
/// the archive's own classification for write failures.
pub async fn handle<A: Archive>(
    event: LambdaEvent<Value>,
    f: &ArchiveFunction<A>,
) -> Result<ArchiveResponse, FunctionError> {
    let (topic, payload) = split_rule_event(event.payload)?;
    let points = points_for_message(&f.topics, &topic, &payload)?;
    if !points.is_empty() {
        f.archive
            .write(&points)
            .await
            .map_err(|e| FunctionError::from_port(ErrorKind::Archive, &e))?;
    }
    tracing::info!(%topic, points = points.len(), "archived");
    Ok(ArchiveResponse {
        topic,
        points: points.len(),
    })
}

/// The InfluxDB settings from the environment (the CLI's names): `INFLUX_URL` and either
/// `INFLUX_ORG`, `INFLUX_BUCKET`, `INFLUX_TOKEN` (v2 API, e.g. Timestream for InfluxDB) or
/// `INFLUX_DATABASE` with optional `INFLUX_USERNAME`/`INFLUX_PASSWORD` (v1 API).
///
/// # Errors
/// A permanent config error naming the missing variable.
pub fn influx_config(env: &impl Env) -> Result<InfluxConfig, FunctionError> {
    let url = config::required(env, "INFLUX_URL")?;
    if env.get("INFLUX_DATABASE").is_some() && env.get("INFLUX_BUCKET").is_none() {
        return Ok(InfluxConfig::V1 {
            url,
            database: config::required(env, "INFLUX_DATABASE")?,
            username: env.get("INFLUX_USERNAME"),
            password: env.get("INFLUX_PASSWORD"),
        });
    }
    Ok(InfluxConfig::V2 {
        url,
        org: config::required(env, "INFLUX_ORG")?,
        bucket: config::required(env, "INFLUX_BUCKET")?,
        token: config::required(env, "INFLUX_TOKEN")?,
    })
}
