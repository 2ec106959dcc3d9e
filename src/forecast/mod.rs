//! The intensity forecast for the next 24 hours, the cleanest charging windows and the
//! low/moderate/high band (issue 7; method and its backtest in `docs/forecast.md`).
//!
//! Pure and cheap: a [`Forecaster`] holds hourly means of the intensity (and of total
//! generation) for the last [`RETENTION_DAYS`] days — at most a few hundred numbers — and
//! [`Forecaster::forecast`] does a few hundred additions.
//!
//! **Method.** The forecast of the hour starting `k` hours after now is
//!
//! ```text
//! ŷ(k) = base + P(k) + (now − P(−½) − base) · φ^(k+½)
//! ```
//!
//! where `P` is the *diurnal anomaly profile* (for each of the last 14 days, the hourly means of
//! the 24 hours that day at the same time minus that day's mean, averaged), `P(−½)` its value at
//! the current instant, `base` the mean of the last 24 hours, `now` the newest reading and
//! `φ = 0.92` the hourly persistence of today's departure from the profile.
//! When NYISO's load forecast is at hand, the shape is blended with a regression of the
//! intensity on total generation over the last 7 days, driven by the load forecast
//! ([`Forecaster::forecast`]).

pub mod advice;
pub mod backtest;
pub mod index;
pub mod ready_by;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};

use crate::intensity::Factors;
use crate::nyiso::isolf::LoadForecast;
use crate::reading::Reading;
use crate::stream::{
    ChargeWindowPayload, Co2BandPayload, Co2ForecastPayload, ForecasterStatePayload, LatestPoint,
    ReadyByPayload, WindowPayload, UNITS_G_PER_KWH,
};

/// Days of hourly history kept (30 for the band, plus margin).
pub const RETENTION_DAYS: i64 = 31;
/// Days the band compares against.
pub const BAND_WINDOW_DAYS: u32 = 30;
/// Days that make up the diurnal profile.
pub const PROFILE_DAYS: i64 = 14;
/// Weight of each older day in the profile relative to the day after it (1: equal weights).
pub const DAY_WEIGHT: f64 = 1.0;
/// Hourly persistence φ of the current departure from the profile.
pub const ANOMALY_PERSISTENCE: f64 = 0.92;
/// Days of hourly (generation, intensity) pairs the load regression is fitted on.
pub const LOAD_REGRESSION_DAYS: i64 = 7;
/// Hours in a forecast.
pub const HORIZON_HOURS: usize = 24;
/// Charge lengths for which windows are published.
pub const CHARGE_HOURS: [u32; 4] = [1, 2, 4, 8];
/// Fewest hourly means for a band.
pub const BAND_MIN_HOURS: usize = 24;
/// Until this many hourly means (a week) the band says it is still learning.
pub const BAND_SETTLED_HOURS: usize = 7 * 24;

const HOUR_SECS: i64 = 3600;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct HourStat {
    intensity_sum: f64,
    intensity_n: u32,
    mw_sum: f64,
    mw_n: u32,
}

impl HourStat {
    fn intensity(&self) -> Option<f64> {
        (self.intensity_n > 0).then(|| self.intensity_sum / f64::from(self.intensity_n))
    }
    fn mw(&self) -> Option<f64> {
        (self.mw_n > 0).then(|| self.mw_sum / f64::from(self.mw_n))
    }
}

/// The method's tuning (defaults chosen on the February 2025 backtest, `docs/forecast.md`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Days that make up the diurnal profile.
    pub profile_days: i64,
    /// Weight of each older day in the profile relative to the day after it.
    pub day_weight: f64,
    /// Hourly persistence φ of the current departure from the profile.
    pub anomaly_persistence: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            profile_days: PROFILE_DAYS,
            day_weight: DAY_WEIGHT,
            anomaly_persistence: ANOMALY_PERSISTENCE,
        }
    }
}

/// The newest reading seen.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Latest {
    ts: DateTime<Utc>,
    intensity: f64,
    total_mw: Option<f64>,
}

/// A forecast: hourly slots from the issue time on.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// When it was issued (the newest reading's instant).
    pub issued: DateTime<Utc>,
    /// Start of each one-hour slot: `issued`, `issued + 1 h`, … (24 slots).
    pub ts: Vec<DateTime<Utc>>,
    /// Expected mean intensity over each slot, g/kWh.
    pub values: Vec<f64>,
    /// Hourly means held in the profile's span (the last `profile_days` days before the
    /// issue time): what the advice's learning rule counts ([`advice::ADVICE_MIN_HOURS`]).
    pub history_hours: u32,
}

impl Forecast {
    /// The contract payload of `computed/co2/forecast` (values rounded to 0.1 g/kWh).
    pub fn payload(&self) -> Co2ForecastPayload {
        Co2ForecastPayload {
            issued: self.issued,
            ts: self.ts.clone(),
            values: self.values.iter().map(|v| round1(*v)).collect(),
            units: UNITS_G_PER_KWH.to_owned(),
        }
    }
}

