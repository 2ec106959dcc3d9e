//! The CO2 calculator service: a thin shell over the use case [`Co2Step`] (policy
//! [`StatePolicy::Hourly`]). It restores the step from retained messages, then for every
//! `{root}/upstream/fuel-mix` message publishes what [`Co2Step::on_fuel_mix`] returns
//! (`computed/co2`, `computed/co2/lifecycle`, the archive stream, the 24 h history, then
//! `computed/co2/forecast`, `computed/charge-window`, `computed/co2/band` and, once per hour,
//! `state/co2/forecaster`). A persistent session with manual acks: a
//! reading is acknowledged only after all its results were published (retained, QoS 1, each
//! acknowledged by the broker), so a restart or a broker restart loses none. **Bursts**: while
//! more readings are queued, the derived retained results (history, forecast, windows, band,
//! state) wait and a newer reading's replace an older one's on the same topic; they go out
//! (then the acks) once the queue is empty, so a day of backfill publishes them once, while
//! every reading's intensities and archive events go out as they come.
//!
//! **Start-up.** Retained reads (exact-topic subscribe, SUBACK, unsubscribe, UNSUBACK; see
//! [`MqttClient::retained`]) of `state/co2/forecaster` and `archive/co2/24h`
//! ([`read_retained_inputs`], retried until the broker answers), then the recipe of
//! `docs/forecast.md` ([`Co2Step::restore`]): the forecaster restores its hourly means from the
//! state, the calculator its window from the history, and the forecaster takes the window's
//! readings newer than the state. With
//! `HA_DISCOVERY` on, Home Assistant's discovery configs are published next (retained).
//!
//! **Forecaster state.** Published with the first reading of each hour (reading time) and on a
//! clean shutdown when readings arrived since the last one, so a restarted calculator loses
//! at most the hourly means of a crash's last hour — and those come back from the 24 h history.
//!
//! **Load forecast** (`LOAD_FORECAST=nyiso`): a [`LoadForecastFeed`] fetches NYISO's hourly
//! `isolf` file for today in New York (by the service clock, so `NYPOWER_NOW` replays pick the
//! replayed day) at start and then once an hour; each reading's forecast uses what it holds.
//! A failure is logged and changes nothing: the forecast uses what is held, or the intensity
//! history alone.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::{Clock, Common, ServiceError, Shutdown};
use crate::adapters::mqtt::{ClientOptions, Inbound, MqttClient};
use crate::adapters::nyiso::{LoadForecastFeed, LoadForecastSettings};
use crate::backoff::Backoff;
use crate::homeassistant::{discovery_messages, DiscoveryConfig, DEFAULT_PREFIX};
use crate::intensity::Factors;
use crate::nyiso::isolf::LoadForecast;
use crate::ports::{PortError, Publisher};
use crate::stream::{decode_fuel_mix_at, Message, TopicKind};
use crate::usecases::co2::{read_retained_inputs, Co2Step, RetainedInputs, StatePolicy};

/// Calculator settings.
#[derive(Debug, Clone)]
pub struct Co2Settings {
    /// The factor table of the history and the forecast (`FACTORS`, default `direct`).
    pub factors: Factors,
    /// NYISO's load forecast (`LOAD_FORECAST=nyiso`); `None` (`off`, the default): the
    /// forecast uses the intensity history alone.
    pub load_forecast: Option<LoadForecastSettings>,
    /// Publish Home Assistant discovery configs at start (`HA_DISCOVERY`, default off).
    pub ha_discovery: bool,
    /// Home Assistant's discovery prefix (`HA_DISCOVERY_PREFIX`, default `homeassistant`).
    pub ha_discovery_prefix: String,
    /// The charge windows' default ready-by time (`CHARGE_READY_BY`, default 07:00 New York).
    pub ready_by: crate::forecast::ready_by::ReadyBy,
}

impl Default for Co2Settings {
    fn default() -> Self {
        Co2Settings {
            factors: Factors::default(),
            load_forecast: None,
            ha_discovery: false,
            ha_discovery_prefix: DEFAULT_PREFIX.to_owned(),
            ready_by: crate::forecast::ready_by::ReadyBy::default(),
        }
    }
}

