//! Settings and plumbing shared by the service commands (`run`, `pump`, `co2`, `archive`):
//! the service settings group, health endpoints, logging, the clock, signals and the runtime.
//! Every setting is a flag and an environment variable of the same name (`--mqtt-url` /
//! `MQTT_URL`); the groups are in [`super::settings`].

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use ny_power::adapters::health::HealthServer;
use ny_power::services::{shutdown_channel, Clock, Common, FixedClock, Shutdown, SystemClock};
use ny_power::settings::{parse_now, LogFormat};

use super::settings::{LogArgs, MqttArgs, TopicArgs};

/// Settings of every service command.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    #[command(flatten)]
    pub mqtt: MqttArgs,
    #[command(flatten)]
    pub topics: TopicArgs,
    /// Serve `GET /healthz` and `GET /readyz` on this address (e.g. 0.0.0.0:8081).
    #[arg(long, env = "HEALTH_ADDR", value_name = "ADDR")]
    pub health_addr: Option<SocketAddr>,
    #[command(flatten)]
    pub log: LogArgs,
    /// Fix "now" (RFC 3339) for replays and deterministic tests.
    #[arg(long = "nypower-now", env = "NYPOWER_NOW", value_name = "TIME")]
    pub now: Option<String>,
}

impl ServiceArgs {
    /// The shared service settings.
    pub fn common(&self) -> anyhow::Result<Common> {
        Ok(Common {
            mqtt: self.mqtt.config()?,
            topics: self.topics.topics()?,
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
        Ok(self.log.format()?)
    }
}

/// The log filter when `RUST_LOG` is not set.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// The log filter of commands that run the embedded broker, when `RUST_LOG` is not set:
/// `info`, with the broker at `warn` (its router and listeners are silenced: they log every
/// client disconnect as an error).
pub const EMBEDDED_BROKER_LOG_FILTER: &str =
    "info,rumqttd=warn,rumqttd::router::routing=off,rumqttd::server::broker=off";

/// Installs the log subscriber (stderr; `RUST_LOG`, default `info`).
pub fn init_logging(format: LogFormat) {
    init_logging_with(format, DEFAULT_LOG_FILTER);
}

/// Installs the log subscriber (stderr; `RUST_LOG`, else `default_filter`).
pub fn init_logging_with(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let colour = colour_wanted(
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
        std::env::var_os("NO_COLOR"),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Whether text logs carry ANSI colour: only on a terminal, and never when `NO_COLOR` is set
/// to a non-empty value (<https://no-color.org>). Logs piped to a file or another program are
/// plain text.
pub fn colour_wanted(stderr_is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|value| value.is_empty())
}

/// A shutdown signal triggered by SIGINT or SIGTERM.
pub fn shutdown_on_signals() -> Shutdown {
    let (trigger, shutdown) = shutdown_channel();
    tokio::spawn(async move {
        stop_signal().await;
        tracing::info!("shutdown signal received; stopping");
        trigger.trigger();
        // A second signal exits at once.
        stop_signal().await;
        std::process::exit(130);
    });
    shutdown
}

/// Waits for SIGTERM or Ctrl-C (SIGINT).
pub async fn stop_signal() {
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
            let text = error_text(&e);
            if format == LogFormat::Json {
                tracing::error!("{text}");
            } else {
                eprintln!("error: {text}");
            }
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, `outer: cause: …`, each text once: a cause whose text
/// the line already holds (an error type that prints its source in its own message) is left
/// out, so nothing is said twice.
pub fn error_text(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::{colour_wanted, error_text};
    use std::ffi::OsString;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot listen on 127.0.0.1:8080: {source}")]
    struct Bind {
        source: std::io::Error,
    }

    #[test]
    fn each_cause_is_said_once() {
        let inner = std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address in use");
        let err = anyhow::Error::new(Bind { source: inner }).context("starting the demo");
        assert_eq!(
            format!("{err:#}"),
            "starting the demo: cannot listen on 127.0.0.1:8080: Address in use: Address in use"
        );
        assert_eq!(
            error_text(&err),
            "starting the demo: cannot listen on 127.0.0.1:8080: Address in use"
        );
        let chained = anyhow::anyhow!("no such file").context("reading factors.csv");
        assert_eq!(error_text(&chained), "reading factors.csv: no such file");
    }

    #[test]
    fn colour_only_on_a_terminal_and_never_with_no_color() {
        assert!(colour_wanted(true, None));
        assert!(colour_wanted(true, Some(OsString::new())));
        assert!(!colour_wanted(true, Some(OsString::from("1"))));
        assert!(!colour_wanted(false, None));
        assert!(!colour_wanted(false, Some(OsString::from("1"))));
    }
}