/// The cleanest window of one charge length within a forecast.
#[derive(Debug, Clone, PartialEq)]
pub struct ChargeWindow {
    /// Length, hours.
    pub hours: u32,
    /// Start of the window.
    pub start: DateTime<Utc>,
    /// End of the window (`start + hours`).
    pub end: DateTime<Utc>,
    /// Forecast mean intensity over the window, g/kWh.
    pub mean: f64,
    /// Forecast mean intensity of a charge of the same length starting now, g/kWh.
    pub now_mean: f64,
    /// How much cleaner than starting now: `(now_mean − mean) / now_mean × 100` (0 when the
    /// best window starts now).
    pub cleaner_than_now_pct: f64,
}

/// Low, moderate or high against the last 30 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BandLevel {
    /// Below the lower tercile.
    Low,
    /// Between the terciles.
    Moderate,
    /// Above the upper tercile.
    High,
}

impl BandLevel {
    /// Every level, low to high.
    pub const ALL: [BandLevel; 3] = [BandLevel::Low, BandLevel::Moderate, BandLevel::High];

    /// `low`, `moderate` or `high`.
    pub const fn name(self) -> &'static str {
        match self {
            BandLevel::Low => "low",
            BandLevel::Moderate => "moderate",
            BandLevel::High => "high",
        }
    }
}

/// A value placed in the band of the last 30 days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    /// The band.
    pub level: BandLevel,
    /// Values below this are low (the 1/3 quantile of the hourly means).
    pub low_below: f64,
    /// Values above this are high (the 2/3 quantile of the hourly means).
    pub high_above: f64,
}

/// Places `value` against `history` (hourly means of the last 30 days): below the lower
/// tercile is low, above the upper is high. `None` with fewer than [`BAND_MIN_HOURS`] finite
/// values or a non-finite `value`.
pub fn band(value: f64, history: &[f64]) -> Option<Band> {
    let mut v: Vec<f64> = history.iter().copied().filter(|x| x.is_finite()).collect();
    if v.len() < BAND_MIN_HOURS || !value.is_finite() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let low_below = quantile(&v, 1.0 / 3.0);
    let high_above = quantile(&v, 2.0 / 3.0);
    let level = if value < low_below {
        BandLevel::Low
    } else if value > high_above {
        BandLevel::High
    } else {
        BandLevel::Moderate
    };
    Some(Band {
        level,
        low_below,
        high_above,
    })
}

/// Linear-interpolated quantile of sorted, non-empty values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let i = pos.floor() as usize;
    let j = (i + 1).min(sorted.len() - 1);
    sorted[i] + (sorted[j] - sorted[i]) * (pos - i as f64)
}

/// The cleanest window of each length in [`CHARGE_HOURS`] that fits in the forecast.
pub fn charge_windows(forecast: &Forecast) -> Vec<ChargeWindow> {
    CHARGE_HOURS
        .iter()
        .filter_map(|h| charge_window(forecast, *h))
        .collect()
}

/// The cleanest `hours`-long window starting on a slot of the forecast and ending inside it:
/// the lowest forecast mean; on a tie the earliest (so a flat forecast says "now"). `None` when
/// the forecast is shorter than `hours` or `hours` is 0.
pub fn charge_window(forecast: &Forecast, hours: u32) -> Option<ChargeWindow> {
    let (j, mean) = best_window(&forecast.values, hours as usize)?;
    window_at(forecast, hours, j, mean)
}

/// The `hours`-long window starting on slot `j` of `forecast`, whose mean is `mean`, compared
/// with starting now (slot 0). `None` when the forecast is shorter than `hours`, `hours` is 0
/// or `j` is past its end.
pub(crate) fn window_at(
    forecast: &Forecast,
    hours: u32,
    j: usize,
    mean: f64,
) -> Option<ChargeWindow> {
    let n = hours as usize;
    let first = forecast.values.get(..n).filter(|v| !v.is_empty())?;
    let now_mean = first.iter().sum::<f64>() / n as f64;
    let start = *forecast.ts.get(j)?;
    let cleaner = if now_mean > 0.0 {
        ((now_mean - mean) / now_mean * 100.0).max(0.0)
    } else {
        0.0
    };
    Some(ChargeWindow {
        hours,
        start,
        end: start + Duration::hours(i64::from(hours)),
        mean,
        now_mean,
        cleaner_than_now_pct: cleaner,
    })
}

/// Index and mean of the lowest-mean run of `n` consecutive values (earliest on ties).
pub fn best_window(values: &[f64], n: usize) -> Option<(usize, f64)> {
    if n == 0 || values.len() < n {
        return None;
    }
    let mut sum: f64 = values[..n].iter().sum();
    let mut best = (0, sum);
    for j in 1..=values.len() - n {
        sum += values[j + n - 1] - values[j - 1];
        if sum < best.1 - 1e-9 {
            best = (j, sum);
        }
    }
    Some((best.0, best.1 / n as f64))
}

/// The charge-window payload of a forecast with the default ready-by time
/// ([`ready_by::DEFAULT_READY_BY`]); see [`charge_window_payload_with`].
pub fn charge_window_payload(forecast: &Forecast) -> ChargeWindowPayload {
    charge_window_payload_with(forecast, ready_by::ReadyBy::default())
}

