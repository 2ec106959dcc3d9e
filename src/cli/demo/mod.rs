//! `ny-power demo`: the whole pipeline in one process — an embedded MQTT broker (TCP +
//! WebSocket, loopback only), the pump, the CO2 calculator, the archiver (SQLite) and the
//! dashboard's HTTP server. Live NYISO data when reachable, otherwise (or with `--replay`) the
//! bundled days at an accelerated pace. See `docs/demo.md`.
//!
//! Resume: the embedded broker keeps nothing on disk, so the demo keeps the contract's retained
//! messages (cursor, latest reading, intensities, 24 h history, forecast and the forecaster's
//! state) in `{data-dir}/{live|replay}/retained.json` and publishes them back into the broker
//! before the services start. The pump then resumes from the cursor exactly as it does against Mosquitto,
//! and the calculator restores its history and forecaster. The saved file is validated on
//! restore (`ny_power::adapters::broker::load_snapshot`: size cap, format version, each
//! message's payload type, nothing dated in the future); a bad file is moved aside with a
//! warning and the demo starts clean — it never refuses to start because of it.
//!
//! The broker's WebSocket listener refuses (403) a browser whose page is not on a loopback
//! origin or one given with `--allowed-origin` / `ALLOWED_ORIGINS`. `--ha-discovery` (or
//! `HA_DISCOVERY=true`) publishes Home Assistant discovery configs, as the `co2` service does.
//!
//! This file is the wiring; the jobs are in [`snapshot`] (the resume state, through the MQTT
//! adapter), [`watch`] (the demo's own subscriber), [`source`] (the gated source) and
//! [`web_assets`] (building the dashboard with npm).

mod snapshot;
mod source;
mod watch;
mod web_assets;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::Utc;
use tokio::sync::watch as channel;

use ny_power::adapters::broker::{load_snapshot, EmbeddedBroker, OriginPolicy};
use ny_power::adapters::mqtt::{ClientOptions, MqttClient};
use ny_power::adapters::mqtt_config::{BrokerUrl, MqttConfig};
use ny_power::adapters::nyiso::{HttpOptions, HttpSource};
use ny_power::adapters::sqlite::SqliteArchive;
use ny_power::adapters::web::{WebConfig, WebError, WebServer};
use ny_power::nyiso::{daily_url, today_in_new_york, Dataset};
use ny_power::ports::Source;
use ny_power::ports::{Clock, SystemClock};
use ny_power::replay::{ReplayClock, ReplaySource};
use ny_power::services::{
    run_all, shutdown_channel, ArchiveSettings, ArchiveSink, Co2Settings, Common, Parts, PlainSink,
    PumpSettings, RunConfig,
};
use ny_power::settings::parse_broker_max_connections;
use ny_power::settings::LogFormat;
use ny_power::stream::Topics;

use super::common::{error_text, init_logging_with, stop_signal, EMBEDDED_BROKER_LOG_FILTER};
use super::settings::{HaArgs, NyisoArgs};
use snapshot::{restore_snapshot, save_final_snapshot};
use source::GatedSource;
use watch::{drain, watch_stream, Progress, StreamWatch};
use web_assets::ensure_web_assets;

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Replay the bundled NYISO days even if live data is reachable.
    #[arg(long)]
    replay: bool,
    /// Replay pace: demo minutes per wall-clock minute (60: a 5-minute reading every 5 s).
    #[arg(long, default_value_t = 60.0, value_name = "N")]
    speed: f64,
    /// How many hours of the replay are published at once on a first run (the history the
    /// chart, forecast, band and advice start from; 192: eight days, past the band's week).
    #[arg(long, default_value_t = 192.0, value_name = "HOURS")]
    replay_backfill_hours: f64,
    /// Dashboard HTTP port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 8080, value_name = "PORT")]
    http_port: u16,
    /// Embedded broker's MQTT TCP port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 1883, value_name = "PORT")]
    mqtt_port: u16,
    /// Embedded broker's MQTT-over-WebSocket port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 9001, value_name = "PORT")]
    ws_port: u16,
    /// Where the demo keeps its archive and resume state.
    #[arg(long, default_value = ".demo-data", value_name = "DIR")]
    data_dir: PathBuf,
    /// The built dashboard. When `index.html` is missing there and the directory is
    /// `…/dist` beside a `package.json`, it is built with `npm ci && npm run build`.
    #[arg(long, default_value = "web/dist", value_name = "DIR")]
    web_dir: PathBuf,
    #[command(flatten)]
    nyiso: NyisoArgs,
    /// A web origin (`http://host:port`) whose pages may connect to the broker's WebSocket,
    /// besides loopback ones (127.0.0.1, localhost, [::1]); repeat, or comma-separate in
    /// ALLOWED_ORIGINS. Other pages get 403.
    #[arg(
        long = "allowed-origin",
        env = "ALLOWED_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    allowed_origins: Vec<String>,
    /// Connections the embedded broker holds; WebSocket viewers get all but 16, kept for the
    /// demo's own services (a viewer past the cap gets 503).
    #[arg(
        long,
        env = "BROKER_MAX_CONNECTIONS",
        default_value = "1000",
        value_name = "N"
    )]
    broker_max_connections: String,
    #[command(flatten)]
    ha: HaArgs,
}

