//! The InfluxDB archive: an [`Archive`] writing line protocol ([`line_protocol`], second
//! precision) over HTTP.
//!
//! - **v1 API** `POST {url}/write?db=…&precision=s` — InfluxDB 1.x and the v1-compatible
//!   endpoint of InfluxDB 2.x/3.x; optional user and password sent as HTTP basic auth (never
//!   in the URL, so they cannot leak into logs with it).
//! - **v2 API** `POST {url}/api/v2/write?org=…&bucket=…&precision=s` with
//!   `Authorization: Token …` — InfluxDB 2.x/3.x and Amazon Timestream for InfluxDB.
//!
//! Points go in batches of at most [`InfluxOptions::batch_lines`] lines. Writes are
//! idempotent: InfluxDB keys a point by measurement, tags and time.
//!
//! **What a refusal means** ([`classify`]). Only a refusal of the *points* is permanent: HTTP
//! 400, 413 and 422 (line protocol InfluxDB cannot parse, a field type conflict, a body too
//! large); [`PortError::Permanent`] carries InfluxDB's error text, and a backlog may drop such
//! a batch. Everything else says the database is not writable *yet* and is
//! [`PortError::Transient`], so no caller ever drops points because of it: network errors,
//! timeouts, 5xx, 408, 429, and also 401/403 (credentials or grants an operator can fix) and
//! 404 (the v1 database or the v2 bucket does not exist).
//!
//! **A missing database** (v1: 404 `database not found`, e.g. InfluxDB was down when the
//! archiver started, so [`InfluxWriter::ensure_database`] failed then) is created on the spot
//! when [`InfluxOptions::create_database`] allows it (the default; the user needs admin
//! rights), and the batch is written again at once. A missing v2 bucket (404 `bucket … not
//! found`) cannot be created with a write token: it is retried until the operator creates it.
//! Transient failures are retried [`InfluxOptions::retries`] times on a [`Backoff`] starting at
//! [`InfluxOptions::backoff`] (capped at [`MAX_RETRY_WAIT`]) before they are reported.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;

use crate::adapters::http::{
    base_url, client, describe_http_error, read_capped, HttpClientOptions, HttpSetupError,
    MAX_RETRY_WAIT, USER_AGENT,
};
use crate::archive::{line_protocol, Point};
use crate::backoff::Backoff;
use crate::ports::{Archive, PortError};

/// Where and how to write.
#[derive(Clone, PartialEq, Eq)]
pub enum InfluxConfig {
    /// The v1 `/write` API.
    V1 {
        /// Base URL, e.g. `http://127.0.0.1:8086`.
        url: String,
        /// Database (for 2.x/3.x: the bucket mapped to it).
        database: String,
        /// User, if authentication is on.
        username: Option<String>,
        /// Password (for 2.x/3.x v1 compatibility: a token).
        password: Option<String>,
    },
    /// The v2 `/api/v2/write` API.
    V2 {
        /// Base URL.
        url: String,
        /// Organisation.
        org: String,
        /// Bucket.
        bucket: String,
        /// API token.
        token: String,
    },
}

impl fmt::Debug for InfluxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        match self {
            InfluxConfig::V1 {
                url,
                database,
                username,
                password,
            } => f
                .debug_struct("V1")
                .field("url", url)
                .field("database", database)
                .field("username", username)
                .field("password", &redact(password))
                .finish(),
            InfluxConfig::V2 {
                url, org, bucket, ..
            } => f
                .debug_struct("V2")
                .field("url", url)
                .field("org", org)
                .field("bucket", bucket)
                .field("token", &"<redacted>")
                .finish(),
        }
    }
}

impl InfluxConfig {
    /// The base URL.
    pub fn url(&self) -> &str {
        match self {
            InfluxConfig::V1 { url, .. } | InfluxConfig::V2 { url, .. } => url,
        }
    }

    /// A short description for logs (no secrets): `influxdb v1 http://…/ db=ny_power`.
    pub fn describe(&self) -> String {
        match self {
            InfluxConfig::V1 { url, database, .. } => format!("influxdb v1 {url} db={database}"),
            InfluxConfig::V2 {
                url, org, bucket, ..
            } => format!("influxdb v2 {url} org={org} bucket={bucket}"),
        }
    }
}