/// The calculator's client options: persistent session, manual acks, QoS 1 subscription to
/// the combined fuel mix, status on `{root}/status/co2`. This connection only receives and
/// acknowledges; results go out on a second one ([`publisher_options`]).
pub fn client_options(common: &Common) -> ClientOptions {
    let mut opts = common.client_options("co2");
    opts.clean_session = false;
    opts.manual_acks = true;
    opts.subscriptions = vec![common.topics.fuel_mix()];
    opts
}

/// The calculator's second connection (client id `…-co2-out`, clean session, no
/// subscriptions, no status): the retained reads at start and every publish. Kept apart from
/// the receiving connection so the broker's acknowledgements of our publishes never wait
/// behind its own deliveries: rumqttd 0.20 (the demo's broker) stops sending anything — PUBACKs
/// and SUBACKs included — to a connection holding 100 unacknowledged deliveries, and the
/// calculator acknowledges a reading only after its results are acknowledged: on one
/// connection, a burst of 100 readings deadlocked it (issue 10, defect 3).
pub fn publisher_options(common: &Common) -> ClientOptions {
    let mut opts = common.client_options("co2");
    opts.client_id.push_str("-out");
    opts.status_topic = None;
    opts
}

/// Runs the calculator until `shutdown`, then publishes its offline status and disconnects.
/// `clock` says which day's load forecast to fetch.
///
/// # Errors
/// [`ServiceError`] when the broker refuses the calculator.
pub async fn run(
    client: &MqttClient,
    common: &Common,
    settings: &Co2Settings,
    clock: Arc<dyn Clock>,
    mut shutdown: Shutdown,
) -> Result<(), ServiceError> {
    let load = settings.load_forecast.as_ref().and_then(|s| {
        let now = {
            let clock = clock.clone();
            move || clock.now()
        };
        let mut stop = shutdown.clone();
        match LoadForecastFeed::spawn(s, now, async move { stop.wait().await }) {
            Ok(feed) => Some(feed),
            Err(e) => {
                tracing::warn!(error = %e, "load forecast disabled; forecasting from history alone");
                None
            }
        }
    });
    let out = MqttClient::start(publisher_options(common));
    let clients = Clients {
        inbox: client,
        out: &out,
    };
    let result = handle(
        &clients,
        common,
        settings,
        load.as_ref().map(LoadForecastFeed::receiver),
        &clock,
        &mut shutdown,
    )
    .await;
    drop(load); // stops the load forecast task
    client.close().await;
    out.close().await;
    result
}

/// What a stopping calculator handles first: the pump's cursor (read from the broker; `None`
/// when there is none or it cannot be read) and a deadline 10 s away.
async fn drain_target(
    client: &MqttClient,
    common: &Common,
) -> (Option<DateTime<Utc>>, tokio::time::Instant) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let topic = common.topics.cursor();
    let cursor = match client.retained(&topic).await {
        Ok(Some(bytes)) => crate::stream::restore_cursor(&topic, &bytes, Utc::now()),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "stopping: the pump's cursor could not be read");
            None
        }
    };
    tracing::debug!(
        ?cursor,
        "stopping: handling the readings up to the pump's cursor first"
    );
    (cursor, deadline)
}

/// The calculator's two connections.
struct Clients<'a> {
    /// Receives the fuel mix and acknowledges it ([`client_options`]).
    inbox: &'a MqttClient,
    /// Reads retained state and publishes ([`publisher_options`]).
    out: &'a MqttClient,
}

