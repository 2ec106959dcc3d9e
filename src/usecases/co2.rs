//! The CO2 step, one type for every mode (the calculator service, the demo, the co2 Lambda):
//! on each fuel-mix reading, the intensity with the direct and lifecycle tables (and the
//! configured table, if another), the rolling 24 h history (DESIGN §5), then the forecast, the
//! cleanest charging windows, the 30-day band and the forecaster's state
//! (`docs/forecast.md`). Pure: [`Co2Step::on_fuel_mix`] returns the messages in order; an
//! adapter publishes them.
//!
//! - [`Co2Calculator`]: the intensities and the 24 h window. Every reading's intensities go
//!   to the archive stream ([`Topics::co2_archive`], not retained), late ones included; only
//!   the newest reading moves the live retained `computed/co2*` topics, so a reading
//!   delivered after a newer one (a broker redelivering after a restart) is still archived and
//!   never moves the live value backwards.
//! - [`Co2Step`]: the calculator plus the [`Forecaster`] fed the same readings. A reading
//!   older than the newest held adds nothing to the forecast; **the newest delivered again**
//!   (a broker redelivery, a Lambda retry) republishes its forecast, windows and band, so a
//!   step that stopped between publishing the history and the forecast completes the reading
//!   (issue 11: the service used to publish nothing then).
//! - **When the forecaster's state is published** is a [`StatePolicy`]: from memory, with
//!   the first reading of each hour and on a clean shutdown ([`StatePolicy::Hourly`], the
//!   long-running calculator), or from the retained state read in the same invocation
//!   ([`StatePolicy::FromRetained`], the Lambda: it has no shutdown hook and may be retried,
//!   so a state publish that failed is made again by the next invocation, warm or cold).
//! - **The restore recipe** (once per start for the service, on every invocation for the
//!   Lambda): [`read_retained_inputs`] reads the retained state and 24 h history through the
//!   [`RetainedReader`] port and decodes them; [`Co2Step::restore`] restores the forecaster
//!   from the state, the calculator's window from the history, then gives the forecaster the
//!   readings of the calculator's window (not the raw retained one: entries it refused stay
//!   out) newer than the state.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::forecast::ready_by::ReadyBy;
use crate::forecast::{charge_window_payload_with, Forecaster};
use crate::intensity::Factors;
use crate::nyiso::isolf::LoadForecast;
use crate::ports::{PortError, RetainedReader};
use crate::stream::{
    decode_forecaster_state, decode_history, future_slack, Co2HistoryPayload, Co2Payload,
    ForecasterStatePayload, FuelMixPayload, Message, StreamError, Topics, UNITS_G_PER_KWH,
};

/// The history window.
pub fn history_window() -> Duration {
    Duration::hours(24)
}

/// The calculator's state: the last 24 h of intensities with the configured table.
#[derive(Debug, Clone)]
pub struct Co2Calculator {
    topics: Topics,
    factors: Factors,
    history: BTreeMap<DateTime<Utc>, f64>,
}

impl Co2Calculator {
    /// A calculator whose history uses `factors` (the `FACTORS` setting; default `direct`).
    pub fn new(topics: Topics, factors: Factors) -> Self {
        Co2Calculator {
            topics,
            factors,
            history: BTreeMap::new(),
        }
    }

    /// The factor table of the history.
    pub fn factors(&self) -> Factors {
        self.factors
    }

    /// The topic tree it publishes to.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// Restores the window from a retained history message (on start), merging with anything
    /// already held. Entries that no reading can have produced (a value that is not a finite
    /// number >= 0, an instant after `now` + [`future_slack`]) are left out; returns how many.
    pub fn restore(&mut self, history: &Co2HistoryPayload, now: DateTime<Utc>) -> usize {
        let mut refused = 0;
        for (ts, v) in history.ts.iter().zip(&history.values) {
            if v.is_finite() && *v >= 0.0 && *ts <= now + future_slack() {
                self.history.insert(*ts, *v);
            } else {
                refused += 1;
            }
        }
        self.trim();
        refused
    }

    /// The newest instant held.
    pub fn newest(&self) -> Option<DateTime<Utc>> {
        self.history.keys().next_back().copied()
    }

