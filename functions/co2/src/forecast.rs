//! The forecast side of the co2 function (issue 7, `docs/forecast.md`): a [`Forecaster`] fed
//! the same readings as the `Co2Calculator`, and the messages it adds per reading —
//! `computed/co2/forecast`, `computed/charge-window`, `computed/co2/band` and, with the first
//! reading of each hour, `state/co2/forecaster`. Pure: the handler reads the retained
//! messages and publishes what this returns.
//!
//! It mirrors the self-hosted calculator (`ny_power::services::co2::ForecastStage`): same
//! topics, order and hourly state. Two things differ because a Lambda has no shutdown hook
//! and may be retried:
//!
//! - **When the state is published** is decided from the retained state read in the same
//!   invocation (published when it is absent, refused, or from an earlier hour than the
//!   reading), not from memory. A state publish that failed is therefore made again by the
//!   next invocation, warm or cold.
//! - **A retry of the newest reading** (the forecaster already holds it: `update` returns
//!   false) republishes the same forecast, windows and band, so a retry after a failed publish
//!   completes the reading instead of leaving the previous forecast retained. A reading older
//!   than the newest held adds nothing and publishes nothing.

use chrono::{DateTime, Utc};
use ny_power::forecast::{charge_window_payload, Forecaster};
use ny_power::stream::{
    Co2HistoryPayload, ForecasterStatePayload, FuelMixPayload, Message, Topics,
};
use ny_power::Factors;

fn hour_of(ts: DateTime<Utc>) -> i64 {
    ts.timestamp().div_euclid(3600)
}

/// What restoring from the retained messages did (for logs and the response).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Restored {
    /// The retained state was restored (`false`: none, or another table's / inconsistent).
    pub state: bool,
    /// Readings of the retained 24 h history newer than what was held, added.
    pub history_added: usize,
}

/// The forecaster of one warm container, restored from the retained state and history on
/// every invocation (a no-op when it already holds them).
#[derive(Debug, Clone)]
pub struct ForecastStep {
    topics: Topics,
    forecaster: Forecaster,
    /// The newest reading of the retained state read by this invocation, when it was restored.
    retained_newest: Option<DateTime<Utc>>,
}

impl ForecastStep {
    /// An empty forecaster computing intensities with `factors` (the calculator's `FACTORS`).
    pub fn new(topics: Topics, factors: Factors) -> Self {
        ForecastStep {
            topics,
            forecaster: Forecaster::new(factors),
            retained_newest: None,
        }
    }

    /// The forecaster.
    pub fn forecaster(&self) -> &Forecaster {
        &self.forecaster
    }

    /// Restores from this invocation's retained reads, in the recipe's order: the state, then
    /// the history's readings newer than it. Hours already held are kept, so a warm container
    /// changes nothing. A state of another factor table, or an inconsistent one, is not used
    /// (and is replaced by the next state published).
    pub fn restore(
        &mut self,
        state: Option<&ForecasterStatePayload>,
        history: Option<&Co2HistoryPayload>,
    ) -> Restored {
        let restored = state.is_some_and(|s| self.forecaster.restore(s));
        self.retained_newest = state.filter(|_| restored).map(|s| s.latest.ts);
        let history_added = history.map_or(0, |h| {
            h.ts.iter()
                .zip(&h.values)
                .filter(|(ts, v)| self.forecaster.update_intensity(**ts, **v))
                .count()
        });
        Restored {
            state: restored,
            history_added,
        }
    }

    /// The messages for one reading, after the calculator's: the forecast and the charge
    /// windows, the band (once 24 hourly means are held), and the state when the retained one
    /// is not from this reading's hour. Empty for a reading older than the newest held.
    pub fn on_fuel_mix(&mut self, payload: &FuelMixPayload) -> Vec<Message> {
        let fresh = self.forecaster.update(&payload.reading());
        if !fresh && self.forecaster.newest() != Some(payload.ts) {
            return Vec::new();
        }
        let mut out = Vec::new();
        if let Some(f) = self.forecaster.forecast(payload.ts, None) {
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
        let stale = self
            .retained_newest
            .is_none_or(|ts| hour_of(ts) < hour_of(payload.ts));
        if stale {
            if let Some(state) = self.forecaster.state() {
                out.extend(Message::or_log(Message::json(
                    self.topics.forecaster_state(),
                    &state,
                )));
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use ny_power::reading::{FuelMix, Reading};
    use ny_power::stream::{decode, TopicKind};

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
    fn state_follows_the_retained_one_and_retries_of_the_newest_republish() {
        let mut step = ForecastStep::new(Topics::default(), Factors::Direct);
        // No retained state: the first reading publishes one.
        step.restore(None, None);
        let first = step.on_fuel_mix(&mix(t0(), 0.5));
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
        step.restore(Some(&state), None);
        let second = step.on_fuel_mix(&mix(t0() + Duration::minutes(5), 0.4));
        assert_eq!(
            kinds(&second),
            [TopicKind::Co2Forecast, TopicKind::ChargeWindow]
        );
        // A retry of it: the same messages again.
        step.restore(Some(&state), None);
        assert_eq!(
            step.on_fuel_mix(&mix(t0() + Duration::minutes(5), 0.4)),
            second
        );
        // An older reading: nothing.
        assert!(step.on_fuel_mix(&mix(t0(), 0.9)).is_empty());
        // The state publish of this hour was lost (retained still absent): made again.
        step.restore(None, None);
        let third = step.on_fuel_mix(&mix(t0() + Duration::minutes(10), 0.4));
        assert_eq!(kinds(&third).last(), Some(&TopicKind::ForecasterState));
        // A new hour with the previous hour's state retained: published.
        step.restore(Some(&state), None);
        let next_hour = step.on_fuel_mix(&mix(t0() + Duration::hours(1), 0.4));
        assert_eq!(kinds(&next_hour).last(), Some(&TopicKind::ForecasterState));
    }

    #[test]
    fn another_tables_state_is_not_used_and_gets_replaced() {
        let mut life = ForecastStep::new(Topics::default(), Factors::Lifecycle);
        life.restore(None, None);
        let out = life.on_fuel_mix(&mix(t0(), 0.5));
        let state: ForecasterStatePayload = decode("t", &out[2].payload).unwrap();
        let mut direct = ForecastStep::new(Topics::default(), Factors::Direct);
        let r = direct.restore(Some(&state), None);
        assert!(!r.state);
        assert_eq!(direct.forecaster().hours_held(), 0);
        let out = direct.on_fuel_mix(&mix(t0() + Duration::minutes(5), 0.5));
        let replaced: ForecasterStatePayload = decode("t", &out.last().unwrap().payload).unwrap();
        assert_eq!(replaced.factors, "direct");
    }
}
