//! The CO2 calculator use case: on each fuel-mix reading, the intensity with the direct and
//! lifecycle tables (and the configured table, if another) and the rolling 24 h history
//! (DESIGN §5). Pure: it returns the messages; an adapter publishes them.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::intensity::Factors;
use crate::stream::{
    Co2HistoryPayload, Co2Payload, FuelMixPayload, Message, Topics, UNITS_G_PER_KWH,
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

    /// Restores the window from a retained history message (on start), merging with anything
    /// already held.
    pub fn restore(&mut self, history: &Co2HistoryPayload) {
        for (ts, v) in history.ts.iter().zip(&history.values) {
            if v.is_finite() {
                self.history.insert(*ts, *v);
            }
        }
        self.trim();
    }

    /// The newest instant held.
    pub fn newest(&self) -> Option<DateTime<Utc>> {
        self.history.keys().next_back().copied()
    }

    /// Handles one reading: returns the intensity messages and the updated history, or nothing
    /// when the reading has no generation. A reading older than the newest one held updates the
    /// history only (it must not overwrite a newer retained intensity); one older than the
    /// window is ignored.
    pub fn on_fuel_mix(&mut self, reading: &FuelMixPayload) -> Vec<Message> {
        let Some(value) = self.factors.intensity(&reading.fuels) else {
            return Vec::new();
        };
        let newest = self.newest();
        if newest.is_some_and(|n| reading.ts <= n - history_window()) {
            return Vec::new();
        }
        let is_latest = newest.is_none_or(|n| reading.ts >= n);
        self.history.insert(reading.ts, value);
        self.trim();
        let mut out = Vec::new();
        if is_latest {
            let mut tables = vec![Factors::Direct, Factors::Lifecycle];
            if !tables.contains(&self.factors) {
                tables.push(self.factors);
            }
            for table in tables {
                if let Some(value) = table.intensity(&reading.fuels) {
                    out.push(Message::json(
                        self.topics.co2(table),
                        &Co2Payload {
                            ts: reading.ts,
                            value,
                            units: UNITS_G_PER_KWH.to_owned(),
                            factors: table.name().to_owned(),
                        },
                    ));
                }
            }
        }
        out.push(Message::json(
            self.topics.co2_history(),
            &self.history_payload(),
        ));
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

#[cfg(test)]
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

    #[test]
    fn publishes_both_tables_and_a_rolling_window() {
        let t0 = Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap();
        let mut calc = Co2Calculator::new(Topics::default(), Factors::Direct);
        let out = calc.on_fuel_mix(&mix_at(t0, 50.0));
        let topics: Vec<_> = out.iter().map(|m| m.topic.as_str()).collect();
        assert_eq!(
            topics,
            [
                "ny-power/computed/co2",
                "ny-power/computed/co2/lifecycle",
                "ny-power/archive/co2/24h"
            ]
        );
        let direct: Co2Payload = decode("t", &out[0].payload).unwrap();
        assert!((direct.value - 417.21 / 2.0).abs() < 1e-9);
        let life: Co2Payload = decode("t", &out[1].payload).unwrap();
        assert!((life.value - (537.21 + 12.0) / 2.0).abs() < 1e-9);
        assert_eq!(life.factors, "lifecycle");

        // 24 h later plus 5 min: the first reading falls out of the window.
        let t1 = t0 + Duration::hours(24);
        calc.on_fuel_mix(&mix_at(t1, 0.0));
        assert_eq!(calc.history_payload().ts, vec![t1]);
    }

    #[test]
    fn old_readings_only_fill_history_and_replays_are_idempotent() {
        let t0 = Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap();
        let mut calc = Co2Calculator::new(Topics::default(), Factors::Direct);
        calc.on_fuel_mix(&mix_at(t0, 10.0));
        let out = calc.on_fuel_mix(&mix_at(t0 - Duration::minutes(5), 20.0));
        assert_eq!(out.len(), 1, "only the history for an older reading");
        let again = calc.on_fuel_mix(&mix_at(t0, 10.0));
        assert_eq!(calc.history_payload().ts.len(), 2);
        assert_eq!(again.len(), 3);
        let ancient = calc.on_fuel_mix(&mix_at(t0 - Duration::hours(30), 20.0));
        assert!(ancient.is_empty());
    }

    #[test]
    fn restore_keeps_the_chart_full() {
        let t0 = Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap();
        let mut calc = Co2Calculator::new(Topics::default(), Factors::Direct);
        calc.restore(&Co2HistoryPayload {
            units: UNITS_G_PER_KWH.into(),
            ts: vec![t0, t0 + Duration::minutes(5)],
            values: vec![1.0, 2.0],
        });
        calc.on_fuel_mix(&mix_at(t0 + Duration::minutes(10), 0.0));
        assert_eq!(calc.history_payload().values, vec![1.0, 2.0, 0.0]);
    }
}