    /// Handles one reading (decoded and checked by
    /// [`decode_fuel_mix_at`](crate::stream::decode_fuel_mix_at)): returns, per table (direct,
    /// lifecycle and the configured one), the intensity on the live topics when the reading is
    /// the newest held, then the archive stream's messages (always), then the updated history
    /// (when the reading is inside the window). Nothing when the reading has no generation.
    pub fn on_fuel_mix(&mut self, reading: &FuelMixPayload) -> Vec<Message> {
        if self.factors.intensity(&reading.fuels).is_none() {
            return Vec::new();
        }
        let newest = self.newest();
        let in_window = newest.is_none_or(|n| reading.ts > n - history_window());
        let is_latest = newest.is_none_or(|n| reading.ts >= n);
        let mut tables = vec![Factors::Direct, Factors::Lifecycle];
        if !tables.contains(&self.factors) {
            tables.push(self.factors);
        }
        let mut live = Vec::new();
        let mut archive = Vec::new();
        let mut own = None;
        for table in tables {
            let Some(value) = table.intensity(&reading.fuels).filter(|v| v.is_finite()) else {
                continue;
            };
            if table == self.factors {
                own = Some(value);
            }
            let payload = Co2Payload {
                ts: reading.ts,
                value,
                units: UNITS_G_PER_KWH.to_owned(),
                factors: table.name().to_owned(),
            };
            if is_latest {
                live.extend(Message::or_log(Message::json(
                    self.topics.co2(table),
                    &payload,
                )));
            }
            archive.extend(Message::or_log(Message::event(
                self.topics.co2_archive(),
                &payload,
            )));
        }
        let mut out = live;
        out.append(&mut archive);
        if let (true, Some(value)) = (in_window, own) {
            self.history.insert(reading.ts, value);
            self.trim();
            out.extend(Message::or_log(Message::json(
                self.topics.co2_history(),
                &self.history_payload(),
            )));
        }
        out
    }

    /// The history as its contract payload (oldest first).
    pub fn history_payload(&self) -> Co2HistoryPayload {
        Co2HistoryPayload {
            units: UNITS_G_PER_KWH.to_owned(),
            ts: self.history.keys().copied().collect(),
            values: self.history.values().copied().collect(),
        }
    }

    fn trim(&mut self) {
        if let Some(newest) = self.newest() {
            let cutoff = newest - history_window();
            self.history = self.history.split_off(&(cutoff + Duration::nanoseconds(1)));
        }
    }
}

fn hour_of(ts: DateTime<Utc>) -> i64 {
    ts.timestamp().div_euclid(3600)
}

/// When [`Co2Step`] publishes the forecaster's state (`state/co2/forecaster`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatePolicy {
    /// From memory (the long-running calculator): with the first reading of each hour
    /// (reading time) and, through [`Co2Step::state_message`], on a clean shutdown when
    /// readings arrived since the last one. A crash loses at most the hourly means of its last
    /// hour, and those come back from the 24 h history.
    Hourly,
    /// From the retained state read in the same invocation (the Lambda, restored by
    /// [`Co2Step::restore`] each time): published when it is absent, refused, or from an
    /// earlier hour than the reading.
    FromRetained,
}

/// What [`Co2Step::restore`] did (for logs and responses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Restored {
    /// The retained state was restored (`false`: none, or another table's / inconsistent).
    pub state: bool,
    /// Entries of the retained history the calculator left out (dated in the future, or not
    /// a valid intensity).
    pub history_refused: usize,
    /// Readings of the calculator's window newer than what the forecaster held, added to it.
    pub history_added: usize,
}

/// The retained messages the restore recipe reads, decoded: `None` where there is none or
/// where it breaks the contract (that is logged: a bad retained value must never stop the
/// calculator for good; the next one published replaces it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetainedInputs {
    /// The forecaster's state (`{root}/state/co2/forecaster`).
    pub state: Option<ForecasterStatePayload>,
    /// The 24 h history (`{root}/archive/co2/24h`).
    pub history: Option<Co2HistoryPayload>,
}

/// The retained payload of `topic`; `None` when there is none or it was cleared (an empty
/// retained payload, as in MQTT).
///
/// # Errors
/// [`PortError`] when the broker could not be asked.
pub async fn retained_payload(
    retained: &impl RetainedReader,
    topic: &str,
) -> Result<Option<Vec<u8>>, PortError> {
    Ok(retained
        .retained(topic)
        .await?
        .filter(|bytes| !bytes.is_empty()))
}