/// The retained state and history ([`read_retained_inputs`]), retried until the broker
/// answers; `Ok(None)` when shutdown came first.
async fn read_retained(
    client: &MqttClient,
    common: &Common,
    now: DateTime<Utc>,
    shutdown: &mut Shutdown,
) -> Result<Option<RetainedInputs>, ServiceError> {
    let mut retry = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
    loop {
        if !super::wait_connected_or_stopped(client, "co2", shutdown).await? {
            return Ok(None);
        }
        match read_retained_inputs(client, &common.topics, now).await {
            Ok(found) => return Ok(Some(found)),
            Err(e) if !e.is_retryable() => return Err(port_fatal(e)),
            Err(e) => {
                tracing::warn!(error = %e, "reading the retained state and history; retrying");
                if !shutdown.sleep(retry.next()).await {
                    return Ok(None);
                }
            }
        }
    }
}

fn port_fatal(source: PortError) -> ServiceError {
    ServiceError::Port {
        service: "co2",
        source,
    }
}

/// Restores `step` from the retained state and history. `Ok(false)` when shutdown came first.
async fn restore(
    client: &MqttClient,
    common: &Common,
    step: &mut Co2Step,
    now: DateTime<Utc>,
    shutdown: &mut Shutdown,
) -> Result<bool, ServiceError> {
    let Some(retained) = read_retained(client, common, now, shutdown).await? else {
        return Ok(false);
    };
    let restored = step.restore(&retained, now);
    match &retained.state {
        Some(state) if restored.state => {
            tracing::info!(hours = step.forecaster().hours_held(), newest = %state.latest.ts, "forecaster state restored")
        }
        Some(_) => {}
        None => tracing::info!("no retained forecaster state; starting from the 24 h history"),
    }
    match &retained.history {
        Some(history) => tracing::info!(
            readings = history.ts.len() - restored.history_refused,
            forecaster_added = restored.history_added,
            "history restored"
        ),
        None => tracing::info!("no retained history; starting empty"),
    }
    Ok(true)
}

/// Publishes `messages` in order, each retried until the broker acknowledges it. `false` when
/// shutdown came first (the rest is not published).
async fn publish_all(client: &MqttClient, messages: &[Message], shutdown: &mut Shutdown) -> bool {
    for out in messages {
        let mut retry = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
        while let Err(e) = client.publish(out).await {
            tracing::warn!(error = %e, topic = %out.topic, "publishing; retrying");
            if !shutdown.sleep(retry.next()).await {
                return false;
            }
        }
    }
    true
}

async fn acknowledge(client: &MqttClient, processed: &mut Vec<Inbound>) {
    for message in processed.drain(..) {
        if let Err(e) = client.ack(&message).await {
            tracing::warn!(error = %e, "acknowledging a fuel-mix message");
        }
    }
}