/// Tuning of [`InfluxWriter`]. `Default` gives the production values.
#[derive(Debug, Clone)]
pub struct InfluxOptions {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Extra attempts after a transient failure.
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one (at most [`MAX_RETRY_WAIT`]).
    pub backoff: Duration,
    /// Most lines per request (InfluxDB recommends 5000).
    pub batch_lines: usize,
    /// With the v1 API, create the database when a write finds it missing (`INFLUX_CREATE_DATABASE`,
    /// default on; needs an admin user). Off: the write is retried until it exists.
    pub create_database: bool,
}

impl Default for InfluxOptions {
    fn default() -> Self {
        InfluxOptions {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retries: 3,
            backoff: Duration::from_millis(500),
            batch_lines: 5000,
            create_database: true,
        }
    }
}

/// Errors creating an [`InfluxWriter`].
#[derive(Debug, thiserror::Error)]
pub enum InfluxError {
    /// A bad `INFLUX_URL` (not an absolute http(s) URL), or no HTTP client.
    #[error(transparent)]
    Http(#[from] HttpSetupError),
    /// A required setting is empty.
    #[error("InfluxDB setting `{0}` is empty")]
    Missing(&'static str),
}

/// Writes points to InfluxDB (see the module docs).
#[derive(Clone)]
pub struct InfluxWriter {
    client: reqwest::Client,
    config: InfluxConfig,
    options: InfluxOptions,
    write_url: reqwest::Url,
}

impl fmt::Debug for InfluxWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InfluxWriter")
            .field("config", &self.config)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl InfluxWriter {
    /// A writer with the default options.
    ///
    /// # Errors
    /// [`InfluxError`] for a bad URL or an empty database/org/bucket/token.
    pub fn new(config: InfluxConfig) -> Result<Self, InfluxError> {
        Self::with_options(config, InfluxOptions::default())
    }

    /// A writer with the given options.
    ///
    /// # Errors
    /// [`InfluxError`] for a bad URL or an empty database/org/bucket/token.
    pub fn with_options(config: InfluxConfig, options: InfluxOptions) -> Result<Self, InfluxError> {
        let base = base_url("INFLUX_URL", config.url())?;
        let bad = || HttpSetupError::BadBaseUrl {
            setting: "INFLUX_URL",
            value: crate::quote::quote(config.url()),
        };
        let write_url = match &config {
            InfluxConfig::V1 { database, .. } => {
                if database.is_empty() {
                    return Err(InfluxError::Missing("INFLUX_DATABASE"));
                }
                reqwest::Url::parse_with_params(
                    &format!("{base}/write"),
                    &[("db", database.as_str()), ("precision", "s")],
                )
                .map_err(|_| bad())?
            }
            InfluxConfig::V2 {
                org, bucket, token, ..
            } => {
                for (name, value) in [
                    ("INFLUX_ORG", org),
                    ("INFLUX_BUCKET", bucket),
                    ("INFLUX_TOKEN", token),
                ] {
                    if value.is_empty() {
                        return Err(InfluxError::Missing(name));
                    }
                }
                reqwest::Url::parse_with_params(
                    &format!("{base}/api/v2/write"),
                    &[
                        ("org", org.as_str()),
                        ("bucket", bucket.as_str()),
                        ("precision", "s"),
                    ],
                )
                .map_err(|_| bad())?
            }
        };
        let client = client(&HttpClientOptions {
            timeout: options.timeout,
            connect_timeout: options.connect_timeout,
            user_agent: USER_AGENT.to_owned(),
        })?;
        Ok(InfluxWriter {
            client,
            config,
            options,
            write_url,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &InfluxConfig {
        &self.config
    }

    /// With the v1 API, creates the database if it does not exist (`CREATE DATABASE` is a
    /// no-op for an existing one). With v2 there is nothing to do: buckets are made by the
    /// operator.
    ///
    /// # Errors
    /// [`PortError`] when InfluxDB is unreachable or refuses (e.g. the user is not an admin).
    pub async fn ensure_database(&self) -> Result<(), PortError> {
        let InfluxConfig::V1 {
            url,
            database,
            username,
            password,
        } = &self.config
        else {
            return Ok(());
        };
        let context = format!("creating InfluxDB database {database}");
        let query = format!("CREATE DATABASE \"{}\"", database.replace('"', "\\\""));
        let mut request = self
            .client
            .post(format!("{}/query", url.trim_end_matches('/')))
            .form(&[("q", query.as_str())]);
        if let Some(user) = username {
            request = request.basic_auth(user, password.as_ref());
        }
        let response = request
            .send()
            .await
            .map_err(|e| PortError::transient(&context, describe_http_error(&e)))?;
        let status = response.status();
        let body = reply_text(response).await;
        if status.is_success() && !body.contains("\"error\"") {
            Ok(())
        } else {
            Err(classify(status, context, &body))
        }
    }

    async fn write_batch(&self, body: String, lines: usize) -> Result<(), PortError> {
        let context = format!("writing {lines} points to {}", self.config.describe());
        let mut backoff = Backoff::new(self.options.backoff, MAX_RETRY_WAIT);
        let mut tried_to_create = false;
        loop {
            let error = match self.post(body.clone(), &context).await {
                Ok(()) => return Ok(()),
                Err(refused) => {
                    if refused.missing_target && !tried_to_create && self.may_create_database() {
                        tried_to_create = true;
                        match self.ensure_database().await {
                            Ok(()) => {
                                tracing::info!(target = %self.config.describe(), "the InfluxDB database was missing: created it");
                                continue; // write again at once
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "the InfluxDB database is missing and could not be created");
                            }
                        }
                    }
                    refused.error
                }
            };
            if !error.is_retryable() || backoff.failures() >= self.options.retries {
                return Err(error);
            }
            let wait = backoff.next();
            tracing::warn!(error = %error, attempt = backoff.failures(), "InfluxDB write failed; retrying in {wait:?}");
            tokio::time::sleep(wait).await;
        }
    }

    fn may_create_database(&self) -> bool {
        self.options.create_database && matches!(self.config, InfluxConfig::V1 { .. })
    }

    async fn post(&self, body: String, context: &str) -> Result<(), Refused> {
        let mut request = self
            .client
            .post(self.write_url.clone())
            .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(body);
        match &self.config {
            InfluxConfig::V1 {
                username: Some(user),
                password,
                ..
            } => request = request.basic_auth(user, password.as_ref()),
            InfluxConfig::V1 { .. } => {}
            InfluxConfig::V2 { token, .. } => {
                request = request.header(reqwest::header::AUTHORIZATION, format!("Token {token}"));
            }
        }
        let response = request.send().await.map_err(|e| Refused {
            error: PortError::transient(context, describe_http_error(&e)),
            missing_target: false,
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = reply_text(response).await;
        Err(Refused {
            error: classify(status, context.to_owned(), &body),
            missing_target: status == StatusCode::NOT_FOUND,
        })
    }
}

/// The most of an InfluxDB reply body read (its error texts are a few hundred bytes).
const MAX_REPLY_BYTES: u64 = 64 << 10;

/// An InfluxDB reply body as text, at most [`MAX_REPLY_BYTES`] of it (a reply that cannot be
/// read counts as empty: the status alone then decides).
async fn reply_text(response: reqwest::Response) -> String {
    match read_capped(response, MAX_REPLY_BYTES).await {
        Ok((bytes, _)) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    }
}

/// A failed write request: the error, and whether InfluxDB said the database (v1) or bucket
/// (v2) does not exist.
struct Refused {
    error: PortError,
    missing_target: bool,
}

#[async_trait]
impl Archive for InfluxWriter {
    async fn write(&self, points: &[Point]) -> Result<(), PortError> {
        for chunk in points.chunks(self.options.batch_lines.max(1)) {
            self.write_batch(line_protocol(chunk), chunk.len()).await?;
        }
        Ok(())
    }
}

/// A non-success reply as a port error (see the module docs): only a refusal of the points
/// themselves (400, 413, 422) is permanent; everything else — 5xx, 408, 429, 401/403, 404 —
/// means the database is not writable yet and is transient. The reply's text is kept, at most
/// 500 characters, control characters escaped.
fn classify(status: StatusCode, context: String, body: &str) -> PortError {
    let text: String = body
        .trim()
        .chars()
        .take(500)
        .map(|c| {
            if c.is_control() {
                c.escape_default().collect()
            } else {
                c.to_string()
            }
        })
        .collect();
    let message = if text.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {text}")
    };
    let refuses_the_points = matches!(
        status,
        StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNPROCESSABLE_ENTITY
    );
    if refuses_the_points {
        PortError::permanent(context, message)
    } else {
        PortError::transient(context, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_of_debug() {
        let v1 = InfluxConfig::V1 {
            url: "http://127.0.0.1:8086".into(),
            database: "ny_power".into(),
            username: Some("writer".into()),
            password: Some("hunter2".into()),
        };
        let v2 = InfluxConfig::V2 {
            url: "http://127.0.0.1:8086".into(),
            org: "o".into(),
            bucket: "b".into(),
            token: "s3cr3t-token".into(),
        };
        for c in [v1, v2] {
            let w = InfluxWriter::new(c.clone()).unwrap();
            let shown = format!("{c:?} {w:?} {}", c.describe());
            assert!(
                !shown.contains("hunter2") && !shown.contains("s3cr3t"),
                "{shown}"
            );
            assert!(shown.contains("<redacted>"), "{shown}");
        }
    }

    #[test]
    fn urls_and_required_settings() {
        let w = InfluxWriter::new(InfluxConfig::V1 {
            url: "http://127.0.0.1:8086/".into(),
            database: "ny power".into(),
            username: None,
            password: None,
        })
        .unwrap();
        assert_eq!(
            w.write_url.as_str(),
            "http://127.0.0.1:8086/write?db=ny+power&precision=s"
        );
        let e = InfluxWriter::new(InfluxConfig::V2 {
            url: "http://x".into(),
            org: "o".into(),
            bucket: String::new(),
            token: "t".into(),
        })
        .unwrap_err();
        assert!(e.to_string().contains("INFLUX_BUCKET"), "{e}");
        assert!(InfluxWriter::new(InfluxConfig::V1 {
            url: "localhost:8086".into(),
            database: "d".into(),
            username: None,
            password: None,
        })
        .is_err());
    }

    #[test]
    fn a_bad_url_names_influx_url() {
        for url in ["localhost:8086", "ftp://db:8086", ""] {
            let e = InfluxWriter::new(InfluxConfig::V1 {
                url: url.into(),
                database: "d".into(),
                username: None,
                password: None,
            })
            .unwrap_err();
            assert!(
                e.to_string()
                    .starts_with(&format!("INFLUX_URL: `{url}` is not")),
                "{e}"
            );
        }
    }

    #[test]
    fn status_classes() {
        let c = || "ctx".to_owned();
        assert!(classify(StatusCode::SERVICE_UNAVAILABLE, c(), "").is_retryable());
        assert!(classify(StatusCode::TOO_MANY_REQUESTS, c(), "").is_retryable());
        let e = classify(
            StatusCode::BAD_REQUEST,
            c(),
            r#"{"error":"unable to parse 'x'"}"#,
        );
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("unable to parse"), "{e}");
        // The database is not writable yet: never a reason to drop points.
        for status in [
            StatusCode::UNAUTHORIZED,
            StatusCode::FORBIDDEN,
            StatusCode::NOT_FOUND,
        ] {
            assert!(classify(status, c(), "").is_retryable(), "{status}");
        }
        let e = classify(
            StatusCode::NOT_FOUND,
            c(),
            "{\"error\":\"database not found: \\\"x\\\"\"}\n\u{1b}[2J",
        );
        assert!(e.is_retryable());
        assert!(e.to_string().contains("database not found"), "{e}");
        assert!(
            !e.to_string().contains('\u{1b}'),
            "control characters escaped: {e}"
        );
        assert!(!classify(StatusCode::PAYLOAD_TOO_LARGE, c(), "").is_retryable());
    }
}