/// The calculator's 24 h window from its retained message (`{root}/archive/co2/24h`); `None`
/// when there is none, or when it breaks the contract: that is logged and the window starts
/// empty. Entries dated after `now` are left out by [`Co2Calculator::restore`].
///
/// # Errors
/// [`PortError`] when the broker could not be asked.
pub async fn load_history(
    retained: &impl RetainedReader,
    topics: &Topics,
) -> Result<Option<Co2HistoryPayload>, PortError> {
    let topic = topics.co2_history();
    match retained_payload(retained, &topic).await? {
        None => Ok(None),
        Some(bytes) => match decode_history(&topic, &bytes) {
            Ok(history) => Ok(Some(history)),
            Err(e) => {
                tracing::warn!(error = %e, "retained history ignored; starting the window empty");
                Ok(None)
            }
        },
    }
}

/// The forecaster's retained state (`{root}/state/co2/forecaster`, `docs/forecast.md`),
/// checked and migrated to the current version by [`decode_forecaster_state`] against `now`:
/// the raw read, then the decode, kept apart because they fail differently. The outer `Result`
/// is the broker (could not ask); the inner one the payload, which a caller ignores with a
/// warning (the forecaster rebuilds from the 24 h history and the next state it publishes
/// replaces it).
///
/// # Errors
/// [`PortError`] when the broker could not be asked.
pub async fn load_forecaster_state(
    retained: &impl RetainedReader,
    topics: &Topics,
    now: DateTime<Utc>,
) -> Result<Option<Result<ForecasterStatePayload, StreamError>>, PortError> {
    let topic = topics.forecaster_state();
    Ok(retained_payload(retained, &topic)
        .await?
        .map(|bytes| decode_forecaster_state(&topic, &bytes, now)))
}

/// Reads the forecaster's retained state and the 24 h history (concurrently) and decodes
/// them: what [`Co2Step::restore`] takes. One read each, no retry: the service retries until
/// the broker answers, the Lambda fails the invocation (retried by the runtime).
///
/// # Errors
/// [`PortError`] when the broker could not be asked.
pub async fn read_retained_inputs(
    retained: &impl RetainedReader,
    topics: &Topics,
    now: DateTime<Utc>,
) -> Result<RetainedInputs, PortError> {
    let (history, state) = tokio::join!(
        load_history(retained, topics),
        load_forecaster_state(retained, topics, now)
    );
    let history = history?;
    let state = match state? {
        Some(Ok(state)) => Some(state),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "retained forecaster state ignored (rebuilt from the 24 h history)");
            None
        }
        None => None,
    };
    Ok(RetainedInputs { state, history })
}

/// The CO2 step: a [`Co2Calculator`] and a [`Forecaster`] fed the same readings, and the
/// messages both produce per reading. Pure: the service or the Lambda publishes them.
#[derive(Debug, Clone)]
pub struct Co2Step {
    topics: Topics,
    calculator: Co2Calculator,
    forecaster: Forecaster,
    policy: StatePolicy,
    /// Hour (reading time) of the newest reading in the state known to be retained: the last
    /// published or restored ([`StatePolicy::Hourly`]); the one restored by this invocation
    /// ([`StatePolicy::FromRetained`]).
    state_hour: Option<i64>,
    /// Whether the forecaster took readings the last published state lacks.
    dirty: bool,
    /// The default ready-by time of the charge windows (`CHARGE_READY_BY`).
    ready_by: ReadyBy,
}

impl Co2Step {
    /// An empty step whose history and forecast use `factors` (the `FACTORS` setting).
    pub fn new(topics: Topics, factors: Factors, policy: StatePolicy) -> Self {
        Self::with_calculator(Co2Calculator::new(topics, factors), policy)
    }

    /// A step over `calculator` (its topics and factor table), with an empty forecaster.
    pub fn with_calculator(calculator: Co2Calculator, policy: StatePolicy) -> Self {
        Co2Step {
            topics: calculator.topics().clone(),
            forecaster: Forecaster::new(calculator.factors()),
            calculator,
            policy,
            state_hour: None,
            dirty: false,
            ready_by: ReadyBy::default(),
        }
    }