async fn handle(
    clients: &Clients<'_>,
    common: &Common,
    settings: &Co2Settings,
    load: Option<&watch::Receiver<Option<Arc<LoadForecast>>>>,
    clock: &Arc<dyn Clock>,
    shutdown: &mut Shutdown,
) -> Result<(), ServiceError> {
    let Clients { inbox, out: client } = *clients;
    let mut step = Co2Step::new(common.topics.clone(), settings.factors, StatePolicy::Hourly)
        .with_ready_by(settings.ready_by);
    if !restore(client, common, &mut step, clock.now(), shutdown).await? {
        return Ok(());
    }
    if settings.ha_discovery {
        let config = DiscoveryConfig::new(&common.topics, settings.ha_discovery_prefix.clone());
        let messages = discovery_messages(&common.topics, &config);
        if !publish_all(client, &messages, shutdown).await {
            return Ok(());
        }
        tracing::info!(prefix = %config.prefix, node_id = %config.node_id, sensors = messages.len(), "Home Assistant discovery published");
    }
    tracing::info!(
        factors = settings.factors.name(),
        load_forecast = load.is_some(),
        "co2 calculator started"
    );
    // Acknowledgements wait until no further message is queued: a PUBACK followed at once by
    // a PUBLISH would sit in the socket (Nagle) until the broker's delayed TCP ACK, ~40 ms per
    // reading while catching up. Acknowledged only after the results were published, on the
    // connection the reading came on (see `MqttClient::ack`).
    let mut processed = Vec::new();
    // Derived retained results (24 h history, forecast, windows, band, state) waiting for the
    // queue to empty (a burst): a newer reading's message on the same topic replaces an older
    // one's, so a day of backfill publishes them once, not once per reading (which took the
    // calculator ~20 ms a reading and left the demo "still learning" for seconds after
    // READY). The intensities and the archive events all go out at once.
    let mut pending: Vec<Message> = Vec::new();
    // Once stopping: the pump's cursor at that moment and a deadline. The readings up to the
    // cursor are handled first (the pump stops first), so a stop loses no reading's results.
    let mut drain: Option<(Option<DateTime<Utc>>, tokio::time::Instant)> = None;
    let mut seen: Option<DateTime<Utc>> = None;
    loop {
        if let Some((target, deadline)) = drain {
            let reached = target.is_none_or(|t| seen.is_some_and(|s| s >= t));
            if reached || tokio::time::Instant::now() >= deadline {
                if !reached {
                    tracing::warn!(cursor = ?target, handled = ?seen, "stopping before the calculator reached the pump's cursor");
                }
                break;
            }
        }
        let message = if !processed.is_empty() {
            match inbox.try_recv().await {
                Some(m) => Some(m),
                None => {
                    tracing::debug!(
                        readings = processed.len(),
                        retained = pending.len(),
                        "queue empty: publishing the retained results"
                    );
                    if !publish_all(client, &pending, shutdown).await {
                        return Ok(());
                    }
                    pending.clear();
                    acknowledge(inbox, &mut processed).await;
                    continue;
                }
            }
        } else if let Some((_, deadline)) = drain {
            match tokio::time::timeout_at(deadline, inbox.recv()).await {
                Ok(m) => m,
                Err(_) => continue,
            }
        } else {
            tokio::select! {
                m = inbox.recv() => m,
                _ = shutdown.wait() => {
                    drain = Some(drain_target(client, common).await);
                    continue;
                }
            }
        };
        let Some(message) = message else { break };
        match decode_fuel_mix_at(&message.topic, &message.payload, clock.now()) {
            Ok(reading) => {
                seen = seen.max(Some(reading.ts));
                let held = load.and_then(|rx| rx.borrow().clone());
                // Each reading's intensities go out as they come (one per reading and table,
                // DESIGN §5); the derived topics wait for the end of a burst.
                let (retained, events): (Vec<Message>, Vec<Message>) = step
                    .on_fuel_mix(&reading, held.as_deref())
                    .into_iter()
                    .partition(|m| {
                        m.retain
                            && !matches!(common.topics.classify(&m.topic), Some(TopicKind::Co2(_)))
                    });
                for m in retained {
                    pending.retain(|p| p.topic != m.topic);
                    pending.push(m);
                }
                if !publish_all(client, &events, shutdown).await {
                    // Stopped while publishing: this reading is not acknowledged, so the
                    // broker delivers it again. Neither are the burst's earlier readings while
                    // their derived results still wait in `pending` (acknowledged, they would
                    // never be delivered again and their history, forecast and state would be
                    // lost); their intensities are published again, which is idempotent.
                    if pending.is_empty() {
                        acknowledge(inbox, &mut processed).await;
                    }
                    return Ok(());
                }
                tracing::debug!(ts = %reading.ts, "intensity and forecast published");
            }
            // Not a reading: nothing published, the state unchanged; acknowledged (a broker
            // would deliver it again and again otherwise).
            Err(e) => tracing::warn!(error = %e, "fuel-mix message refused"),
        }
        processed.push(message);
    }
    if !publish_all(client, &pending, shutdown).await {
        return Ok(());
    }
    acknowledge(inbox, &mut processed).await;
    // The hourly state lags by up to an hour: publish the newest on a clean stop.
    if let Some(state) = step.state_message() {
        if client.is_connected() {
            match client.publish(&state).await {
                Ok(()) => tracing::info!("forecaster state saved"),
                Err(e) => tracing::warn!(error = %e, "forecaster state not saved"),
            }
        }
    }
    tracing::info!("co2 calculator stopping");
    Ok(())
}
