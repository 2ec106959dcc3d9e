//! Archive settings shared by the commands that store points (`backfill`, `archive`, `run`):
//! an SQLite file and/or InfluxDB (v1 API with a database, or v2 API with org + bucket +
//! token). Every setting is a flag and an environment variable of the same name.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use ny_power::adapters::influx::{InfluxConfig, InfluxOptions, InfluxWriter};
use ny_power::adapters::sqlite::SqliteArchive;
use ny_power::ports::Archive;

/// Where points are archived.
#[derive(Clone, clap::Args)]
pub struct ArchiveArgs {
    /// SQLite archive file (created if missing).
    #[arg(long, env = "SQLITE_PATH", value_name = "PATH")]
    pub sqlite_path: Option<PathBuf>,
    /// InfluxDB base URL, e.g. http://127.0.0.1:8086.
    #[arg(long, env = "INFLUX_URL", value_name = "URL")]
    pub influx_url: Option<String>,
    /// InfluxDB database (v1 `/write` API; also the v1-compatible endpoint of 2.x/3.x).
    #[arg(long, env = "INFLUX_DATABASE", value_name = "NAME")]
    pub influx_database: Option<String>,
    /// InfluxDB organisation (v2 `/api/v2/write` API, with INFLUX_BUCKET and INFLUX_TOKEN).
    #[arg(long, env = "INFLUX_ORG", value_name = "ORG")]
    pub influx_org: Option<String>,
    /// InfluxDB bucket (v2 API).
    #[arg(long, env = "INFLUX_BUCKET", value_name = "BUCKET")]
    pub influx_bucket: Option<String>,
    /// InfluxDB API token (v2 API; prefer INFLUX_TOKEN_FILE).
    #[arg(
        long,
        env = "INFLUX_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub influx_token: Option<String>,
    /// File holding the InfluxDB API token (e.g. a mounted Secret).
    #[arg(long, env = "INFLUX_TOKEN_FILE", value_name = "PATH")]
    pub influx_token_file: Option<PathBuf>,
    /// InfluxDB user (v1 API).
    #[arg(long, env = "INFLUX_USERNAME", value_name = "USER")]
    pub influx_username: Option<String>,
    /// InfluxDB password (v1 API; prefer INFLUX_PASSWORD_FILE).
    #[arg(
        long,
        env = "INFLUX_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub influx_password: Option<String>,
    /// File holding the InfluxDB password.
    #[arg(long, env = "INFLUX_PASSWORD_FILE", value_name = "PATH")]
    pub influx_password_file: Option<PathBuf>,
    /// Create the InfluxDB database (v1 API) at start and whenever a write finds it missing
    /// (needs an admin user). `false`: writes wait, retried, until an operator creates it.
    #[arg(
        long,
        env = "INFLUX_CREATE_DATABASE",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_name = "BOOL"
    )]
    pub influx_create_database: bool,
}

impl fmt::Debug for ArchiveArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("ArchiveArgs")
            .field("sqlite_path", &self.sqlite_path)
            .field("influx_url", &self.influx_url)
            .field("influx_database", &self.influx_database)
            .field("influx_org", &self.influx_org)
            .field("influx_bucket", &self.influx_bucket)
            .field("influx_token", &redact(&self.influx_token))
            .field("influx_token_file", &self.influx_token_file)
            .field("influx_username", &self.influx_username)
            .field("influx_password", &redact(&self.influx_password))
            .field("influx_password_file", &self.influx_password_file)
            .field("influx_create_database", &self.influx_create_database)
            .finish()
    }
}

/// One configured archive, with a description for logs (no secrets).
pub struct NamedArchive {
    /// E.g. `sqlite /data/ny-power.sqlite` or `influxdb v1 http://… db=ny_power`.
    pub name: String,
    /// The archive.
    pub archive: Box<dyn Archive>,
}

impl ArchiveArgs {
    /// Whether any archive is configured.
    pub fn is_configured(&self) -> bool {
        self.sqlite_path.is_some() || self.influx_url.is_some()
    }

    /// The InfluxDB settings, if `INFLUX_URL` is set: v2 when `INFLUX_ORG` or `INFLUX_BUCKET`
    /// is set, v1 otherwise.
    ///
    /// # Errors
    /// A missing companion setting, both `X` and `X_FILE` given, or an unreadable secret file.
    pub fn influx_config(&self) -> anyhow::Result<Option<InfluxConfig>> {
        let Some(url) = self.influx_url.clone() else {
            for (name, set) in [
                ("INFLUX_DATABASE", self.influx_database.is_some()),
                ("INFLUX_ORG", self.influx_org.is_some()),
                ("INFLUX_BUCKET", self.influx_bucket.is_some()),
            ] {
                if set {
                    anyhow::bail!("{name} is set but INFLUX_URL is not");
                }
            }
            return Ok(None);
        };
        if self.influx_org.is_some() || self.influx_bucket.is_some() {
            let org = self
                .influx_org
                .clone()
                .context("INFLUX_ORG is required with INFLUX_BUCKET (v2 API)")?;
            let bucket = self
                .influx_bucket
                .clone()
                .context("INFLUX_BUCKET is required with INFLUX_ORG (v2 API)")?;
            let token = secret(
                "INFLUX_TOKEN",
                self.influx_token.as_deref(),
                self.influx_token_file.as_deref(),
            )?
            .context("INFLUX_TOKEN or INFLUX_TOKEN_FILE is required for the v2 API")?;
            return Ok(Some(InfluxConfig::V2 {
                url,
                org,
                bucket,
                token,
            }));
        }
        let database = self.influx_database.clone().context(
            "INFLUX_URL needs INFLUX_DATABASE (v1 API) or INFLUX_ORG + INFLUX_BUCKET + INFLUX_TOKEN (v2 API)",
        )?;
        let password = secret(
            "INFLUX_PASSWORD",
            self.influx_password.as_deref(),
            self.influx_password_file.as_deref(),
        )?;
        if password.is_some() && self.influx_username.is_none() {
            anyhow::bail!("INFLUX_PASSWORD is set but INFLUX_USERNAME is not");
        }
        Ok(Some(InfluxConfig::V1 {
            url,
            database,
            username: self.influx_username.clone(),
            password,
        }))
    }