    /// The same step with `ready_by` as the charge windows' default ready-by time (the
    /// `CHARGE_READY_BY` setting; default 07:00 New York).
    pub fn with_ready_by(mut self, ready_by: ReadyBy) -> Self {
        self.ready_by = ready_by;
        self
    }

    /// The calculator (intensities and the 24 h window).
    pub fn calculator(&self) -> &Co2Calculator {
        &self.calculator
    }

    /// The forecaster.
    pub fn forecaster(&self) -> &Forecaster {
        &self.forecaster
    }

    /// The restore recipe, from retained messages ([`read_retained_inputs`]): the
    /// forecaster's state, then the calculator's window from the history, then the readings
    /// of that window newer than the state into the forecaster. What is already held is kept
    /// (a warm Lambda container changes nothing). A state of another factor table, or an
    /// inconsistent one, is not used (and is replaced by the next state published); history
    /// entries that no reading can have produced are left out (see [`Co2Calculator::restore`]).
    pub fn restore(&mut self, retained: &RetainedInputs, now: DateTime<Utc>) -> Restored {
        let state = retained
            .state
            .as_ref()
            .is_some_and(|s| self.forecaster.restore(s));
        let restored_hour = retained
            .state
            .as_ref()
            .filter(|_| state)
            .map(|s| hour_of(s.latest.ts));
        match self.policy {
            StatePolicy::Hourly => {
                if restored_hour.is_some() {
                    self.state_hour = restored_hour;
                }
            }
            StatePolicy::FromRetained => self.state_hour = restored_hour,
        }
        if let (Some(s), false) = (&retained.state, state) {
            tracing::warn!(
                factors = %s.factors,
                "retained forecaster state ignored (another factor table, or inconsistent)"
            );
        }
        let mut report = Restored {
            state,
            ..Restored::default()
        };
        if let Some(history) = &retained.history {
            report.history_refused = self.calculator.restore(history, now);
            if report.history_refused > 0 {
                tracing::warn!(
                    refused = report.history_refused,
                    "retained history: entries dated in the future or not a valid intensity left out"
                );
            }
            // The calculator's window, not the raw retained one: entries it refused stay out.
            let window = self.calculator.history_payload();
            report.history_added = window
                .ts
                .iter()
                .zip(&window.values)
                .filter(|(ts, v)| self.forecaster.update_intensity(**ts, **v))
                .count();
            self.dirty |= report.history_added > 0;
        }
        report
    }

    /// Handles one reading (decoded and checked by
    /// [`decode_fuel_mix_at`](crate::stream::decode_fuel_mix_at)), in order: the calculator's
    /// messages ([`Co2Calculator::on_fuel_mix`]: live intensities, archive stream, history);
    /// then, unless the reading is older than the newest the forecaster holds, the forecast and
    /// the charge windows (with the load forecast `load`, when one is held), the band (once 24
    /// hourly means are held) and the forecaster's state as the [`StatePolicy`] says. The
    /// newest reading delivered again gets its forecast, windows and band again.
    pub fn on_fuel_mix(
        &mut self,
        payload: &FuelMixPayload,
        load: Option<&LoadForecast>,
    ) -> Vec<Message> {
        let mut out = self.calculator.on_fuel_mix(payload);
        let fresh = self.forecaster.update(&payload.reading());
        if !fresh && self.forecaster.newest() != Some(payload.ts) {
            return out;
        }
        self.dirty |= fresh;
        if let Some(f) = self.forecaster.forecast(payload.ts, load) {
            out.extend(Message::or_log(Message::json(
                self.topics.co2_forecast(),
                &f.payload(),
            )));
            out.extend(Message::or_log(Message::json(
                self.topics.charge_window(),
                &charge_window_payload_with(&f, self.ready_by),
            )));
        }
        if let Some(b) = self.forecaster.band_payload() {
            out.extend(Message::or_log(Message::json(self.topics.co2_band(), &b)));
        }
        let stale = self.state_hour.is_none_or(|h| h < hour_of(payload.ts));
        if stale {
            match self.policy {
                StatePolicy::Hourly => out.extend(self.state_message()),
                StatePolicy::FromRetained => {
                    if let Some(state) = self.forecaster.state() {
                        out.extend(Message::or_log(Message::json(
                            self.topics.forecaster_state(),
                            &state,
                        )));
                    }
                }
            }
        }
        out
    }

