//! The CO2 calculator service: restores its state from retained messages, then for every
//! `{root}/upstream/fuel-mix` message publishes what [`Co2Calculator::on_fuel_mix`] returns
//! (`computed/co2`, `computed/co2/lifecycle`, the 24 h history) followed by the forecast
//! ([`ForecastStage`]: `computed/co2/forecast`, `computed/charge-window`, `computed/co2/band`
//! and, once per hour, `state/co2/forecaster`). A persistent session with manual acks: a
//! reading is acknowledged only after all its results were published (retained, QoS 1, each
//! acknowledged by the broker), so a restart or a broker restart loses none.
//!
//! **Start-up.** Retained reads (exact-topic subscribe, SUBACK, unsubscribe, UNSUBACK; see
//! [`MqttClient::retained`]) of `state/co2/forecaster` and `archive/co2/24h`: the forecaster
//! restores its hourly means from the state, then takes the history's readings newer than the
//! state (the recipe of `docs/forecast.md`); the calculator restores the history. With
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
use crate::adapters::mqtt::{ClientOptions, Inbound, MqttClient, MqttError};
use crate::adapters::nyiso::{LoadForecastFeed, LoadForecastSettings};
use crate::backoff::Backoff;
use crate::co2::Co2Calculator;
use crate::forecast::{charge_window_payload, Forecaster};
use crate::homeassistant::{discovery_messages, DiscoveryConfig, DEFAULT_PREFIX};
use crate::intensity::Factors;
use crate::nyiso::isolf::LoadForecast;
use crate::ports::Publisher;
use crate::stream::{
    decode_forecaster_state, decode_fuel_mix_at, decode_history, Co2HistoryPayload,
    ForecasterStatePayload, FuelMixPayload, Message, Topics,
};

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
}

