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

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use ny_power::adapters::broker::{
    load_snapshot, save_snapshot as write_snapshot, EmbeddedBroker, OriginPolicy, RetainedSnapshot,
};
use ny_power::adapters::mqtt::{ClientOptions, MqttClient};
use ny_power::adapters::nyiso::{HttpOptions, HttpSource};
use ny_power::adapters::sqlite::SqliteArchive;
use ny_power::adapters::web::{WebConfig, WebServer};
use ny_power::config::{BrokerUrl, MqttConfig};
use ny_power::nyiso::{daily_url, today_in_new_york, Dataset, DEFAULT_BASE_URL};
use ny_power::ports::{Clock, PortError, Source, SystemClock};
use ny_power::reading::Reading;
use ny_power::replay::{ReplayClock, ReplaySource};
use ny_power::services::{
    run_all, shutdown_channel, ArchiveSettings, ArchiveSink, Co2Settings, Common, Parts, PlainSink,
    PumpSettings, RunConfig,
};
use ny_power::stream::{decode, CursorPayload, TopicKind, Topics};

use super::co2::HaArgs;

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Replay the bundled NYISO days even if live data is reachable.
    #[arg(long)]
    replay: bool,
    /// Replay pace: demo minutes per wall-clock minute (60: a 5-minute reading every 5 s).
    #[arg(long, default_value_t = 60.0, value_name = "N")]
    speed: f64,
    /// How many hours of the replay are published at once at start (a first chart).
    #[arg(long, default_value_t = 24.0, value_name = "HOURS")]
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
    /// NYISO's CSV base URL.
    #[arg(long, env = "NYISO_BASE_URL", default_value = DEFAULT_BASE_URL, value_name = "URL")]
    nyiso_base_url: String,
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
    #[command(flatten)]
    ha: HaArgs,
}