    /// The forecaster's state when readings arrived since the last one published (for a
    /// clean shutdown, [`StatePolicy::Hourly`]); marks it published.
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::reading::FuelMix;
    use crate::stream::decode;
    use chrono::TimeZone;

    fn mix_at(ts: DateTime<Utc>, gas: f64) -> FuelMixPayload {
        let fuels = FuelMix([0.0, gas, 100.0 - gas, 0.0, 0.0, 0.0, 0.0]);
        FuelMixPayload {
            ts,
            fuels,
            total_mw: 100.0,
        }
    }

    fn topics_of(out: &[Message]) -> Vec<&str> {
        out.iter().map(|m| m.topic.as_str()).collect()
    }

    #[test]
    fn publishes_both_tables_and_a_rolling_window() {
        let t0 = Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap();
        let mut calc = Co2Calculator::new(Topics::default(), Factors::Direct);
        let out = calc.on_fuel_mix(&mix_at(t0, 50.0));
        assert_eq!(
            topics_of(&out),
            [
                "ny-power/computed/co2",
                "ny-power/computed/co2/lifecycle",
                "ny-power/archive/co2/points",
                "ny-power/archive/co2/points",
                "ny-power/archive/co2/24h"
            ]
        );
        assert_eq!(
            out.iter().map(|m| m.retain).collect::<Vec<_>>(),
            [true, true, false, false, true],
            "the archive stream is not retained"
        );
        let direct: Co2Payload = decode("t", &out[0].payload).unwrap();
        assert!((direct.value - 417.21 / 2.0).abs() < 1e-9);
        let life: Co2Payload = decode("t", &out[1].payload).unwrap();
        assert!((life.value - (537.21 + 12.0) / 2.0).abs() < 1e-9);
        assert_eq!(life.factors, "lifecycle");
        assert_eq!(out[2].payload, out[0].payload);
        assert_eq!(out[3].payload, out[1].payload);

        // 24 h later plus 5 min: the first reading falls out of the window.
        let t1 = t0 + Duration::hours(24);
        calc.on_fuel_mix(&mix_at(t1, 0.0));
        assert_eq!(calc.history_payload().ts, vec![t1]);
    }

    /// Issue 10: a reading delivered after a newer one (a broker restart) lost its co2 points,
    /// because the archiver stored the live topics and a late reading published none.
    #[test]
    fn a_late_reading_is_archived_without_moving_the_live_topics() {
        let t0 = Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap();
        let mut calc = Co2Calculator::new(Topics::default(), Factors::Direct);
        calc.on_fuel_mix(&mix_at(t0, 10.0));
        let late = calc.on_fuel_mix(&mix_at(t0 - Duration::minutes(5), 20.0));
        assert_eq!(
            topics_of(&late),
            [
                "ny-power/archive/co2/points",
                "ny-power/archive/co2/points",
                "ny-power/archive/co2/24h"
            ],
            "archived and in the history, not on the live topics"
        );
        let t = Topics::default();
        let points: Vec<_> = late
            .iter()
            .flat_map(|m| crate::archive::points_for_message(&t, &m.topic, &m.payload).unwrap())
            .collect();
        assert_eq!(points.len(), 2);
        assert!(points.iter().all(|p| p.ts == t0 - Duration::minutes(5)));
        assert_eq!(points[0].tags["factors"], "direct");
        assert!((points[0].fields[0].1 - 417.21 * 0.2).abs() < 1e-9);
        assert_eq!(points[1].tags["factors"], "lifecycle");

        let again = calc.on_fuel_mix(&mix_at(t0, 10.0));
        assert_eq!(calc.history_payload().ts.len(), 2);
        assert_eq!(again.len(), 5, "a replay of the newest republishes it all");
        // Older than the window: archived only.
        let ancient = calc.on_fuel_mix(&mix_at(t0 - Duration::hours(30), 20.0));
        assert_eq!(
            topics_of(&ancient),
            ["ny-power/archive/co2/points", "ny-power/archive/co2/points"]
        );
        assert_eq!(calc.history_payload().ts.len(), 2);
    }