/// Runs `demo`.
pub fn run(args: Args) -> ExitCode {
    init_logging_with(LogFormat::Text, EMBEDDED_BROKER_LOG_FILTER);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(demo(args));
    runtime.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// Live NYISO data or a replay.
enum Mode {
    Live,
    Replay,
}

impl Mode {
    fn name(&self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Replay => "replay",
        }
    }
}

async fn demo(args: Args) -> anyhow::Result<()> {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        bail!("--speed {}: must be a number greater than 0", args.speed);
    }
    if !(args.replay_backfill_hours.is_finite() && args.replay_backfill_hours >= 0.0) {
        bail!(
            "--replay-backfill-hours {}: must be a number of hours, 0 or more",
            args.replay_backfill_hours
        );
    }
    let origins = OriginPolicy::with_origins(&args.allowed_origins)?;
    let max_connections = parse_broker_max_connections(&args.broker_max_connections)?;
    ensure_web_assets(&args.web_dir)?;
    let mode = choose_mode(&args).await;
    let state_dir = args.data_dir.join(mode.name());
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("creating the data directory {}", state_dir.display()))?;
    let snapshot_path = state_dir.join("retained.json");
    let topics = Topics::default();
    let snapshot = load_snapshot(&snapshot_path, &topics, Utc::now());

    let broker =
        EmbeddedBroker::start_with_limit(args.mqtt_port, args.ws_port, origins, max_connections)
            .await?;
    let (trigger, shutdown) = shutdown_channel();

    let mut web_config = WebConfig::new(broker.ws_url());
    web_config.mode = mode.name().to_owned();
    if matches!(mode, Mode::Replay) {
        // Replayed readings are from the bundled days, not from the last 15 minutes; the
        // page's wall-clock staleness warning means nothing here.
        web_config.stale_after_minutes = 100 * 365 * 24 * 60;
    }
    let web = {
        let mut stop = shutdown.clone();
        WebServer::start(
            (Ipv4Addr::LOCALHOST, args.http_port).into(),
            &args.web_dir,
            web_config,
            async move { stop.wait().await },
        )
        .await
        .map_err(|e| match e {
            WebError::Bind { .. } => {
                anyhow::anyhow!(
                    "{e} (choose another port with --http-port, or 0 for any free port)"
                )
            }
            other => other.into(),
        })?
    };
    let dashboard = format!("http://{}", web.addr());

    // The demo's own client: restores the retained state, watches the stream.
    let mqtt = MqttConfig::anonymous(BrokerUrl::Tcp {
        host: broker.tcp_addr().ip().to_string(),
        port: broker.tcp_addr().port(),
    });
    let mut monitor_opts = ClientOptions::new(mqtt.clone(), "ny-power-demo");
    monitor_opts.subscriptions = vec![topics.all()];
    let monitor = MqttClient::connect(monitor_opts)
        .await
        .context("connecting to the embedded broker")?;
    let cursor = restore_snapshot(&monitor, &topics, &snapshot).await?;

    // On a first replay run, the backfill's newest reading: READY waits until the calculator
    // has published its charge windows (so the page opens on the answer, not on the first of
    // thousands of readings).
    let mut ready_after = None;
    let (source, clock): (Arc<dyn Source>, Arc<dyn Clock>) = match mode {
        Mode::Live => {
            let options = HttpOptions {
                initial_lookback_days: 1,
                ..HttpOptions::default()
            };
            (
                Arc::new(HttpSource::new(&args.nyiso.nyiso_base_url, options)?),
                Arc::new(SystemClock),
            )
        }
        Mode::Replay => {
            let replay = ReplaySource::bundled_month()?;
            let start = match cursor {
                // Resume: the next reading after the cursor is due at once.
                Some(c) => replay.next_after(Some(c)).map_or(c, |r| r.ts),
                None => {
                    let backfill = chrono::Duration::seconds(
                        (args.replay_backfill_hours * 3600.0).min(1e9) as i64,
                    );
                    let start = replay.first() + backfill;
                    // READY waits for the backfill's last reading to be computed.
                    let last = replay.index_after(Some(start)).saturating_sub(1);
                    ready_after = replay.nth(last).map(|r| r.ts);
                    start
                }
            };
            (
                Arc::new(replay),
                Arc::new(ReplayClock::new(start, args.speed)?),
            )
        }
    };
    let (gate_open, gate) = channel::channel(false);
    let (stopping, stopping_rx) = channel::channel(false);
    let source: Arc<dyn Source> = Arc::new(GatedSource {
        inner: source,
        gate,
        stopping: stopping_rx,
    });

    let poll_interval = match mode {
        Mode::Live => Duration::from_secs(60),
        // Twice per 5-minute reading at the replay's pace, between 0.2 s and 1 s.
        Mode::Replay => Duration::from_secs_f64((150.0 / args.speed).clamp(0.2, 1.0)),
    };
    let archive_path = state_dir.join("archive.sqlite");
    let archive = SqliteArchive::open(&archive_path)
        .with_context(|| format!("opening the archive {}", archive_path.display()))?;
    let sinks: Vec<Arc<dyn ArchiveSink>> = vec![Arc::new(PlainSink::new("sqlite", archive))];
    let mut co2 = Co2Settings::default();
    args.ha.apply(&mut co2)?;
    let config = RunConfig {
        common: Common {
            mqtt,
            topics: topics.clone(),
        },
        pump: Some(PumpSettings { poll_interval }),
        co2: Some(co2),
        archive: Some(ArchiveSettings::default()),
    };
    let services = tokio::spawn(run_all(
        config,
        Parts {
            source,
            clock,
            sinks,
        },
        shutdown.clone(),
        None,
    ));

    match mode {
        Mode::Live => println!("Dashboard: {dashboard} (live NYISO data)"),
        Mode::Replay => println!(
            "Dashboard: {dashboard} (replaying bundled NYISO days at {}×)",
            args.speed
        ),
    }
    println!(
        "MQTT: mqtt://{} and {} (loopback only; anyone on this machine may publish)",
        broker.tcp_addr(),
        broker.ws_url()
    );
    println!("Archive: {}", archive_path.display());
    println!("Press Ctrl-C to stop.");

    let (progress_tx, progress) = channel::channel(Progress::default());
    let watcher = tokio::spawn(watch_stream(StreamWatch {
        client: monitor.clone(),
        topics: topics.clone(),
        snapshot,
        path: snapshot_path.clone(),
        gate: gate_open,
        progress: progress_tx,
        dashboard: dashboard.clone(),
        ready_after,
        shutdown: shutdown.clone(),
    }));

    let mut services = services;
    let outcome = tokio::select! {
        _ = stop_signal() => {
            tracing::info!("stopping");
            None
        }
        r = &mut services => Some(r),
    };
    if outcome.is_none() {
        // The pump takes nothing more; the calculator catches up with what it published.
        stopping.send_replace(true);
        drain(progress).await;
    }
    trigger.trigger();
    let services_result = match outcome {
        Some(r) => r,
        None => match tokio::time::timeout(Duration::from_secs(10), services).await {
            Ok(r) => r,
            Err(_) => {
                tracing::warn!("services did not stop within 10 s");
                Ok(Ok(()))
            }
        },
    };
    let _ = watcher.await;
    // The authoritative final state, read back from the broker once every service is done.
    match save_final_snapshot(&monitor, &topics, &snapshot_path).await {
        Ok(Some(ts)) => tracing::info!(cursor = %ts, "state saved; the next run resumes after it"),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "could not save the resume state"),
    }
    monitor.close().await;
    if let Err(e) = web.stopped().await {
        tracing::warn!(error = %e, "web server");
    }
    match services_result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.into()),
        Err(e) => bail!("services task failed: {e}"),
    }
}

/// `--replay`, or live when today's NYISO file answers within a few seconds.
async fn choose_mode(args: &Args) -> Mode {
    if args.replay {
        tracing::info!("replaying the bundled NYISO days (--replay)");
        return Mode::Replay;
    }
    let url = daily_url(
        &args.nyiso.nyiso_base_url,
        Dataset::RtFuelMix,
        today_in_new_york(Utc::now()),
    );
    let client =
        match ny_power::adapters::http::client(&ny_power::adapters::http::HttpClientOptions {
            timeout: Duration::from_secs(4),
            connect_timeout: Duration::from_secs(3),
            ..Default::default()
        }) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "no HTTP client; replaying the bundled NYISO days");
                return Mode::Replay;
            }
        };
    match client.head(&url).send().await {
        Ok(r) if r.status().is_success() => {
            tracing::info!(%url, "NYISO is reachable: live data");
            Mode::Live
        }
        Ok(r) => {
            tracing::warn!(%url, status = %r.status(), "NYISO did not serve today's file; replaying the bundled NYISO days instead");
            Mode::Replay
        }
        Err(e) => {
            tracing::warn!(%url, error = %e, "NYISO is unreachable; replaying the bundled NYISO days instead");
            Mode::Replay
        }
    }
}
