//! The CO2 calculator use case: on each fuel-mix reading, the intensity with the direct and
//! lifecycle tables (and the configured table, if another) and the rolling 24 h history
//! (DESIGN §5). Pure: it returns the messages; an adapter publishes them.
//!
//! Every reading's intensities go to the archive stream ([`Topics::co2_archive`], not
//! retained), late ones included; only the newest reading moves the live retained
//! `computed/co2*` topics, so a reading delivered after a newer one (a broker redelivering
//! after a restart) is still archived and never moves the live value backwards.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::intensity::Factors;
use crate::stream::{
    future_slack, Co2HistoryPayload, Co2Payload, FuelMixPayload, Message, Topics, UNITS_G_PER_KWH,
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
}
