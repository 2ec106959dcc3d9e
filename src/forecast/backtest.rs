//! Backtest of the forecast on real readings, hour by hour, using only what was known at each
//! moment, against two baselines computed in the same run.
//!
//! - **Issue hours**: every top of the hour `t` such that each of the 24 hours before `t` and
//!   each of the 24 hours after it holds at least one reading.
//! - **Truth** of the hour `[t+k h, t+(k+1) h)` is the mean intensity of the readings in it
//!   (lead `k+1`, k = 0…23).
//! - **Method**: a [`Forecaster`] fed every reading up to and including `t`, asked for
//!   [`Forecaster::forecast`]`(t, None)` (the replayed months have no load forecast).
//! - **Persistence**: every hour equals the newest reading at `t`; its window choice is
//!   therefore "start now" (ties go to the earliest start).
//! - **Yesterday**: hour `t+k h` equals the truth of the same hour 24 h earlier (known at `t`).
//! - **MAE** over all issue hours and leads 1–24; **window regret** for an `H`-hour charge: the
//!   true mean of the window each forecast picks (lowest forecast mean, earliest on ties, fully
//!   inside the 24 h) minus the true mean of the best window in hindsight.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{best_window, Forecaster, Params, CHARGE_HOURS, HORIZON_HOURS};
use crate::intensity::Factors;
use crate::reading::Reading;

/// Why a backtest could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BacktestError {
    /// The readings are not in strictly increasing time order.
    #[error("readings are not in time order: reading {index} ({ts}) is not after the one before")]
    Unsorted {
        /// 0-based index of the offending reading.
        index: usize,
        /// Its instant.
        ts: String,
    },
    /// No hour has 24 h of history before it and 24 h of truth after it.
    #[error("no hour has 24 h of readings before it and 24 h after it ({readings} readings given; need at least 48 h without gaps of a whole hour)")]
    TooShort {
        /// Readings given.
        readings: usize,
    },
}

/// A score for the method and each baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    /// The forecast method.
    pub method: f64,
    /// "Same as now".
    pub persistence: f64,
    /// "Same time yesterday".
    pub yesterday: f64,
}

/// Per-lead MAE (index 0 = lead 1 h).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadScores {
    /// The forecast method.
    pub method: Vec<f64>,
    /// "Same as now".
    pub persistence: Vec<f64>,
    /// "Same time yesterday".
    pub yesterday: Vec<f64>,
}

/// Window regret for one charge length.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WindowRegret {
    /// Charge length, hours.
    pub hours: u32,
    /// Mean regret, g/kWh.
    pub regret: Scores,
}

/// The margin rule tried on the backtest for the 4-hour charge: at each issue hour the
/// method's window is advised only when its forecast is at least `margin_pct` % below
/// starting now (else "charge now"), then scored on the truth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MarginRow {
    /// The margin, %.
    pub margin_pct: f64,
    /// Share of issue hours told to wait (0–1).
    pub wait_share: f64,
    /// Mean true saving of a wait against charging now, g/kWh, over the hours told to wait
    /// (0 when none).
    pub saving_when_waiting: f64,
    /// Share of the waits that turned out no cleaner than charging now (0–1).
    pub worse_share: f64,
    /// Σ true saving / Σ (now − best in hindsight) over all issue hours (0–1).
    pub captured: f64,
}

/// Margins tried in [`BacktestReport::margins_4h`], %.
pub const MARGIN_CANDIDATES_PCT: [f64; 7] = [0.0, 1.0, 2.0, 5.0, 8.0, 10.0, 15.0];

/// What a backtest found (all in g/kWh).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestReport {
    /// Readings replayed.
    pub readings: usize,
    /// Issue hours evaluated.
    pub hours: usize,
    /// Mean absolute error over leads 1–24 h.
    pub mae: Scores,
    /// MAE per lead.
    pub mae_by_lead: LeadScores,
    /// Mean regret of the 4-hour window.
    pub window_regret_4h: Scores,
    /// Mean regret for every charge length (1, 2, 4, 8 h).
    pub window_regret: Vec<WindowRegret>,
    /// Share of the hindsight saving each choice captures for a 4-hour charge:
    /// Σ (now − chosen) / Σ (now − best) over all issue hours, true means (persistence always
    /// starts now: 0).
    pub captured_saving_4h: Scores,
    /// The same for the ready-by case: the 4-hour window ending by 7:00 AM New York
    /// ([`super::ready_by`], the default ready-by time), against the best such window in
    /// hindsight.
    pub captured_saving_ready_by_4h: Scores,
    /// The margin rule for the 4-hour charge, one row per [`MARGIN_CANDIDATES_PCT`].
    pub margins_4h: Vec<MarginRow>,
}

