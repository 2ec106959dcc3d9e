//! The long-running services — pump, CO2 calculator, archiver — as tasks over an MQTT broker
//! ([`crate::adapters::mqtt`]). The commands `ny-power pump|co2|archive|run` start them from
//! flags and environment variables; [`run_all`] runs them inside an existing tokio runtime
//! (the demo starts its embedded broker first and passes its own source and clock).
//!
//! Every service announces a retained `online` status on `{root}/status/{pump|co2|archive}`,
//! leaves `offline` as its last will, publishes `offline` when it stops cleanly, and stops on a
//! [`Shutdown`] signal.

pub mod archive;
pub mod co2;
pub mod pump;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::adapters::health::{HealthServer, Readiness};
use crate::adapters::mqtt::{ClientOptions, MqttClient, MqttError};
use crate::adapters::mqtt_config::MqttConfig;
use crate::ports::{PortError, Source};
use crate::stream::Topics;

pub use crate::ports::{ArchiveSink, Clock, SystemClock};
pub use archive::{ArchiveSettings, BufferedSink, PlainSink};
pub use co2::Co2Settings;
pub use pump::PumpSettings;

/// Errors that stop a service.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The broker refused us or could not be reached at start.
    #[error("{service}: {source}")]
    Mqtt {
        /// `pump`, `co2` or `archive`.
        service: &'static str,
        /// The MQTT error.
        source: MqttError,
    },
    /// A port failed in a way retrying cannot fix.
    #[error("{service}: {source}")]
    Port {
        /// The service.
        service: &'static str,
        /// The error.
        source: PortError,
    },
    /// A service task ended abnormally.
    #[error("{service}: task failed: {message}")]
    Task {
        /// The service.
        service: &'static str,
        /// What happened.
        message: String,
    },
}

/// A fixed clock (`NYPOWER_NOW`): replays and deterministic tests.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// The receiving side of a shutdown signal. Cheap to clone; dropping the
/// [`ShutdownTrigger`] counts as a shutdown too.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// Waits until `client` is connected to the broker, however long that takes: `Ok(true)`, or
/// `Ok(false)` when shutdown came first.
///
/// # Errors
/// [`ServiceError::Mqtt`] naming `service` when the broker refused the client.
pub(crate) async fn wait_connected_or_stopped(
    client: &crate::adapters::mqtt::MqttClient,
    service: &'static str,
    shutdown: &mut Shutdown,
) -> Result<bool, ServiceError> {
    let connected = tokio::select! {
        r = client.wait_until_connected() => r,
        _ = shutdown.wait() => return Ok(false),
    };
    connected.map_err(|source| ServiceError::Mqtt { service, source })?;
    Ok(true)
}

/// The sending side of a shutdown signal.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// A new shutdown signal.
pub fn shutdown_channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    /// Signals shutdown to every [`Shutdown`] of this channel.
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }

    /// Another receiver.
    pub fn subscribe(&self) -> Shutdown {
        Shutdown(self.0.subscribe())
    }
}

impl Shutdown {
    /// Whether shutdown was signalled.
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }

    /// Waits until shutdown is signalled.
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|s| *s).await;
    }

    /// Sleeps for `duration`; returns `false` when shutdown was signalled first.
    pub async fn sleep(&mut self, duration: std::time::Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(duration) => !self.is_triggered(),
            _ = self.wait() => false,
        }
    }
}

/// Settings every service shares.
#[derive(Debug, Clone)]
pub struct Common {
    /// Broker and credentials.
    pub mqtt: MqttConfig,
    /// The topic tree (`TOPIC_ROOT`).
    pub topics: Topics,
}

impl Common {
    /// The MQTT client options of `service` (`pump`, `co2`, `archive`): a stable client id
    /// per topic root, and the service's retained status with its last will.
    pub fn client_options(&self, service: &'static str) -> ClientOptions {
        let id = format!("{}-{service}", self.topics.root().replace('/', "-"));
        let mut opts = ClientOptions::new(self.mqtt.clone(), id);
        opts.status_topic = Some(self.topics.service_status(service));
        opts
    }
}

/// What [`run_all`] runs: each service is on when its settings are given.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Shared settings.
    pub common: Common,
    /// The pump.
    pub pump: Option<PumpSettings>,
    /// The calculator.
    pub co2: Option<Co2Settings>,
    /// The archiver.
    pub archive: Option<ArchiveSettings>,
}