/// Sets up logging: `RUST_LOG` if set, else `info` with the embedded broker at `warn` (its
/// router and listeners are silenced: they log every client disconnect as an error).
pub(crate) fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "info,rumqttd=warn,rumqttd::router::routing=off,rumqttd::server::broker=off",
        )
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs `demo`.
pub fn run(args: Args) -> ExitCode {
    init_logs();
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
            eprintln!("error: {e:#}");
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
    ensure_web_assets(&args.web_dir)?;
    let mode = choose_mode(&args).await;
    let state_dir = args.data_dir.join(mode.name());
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("creating the data directory {}", state_dir.display()))?;
    let snapshot_path = state_dir.join("retained.json");
    let topics = Topics::default();
    let snapshot = load_snapshot(&snapshot_path, &topics, Utc::now());

    let broker = EmbeddedBroker::start_with(args.mqtt_port, args.ws_port, origins).await?;
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
        .map_err(|e| anyhow::anyhow!("{e} (choose another port with --http-port, or 0)"))?
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
    let cursor = restore_snapshot(broker.tcp_addr(), &topics, &snapshot).await?;

    let (source, clock): (Arc<dyn Source>, Arc<dyn Clock>) = match mode {
        Mode::Live => {
            let options = HttpOptions {
                initial_lookback_days: 1,
                ..HttpOptions::default()
            };
            (
                Arc::new(HttpSource::new(&args.nyiso_base_url, options)?),
                Arc::new(SystemClock),
            )
        }
        Mode::Replay => {
            let replay = ReplaySource::bundled()?;
            let start = match cursor {
                // Resume: the next reading after the cursor is due at once.
                Some(c) => replay.next_after(Some(c)).map_or(c, |r| r.ts),
                None => {
                    let backfill = chrono::Duration::seconds(
                        (args.replay_backfill_hours * 3600.0).min(1e9) as i64,
                    );
                    replay.first() + backfill
                }
            };
            (
                Arc::new(replay),
                Arc::new(ReplayClock::new(start, args.speed)?),
            )
        }
    };
    let (gate_open, gate) = watch::channel(false);
    let (stopping, stopping_rx) = watch::channel(false);
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

    let (progress_tx, progress) = watch::channel(Progress::default());
    let watcher = tokio::spawn(watch_stream(StreamWatch {
        client: monitor.clone(),
        topics: topics.clone(),
        snapshot,
        path: snapshot_path.clone(),
        gate: gate_open,
        progress: progress_tx,
        dashboard: dashboard.clone(),
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

/// Ctrl-C, or SIGTERM on Unix.
pub(crate) async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Builds the dashboard with npm when `web_dir/index.html` is missing.
fn ensure_web_assets(web_dir: &Path) -> anyhow::Result<()> {
    if web_dir.join("index.html").is_file() {
        return Ok(());
    }
    let project = web_dir.parent().filter(|p| {
        web_dir.file_name() == Some("dist".as_ref()) && p.join("package.json").is_file()
    });
    let Some(project) = project else {
        bail!(
            "{}: no index.html, and no web project (package.json) beside it to build; \
             run from the repository root, or point --web-dir at a built dashboard",
            web_dir.display()
        );
    };
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let found = std::process::Command::new(npm)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .status();
    if !found.is_ok_and(|s| s.success()) {
        bail!(
            "the dashboard is not built ({} is missing) and npm was not found: install Node.js \
             20 or newer (it brings npm), or build it elsewhere with `cd {} && npm ci && npm run build`",
            web_dir.join("index.html").display(),
            project.display()
        );
    }
    for step in [&["ci"][..], &["run", "build"][..]] {
        eprintln!(
            "Building the dashboard: npm {} (in {})",
            step.join(" "),
            project.display()
        );
        let status = std::process::Command::new(npm)
            .args(step)
            .current_dir(project)
            .stdout(std::process::Stdio::inherit())
            .status()
            .with_context(|| format!("running npm {}", step.join(" ")))?;
        if !status.success() {
            bail!(
                "npm {} failed in {} ({status})",
                step.join(" "),
                project.display()
            );
        }
    }
    if !web_dir.join("index.html").is_file() {
        bail!(
            "npm run build finished but {} is still missing",
            web_dir.join("index.html").display()
        );
    }
    Ok(())
}

/// `--replay`, or live when today's NYISO file answers within a few seconds.
async fn choose_mode(args: &Args) -> Mode {
    if args.replay {
        tracing::info!("replaying the bundled NYISO days (--replay)");
        return Mode::Replay;
    }
    let url = daily_url(
        &args.nyiso_base_url,
        Dataset::RtFuelMix,
        today_in_new_york(Utc::now()),
    );
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(4))
        .connect_timeout(Duration::from_secs(3))
        .build()
    {
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

/// Retained messages kept across runs: topic → JSON payload.
type Snapshot = RetainedSnapshot;

fn save_snapshot(path: &Path, snapshot: &Snapshot) -> std::io::Result<()> {
    write_snapshot(path, snapshot, Utc::now())
}

/// Whether a topic's retained message is part of the resume state (the contract's data
/// topics; services announce their own status).
/// Whether a topic's messages belong in the saved state: retained data topics only (not the
/// services' status, not the non-retained archive stream).
fn kept(topics: &Topics, topic: &str) -> bool {
    matches!(
        topics.classify(topic),
        Some(kind) if !matches!(kind, TopicKind::ServiceStatus(_) | TopicKind::Co2Archive)
    )
}

fn snapshot_cursor(topics: &Topics, snapshot: &Snapshot) -> Option<DateTime<Utc>> {
    snapshot
        .get(&topics.cursor())
        .and_then(|v| serde_json::from_value::<CursorPayload>(v.clone()).ok())
        .map(|c| c.ts)
}

/// Publishes the saved retained messages (cursor last, all in flight at once) and returns the
/// cursor once the broker acknowledged every one.
async fn restore_snapshot(
    broker: SocketAddr,
    topics: &Topics,
    snapshot: &Snapshot,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let cursor_topic = topics.cursor();
    let mut ordered: Vec<(&String, &serde_json::Value)> =
        snapshot.iter().filter(|(t, _)| kept(topics, t)).collect();
    ordered.sort_by_key(|(t, _)| **t == cursor_topic);
    if !ordered.is_empty() {
        let mut options = rumqttc::MqttOptions::new(
            "ny-power-demo-restore",
            broker.ip().to_string(),
            broker.port(),
        );
        options.set_max_packet_size(2 << 20, 2 << 20);
        let (client, mut events) = rumqttc::AsyncClient::new(options, ordered.len() + 4);
        for (topic, payload) in &ordered {
            client
                .publish(
                    topic.as_str(),
                    rumqttc::QoS::AtLeastOnce,
                    true,
                    serde_json::to_vec(payload)?,
                )
                .await
                .with_context(|| format!("restoring {topic}"))?;
        }
        let mut acked = 0;
        tokio::time::timeout(Duration::from_secs(10), async {
            while acked < ordered.len() {
                if let rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)) = events.poll().await? {
                    acked += 1;
                }
            }
            let _ = client.disconnect().await;
            let _ = events.poll().await;
            Ok::<(), rumqttc::ConnectionError>(())
        })
        .await
        .context("restoring the saved state: the broker did not acknowledge it in 10 s")?
        .context("restoring the saved state")?;
    }
    let cursor = snapshot_cursor(topics, snapshot);
    if let Some(ts) = cursor {
        tracing::info!(cursor = %ts, messages = ordered.len(), "resuming after the saved cursor");
    }
    Ok(cursor)
}

/// What the demo's own subscriber has seen: the cursor and the newest intensity.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Progress {
    cursor: Option<DateTime<Utc>>,
    co2: Option<DateTime<Utc>>,
}

/// Waits (at most 5 s) until the calculator has handled the pump's last reading and nothing
/// moved for 200 ms, so stopping loses no reading between the two.
async fn drain(progress: watch::Receiver<Progress>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut last = *progress.borrow();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = *progress.borrow();
        if now == last && now.cursor == now.co2 {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(cursor = ?now.cursor, co2 = ?now.co2, "stopping before the calculator caught up");
            return;
        }
        last = now;
    }
}