impl BacktestReport {
    /// The `--json` object of `ny-power backtest`: `readings`, `mae`, `window_regret_4h`.
    pub fn summary_json(&self) -> serde_json::Value {
        serde_json::json!({
            "readings": self.readings,
            "mae": self.mae,
            "window_regret_4h": self.window_regret_4h,
            "captured_saving_4h": self.captured_saving_4h,
            "captured_saving_ready_by_4h": self.captured_saving_ready_by_4h,
            "margins_4h": self.margins_4h,
        })
    }
}

#[derive(Default)]
struct Acc {
    sum: [f64; 3],
    n: usize,
}

impl Acc {
    fn add(&mut self, m: f64, p: f64, y: f64) {
        self.sum[0] += m;
        self.sum[1] += p;
        self.sum[2] += y;
        self.n += 1;
    }
    fn scores(&self) -> Scores {
        let n = self.n.max(1) as f64;
        Scores {
            method: self.sum[0] / n,
            persistence: self.sum[1] / n,
            yesterday: self.sum[2] / n,
        }
    }
}

/// For one issue hour and an `hours`-long charge: (true mean starting now − true mean of the
/// window `choice` picks, true mean starting now − best true mean): the saving taken and the
/// saving there was.
pub fn saving(choice: &[f64], truth: &[f64], hours: usize) -> Option<(f64, f64)> {
    let (j, _) = best_window(choice, hours)?;
    let (_, best) = best_window(truth, hours)?;
    let mean = |j: usize| truth[j..j + hours].iter().sum::<f64>() / hours as f64;
    let now = mean(0);
    Some((now - mean(j), now - best))
}

/// [`saving`] for the ready-by case: the `hours`-long window ending by 7:00 AM New York that
/// `choice` picks, against the best such window of `truth` (slots start at `ts`).
pub fn ready_by_saving(
    issued: chrono::DateTime<chrono::Utc>,
    ts: &[chrono::DateTime<chrono::Utc>],
    choice: &[f64],
    truth: &[f64],
    hours: u32,
) -> Option<(f64, f64)> {
    let seven = super::ready_by::ReadyBy::default();
    let as_forecast = |values: &[f64]| super::Forecast {
        issued,
        ts: ts.to_vec(),
        values: values.to_vec(),
        history_hours: 0,
    };
    let picked = super::ready_by::ready_by_window(&as_forecast(choice), hours, seven)?;
    let best = super::ready_by::ready_by_window(&as_forecast(truth), hours, seven)?;
    let n = hours as usize;
    let j = ts.iter().position(|s| *s == picked.start)?;
    let chosen = truth.get(j..j + n)?.iter().sum::<f64>() / n as f64;
    let now = truth.get(..n)?.iter().sum::<f64>() / n as f64;
    Some((now - chosen, now - best.mean))
}

/// Σ taken / Σ possible (0 when nothing was possible).
pub fn captured_share(savings: &[(f64, f64)]) -> f64 {
    let possible: f64 = savings.iter().map(|s| s.1).sum();
    if possible > 0.0 {
        savings.iter().map(|s| s.0).sum::<f64>() / possible
    } else {
        0.0
    }
}

#[derive(Default)]
struct MarginAcc {
    waits: usize,
    worse: usize,
    saved_waiting: f64,
    saved: f64,
}

fn regret(choice: &[f64], truth: &[f64], hours: usize) -> Option<f64> {
    let (j, _) = best_window(choice, hours)?;
    let (_, best) = best_window(truth, hours)?;
    let chosen = truth[j..j + hours].iter().sum::<f64>() / hours as f64;
    Some(chosen - best)
}

/// Replays `readings` (sorted by instant) hour by hour with intensities from `factors`.
///
/// # Errors
/// [`BacktestError::Unsorted`] when the readings are out of order;
/// [`BacktestError::TooShort`] when no hour can be evaluated.
pub fn backtest(readings: &[Reading], factors: Factors) -> Result<BacktestReport, BacktestError> {
    backtest_with(readings, factors, Params::default())
}