/// The pieces [`run_all`] does not build itself, so an embedder can substitute them.
pub struct Parts {
    /// Where readings come from (NYISO over HTTP, a replay, a folder).
    pub source: Arc<dyn Source>,
    /// What time it is (the pump's "today"; the calculator's day of the load forecast).
    pub clock: Arc<dyn Clock>,
    /// Where the archiver writes (none: the archiver is not run).
    pub sinks: Vec<Arc<dyn ArchiveSink>>,
}

/// The services in the order they stop.
const STAGES: [&str; 3] = ["pump", "co2", "archive"];

/// Runs the configured services in the current tokio runtime until `shutdown` (or until one of
/// them fails; the others are then stopped too). Each service has its own MQTT connection.
/// When `health` is given, `/readyz` follows the connections. On `shutdown` they stop in
/// stages — the pump, then the calculator (which first handles the readings the pump
/// published), then the archiver — so a stop loses no reading's results.
///
/// # Errors
/// The first [`ServiceError`] of a service that stopped on its own.
pub async fn run_all(
    config: RunConfig,
    parts: Parts,
    shutdown: Shutdown,
    health: Option<&HealthServer>,
) -> Result<(), ServiceError> {
    // Stopped in stages on `shutdown`: the pump first, the calculator once the pump has
    // ended (it first handles what the pump published, up to the cursor), the archiver last.
    let stages: Vec<(ShutdownTrigger, Shutdown)> =
        (0..STAGES.len()).map(|_| shutdown_channel()).collect();
    let stop_rx = |service: &str| {
        let i = STAGES.iter().position(|s| *s == service).unwrap_or(0);
        stages[i].1.clone()
    };
    let mut running = [false; STAGES.len()];
    let mut readiness = Readiness::default();
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(settings) = config.pump.clone() {
        let client = MqttClient::start(config.common.client_options("pump"));
        readiness.push(client.connection());
        let (common, source, clock, stop) = (
            config.common.clone(),
            parts.source.clone(),
            parts.clock.clone(),
            stop_rx("pump"),
        );
        running[0] = true;
        tasks.spawn(async move {
            (
                "pump",
                pump::run(&client, &common, &settings, source, clock, stop).await,
            )
        });
    }
    if let Some(settings) = config.co2.clone() {
        let client = MqttClient::start(co2::client_options(&config.common));
        readiness.push(client.connection());
        let (common, clock, stop) = (config.common.clone(), parts.clock.clone(), stop_rx("co2"));
        running[1] = true;
        tasks.spawn(async move {
            (
                "co2",
                co2::run(&client, &common, &settings, clock, stop).await,
            )
        });
    }
    if let Some(settings) = config.archive.clone() {
        if parts.sinks.is_empty() {
            tracing::warn!("archiver not started: no archive configured");
        } else {
            let client = MqttClient::start(archive::client_options(&config.common));
            readiness.push(client.connection());
            let (common, sinks, stop) = (
                config.common.clone(),
                parts.sinks.clone(),
                stop_rx("archive"),
            );
            running[2] = true;
            tasks.spawn(async move {
                (
                    "archive",
                    archive::run(&client, &common, &settings, sinks, stop).await,
                )
            });
        }
    }
    if let Some(health) = health {
        health.set_readiness(readiness);
    }
    let stop_all = || stages.iter().for_each(|(t, _)| t.trigger());
    // Triggers every stage whose earlier stages have all ended.
    let advance = |running: &[bool]| {
        for (i, (trigger, _)) in stages.iter().enumerate() {
            trigger.trigger();
            if running[i] {
                break;
            }
        }
    };
    let mut shutdown = shutdown;
    let mut stopping = false;
    let mut first_error = None;
    loop {
        let joined = tokio::select! {
            joined = tasks.join_next() => joined,
            _ = shutdown.wait(), if !stopping => {
                stopping = true;
                advance(&running);
                continue;
            }
        };
        let Some(joined) = joined else { break };
        let (service, result) = match joined {
            Ok(done) => done,
            Err(e) => (
                "service",
                Err(ServiceError::Task {
                    service: "service",
                    message: e.to_string(),
                }),
            ),
        };
        let known = STAGES.iter().position(|s| *s == service);
        if let Some(i) = known {
            running[i] = false;
        }
        if let Err(e) = result {
            // The first failure is returned (and printed once by the caller); later ones,
            // which nobody returns, are logged here.
            if first_error.is_none() {
                first_error = Some(e);
            } else {
                tracing::error!(service, error = %e, "service stopped");
            }
            stop_all();
        } else if !stopping || known.is_none() {
            stop_all();
        } else {
            advance(&running);
        }
    }
    first_error.map_or(Ok(()), Err)
}