/// The charge-window payload of a forecast: each window with its advice (the learning and
/// margin rules of [`advice`]) and its New York labels, and the ready-by windows of every
/// offered time ([`ready_by::offered`]`(chosen)`), `chosen` as the default.
pub fn charge_window_payload_with(
    forecast: &Forecast,
    chosen: ready_by::ReadyBy,
) -> ChargeWindowPayload {
    let margin = advice::ADVICE_MARGIN_PCT;
    ChargeWindowPayload {
        issued: forecast.issued,
        units: UNITS_G_PER_KWH.to_owned(),
        windows: window_payloads(forecast, charge_windows(forecast), margin),
        history_hours: Some(forecast.history_hours),
        ready_by: Some(
            ready_by::offered(chosen)
                .into_iter()
                .map(|r| ReadyByPayload {
                    time: r.name(),
                    time_ny: r.label(),
                    windows: window_payloads(
                        forecast,
                        ready_by::ready_by_windows(forecast, r),
                        margin,
                    ),
                })
                .collect(),
        ),
        ready_by_default: Some(chosen.name()),
        margin_pct: Some(margin),
    }
}

fn window_payloads(
    forecast: &Forecast,
    windows: Vec<ChargeWindow>,
    margin: f64,
) -> Vec<WindowPayload> {
    windows
        .into_iter()
        .map(|w| {
            let pct = round1(w.cleaner_than_now_pct);
            let a = advice::advise(
                w.start == forecast.issued,
                pct,
                forecast.history_hours,
                margin,
            );
            WindowPayload {
                hours: w.hours,
                start: w.start,
                end: w.end,
                mean: round1(w.mean),
                now_mean: round1(w.now_mean),
                cleaner_than_now_pct: pct,
                advice: Some(a.name().to_owned()),
                start_ny: Some(advice::ny_label(w.start, forecast.issued, true)),
                end_ny: Some(advice::ny_label(
                    w.end,
                    forecast.issued,
                    !advice::same_ny_day(w.start, w.end),
                )),
            }
        })
        .collect()
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn hour_index(ts: DateTime<Utc>) -> i64 {
    ts.timestamp().div_euclid(HOUR_SECS)
}

fn hour_start(index: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(index.checked_mul(HOUR_SECS)?, 0)
}

/// The forecaster's state: hourly means of the last [`RETENTION_DAYS`] days and the newest
/// reading. Feed it every reading in order with [`Forecaster::update`].
#[derive(Debug, Clone)]
pub struct Forecaster {
    factors: Factors,
    params: Params,
    hours: BTreeMap<i64, HourStat>,
    latest: Option<Latest>,
    /// The fixed index level of the newest reading, with hysteresis ([`index`]).
    index: Option<index::IndexLevel>,
}

impl Default for Forecaster {
    fn default() -> Self {
        Forecaster::new(Factors::Direct)
    }
}

impl Forecaster {
    /// An empty forecaster computing intensity with `factors` (use the calculator's `FACTORS`).
    pub fn new(factors: Factors) -> Self {
        Forecaster::with_params(factors, Params::default())
    }

    /// An empty forecaster with other tuning (for experiments and the backtest).
    pub fn with_params(factors: Factors, params: Params) -> Self {
        Forecaster {
            factors,
            params,
            hours: BTreeMap::new(),
            latest: None,
            index: None,
        }
    }

    /// The factor table.
    pub fn factors(&self) -> Factors {
        self.factors
    }

    /// The newest reading's instant.
    pub fn newest(&self) -> Option<DateTime<Utc>> {
        self.latest.map(|l| l.ts)
    }

    /// The newest reading's intensity.
    pub fn latest_intensity(&self) -> Option<f64> {
        self.latest.map(|l| l.intensity)
    }

    /// Number of hours held (bounded by `RETENTION_DAYS × 24 + 1`).
    pub fn hours_held(&self) -> usize {
        self.hours.len()
    }

    /// Adds a reading. Readings must come in order: one not newer than the newest held is
    /// ignored (a replay), so each reading counts once. Returns whether it was used.
    pub fn update(&mut self, reading: &Reading) -> bool {
        match self.factors.intensity(&reading.mix) {
            Some(v) => self.add(reading.ts, v, Some(reading.total_mw())),
            None => false,
        }
    }

    /// Adds an intensity known without its fuel mix (e.g. from the retained 24 h history), same
    /// ordering rule as [`Forecaster::update`].
    pub fn update_intensity(&mut self, ts: DateTime<Utc>, intensity: f64) -> bool {
        self.add(ts, intensity, None)
    }

    fn add(&mut self, ts: DateTime<Utc>, intensity: f64, total_mw: Option<f64>) -> bool {
        if !intensity.is_finite() || self.latest.is_some_and(|l| ts <= l.ts) {
            return false;
        }
        let total_mw = total_mw.filter(|m| m.is_finite() && *m > 0.0);
        let stat = self.hours.entry(hour_index(ts)).or_default();
        stat.intensity_sum += intensity;
        stat.intensity_n += 1;
        if let Some(mw) = total_mw {
            stat.mw_sum += mw;
            stat.mw_n += 1;
        }
        self.latest = Some(Latest {
            ts,
            intensity,
            total_mw,
        });
        self.index = index::boundaries_for(self.factors).and_then(|b| {
            index::level_with_hysteresis(intensity, self.index, &b, index::INDEX_HYSTERESIS)
        });
        let cutoff = hour_index(ts) - RETENTION_DAYS * 24;
        self.hours = self.hours.split_off(&cutoff);
        true
    }

    /// Hourly mean intensities of the last `days` days before `now` (oldest first; hours
    /// without readings are left out).
    pub fn hourly_intensities(&self, now: DateTime<Utc>, days: u32) -> Vec<f64> {
        let end = hour_index(now);
        let start = end - i64::from(days) * 24;
        self.hours
            .range(start..=end)
            .filter_map(|(_, s)| s.intensity())
            .collect()
    }

    /// The band of `value` against the last [`BAND_WINDOW_DAYS`] days before `now`.
    pub fn band(&self, now: DateTime<Utc>, value: f64) -> Option<Band> {
        band(value, &self.hourly_intensities(now, BAND_WINDOW_DAYS))
    }

    /// The fixed index level of the newest reading (with hysteresis); `None` before the
    /// first reading or with a factor table that has no published boundaries.
    pub fn index_level(&self) -> Option<index::IndexLevel> {
        self.index
    }

    /// Days the band of `now` really compares against: from the oldest hourly mean it uses
    /// (at most [`BAND_WINDOW_DAYS`] back) to `now`, in whole days (nearest, at least 1).
    pub fn band_span_days(&self, now: DateTime<Utc>) -> u32 {
        let end = hour_index(now);
        let start = end - i64::from(BAND_WINDOW_DAYS) * 24;
        let first = self
            .hours
            .range(start..=end)
            .find(|(_, s)| s.intensity().is_some())
            .map_or(end, |(k, _)| *k);
        let hours = end - first + 1;
        u32::try_from((hours + 12) / 24)
            .unwrap_or(BAND_WINDOW_DAYS)
            .clamp(1, BAND_WINDOW_DAYS)
    }

    /// The band payload for the newest reading: the relative band with the span it really
    /// used and whether it is still learning, and the fixed index with its boundaries.
    pub fn band_payload(&self) -> Option<Co2BandPayload> {
        let latest = self.latest?;
        let used = self.hourly_intensities(latest.ts, BAND_WINDOW_DAYS).len();
        let b = self.band(latest.ts, latest.intensity)?;
        Some(Co2BandPayload {
            ts: latest.ts,
            value: round1(latest.intensity),
            band: b.level.name().to_owned(),
            low_below: round1(b.low_below),
            high_above: round1(b.high_above),
            window_days: self.band_span_days(latest.ts),
            units: UNITS_G_PER_KWH.to_owned(),
            hours: Some(u32::try_from(used).unwrap_or(u32::MAX)),
            learning: Some(used < BAND_SETTLED_HOURS),
            index: self.index.map(|l| l.name().to_owned()),
            index_boundaries: self
                .index
                .and_then(|_| index::boundaries_for(self.factors))
                .map(|b| b.to_vec()),
        })
    }

    /// Mean intensity over the hour starting at `t` (any instant): bucket means interpolated
    /// between their centres.
    fn slot_mean(&self, t: DateTime<Utc>, pick: fn(&HourStat) -> Option<f64>) -> Option<f64> {
        let c = t.timestamp() + HOUR_SECS / 2; // centre of the slot
        let shifted = c - HOUR_SECS / 2; // bucket i's centre is i·3600 + 1800
        let i = shifted.div_euclid(HOUR_SECS);
        let f = shifted.rem_euclid(HOUR_SECS) as f64 / HOUR_SECS as f64;
        let a = self.hours.get(&i).and_then(pick);
        let b = self.hours.get(&(i + 1)).and_then(pick);
        match (a, b) {
            (Some(a), Some(b)) => Some(a + (b - a) * f),
            (Some(a), None) if f < 0.5 => Some(a),
            (None, Some(b)) if f >= 0.5 => Some(b),
            (Some(a), None) => Some(a),
            (None, Some(b)) => Some(b),
            (None, None) => None,
        }
    }

    /// The next 24 hours from `now` (normally the newest reading's instant): one value per
    /// one-hour slot. `load`, NYISO's load forecast, sharpens the shape when it covers the
    /// horizon; without it the forecast uses history alone. `None` before the first reading.
    pub fn forecast(&self, now: DateTime<Utc>, load: Option<&LoadForecast>) -> Option<Forecast> {
        let latest = self.latest?;
        let current = latest.intensity;
        let slots: Vec<DateTime<Utc>> = (0..HORIZON_HOURS as i64)
            .map(|k| now + Duration::hours(k))
            .collect();

        // The diurnal anomaly profile, one value per slot offset (0..24), plus its value half
        // an hour before now (the instant of the current reading).
        let mut prof = [0.0f64; HORIZON_HOURS];
        let mut wsum = [0.0f64; HORIZON_HOURS];
        let mut bases = Vec::new();
        let p = self.params;
        for d in 1..=p.profile_days.clamp(1, RETENTION_DAYS) {
            let day: Vec<Option<f64>> = slots
                .iter()
                .map(|s| self.slot_mean(*s - Duration::hours(24 * d), HourStat::intensity))
                .collect();
            let present: Vec<f64> = day.iter().flatten().copied().collect();
            if present.len() < HORIZON_HOURS / 2 {
                continue;
            }
            let mean = present.iter().sum::<f64>() / present.len() as f64;
            if d == 1 {
                bases.push(mean);
            }
            let w = p.day_weight.powi((d - 1) as i32);
            for (o, v) in day.iter().enumerate() {
                if let Some(v) = v {
                    prof[o] += w * (v - mean);
                    wsum[o] += w;
                }
            }
        }
        for o in 0..HORIZON_HOURS {
            prof[o] = if wsum[o] > 0.0 {
                prof[o] / wsum[o]
            } else {
                0.0
            };
        }
        let prof_now = (prof[0] + prof[HORIZON_HOURS - 1]) / 2.0;
        let base = bases.first().copied().unwrap_or(current - prof_now);
        let anomaly = current - prof_now - base;
        let mut values: Vec<f64> = (0..HORIZON_HOURS)
            .map(|k| base + prof[k] + anomaly * p.anomaly_persistence.powf(k as f64 + 0.5))
            .collect();

        if let Some(load) = load {
            if let Some(shape) = self.load_shape(now, &slots, latest, load) {
                for (v, (s, w)) in values.iter_mut().zip(shape) {
                    *v = (1.0 - w) * *v + w * s;
                }
            }
        }
        for v in &mut values {
            *v = v.max(0.0);
        }
        let end = hour_index(now);
        let span = p.profile_days.clamp(1, RETENTION_DAYS) * 24;
        let history_hours = self
            .hours
            .range(end - span..=end)
            .filter(|(_, s)| s.intensity().is_some())
            .count();
        Some(Forecast {
            issued: now,
            ts: slots,
            values,
            history_hours: u32::try_from(history_hours).unwrap_or(u32::MAX),
        })
    }

    /// The load-driven forecast and its blend weight per slot: intensity regressed on total
    /// generation over the last [`LOAD_REGRESSION_DAYS`] days (`y = a + b·g`), and generation projected
    /// from the load forecast scaled by the current ratio of generation to forecast load. The
    /// weight is half the regression's R² (0 when it explains nothing).
    fn load_shape(
        &self,
        now: DateTime<Utc>,
        slots: &[DateTime<Utc>],
        latest: Latest,
        load: &LoadForecast,
    ) -> Option<Vec<(f64, f64)>> {
        let g_now = latest.total_mw?;
        let l_now = load.at(now).filter(|l| *l > 0.0)?;
        let end = hour_index(now);
        let pairs: Vec<(f64, f64)> = self
            .hours
            .range(end - LOAD_REGRESSION_DAYS * 24..end)
            .filter_map(|(_, s)| Some((s.mw()?, s.intensity()?)))
            .collect();
        if pairs.len() < 48 {
            return None;
        }
        let n = pairs.len() as f64;
        let mx = pairs.iter().map(|p| p.0).sum::<f64>() / n;
        let my = pairs.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let syy: f64 = pairs.iter().map(|p| (p.1 - my).powi(2)).sum();
        let sxy: f64 = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        if sxx <= 0.0 || syy <= 0.0 {
            return None;
        }
        let b = sxy / sxx;
        let r2 = (sxy * sxy / (sxx * syy)).clamp(0.0, 1.0);
        let ratio = g_now / l_now;
        slots
            .iter()
            .map(|s| {
                let l = load.at(*s + Duration::minutes(30))?;
                let g = l * ratio;
                Some((latest.intensity + b * (g - g_now), r2 / 2.0))
            })
            .collect()
    }

    /// A compact snapshot for a retained state topic, from which [`Forecaster::restore`]
    /// rebuilds the forecaster after a restart (intensities to 0.1 g/kWh, MW to 1 MW).
    pub fn state(&self) -> Option<ForecasterStatePayload> {
        let latest = self.latest?;
        let first = *self.hours.keys().next()?;
        let last = hour_index(latest.ts);
        let intensity: Vec<Option<f64>> = (first..=last)
            .map(|i| self.hours.get(&i).and_then(HourStat::intensity).map(round1))
            .collect();
        let mw_first = (last - LOAD_REGRESSION_DAYS * 24 + 1).max(first);
        let total_mw: Vec<Option<f64>> = (mw_first..=last)
            .map(|i| self.hours.get(&i).and_then(HourStat::mw).map(f64::round))
            .collect();
        let n: Vec<u32> = (first..=last)
            .map(|i| {
                self.hours
                    .get(&i)
                    .filter(|h| h.intensity().is_some())
                    .map_or(0, |h| h.intensity_n)
            })
            .collect();
        Some(ForecasterStatePayload {
            v: crate::stream::FORECASTER_STATE_VERSION,
            n,
            factors: self.factors.name().to_owned(),
            hour0: hour_start(first)?,
            intensity,
            total_mw,
            latest: LatestPoint {
                ts: latest.ts,
                value: latest.intensity,
                total_mw: latest.total_mw,
            },
        })
    }

    /// Rebuilds from a snapshot (see [`Forecaster::state`]); hours already held are kept,
    /// and the snapshot's hours are added where missing. Returns `false` (and changes nothing)
    /// when the snapshot is for another factor table or is inconsistent.
    pub fn restore(&mut self, state: &ForecasterStatePayload) -> bool {
        let counts_ok = match state.v {
            1 => true, // no counts: each mean weighs as one reading
            crate::stream::FORECASTER_STATE_VERSION => state.n.len() == state.intensity.len(),
            _ => false,
        };
        if !counts_ok
            || state.factors != self.factors.name()
            || state.total_mw.len() > state.intensity.len()
        {
            return false;
        }
        let first = hour_index(state.hour0);
        let last = first + state.intensity.len() as i64 - 1;
        if !state.latest.value.is_finite() || hour_index(state.latest.ts) != last {
            return false;
        }
        let mw_first = last - state.total_mw.len() as i64 + 1;
        for (k, v) in state.intensity.iter().enumerate() {
            let i = first + k as i64;
            let mw = (i >= mw_first)
                .then(|| {
                    state
                        .total_mw
                        .get((i - mw_first) as usize)
                        .copied()
                        .flatten()
                })
                .flatten();
            if self.hours.contains_key(&i) {
                continue;
            }
            let mut stat = HourStat::default();
            if let Some(v) = v.filter(|v| v.is_finite()) {
                // The mean of n readings weighs as n readings (a v1 state migrated: 1).
                let n = state.n.get(k).copied().unwrap_or(1).max(1);
                stat.intensity_sum = v * f64::from(n);
                stat.intensity_n = n;
            }
            if let Some(m) = mw.filter(|m| m.is_finite()) {
                stat.mw_sum = m;
                stat.mw_n = 1;
            }
            if stat != HourStat::default() {
                self.hours.insert(i, stat);
            }
        }
        if self.latest.is_none_or(|l| l.ts < state.latest.ts) {
            self.latest = Some(Latest {
                ts: state.latest.ts,
                intensity: state.latest.value,
                total_mw: state.latest.total_mw,
            });
        }
        if let Some(l) = self.latest {
            let cutoff = hour_index(l.ts) - RETENTION_DAYS * 24;
            self.hours = self.hours.split_off(&cutoff);
        }
        true
    }
}

/// The top of the hour at or before `ts`.
pub fn top_of_hour(ts: DateTime<Utc>) -> DateTime<Utc> {
    ts.duration_trunc(Duration::hours(1)).unwrap_or(ts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nyiso::isolf::LoadPoint;
    use crate::reading::FuelMix;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 2, 1, 0, 0, 0).unwrap()
    }

    /// A reading with `gas_share` of `total` MW from natural gas, the rest nuclear: intensity
    /// is `417.21 × gas_share` with the direct table.
    fn reading(ts: DateTime<Utc>, gas_share: f64, total: f64) -> Reading {
        let gas = gas_share * total;
        Reading {
            ts,
            mix: FuelMix([0.0, gas, total - gas, 0.0, 0.0, 0.0, 0.0]),
        }
    }

    /// Every 5 minutes for `days`, gas share `share(hours since t0)`.
    fn feed(
        fc: &mut Forecaster,
        days: i64,
        share: impl Fn(f64) -> f64,
        total: impl Fn(f64) -> f64,
    ) {
        for i in 0..days * 288 {
            let ts = t0() + Duration::minutes(5 * i);
            let h = i as f64 / 12.0;
            assert!(fc.update(&reading(ts, share(h), total(h))));
        }
    }

    #[test]
    fn flat_history_gives_a_flat_forecast_and_now() {
        let mut fc = Forecaster::default();
        feed(&mut fc, 3, |_| 0.5, |_| 10_000.0);
        let now = fc.newest().unwrap();
        let f = fc.forecast(now, None).unwrap();
        assert_eq!(f.values.len(), 24);
        assert_eq!(f.ts[0], now);
        assert_eq!(f.ts[23], now + Duration::hours(23));
        for v in &f.values {
            assert!((v - 208.605).abs() < 1e-6, "{v}");
        }
        let w = charge_windows(&f);
        assert_eq!(w.iter().map(|w| w.hours).collect::<Vec<_>>(), [1, 2, 4, 8]);
        for w in &charge_window_payload(&f).windows {
            assert_eq!(w.advice.as_deref(), Some("now"), "{w:?}");
        }
        for w in &w {
            assert_eq!(w.start, now, "a flat forecast says start now");
            assert_eq!(w.end, now + Duration::hours(i64::from(w.hours)));
            assert_eq!(w.cleaner_than_now_pct, 0.0);
        }
    }

    #[test]
    fn diurnal_pattern_finds_the_trough() {
        // Gas share peaks at 18:00 UTC and bottoms out at 06:00 UTC, every day.
        let share = |h: f64| 0.5 + 0.3 * ((h - 12.0) / 24.0 * std::f64::consts::TAU).sin();
        let mut fc = Forecaster::default();
        feed(&mut fc, 10, share, |_| 10_000.0);
        let now = t0() + Duration::days(10); // midnight, falling towards the trough
        assert!(fc.update(&reading(now, share(240.0), 10_000.0)));
        let f = fc.forecast(now, None).unwrap();
        // The forecast follows the pattern within a few g/kWh.
        for (ts, v) in f.ts.iter().zip(&f.values) {
            let h = (*ts - t0()).num_minutes() as f64 / 60.0 + 0.5;
            let truth = 417.21 * share(h);
            assert!((v - truth).abs() < 6.0, "{ts}: {v} vs {truth}");
        }
        let w = charge_window(&f, 4).unwrap();
        // The 4 h window centred on the 06:00 trough starts at 04:00.
        assert_eq!(w.start, now + Duration::hours(4));
        assert!(w.cleaner_than_now_pct > 40.0, "{}", w.cleaner_than_now_pct);
        let p = charge_window_payload(&f);
        assert_eq!(p.windows.len(), 4);
        assert_eq!(p.windows[2].hours, 4);
        assert_eq!(p.windows[2].start, w.start);
    }

    #[test]
    fn load_forecast_moves_the_shape() {
        // History: intensity rises with generation (gas is the marginal fuel).
        let total = |h: f64| 12_000.0 + 3_000.0 * ((h - 12.0) / 24.0 * std::f64::consts::TAU).sin();
        let share = |h: f64| 0.2 + 0.4 * (total(h) - 9_000.0) / 6_000.0;
        let mut fc = Forecaster::default();
        feed(&mut fc, 8, share, total);
        let now = fc.newest().unwrap();
        let without = fc.forecast(now, None).unwrap();
        // Usually load falls after midnight; NYISO expects it to rise 25 % within three hours
        // and stay there (only the load forecast's shape matters: it is scaled to now).
        let load = LoadForecast::from_points((-1..30).map(|k| LoadPoint {
            ts: top_of_hour(now) + Duration::hours(k),
            mw: 12_000.0 * (1.0 + 0.25 * (k.clamp(0, 3) as f64) / 3.0),
        }));
        let with = fc.forecast(now, Some(&load)).unwrap();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(
            mean(&with.values) > mean(&without.values) + 10.0,
            "{} vs {}",
            mean(&with.values),
            mean(&without.values)
        );
        // A load forecast that does not cover now is not used.
        let stale = LoadForecast::from_points([LoadPoint {
            ts: now - Duration::days(3),
            mw: 15_000.0,
        }]);
        assert_eq!(fc.forecast(now, Some(&stale)).unwrap(), without);
    }

    #[test]
    fn band_by_terciles() {
        let hist: Vec<f64> = (0..30).map(f64::from).collect(); // 0..29
        let b = band(5.0, &hist).unwrap();
        assert_eq!(b.level, BandLevel::Low);
        assert!((b.low_below - 29.0 / 3.0).abs() < 1e-9);
        assert!((b.high_above - 58.0 / 3.0).abs() < 1e-9);
        assert_eq!(band(15.0, &hist).unwrap().level, BandLevel::Moderate);
        assert_eq!(band(25.0, &hist).unwrap().level, BandLevel::High);
        assert_eq!(band(25.0, &hist[..10]), None);
        assert_eq!(band(f64::NAN, &hist), None);
    }

    #[test]
    fn memory_is_bounded_and_replays_ignored() {
        let mut fc = Forecaster::default();
        feed(&mut fc, 40, |h| (h % 24.0) / 48.0, |_| 10_000.0);
        assert!(
            fc.hours_held() <= (RETENTION_DAYS * 24 + 1) as usize,
            "{}",
            fc.hours_held()
        );
        let newest = fc.newest().unwrap();
        assert!(!fc.update(&reading(newest, 0.9, 1.0)));
        assert!(!fc.update(&reading(newest - Duration::hours(1), 0.9, 1.0)));
        let p = fc.band_payload().unwrap();
        assert_eq!(p.window_days, 30);
        assert_eq!(p.ts, newest);
    }

    #[test]
    fn state_round_trips_through_json() {
        let share = |h: f64| 0.5 + 0.3 * (h / 24.0 * std::f64::consts::TAU).sin();
        let mut fc = Forecaster::default();
        feed(&mut fc, 31, share, |_| 10_000.0);
        let state = fc.state().unwrap();
        let json = serde_json::to_vec(&state).unwrap();
        // 31 days of hourly means and counts (v2): ~8 KB, far below any packet limit.
        assert!(json.len() < 10_000, "state is {} bytes", json.len());
        let back: ForecasterStatePayload = serde_json::from_slice(&json).unwrap();
        let mut restored = Forecaster::default();
        assert!(restored.restore(&back));
        let now = fc.newest().unwrap();
        let a = fc.forecast(now, None).unwrap();
        let b = restored.forecast(now, None).unwrap();
        for (x, y) in a.values.iter().zip(&b.values) {
            assert!((x - y).abs() < 0.1, "{x} vs {y}");
        }
        let mut other = Forecaster::new(Factors::Lifecycle);
        assert!(!other.restore(&back), "another table's state is refused");
        assert_eq!(other.hours_held(), 0);
    }

    #[test]
    fn payload_advice_learning_margin_and_new_york_labels() {
        let share = |h: f64| 0.5 + 0.3 * ((h - 12.0) / 24.0 * std::f64::consts::TAU).sin();
        // Twenty hours of history: a shape exists in the data but not a whole day of it.
        let mut young = Forecaster::default();
        for i in 0..20 * 12 {
            let ts = t0() + Duration::minutes(5 * i);
            assert!(young.update(&reading(ts, share(i as f64 / 12.0), 10_000.0)));
        }
        let f = young.forecast(young.newest().unwrap(), None).unwrap();
        assert_eq!(f.history_hours, 20);
        let p = charge_window_payload(&f);
        assert_eq!(p.history_hours, Some(20));
        assert_eq!(p.margin_pct, Some(advice::ADVICE_MARGIN_PCT));
        assert!(p
            .windows
            .iter()
            .all(|w| w.advice.as_deref() == Some("learning")));

        // Ten days of a strong daily cycle: wait for the trough.
        let mut fc = Forecaster::default();
        feed(&mut fc, 10, share, |_| 10_000.0);
        let now = t0() + Duration::days(10); // 2025-02-11 00:00 UTC = 7:00 PM EST on the 10th
        assert!(fc.update(&reading(now, share(240.0), 10_000.0)));
        let p = charge_window_payload(&fc.forecast(now, None).unwrap());
        let w4 = &p.windows[2];
        assert_eq!(w4.advice.as_deref(), Some("later"));
        // Starts 04:00 UTC = 11:00 PM EST the same New York day, ends 3:00 AM the next.
        assert_eq!(w4.start, now + Duration::hours(4));
        assert_eq!(w4.start_ny.as_deref(), Some("11:00 PM today"));
        assert_eq!(w4.end_ny.as_deref(), Some("3:00 AM tomorrow"));

        // A cycle of ±0.6 % of the level: the trough is cleaner, but not by the margin.
        let tiny = |h: f64| 0.5 + 0.003 * ((h - 12.0) / 24.0 * std::f64::consts::TAU).sin();
        let mut flat = Forecaster::default();
        feed(&mut flat, 10, tiny, |_| 10_000.0);
        assert!(flat.update(&reading(now, tiny(240.0), 10_000.0)));
        let p = charge_window_payload(&flat.forecast(now, None).unwrap());
        let w4 = &p.windows[2];
        assert!(w4.start > now && w4.cleaner_than_now_pct > 0.0, "{w4:?}");
        assert!(
            w4.cleaner_than_now_pct < advice::ADVICE_MARGIN_PCT,
            "{w4:?}"
        );
        assert_eq!(w4.advice.as_deref(), Some("not_worth_it"));
    }

    #[test]
    fn band_says_the_span_it_used_learns_for_a_week_and_carries_the_index() {
        let mut fc = Forecaster::default();
        // 36 hours at 50 % gas (208.6 g/kWh).
        feed(&mut fc, 1, |_| 0.5, |_| 10_000.0);
        for i in 288..432 {
            assert!(fc.update(&reading(t0() + Duration::minutes(5 * i), 0.5, 10_000.0)));
        }
        let p = fc.band_payload().unwrap();
        assert_eq!(p.hours, Some(36));
        assert_eq!(p.window_days, 2, "36 hours: the last 2 days, not 30");
        assert_eq!(p.learning, Some(true));
        let want = index::level(208.605, &index::INDEX_BOUNDARIES).unwrap();
        assert_eq!(p.index.as_deref(), Some(want.name()));
        assert_eq!(p.index_boundaries, Some(index::INDEX_BOUNDARIES.to_vec()));
        // A week of hourly means: settled.
        let mut week = Forecaster::default();
        feed(&mut week, 7, |_| 0.5, |_| 10_000.0);
        let p = week.band_payload().unwrap();
        assert_eq!(
            (p.hours, p.window_days, p.learning),
            (Some(168), 7, Some(false))
        );
        // Another factor table has no published boundaries: no index.
        let mut life = Forecaster::new(Factors::Lifecycle);
        feed(&mut life, 2, |_| 0.5, |_| 10_000.0);
        let p = life.band_payload().unwrap();
        assert_eq!((p.index, p.index_boundaries), (None, None));
    }

    #[test]
    fn index_follows_readings_with_hysteresis() {
        let b = index::INDEX_BOUNDARIES;
        let mut fc = Forecaster::default();
        let gas = |g: f64| g / 417.21; // the share giving `g` g/kWh
        let mut ts = t0();
        let mut push = |fc: &mut Forecaster, g: f64| {
            ts += Duration::minutes(5);
            assert!(fc.update(&reading(ts, gas(g), 10_000.0)));
            fc.index_level().unwrap()
        };
        use index::IndexLevel::{High, Moderate};
        assert_eq!(push(&mut fc, b[2] - 1.0), Moderate);
        // Just over the boundary: still moderate (hysteresis), well over: high.
        assert_eq!(push(&mut fc, b[2] + 1.0), Moderate);
        assert_eq!(push(&mut fc, b[2] + index::INDEX_HYSTERESIS + 1.0), High);
        // Back just under: still high.
        assert_eq!(push(&mut fc, b[2] - 1.0), High);
        assert_eq!(
            push(&mut fc, b[2] - index::INDEX_HYSTERESIS - 1.0),
            Moderate
        );
    }

    #[test]
    fn ties_go_to_the_earliest_window() {
        assert_eq!(best_window(&[3.0, 1.0, 1.0, 3.0], 1), Some((1, 1.0)));
        assert_eq!(best_window(&[1.0, 1.0], 3), None);
        assert_eq!(best_window(&[1.0], 0), None);
    }
}