/// [`backtest`] with other tuning of the method.
///
/// # Errors
/// As [`backtest`].
pub fn backtest_with(
    readings: &[Reading],
    factors: Factors,
    params: Params,
) -> Result<BacktestReport, BacktestError> {
    if let Some(i) = (1..readings.len()).find(|i| readings[*i].ts <= readings[i - 1].ts) {
        return Err(BacktestError::Unsorted {
            index: i,
            ts: readings[i].ts.to_rfc3339(),
        });
    }
    // Truth: hourly means of the intensity.
    let mut buckets: BTreeMap<i64, (f64, u32)> = BTreeMap::new();
    for r in readings {
        if let Some(v) = factors.intensity(&r.mix) {
            let e = buckets
                .entry(r.ts.timestamp().div_euclid(3600))
                .or_default();
            e.0 += v;
            e.1 += 1;
        }
    }
    let truth_of = |h: i64| buckets.get(&h).map(|(s, n)| s / f64::from(*n));
    let (Some(first), Some(last)) = (
        buckets.keys().next().copied(),
        buckets.keys().next_back().copied(),
    ) else {
        return Err(BacktestError::TooShort {
            readings: readings.len(),
        });
    };

    let horizon = HORIZON_HOURS as i64;
    let mut fc = Forecaster::with_params(factors, params);
    let mut next = 0usize;
    let mut mae = Acc::default();
    let mut by_lead: Vec<Acc> = (0..HORIZON_HOURS).map(|_| Acc::default()).collect();
    let mut regrets: Vec<Acc> = CHARGE_HOURS.iter().map(|_| Acc::default()).collect();
    let mut hours = 0usize;
    let mut captured: [Vec<(f64, f64)>; 3] = Default::default();
    let mut captured_rb: [Vec<(f64, f64)>; 3] = Default::default();
    let mut margins: Vec<MarginAcc> = MARGIN_CANDIDATES_PCT
        .iter()
        .map(|_| MarginAcc::default())
        .collect();
    let mut possible_4h = 0.0;
    for h0 in first + horizon..=last - horizon + 1 {
        let Some(t) = chrono::DateTime::from_timestamp(h0 * 3600, 0) else {
            continue;
        };
        while next < readings.len() && readings[next].ts <= t {
            fc.update(&readings[next]);
            next += 1;
        }
        let past: Option<Vec<f64>> = (h0 - horizon..h0).map(truth_of).collect();
        let truth: Option<Vec<f64>> = (h0..h0 + horizon).map(truth_of).collect();
        let (Some(yesterday), Some(truth)) = (past, truth) else {
            continue;
        };
        let (Some(forecast), Some(now)) = (fc.forecast(t, None), fc.latest_intensity()) else {
            continue;
        };
        let method = &forecast.values;
        let persistence = vec![now; HORIZON_HOURS];
        hours += 1;
        for k in 0..HORIZON_HOURS {
            let e = [
                (method[k] - truth[k]).abs(),
                (persistence[k] - truth[k]).abs(),
                (yesterday[k] - truth[k]).abs(),
            ];
            mae.add(e[0], e[1], e[2]);
            by_lead[k].add(e[0], e[1], e[2]);
        }
        for (c, choice) in captured.iter_mut().zip([method, &persistence, &yesterday]) {
            c.extend(saving(choice, &truth, 4));
        }
        for (c, choice) in captured_rb
            .iter_mut()
            .zip([method, &persistence, &yesterday])
        {
            c.extend(ready_by_saving(t, &forecast.ts, choice, &truth, 4));
        }
        if let (Some((j, m_mean)), Some((taken, possible))) =
            (best_window(method, 4), saving(method, &truth, 4))
        {
            let now_mean = method[..4].iter().sum::<f64>() / 4.0;
            let pct = if now_mean > 0.0 {
                (now_mean - m_mean) / now_mean * 100.0
            } else {
                0.0
            };
            possible_4h += possible;
            for (acc, m) in margins.iter_mut().zip(MARGIN_CANDIDATES_PCT) {
                if j > 0 && pct >= m {
                    acc.waits += 1;
                    acc.saved_waiting += taken;
                    acc.saved += taken;
                    if taken <= 0.0 {
                        acc.worse += 1;
                    }
                }
            }
        }
        for (acc, h) in regrets.iter_mut().zip(CHARGE_HOURS) {
            let h = h as usize;
            if let (Some(m), Some(p), Some(y)) = (
                regret(method, &truth, h),
                regret(&persistence, &truth, h),
                regret(&yesterday, &truth, h),
            ) {
                acc.add(m, p, y);
            }
        }
    }
    if hours == 0 {
        return Err(BacktestError::TooShort {
            readings: readings.len(),
        });
    }
    let lead: Vec<Scores> = by_lead.iter().map(Acc::scores).collect();
    let window_regret: Vec<WindowRegret> = regrets
        .iter()
        .zip(CHARGE_HOURS)
        .map(|(a, h)| WindowRegret {
            hours: h,
            regret: a.scores(),
        })
        .collect();
    let four = window_regret
        .iter()
        .find(|w| w.hours == 4)
        .map(|w| w.regret)
        .unwrap_or(Scores {
            method: f64::NAN,
            persistence: f64::NAN,
            yesterday: f64::NAN,
        });
    let margins_4h = margins
        .iter()
        .zip(MARGIN_CANDIDATES_PCT)
        .map(|(a, m)| MarginRow {
            margin_pct: m,
            wait_share: a.waits as f64 / hours as f64,
            saving_when_waiting: if a.waits > 0 {
                a.saved_waiting / a.waits as f64
            } else {
                0.0
            },
            worse_share: if a.waits > 0 {
                a.worse as f64 / a.waits as f64
            } else {
                0.0
            },
            captured: if possible_4h > 0.0 {
                a.saved / possible_4h
            } else {
                0.0
            },
        })
        .collect();
    Ok(BacktestReport {
        readings: readings.len(),
        hours,
        mae: mae.scores(),
        mae_by_lead: LeadScores {
            method: lead.iter().map(|s| s.method).collect(),
            persistence: lead.iter().map(|s| s.persistence).collect(),
            yesterday: lead.iter().map(|s| s.yesterday).collect(),
        },
        window_regret_4h: four,
        window_regret,
        captured_saving_4h: Scores {
            method: captured_share(&captured[0]),
            persistence: captured_share(&captured[1]),
            yesterday: captured_share(&captured[2]),
        },
        captured_saving_ready_by_4h: Scores {
            method: captured_share(&captured_rb[0]),
            persistence: captured_share(&captured_rb[1]),
            yesterday: captured_share(&captured_rb[2]),
        },
        margins_4h,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_saving_on_a_hand_built_series() {
        // Truth: now 300, a dip to 200 from hour 4 to 7, else 300. Best 4 h window: hours
        // 4–7, saving 100.
        let mut truth = vec![300.0; 24];
        for v in &mut truth[4..8] {
            *v = 200.0;
        }
        // A choice pointing at hours 5–8 takes 3 of the 4 cleaner hours: saving 75.
        let mut choice = vec![300.0; 24];
        for v in &mut choice[5..9] {
            *v = 100.0;
        }
        assert_eq!(saving(&choice, &truth, 4), Some((75.0, 100.0)));
        // Persistence (flat) starts now: nothing taken.
        assert_eq!(saving(&[300.0; 24], &truth, 4), Some((0.0, 100.0)));
        // A choice of a dirtier window loses: hours 10–13 at 400 → −100 against now.
        let mut dirty_truth = truth.clone();
        for v in &mut dirty_truth[10..14] {
            *v = 400.0;
        }
        let mut bad = vec![300.0; 24];
        for v in &mut bad[10..14] {
            *v = 0.0;
        }
        assert_eq!(saving(&bad, &dirty_truth, 4), Some((-100.0, 100.0)));
        // Over the three hours: (75 + 0 − 100) / (100 + 100 + 100).
        let share = captured_share(&[(75.0, 100.0), (0.0, 100.0), (-100.0, 100.0)]);
        assert!((share - (-25.0 / 300.0)).abs() < 1e-12, "{share}");
        assert_eq!(captured_share(&[(0.0, 0.0)]), 0.0);
        assert_eq!(saving(&choice, &truth, 25), None);
    }

    #[test]
    fn ready_by_saving_keeps_to_the_deadline() {
        use chrono::TimeZone;
        // Issued 6:00 PM EST: 7:00 AM is 13 slots on, so a 4 h window may start at slot 0–9.
        let issued = chrono::Utc.with_ymd_and_hms(2025, 2, 1, 23, 0, 0).unwrap();
        let ts: Vec<_> = (0..24)
            .map(|k| issued + chrono::Duration::hours(k))
            .collect();
        let mut truth = vec![300.0; 24];
        truth[6..10].fill(200.0); // the best before 7 AM: saving 100
        truth[15..19].fill(0.0); // cleaner, but after 7 AM: out of reach
                                 // A choice pointing after the deadline is held to it: its best in reach is slot 0
                                 // (a flat 300 before), nothing taken.
        let mut late = vec![300.0; 24];
        late[15..19].fill(0.0);
        assert_eq!(
            ready_by_saving(issued, &ts, &late, &truth, 4),
            Some((0.0, 100.0))
        );
        // A choice of slots 7–10: three of the four cleaner hours, saving 75.
        let mut near = vec![300.0; 24];
        near[7..11].fill(100.0);
        assert_eq!(
            ready_by_saving(issued, &ts, &near, &truth, 4),
            Some((75.0, 100.0))
        );
    }
}