    #[test]
    fn restore_keeps_the_chart_full_and_leaves_out_the_impossible() {
        let t0 = Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap();
        let mut calc = Co2Calculator::new(Topics::default(), Factors::Direct);
        let year_2100 = Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap();
        let refused = calc.restore(
            &Co2HistoryPayload {
                units: UNITS_G_PER_KWH.into(),
                ts: vec![
                    t0,
                    t0 + Duration::minutes(5),
                    t0 + Duration::minutes(7),
                    year_2100,
                ],
                values: vec![1.0, 2.0, -5.0, 3.0],
            },
            t0 + Duration::minutes(10),
        );
        assert_eq!(refused, 2, "the negative value and the reading from 2100");
        calc.on_fuel_mix(&mix_at(t0 + Duration::minutes(10), 0.0));
        assert_eq!(calc.history_payload().values, vec![1.0, 2.0, 0.0]);
    }

    // The forecast side ([`Co2Step`]): tests moved from the service's `ForecastStage` and the
    // Lambda's `ForecastStep`, same assertions, over the forecast part of the messages (the
    // calculator's part is tested above).

    mod step {
        use super::super::*;
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

        fn is_forecast_side(kind: &TopicKind) -> bool {
            !matches!(
                kind,
                TopicKind::Co2(_) | TopicKind::Co2Archive | TopicKind::Co2History
            )
        }

        /// The forecast side of the messages, in order.
        fn forecast_part(out: Vec<Message>) -> Vec<Message> {
            let t = Topics::default();
            out.into_iter()
                .filter(|m| is_forecast_side(&t.classify(&m.topic).unwrap()))
                .collect()
        }

        fn kinds(out: &[Message]) -> Vec<TopicKind> {
            let t = Topics::default();
            out.iter().map(|m| t.classify(&m.topic).unwrap()).collect()
        }

        fn hourly(factors: Factors) -> Co2Step {
            Co2Step::new(Topics::default(), factors, StatePolicy::Hourly)
        }

        fn from_retained(factors: Factors) -> Co2Step {
            Co2Step::new(Topics::default(), factors, StatePolicy::FromRetained)
        }

        fn state_only(state: Option<&ForecasterStatePayload>) -> RetainedInputs {
            RetainedInputs {
                state: state.cloned(),
                history: None,
            }
        }

        #[test]
        fn the_full_message_list_is_calculator_then_forecast() {
            let mut step = hourly(Factors::Direct);
            let out = step.on_fuel_mix(&mix(t0(), 0.5), None);
            assert_eq!(
                kinds(&out),
                [
                    TopicKind::Co2(Factors::Direct),
                    TopicKind::Co2(Factors::Lifecycle),
                    TopicKind::Co2Archive,
                    TopicKind::Co2Archive,
                    TopicKind::Co2History,
                    TopicKind::Co2Forecast,
                    TopicKind::ChargeWindow,
                    TopicKind::ForecasterState
                ]
            );
        }

        /// Issue 12: the step's ready-by setting is the payload's default, offered with the
        /// page's times; a fresh step (one reading of history) says it is learning.
        #[test]
        fn the_ready_by_setting_reaches_the_charge_window_payload() {
            let six_thirty = ReadyBy::parse("06:30").unwrap();
            let mut step = hourly(Factors::Direct).with_ready_by(six_thirty);
            let out = step.on_fuel_mix(&mix(t0(), 0.5), None);
            let m = out
                .iter()
                .find(|m| Topics::default().classify(&m.topic) == Some(TopicKind::ChargeWindow))
                .unwrap();
            let p: crate::stream::ChargeWindowPayload =
                crate::stream::decode(&m.topic, &m.payload).unwrap();
            assert_eq!(p.ready_by_default.as_deref(), Some("06:30"));
            let times: Vec<&str> = p
                .ready_by
                .as_ref()
                .unwrap()
                .iter()
                .map(|r| r.time.as_str())
                .collect();
            assert_eq!(
                times,
                ["05:00", "06:00", "06:30", "07:00", "08:00", "09:00"]
            );
            assert!(p
                .windows
                .iter()
                .all(|w| w.advice.as_deref() == Some("learning")));
        }