    /// The InfluxDB writer, if `INFLUX_URL` is set. With the v1 API and
    /// `INFLUX_CREATE_DATABASE` on, the database is created now if missing; a failure (InfluxDB
    /// down, a non-admin user) is only logged: the writer creates it on the first write that
    /// finds it missing, and until then writes are retried, never dropped.
    ///
    /// # Errors
    /// Bad or incomplete settings.
    pub async fn influx_writer(&self) -> anyhow::Result<Option<InfluxWriter>> {
        let Some(config) = self.influx_config()? else {
            return Ok(None);
        };
        let options = InfluxOptions {
            create_database: self.influx_create_database,
            ..InfluxOptions::default()
        };
        let writer = InfluxWriter::with_options(config, options)?;
        if self.influx_create_database {
            if let Err(e) = writer.ensure_database().await {
                tracing::warn!(error = %e, "could not create the InfluxDB database now; it is created when a write finds it missing, and points wait until then");
            }
        }
        Ok(Some(writer))
    }

    /// Opens the configured archives (SQLite first), InfluxDB as [`ArchiveArgs::influx_writer`].
    ///
    /// # Errors
    /// Bad or incomplete settings, or an SQLite file that cannot be opened.
    pub async fn build(&self) -> anyhow::Result<Vec<NamedArchive>> {
        let mut out = Vec::new();
        if let Some(path) = &self.sqlite_path {
            let db = SqliteArchive::open(path).context("SQLITE_PATH")?;
            out.push(NamedArchive {
                name: format!("sqlite {}", path.display()),
                archive: Box::new(db),
            });
        }
        if let Some(writer) = self.influx_writer().await? {
            out.push(NamedArchive {
                name: writer.config().describe(),
                archive: Box::new(writer),
            });
        }
        Ok(out)
    }
}

/// A secret from its value or its file (trailing newline trimmed); not both.
fn secret(name: &str, value: Option<&str>, file: Option<&Path>) -> anyhow::Result<Option<String>> {
    match (value, file) {
        (Some(_), Some(_)) => anyhow::bail!("set {name} or {name}_FILE, not both"),
        (Some(v), None) => Ok(Some(v.to_owned())),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{name}_FILE: cannot read {}", path.display()))?;
            let text = text.trim_end_matches(['\r', '\n']).to_owned();
            if text.is_empty() {
                anyhow::bail!("{name}_FILE: {} is empty", path.display());
            }
            Ok(Some(text))
        }
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        archive: ArchiveArgs,
    }

    fn parse(args: &[&str]) -> ArchiveArgs {
        let mut all = vec!["x"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap().archive
    }

    #[test]
    fn v1_v2_and_missing_settings() {
        let a = parse(&[
            "--influx-url",
            "http://127.0.0.1:8086",
            "--influx-database",
            "d",
        ]);
        assert!(matches!(
            a.influx_config().unwrap(),
            Some(InfluxConfig::V1 { .. })
        ));
        let a = parse(&[
            "--influx-url=http://h",
            "--influx-org=o",
            "--influx-bucket=b",
            "--influx-token=secret-token",
        ]);
        assert!(matches!(
            a.influx_config().unwrap(),
            Some(InfluxConfig::V2 { .. })
        ));
        assert!(!format!("{a:?}").contains("secret-token"));
        let a = parse(&[
            "--influx-url=http://h",
            "--influx-org=o",
            "--influx-bucket=b",
        ]);
        assert!(a
            .influx_config()
            .unwrap_err()
            .to_string()
            .contains("INFLUX_TOKEN"));
        let a = parse(&["--influx-url=http://h"]);
        assert!(a
            .influx_config()
            .unwrap_err()
            .to_string()
            .contains("INFLUX_DATABASE"));
        let a = parse(&["--influx-database=d"]);
        assert!(a.influx_config().is_err());
        assert!(parse(&[]).influx_config().unwrap().is_none());
    }

    #[test]
    fn secrets_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "hunter2\n").unwrap();
        let a = parse(&[
            "--influx-url=http://h",
            "--influx-database=d",
            "--influx-username=u",
            "--influx-password-file",
            f.to_str().unwrap(),
        ]);
        match a.influx_config().unwrap() {
            Some(InfluxConfig::V1 { password, .. }) => {
                assert_eq!(password.as_deref(), Some("hunter2"))
            }
            other => panic!("{other:?}"),
        }
    }
}