/// What [`watch_stream`] works with.
struct StreamWatch {
    /// The demo's own client, subscribed to the whole tree.
    client: MqttClient,
    topics: Topics,
    /// The resume state so far.
    snapshot: Snapshot,
    /// Where it is saved.
    path: PathBuf,
    /// Opens the source's gate.
    gate: watch::Sender<bool>,
    /// The cursor and the newest intensity seen.
    progress: watch::Sender<Progress>,
    /// The dashboard's URL, for the `READY` line.
    dashboard: String,
    shutdown: ny_power::services::Shutdown,
}

/// Follows the stream: opens the source's gate once the calculator and the archiver are
/// subscribed, prints `READY <url>` once an intensity is on the broker, and saves the resume
/// state (at most once a second) whenever the cursor moves.
async fn watch_stream(watch: StreamWatch) {
    let StreamWatch {
        client,
        topics,
        mut snapshot,
        path,
        gate,
        progress,
        dashboard,
        mut shutdown,
    } = watch;
    let mut online = BTreeMap::<String, bool>::new();
    let mut ready = false;
    let mut dirty = false;
    let mut last_save = tokio::time::Instant::now();
    loop {
        let message = tokio::select! {
            m = client.recv() => m,
            _ = shutdown.wait() => None,
            _ = tokio::time::sleep(Duration::from_secs(1)), if dirty => {
                if let Err(e) = save_snapshot(&path, &snapshot) {
                    tracing::warn!(error = %e, "saving the resume state");
                }
                dirty = false;
                last_save = tokio::time::Instant::now();
                continue;
            }
        };
        let Some(message) = message else { break };
        match topics.classify(&message.topic) {
            Some(TopicKind::ServiceStatus(service)) => {
                let up = decode::<ny_power::stream::ServiceStatusPayload>(
                    &message.topic,
                    &message.payload,
                )
                .is_ok_and(|s| s.state == ny_power::stream::ServiceState::Online);
                online.insert(service, up);
                let subscribed = ["co2", "archive"]
                    .iter()
                    .all(|s| online.get(*s).copied().unwrap_or(false));
                if subscribed && !*gate.borrow() {
                    tracing::debug!("calculator and archiver subscribed; the pump may publish");
                    gate.send_replace(true);
                }
            }
            // The non-retained archive stream is not state to restore.
            Some(TopicKind::Co2Archive) | None => {}
            Some(kind) => {
                if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&message.payload) {
                    snapshot.insert(message.topic.clone(), value);
                }
                if kind == TopicKind::Cursor {
                    if let Ok(c) = decode::<CursorPayload>(&message.topic, &message.payload) {
                        progress.send_modify(|p| p.cursor = Some(c.ts));
                    }
                    dirty = true;
                    if last_save.elapsed() >= Duration::from_secs(1) {
                        if let Err(e) = save_snapshot(&path, &snapshot) {
                            tracing::warn!(error = %e, "saving the resume state");
                        }
                        dirty = false;
                        last_save = tokio::time::Instant::now();
                    }
                }
                if kind == TopicKind::Co2(ny_power::Factors::Direct) {
                    if let Ok(c) =
                        decode::<ny_power::stream::Co2Payload>(&message.topic, &message.payload)
                    {
                        progress.send_modify(|p| p.co2 = Some(c.ts));
                    }
                }
                if !ready && message.topic == topics.co2(ny_power::Factors::Direct) {
                    ready = true;
                    println!("READY {dashboard}");
                }
            }
        }
    }
    if dirty {
        let _ = save_snapshot(&path, &snapshot);
    }
}

