//! `ny-power archive`: stores the stream in InfluxDB and/or SQLite (one service, for
//! Kubernetes). InfluxDB sits behind an on-disk backlog in `DATA_DIR`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use ny_power::adapters::backlog::{BacklogOptions, BufferedArchive};
use ny_power::adapters::health::Readiness;
use ny_power::adapters::mqtt::MqttClient;
use ny_power::adapters::sqlite::SqliteArchive;
use ny_power::services::{archive, ArchiveSettings, ArchiveSink, BufferedSink, PlainSink};

use super::archive_args::ArchiveArgs;
use super::common::{run_service, shutdown_on_signals, start_health, ServiceArgs};
use super::settings::DataDirArgs;

/// Arguments of `archive`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub archive: ArchiveArgs,
    #[command(flatten)]
    pub data: DataDirArgs,
}

/// The archive sinks configured by `SQLITE_PATH` and `INFLUX_*` (InfluxDB behind a backlog
/// in `data_dir` when given).
pub async fn build_sinks(
    args: &ArchiveArgs,
    data_dir: Option<&Path>,
) -> anyhow::Result<Vec<Arc<dyn ArchiveSink>>> {
    let mut sinks: Vec<Arc<dyn ArchiveSink>> = Vec::new();
    if let Some(path) = &args.sqlite_path {
        let db = SqliteArchive::open(path).context("SQLITE_PATH")?;
        sinks.push(Arc::new(PlainSink::new(
            format!("sqlite {}", path.display()),
            db,
        )));
    }
    if let Some(writer) = args.influx_writer().await? {
        let name = writer.config().describe();
        match data_dir {
            Some(dir) => {
                let buffered = BufferedArchive::open(dir, writer, BacklogOptions::default())
                    .context("DATA_DIR")?;
                sinks.push(Arc::new(BufferedSink::new(name, buffered)));
            }
            None => {
                tracing::warn!("DATA_DIR is not set: no on-disk backlog; while InfluxDB is down, unacknowledged messages wait in the broker's session");
                sinks.push(Arc::new(PlainSink::new(name, writer)));
            }
        }
    }
    Ok(sinks)
}

/// Runs `archive` until SIGINT/SIGTERM.
pub fn run(args: Args) -> ExitCode {
    run_service(&args.service.log.log_format.clone(), || async move {
        args.service.log_format()?;
        let common = args.service.common()?;
        if !args.archive.is_configured() {
            anyhow::bail!("nothing to archive to: set INFLUX_URL (with INFLUX_DATABASE, or INFLUX_ORG + INFLUX_BUCKET + INFLUX_TOKEN) and/or SQLITE_PATH");
        }
        let sinks = build_sinks(&args.archive, args.data.data_dir.as_deref()).await?;
        let health = start_health(args.service.health_addr).await?;
        let shutdown = shutdown_on_signals();
        let client = MqttClient::start(archive::client_options(&common));
        if let Some(h) = &health {
            h.set_readiness(Readiness::new(vec![client.connection()]));
        }
        let names: Vec<&str> = sinks.iter().map(|s| s.name()).collect();
        tracing::info!(broker = %common.mqtt.url, archives = ?names, "starting the archiver");
        archive::run(
            &client,
            &common,
            &ArchiveSettings::default(),
            sinks,
            shutdown,
        )
        .await?;
        Ok(())
    })
}