impl Default for Co2Settings {
    fn default() -> Self {
        Co2Settings {
            factors: Factors::default(),
            load_forecast: None,
            ha_discovery: false,
            ha_discovery_prefix: DEFAULT_PREFIX.to_owned(),
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

fn hour_of(ts: DateTime<Utc>) -> i64 {
    ts.timestamp().div_euclid(3600)
}

/// The forecast side of the calculator: a [`Forecaster`] fed the same readings as the
/// [`Co2Calculator`], and the messages it adds per reading. Pure: the service publishes them.
#[derive(Debug, Clone)]
pub struct ForecastStage {
    topics: Topics,
    forecaster: Forecaster,
    /// Hour (reading time) of the newest reading in the state last published or restored.
    state_hour: Option<i64>,
    /// Whether the forecaster took readings the last published state lacks.
    dirty: bool,
}

impl ForecastStage {
    /// An empty stage computing intensities with `factors` (the calculator's table).
    pub fn new(topics: Topics, factors: Factors) -> Self {
        ForecastStage {
            topics,
            forecaster: Forecaster::new(factors),
            state_hour: None,
            dirty: false,
        }
    }

    /// The forecaster.
    pub fn forecaster(&self) -> &Forecaster {
        &self.forecaster
    }

    /// Restores the forecaster from a retained state message. Returns `false` (and changes
    /// nothing) for another factor table's state or an inconsistent one.
    pub fn restore_state(&mut self, state: &ForecasterStatePayload) -> bool {
        let ok = self.forecaster.restore(state);
        if ok {
            self.state_hour = Some(hour_of(state.latest.ts));
        }
        ok
    }

    /// Adds the readings of a retained 24 h history that are newer than those held (call after
    /// [`ForecastStage::restore_state`]). Returns how many were added.
    pub fn restore_history(&mut self, history: &Co2HistoryPayload) -> usize {
        let added = history
            .ts
            .iter()
            .zip(&history.values)
            .filter(|(ts, v)| self.forecaster.update_intensity(**ts, **v))
            .count();
        self.dirty |= added > 0;
        added
    }

    /// Handles one reading: nothing when it is not newer than the newest held (a replay);
    /// otherwise the forecast and the charge windows, the band (once 24 hourly means are
    /// held) and, with the first reading of a new hour, the forecaster's state.
    pub fn on_fuel_mix(
        &mut self,
        payload: &FuelMixPayload,
        load: Option<&LoadForecast>,
    ) -> Vec<Message> {
        if !self.forecaster.update(&payload.reading()) {
            return Vec::new();
        }
        self.dirty = true;
        let mut out = Vec::new();
        if let Some(f) = self.forecaster.forecast(payload.ts, load) {
            out.extend(Message::or_log(Message::json(
                self.topics.co2_forecast(),
                &f.payload(),
            )));
            out.extend(Message::or_log(Message::json(
                self.topics.charge_window(),
                &charge_window_payload(&f),
            )));
        }
        if let Some(b) = self.forecaster.band_payload() {
            out.extend(Message::or_log(Message::json(self.topics.co2_band(), &b)));
        }
        if self.state_hour != Some(hour_of(payload.ts)) {
            out.extend(self.state_message());
        }
        out
    }

    /// The forecaster's state when readings arrived since the last one published (for a
    /// clean shutdown); marks it published.
    pub fn state_message(&mut self) -> Option<Message> {
        if !self.dirty {
            return None;
        }
        let state = self.forecaster.state()?;
        self.state_hour = Some(hour_of(state.latest.ts));
        self.dirty = false;
        Message::or_log(Message::json(self.topics.forecaster_state(), &state))
    }
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

fn fatal(source: MqttError) -> ServiceError {
    ServiceError::Mqtt {
        service: "co2",
        source,
    }
}

/// The retained message of `topic`, retried until the broker answers; `Ok(None)` when shutdown
/// came first, `Ok(Some(None))` when the topic has no retained message.
async fn read_retained(
    client: &MqttClient,
    topic: &str,
    shutdown: &mut Shutdown,
) -> Result<Option<Option<bytes::Bytes>>, ServiceError> {
    let mut retry = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
    loop {
        let connected = tokio::select! {
            r = client.wait_until_connected() => r,
            _ = shutdown.wait() => return Ok(None),
        };
        connected.map_err(fatal)?;
        match client.retained(topic).await {
            Ok(found) => return Ok(Some(found)),
            Err(e @ (MqttError::Refused { .. } | MqttError::SubscribeRefused { .. })) => {
                return Err(fatal(e))
            }
            Err(e) => {
                tracing::warn!(error = %e, topic, "reading a retained message; retrying");
                if !shutdown.sleep(retry.next()).await {
                    return Ok(None);
                }
            }
        }
    }
}

/// Restores the forecaster's state, then the 24 h history (calculator and forecaster).
/// `Ok(false)` when shutdown came first.
async fn restore(
    client: &MqttClient,
    common: &Common,
    calc: &mut Co2Calculator,
    stage: &mut ForecastStage,
    now: DateTime<Utc>,
    shutdown: &mut Shutdown,
) -> Result<bool, ServiceError> {
    let topic = common.topics.forecaster_state();
    let Some(state) = read_retained(client, &topic, shutdown).await? else {
        return Ok(false);
    };
    match state.map(|bytes| decode_forecaster_state(&topic, &bytes, now)) {
        Some(Ok(state)) => {
            if stage.restore_state(&state) {
                tracing::info!(hours = stage.forecaster().hours_held(), newest = %state.latest.ts, "forecaster state restored");
            } else {
                tracing::warn!(
                    factors = %state.factors,
                    "retained forecaster state ignored (another factor table, or inconsistent)"
                );
            }
        }
        Some(Err(e)) => {
            tracing::warn!(error = %e, "retained forecaster state ignored; starting clean")
        }
        None => tracing::info!("no retained forecaster state; starting from the 24 h history"),
    }

    let topic = common.topics.co2_history();
    let Some(history) = read_retained(client, &topic, shutdown).await? else {
        return Ok(false);
    };
    match history.map(|bytes| decode_history(&topic, &bytes)) {
        Some(Ok(history)) => {
            let refused = calc.restore(&history, now);
            if refused > 0 {
                tracing::warn!(
                    refused,
                    "retained history: entries dated in the future or not a valid intensity left out"
                );
            }
            let added = stage.restore_history(&calc.history_payload());
            tracing::info!(
                readings = history.ts.len() - refused,
                forecaster_added = added,
                "history restored"
            );
        }
        Some(Err(e)) => tracing::warn!(error = %e, "retained history ignored; starting empty"),
        None => tracing::info!("no retained history; starting empty"),
    }
    Ok(true)
}

/// Publishes `messages` in order, each retried until the broker acknowledges it. `false` when
/// shutdown came first (the rest is not published).
async fn publish_all(client: &MqttClient, messages: &[Message], shutdown: &mut Shutdown) -> bool {
    for out in messages {
        let mut retry = Duration::from_millis(200);
        while let Err(e) = client.publish(out).await {
            tracing::warn!(error = %e, topic = %out.topic, "publishing; retrying");
            if !shutdown.sleep(retry).await {
                return false;
            }
            retry = (retry * 2).min(Duration::from_secs(5));
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
    let mut calc = Co2Calculator::new(common.topics.clone(), settings.factors);
    let mut stage = ForecastStage::new(common.topics.clone(), settings.factors);
    if !restore(client, common, &mut calc, &mut stage, clock.now(), shutdown).await? {
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
                let mut out = calc.on_fuel_mix(&reading);
                let held = load.and_then(|rx| rx.borrow().clone());
                out.extend(stage.on_fuel_mix(&reading, held.as_deref()));
                if !publish_all(client, &out, shutdown).await {
                    // This reading is not acknowledged: the broker delivers it again.
                    acknowledge(inbox, &mut processed).await;
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
    acknowledge(inbox, &mut processed).await;
    // The hourly state lags by up to an hour: publish the newest on a clean stop.
    if let Some(state) = stage.state_message() {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::reading::{FuelMix, Reading};
    use crate::stream::{decode, ChargeWindowPayload, Co2BandPayload, TopicKind};
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 2, 1, 5, 0, 0).unwrap()
    }

    /// Gas share `share` of 10 000 MW, the rest nuclear: `417.21 × share` g/kWh (direct).
    fn mix(ts: DateTime<Utc>, share: f64) -> FuelMixPayload {
        let gas = share * 10_000.0;
        FuelMixPayload::of(&Reading {
            ts,
            mix: FuelMix([0.0, gas, 10_000.0 - gas, 0.0, 0.0, 0.0, 0.0]),
        })
    }

    fn kinds(out: &[Message]) -> Vec<TopicKind> {
        let t = Topics::default();
        out.iter().map(|m| t.classify(&m.topic).unwrap()).collect()
    }

    #[test]
    fn forecast_messages_per_reading_and_state_once_an_hour() {
        let mut stage = ForecastStage::new(Topics::default(), Factors::Direct);
        let first = stage.on_fuel_mix(&mix(t0(), 0.5), None);
        assert_eq!(
            kinds(&first),
            [
                TopicKind::Co2Forecast,
                TopicKind::ChargeWindow,
                TopicKind::ForecasterState
            ],
            "no band before 24 hourly means"
        );
        let f: crate::stream::Co2ForecastPayload =
            decode(&first[0].topic, &first[0].payload).unwrap();
        assert_eq!(f.issued, t0());
        assert_eq!(f.values.len(), 24);
        assert!(f.values.iter().all(|v| (v - 208.6).abs() < 1e-9), "{f:?}");
        let w: ChargeWindowPayload = decode(&first[1].topic, &first[1].payload).unwrap();
        assert_eq!(
            w.windows.iter().map(|w| w.hours).collect::<Vec<_>>(),
            [1, 2, 4, 8]
        );
        // Same hour: no state; a replay: nothing at all.
        let second = stage.on_fuel_mix(&mix(t0() + chrono::Duration::minutes(5), 0.4), None);
        assert_eq!(
            kinds(&second),
            [TopicKind::Co2Forecast, TopicKind::ChargeWindow]
        );
        assert!(stage.on_fuel_mix(&mix(t0(), 0.9), None).is_empty());
        // Every 5 minutes for a day: the state once an hour, the band from the 24th hour on.
        let mut states = 0;
        let mut band = None;
        for i in 2..=(24 * 12) {
            let out = stage.on_fuel_mix(&mix(t0() + chrono::Duration::minutes(5 * i), 0.5), None);
            states += kinds(&out)
                .iter()
                .filter(|k| **k == TopicKind::ForecasterState)
                .count();
            if let Some(m) = out.iter().find(|m| m.topic.ends_with("/band")) {
                band = Some(decode::<Co2BandPayload>(&m.topic, &m.payload).unwrap());
            }
        }
        assert_eq!(states, 24);
        let band = band.expect("a band after a day");
        assert_eq!(band.ts, t0() + chrono::Duration::hours(24));
        // Published on the hour: nothing pending until the next reading.
        assert!(stage.state_message().is_none());
        stage.on_fuel_mix(&mix(t0() + chrono::Duration::minutes(5 * 289), 0.5), None);
        assert!(stage.state_message().is_some());
        assert!(stage.state_message().is_none());
    }

    #[test]
    fn restore_from_state_then_history() {
        let mut a = ForecastStage::new(Topics::default(), Factors::Direct);
        for i in 0..(30 * 12) {
            a.on_fuel_mix(
                &mix(
                    t0() + chrono::Duration::minutes(5 * i),
                    0.3 + (i % 12) as f64 / 40.0,
                ),
                None,
            );
        }
        let state = a.forecaster().state().unwrap();
        let mut b = ForecastStage::new(Topics::default(), Factors::Direct);
        assert!(b.restore_state(&state));
        assert_eq!(b.forecaster().newest(), a.forecaster().newest());
        // The history adds only what is newer than the state.
        let newest = state.latest.ts;
        let history = Co2HistoryPayload {
            units: "g/kWh".into(),
            ts: vec![
                newest - chrono::Duration::minutes(5),
                newest,
                newest + chrono::Duration::minutes(2),
            ],
            values: vec![1.0, 2.0, 3.0],
        };
        assert_eq!(b.restore_history(&history), 1);
        // A reading in the state's hour (10:55 → 10:59) publishes no state; the pending one goes
        // on shutdown.
        assert_eq!(newest, t0() + chrono::Duration::minutes(5 * 359));
        let out = b.on_fuel_mix(&mix(newest + chrono::Duration::minutes(4), 0.5), None);
        assert!(!kinds(&out).contains(&TopicKind::ForecasterState));
        let saved = b.state_message().unwrap();
        let saved: ForecasterStatePayload = decode(&saved.topic, &saved.payload).unwrap();
        assert_eq!(saved.hour0, state.hour0, "the restored hours are kept");
        assert_eq!(saved.latest.ts, newest + chrono::Duration::minutes(4));
        // Another table's state is refused.
        let mut c = ForecastStage::new(Topics::default(), Factors::Lifecycle);
        assert!(!c.restore_state(&state));
        assert_eq!(c.forecaster().hours_held(), 0);
    }
}