        /// Issue 11, the drift: the service published nothing for a redelivery of the newest
        /// reading, so one that stopped between the history and the forecast never published
        /// that reading's forecast. Both policies now republish it; an older reading still
        /// adds nothing to the forecast.
        #[test]
        fn a_redelivery_of_the_newest_republishes_its_forecast_in_both_policies() {
            for policy in [StatePolicy::Hourly, StatePolicy::FromRetained] {
                let mut step = Co2Step::new(Topics::default(), Factors::Direct, policy);
                step.on_fuel_mix(&mix(t0(), 0.5), None);
                let first = step.on_fuel_mix(&mix(t0() + chrono::Duration::minutes(5), 0.4), None);
                let again = step.on_fuel_mix(&mix(t0() + chrono::Duration::minutes(5), 0.4), None);
                let forecast = |out: &[Message]| {
                    out.iter()
                        .filter(|m| {
                            matches!(
                                Topics::default().classify(&m.topic),
                                Some(TopicKind::Co2Forecast | TopicKind::ChargeWindow)
                            )
                        })
                        .cloned()
                        .collect::<Vec<_>>()
                };
                assert_eq!(forecast(&again).len(), 2, "{policy:?}");
                assert_eq!(forecast(&again), forecast(&first), "{policy:?}");
                let older = step.on_fuel_mix(&mix(t0(), 0.9), None);
                assert!(forecast_part(older).is_empty(), "{policy:?}");
            }
            // After a restart from the retained history holding the newest reading (its
            // forecast never published): its redelivery publishes the forecast.
            let mut earlier = hourly(Factors::Direct);
            earlier.on_fuel_mix(&mix(t0(), 0.5), None);
            let history = earlier.calculator().history_payload();
            let mut restarted = hourly(Factors::Direct);
            let r = restarted.restore(
                &RetainedInputs {
                    state: None,
                    history: Some(history),
                },
                t0(),
            );
            assert_eq!(r.history_added, 1);
            let out = forecast_part(restarted.on_fuel_mix(&mix(t0(), 0.5), None));
            let f: crate::stream::Co2ForecastPayload =
                decode(&out[0].topic, &out[0].payload).unwrap();
            assert_eq!(f.issued, t0());
            assert_eq!(
                kinds(&out),
                [
                    TopicKind::Co2Forecast,
                    TopicKind::ChargeWindow,
                    TopicKind::ForecasterState
                ]
            );
        }

        // From the service's `ForecastStage` (policy `Hourly`).