/// Reads every kept retained topic back from the broker and saves them; returns the cursor.
async fn save_final_snapshot(
    client: &MqttClient,
    topics: &Topics,
    path: &Path,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let mut wanted = vec![
        topics.cursor(),
        topics.fuel_mix(),
        topics.co2(ny_power::Factors::Direct),
        topics.co2(ny_power::Factors::Lifecycle),
        topics.co2_history(),
        topics.co2_forecast(),
        topics.charge_window(),
        topics.co2_band(),
        topics.forecaster_state(),
    ];
    wanted.extend(ny_power::Fuel::ALL.into_iter().map(|f| topics.fuel(f)));
    let mut snapshot = Snapshot::new();
    for topic in wanted {
        if let Some(bytes) = client.retained(&topic).await? {
            snapshot.insert(topic, serde_json::from_slice(&bytes)?);
        }
    }
    if snapshot.is_empty() {
        return Ok(None);
    }
    save_snapshot(path, &snapshot)?;
    Ok(snapshot_cursor(topics, &snapshot))
}

/// A source that yields nothing until its gate opens (the calculator and archiver must be
/// subscribed before the first reading, or they would miss the backfill) and nothing once the
/// demo is stopping.
struct GatedSource {
    inner: Arc<dyn Source>,
    gate: watch::Receiver<bool>,
    stopping: watch::Receiver<bool>,
}

#[async_trait]
impl Source for GatedSource {
    async fn readings_after(
        &self,
        after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Reading>, PortError> {
        // Wait (a little) for the gate rather than return nothing, so the first readings go
        // out the moment the calculator and archiver are subscribed, not a poll later.
        let mut gate = self.gate.clone();
        let mut stopping = self.stopping.clone();
        let opened = tokio::select! {
            r = tokio::time::timeout(Duration::from_secs(5), gate.wait_for(|open| *open)) => {
                matches!(r, Ok(Ok(_)))
            }
            _ = stopping.wait_for(|s| *s) => false,
        };
        if !opened || *self.stopping.borrow() {
            return Ok(Vec::new());
        }
        self.inner.readings_after(after, now).await
    }
}
