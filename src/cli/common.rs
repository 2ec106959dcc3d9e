//! Settings and plumbing shared by the service commands (`run`, `pump`, `co2`, `archive`):
//! broker flags, topic root, health endpoints, logging, the clock, signals and the runtime.
//! Every setting is a flag and an environment variable of the same name (`--mqtt-url` /
//! `MQTT_URL`).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use ny_power::adapters::health::HealthServer;
use ny_power::config::{parse_now, LogFormat, MqttConfig};
use ny_power::services::{shutdown_channel, Clock, Common, FixedClock, Shutdown, SystemClock};
use ny_power::stream::{Topics, DEFAULT_ROOT};

/// Broker settings.
#[derive(Debug, Clone, clap::Args)]
pub struct MqttArgs {
    /// The broker: `mqtt://host:port` or `ws://host:port/path`.
    #[arg(long, env = "MQTT_URL", value_name = "URL")]
    pub mqtt_url: Option<String>,
    /// User name for the broker.
    #[arg(long, env = "MQTT_USERNAME", value_name = "USER")]
    pub mqtt_username: Option<String>,
    /// Password for the broker (prefer MQTT_PASSWORD_FILE).
    #[arg(
        long,
        env = "MQTT_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub mqtt_password: Option<String>,
    /// File holding the broker password (e.g. a mounted Secret).
    #[arg(long, env = "MQTT_PASSWORD_FILE", value_name = "PATH")]
    pub mqtt_password_file: Option<PathBuf>,
}

impl MqttArgs {
    /// The typed broker settings.
    pub fn config(&self) -> anyhow::Result<MqttConfig> {
        Ok(MqttConfig::from_parts(
            self.mqtt_url.as_deref(),
            self.mqtt_username.as_deref(),
            self.mqtt_password.as_deref(),
            self.mqtt_password_file.as_deref(),
        )?)
    }
}

/// Settings of every service command.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    #[command(flatten)]
    pub mqtt: MqttArgs,
    /// Root of the topic tree.
    #[arg(long, env = "TOPIC_ROOT", value_name = "ROOT", default_value = DEFAULT_ROOT)]
    pub topic_root: String,
    /// Serve `GET /healthz` and `GET /readyz` on this address (e.g. 0.0.0.0:8081).
    #[arg(long, env = "HEALTH_ADDR", value_name = "ADDR")]
    pub health_addr: Option<SocketAddr>,
    /// Log format: `text` or `json` (levels from RUST_LOG, default `info`).
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_name = "FORMAT",
        default_value = "text"
    )]
    pub log_format: String,
    /// Fix "now" (RFC 3339) for replays and deterministic tests.
    #[arg(long = "nypower-now", env = "NYPOWER_NOW", value_name = "TIME")]
    pub now: Option<String>,
}

impl ServiceArgs {
    /// The shared service settings.
    pub fn common(&self) -> anyhow::Result<Common> {
        let root = self.topic_root.trim();
        if root.is_empty() || root.contains(['#', '+']) {
            anyhow::bail!("TOPIC_ROOT: `{root}` must be a non-empty topic without wildcards");
        }
        Ok(Common {
            mqtt: self.mqtt.config()?,
            topics: Topics::new(root),
        })
    }

    /// The clock: fixed when `NYPOWER_NOW` is set, the system clock otherwise.
    pub fn clock(&self) -> anyhow::Result<Arc<dyn Clock>> {
        Ok(match &self.now {
            Some(now) => Arc::new(FixedClock(parse_now(now)?)),
            None => Arc::new(SystemClock),
        })
    }

    /// The log format.
    pub fn log_format(&self) -> anyhow::Result<LogFormat> {
        Ok(self.log_format.parse()?)
    }
}

/// Installs the log subscriber (stderr; `RUST_LOG`, default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// A shutdown signal triggered by SIGINT or SIGTERM.
pub fn shutdown_on_signals() -> Shutdown {
    let (trigger, shutdown) = shutdown_channel();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received; stopping");
        trigger.trigger();
        // A second signal exits at once.
        wait_for_signal().await;
        std::process::exit(130);
    });
    shutdown
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Starts the health endpoints when `HEALTH_ADDR` is set.
pub async fn start_health(addr: Option<SocketAddr>) -> anyhow::Result<Option<HealthServer>> {
    match addr {
        Some(addr) => Ok(Some(HealthServer::start(addr).await?)),
        None => Ok(None),
    }
}

/// Runs a service command: logging first (so configuration errors are logged in the chosen
/// format), then the async body on a multi-threaded runtime; an error is printed with its
/// causes and the command fails.
pub fn run_service<F, Fut>(log_format: &str, body: F) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let format = log_format.parse::<LogFormat>().unwrap_or_default();
    init_logging(format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime");
    let result = runtime.and_then(|rt| rt.block_on(body()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if format == LogFormat::Json {
                tracing::error!("{e:#}");
            } else {
                eprintln!("error: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}