        #[test]
        fn forecast_messages_per_reading_and_state_once_an_hour() {
            let mut stage = hourly(Factors::Direct);
            let first = forecast_part(stage.on_fuel_mix(&mix(t0(), 0.5), None));
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
            let second = forecast_part(
                stage.on_fuel_mix(&mix(t0() + chrono::Duration::minutes(5), 0.4), None),
            );
            assert_eq!(
                kinds(&second),
                [TopicKind::Co2Forecast, TopicKind::ChargeWindow]
            );
            assert!(forecast_part(stage.on_fuel_mix(&mix(t0(), 0.9), None)).is_empty());
            // Every 5 minutes for a day: the state once an hour, the band from the 24th hour on.
            let mut states = 0;
            let mut band = None;
            for i in 2..=(24 * 12) {
                let out = forecast_part(
                    stage.on_fuel_mix(&mix(t0() + chrono::Duration::minutes(5 * i), 0.5), None),
                );
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
            let mut a = hourly(Factors::Direct);
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
            let mut b = hourly(Factors::Direct);
            assert!(b.restore(&state_only(Some(&state)), t0()).state);
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
            let restored = b.restore(
                &RetainedInputs {
                    state: None,
                    history: Some(history),
                },
                newest + chrono::Duration::minutes(2),
            );
            assert_eq!(restored.history_added, 1);
            // A reading in the state's hour (10:55 → 10:59) publishes no state; the pending one
            // goes on shutdown.
            assert_eq!(newest, t0() + chrono::Duration::minutes(5 * 359));
            let out = b.on_fuel_mix(&mix(newest + chrono::Duration::minutes(4), 0.5), None);
            assert!(!kinds(&out).contains(&TopicKind::ForecasterState));
            let saved = b.state_message().unwrap();
            let saved: ForecasterStatePayload = decode(&saved.topic, &saved.payload).unwrap();
            assert_eq!(saved.hour0, state.hour0, "the restored hours are kept");
            assert_eq!(saved.latest.ts, newest + chrono::Duration::minutes(4));
            // Another table's state is refused.
            let mut c = hourly(Factors::Lifecycle);
            assert!(!c.restore(&state_only(Some(&state)), t0()).state);
            assert_eq!(c.forecaster().hours_held(), 0);
        }

        // From the Lambda's `ForecastStep` (policy `FromRetained`).

        #[test]
        fn state_follows_the_retained_one_and_retries_of_the_newest_republish() {
            let mut step = from_retained(Factors::Direct);
            let now = t0() + chrono::Duration::hours(2);
            // No retained state: the first reading publishes one.
            step.restore(&state_only(None), now);
            let first = forecast_part(step.on_fuel_mix(&mix(t0(), 0.5), None));
            assert_eq!(
                kinds(&first),
                [
                    TopicKind::Co2Forecast,
                    TopicKind::ChargeWindow,
                    TopicKind::ForecasterState
                ]
            );
            let state: ForecasterStatePayload = decode("t", &first[2].payload).unwrap();
            // Retained state of this hour: the next reading of the hour publishes none.
            step.restore(&state_only(Some(&state)), now);
            let second = forecast_part(
                step.on_fuel_mix(&mix(t0() + chrono::Duration::minutes(5), 0.4), None),
            );
            assert_eq!(
                kinds(&second),
                [TopicKind::Co2Forecast, TopicKind::ChargeWindow]
            );
            // A retry of it: the same messages again.
            step.restore(&state_only(Some(&state)), now);
            assert_eq!(
                forecast_part(
                    step.on_fuel_mix(&mix(t0() + chrono::Duration::minutes(5), 0.4), None)
                ),
                second
            );
            // An older reading: nothing.
            assert!(forecast_part(step.on_fuel_mix(&mix(t0(), 0.9), None)).is_empty());
            // The state publish of this hour was lost (retained still absent): made again.
            step.restore(&state_only(None), now);
            let third = forecast_part(
                step.on_fuel_mix(&mix(t0() + chrono::Duration::minutes(10), 0.4), None),
            );
            assert_eq!(kinds(&third).last(), Some(&TopicKind::ForecasterState));
            // A new hour with the previous hour's state retained: published.
            step.restore(&state_only(Some(&state)), now);
            let next_hour =
                forecast_part(step.on_fuel_mix(&mix(t0() + chrono::Duration::hours(1), 0.4), None));
            assert_eq!(kinds(&next_hour).last(), Some(&TopicKind::ForecasterState));
        }

        #[test]
        fn another_tables_state_is_not_used_and_gets_replaced() {
            let mut life = from_retained(Factors::Lifecycle);
            life.restore(&state_only(None), t0());
            let out = forecast_part(life.on_fuel_mix(&mix(t0(), 0.5), None));
            let state: ForecasterStatePayload = decode("t", &out[2].payload).unwrap();
            let mut direct = from_retained(Factors::Direct);
            let r = direct.restore(&state_only(Some(&state)), t0());
            assert!(!r.state);
            assert_eq!(direct.forecaster().hours_held(), 0);
            let out = forecast_part(
                direct.on_fuel_mix(&mix(t0() + chrono::Duration::minutes(5), 0.5), None),
            );
            let replaced: ForecasterStatePayload =
                decode("t", &out.last().unwrap().payload).unwrap();
            assert_eq!(replaced.factors, "direct");
        }

        #[tokio::test]
        async fn retained_inputs_are_read_through_the_port_and_bad_ones_left_out() {
            use crate::fakes::MemoryBroker;
            use crate::ports::Publisher;
            let broker = MemoryBroker::new();
            let topics = Topics::default();
            let now = t0() + chrono::Duration::hours(1);
            assert_eq!(
                read_retained_inputs(&broker, &topics, now).await.unwrap(),
                RetainedInputs::default()
            );
            let mut step = hourly(Factors::Direct);
            for m in step.on_fuel_mix(&mix(t0(), 0.5), None) {
                broker.publish(&m).await.unwrap();
            }
            let read = read_retained_inputs(&broker, &topics, now).await.unwrap();
            assert_eq!(read.history, Some(step.calculator().history_payload()));
            assert_eq!(read.state, step.forecaster().state());
            // A state that is not one: left out, the history still read.
            broker
                .publish(&Message {
                    topic: topics.forecaster_state(),
                    payload: b"<html>".to_vec(),
                    retain: true,
                })
                .await
                .unwrap();
            let read = read_retained_inputs(&broker, &topics, now).await.unwrap();
            assert_eq!(read.state, None);
            assert!(read.history.is_some());
        }
    }
}
