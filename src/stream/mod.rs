//! The MQTT contract (DESIGN §5, schema v1): the topic tree and the payload types. This module
//! is the only place topic strings are written; everything else asks [`Topics`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::intensity::Factors;
use crate::reading::{Fuel, FuelMix, Reading};

pub mod contract_doc;

/// Default root of the topic tree.
pub const DEFAULT_ROOT: &str = "ny-power";
/// Units of generation values.
pub const UNITS_MW: &str = "MW";
/// Units of intensity values.
pub const UNITS_G_PER_KWH: &str = "g/kWh";
/// Largest generation a fuel of one reading may report, MW ([`crate::reading::MAX_FUEL_MW`],
/// the one bound the parser, the calculator and the archiver all use). Checked where a
/// fuel-mix payload is decoded ([`decode_fuel_mix`]).
pub use crate::reading::MAX_FUEL_MW;
/// How far past the receiver's clock a reading's instant may lie
/// ([`crate::reading::MAX_FUTURE_SLACK`]: clocks differ a little; a reading dated hours ahead
/// is a fault, and would freeze the calculator's history).
pub fn future_slack() -> chrono::Duration {
    crate::reading::MAX_FUTURE_SLACK
}
/// The current version of the forecaster state payload ([`ForecasterStatePayload::v`]).
pub const FORECASTER_STATE_VERSION: u32 = 2;

/// Errors of the stream layer: a payload that does not follow the contract.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The payload is not the JSON the topic's contract describes.
    #[error("topic `{topic}`: payload does not follow the contract: {source}")]
    BadPayload {
        /// The topic the payload arrived on.
        topic: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// The payload parsed but its content is inconsistent.
    #[error("topic `{topic}`: {problem}")]
    Inconsistent {
        /// The topic the payload arrived on.
        topic: String,
        /// What is wrong.
        problem: String,
    },
    /// A payload to publish cannot be written as the contract says (a number that is not
    /// finite: JSON has no NaN or infinity, and `null` is not a number).
    #[error("topic `{topic}`: payload not published: {source}")]
    Unwritable {
        /// The topic it was meant for.
        topic: String,
        /// The serialisation error (names the value).
        source: serde_json::Error,
    },
}

/// The topic tree under one root (default `ny-power`; a different root lets several stacks
/// share one broker, e.g. one AWS account's IoT Core).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    root: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics::new(DEFAULT_ROOT)
    }
}

impl Topics {
    /// The topic tree under `root` (no trailing slash).
    pub fn new(root: impl Into<String>) -> Self {
        let root: String = root.into();
        Topics {
            root: root.trim_end_matches('/').to_owned(),
        }
    }

    /// The topic tree under a configured root (`TOPIC_ROOT`), checked: surrounding blanks and
    /// trailing `/` are dropped; what is left must be a non-empty topic name without the MQTT
    /// wildcards `#` and `+` (a root is published to, and a name with them cannot be), not
    /// starting with `/` (an empty first level; AWS IoT Core's topic rules and policies name
    /// topics without it) nor with `$` (reserved for the broker's own topics: `$SYS`, AWS IoT's
    /// `$aws`, and `#` subscriptions do not see them), and without the NUL character.
    ///
    /// # Errors
    /// [`TopicRootError`] saying what is wrong with the root.
    pub fn from_root(root: &str) -> Result<Self, TopicRootError> {
        let trimmed = root.trim().trim_end_matches('/');
        let problem = if trimmed.is_empty() {
            Some("is empty")
        } else if trimmed.contains(['#', '+']) {
            Some("contains an MQTT wildcard (`#` or `+`)")
        } else if trimmed.starts_with('/') {
            Some("starts with `/`")
        } else if trimmed.starts_with('$') {
            Some("starts with `$` (reserved for the broker's own topics)")
        } else if trimmed.contains('\0') {
            Some("contains the NUL character")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(TopicRootError {
                root: root.to_owned(),
                problem,
            }),
            None => Ok(Topics::new(trimmed)),
        }
    }

    /// The retained topics that make up the stream's state (what a broker that lost its
    /// retained messages needs back): every retained topic of the contract except the
    /// services' own status, which each service announces itself. See
    /// [`TopicKind::is_state`].
    pub fn state_topics(&self) -> Vec<String> {
        let mut topics = vec![self.cursor(), self.fuel_mix()];
        topics.extend(Fuel::ALL.into_iter().map(|f| self.fuel(f)));
        topics.extend(Factors::ALL.into_iter().map(|f| self.co2(f)));
        topics.extend([
            self.co2_history(),
            self.co2_forecast(),
            self.charge_window(),
            self.co2_band(),
            self.forecaster_state(),
        ]);
        topics
    }

    /// The root, e.g. `ny-power`.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// `{root}/#`: everything.
    pub fn all(&self) -> String {
        format!("{}/#", self.root)
    }

    /// `{root}/upstream/fuel-mix`: the combined fuel mix of a reading.
    pub fn fuel_mix(&self) -> String {
        format!("{}/upstream/fuel-mix", self.root)
    }

    /// `{root}/upstream/fuel-mix/{slug}`: one fuel of a reading.
    pub fn fuel(&self, fuel: Fuel) -> String {
        format!("{}/upstream/fuel-mix/{}", self.root, fuel.slug())
    }

    /// `{root}/computed/co2` (direct factors) or `{root}/computed/co2/lifecycle`; other tables
    /// get `{root}/computed/co2/{name}`.
    pub fn co2(&self, factors: Factors) -> String {
        match factors {
            Factors::Direct => format!("{}/computed/co2", self.root),
            other => format!("{}/computed/co2/{}", self.root, other.name()),
        }
    }

    /// `{root}/archive/co2/24h`: the rolling 24 h intensity history.
    pub fn co2_history(&self) -> String {
        format!("{}/archive/co2/24h", self.root)
    }

    /// `{root}/archive/co2/points`: one message per computed intensity (every reading, every
    /// table, late ones included), **not retained**, QoS 1: what archivers store. The live
    /// `computed/co2*` topics keep only the newest reading; this one loses none.
    pub fn co2_archive(&self) -> String {
        format!("{}/archive/co2/points", self.root)
    }

    /// `{root}/status/fuel-mix/updated`: the newest reading published (the pump's cursor).
    pub fn cursor(&self) -> String {
        format!("{}/status/fuel-mix/updated", self.root)
    }

    /// `{root}/status/{service}`: a service's online/offline state.
    pub fn service_status(&self, service: &str) -> String {
        format!("{}/status/{service}", self.root)
    }

    /// `{root}/computed/co2/forecast`: the intensity forecast for the next 24 hours.
    pub fn co2_forecast(&self) -> String {
        format!("{}/computed/co2/forecast", self.root)
    }

    /// `{root}/computed/co2/band`: the current intensity as low / moderate / high against the
    /// last 30 days.
    pub fn co2_band(&self) -> String {
        format!("{}/computed/co2/band", self.root)
    }

    /// `{root}/computed/charge-window`: the cleanest 1, 2, 4 and 8 hour charging windows.
    pub fn charge_window(&self) -> String {
        format!("{}/computed/charge-window", self.root)
    }

    /// `{root}/state/co2/forecaster`: the forecaster's compact state (hourly means of the last
    /// 30 days), retained so a restarted calculator or a cold Lambda can restore it.
    pub fn forecaster_state(&self) -> String {
        format!("{}/state/co2/forecaster", self.root)
    }

    /// The topics an archiver subscribes to: the combined mix (the per-fuel topics carry the
    /// same numbers) and the intensity archive stream [`Topics::co2_archive`] (not the live
    /// `computed/co2*` topics, which skip a reading that arrives after a newer one).
    pub fn archived(&self) -> Vec<String> {
        vec![self.fuel_mix(), self.co2_archive()]
    }

    /// What a topic is, if it belongs to this tree's contract.
    pub fn classify(&self, topic: &str) -> Option<TopicKind> {
        let rest = topic.strip_prefix(&self.root)?.strip_prefix('/')?;
        match rest {
            "upstream/fuel-mix" => Some(TopicKind::FuelMix),
            "archive/co2/24h" => Some(TopicKind::Co2History),
            "archive/co2/points" => Some(TopicKind::Co2Archive),
            "status/fuel-mix/updated" => Some(TopicKind::Cursor),
            "computed/co2" => Some(TopicKind::Co2(Factors::Direct)),
            "computed/co2/forecast" => Some(TopicKind::Co2Forecast),
            "computed/co2/band" => Some(TopicKind::Co2Band),
            "computed/charge-window" => Some(TopicKind::ChargeWindow),
            "state/co2/forecaster" => Some(TopicKind::ForecasterState),
            _ => {
                if let Some(slug) = rest.strip_prefix("upstream/fuel-mix/") {
                    return Fuel::from_slug(slug).map(TopicKind::Fuel);
                }
                if let Some(name) = rest.strip_prefix("computed/co2/") {
                    return name
                        .parse::<Factors>()
                        .ok()
                        .filter(|f| *f != Factors::Direct)
                        .map(TopicKind::Co2);
                }
                rest.strip_prefix("status/")
                    .filter(|s| !s.contains('/'))
                    .map(|s| TopicKind::ServiceStatus(s.to_owned()))
            }
        }
    }
}

/// A topic root that cannot be used (see [`Topics::from_root`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{root}` is not a topic root: it {problem}")]
pub struct TopicRootError {
    /// The root as given.
    pub root: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// The kinds of topic in the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicKind {
    /// `upstream/fuel-mix`.
    FuelMix,
    /// `upstream/fuel-mix/{slug}`.
    Fuel(Fuel),
    /// `computed/co2[/table]`.
    Co2(Factors),
    /// `archive/co2/24h`.
    Co2History,
    /// `archive/co2/points` (not retained).
    Co2Archive,
    /// `status/fuel-mix/updated`.
    Cursor,
    /// `status/{service}`.
    ServiceStatus(String),
    /// `computed/co2/forecast`.
    Co2Forecast,
    /// `computed/co2/band`.
    Co2Band,
    /// `computed/charge-window`.
    ChargeWindow,
    /// `state/co2/forecaster`.
    ForecasterState,
}

impl TopicKind {
    /// Whether messages of this kind are retained: all but the archive stream
    /// (`archive/co2/points`, where each message is an event).
    pub fn is_retained(&self) -> bool {
        !matches!(self, TopicKind::Co2Archive)
    }

    /// Whether this kind's retained message is part of the stream's state, to be kept across a
    /// broker that forgets (the demo's resume file): retained, and not a service's own status.
    pub fn is_state(&self) -> bool {
        self.is_retained() && !matches!(self, TopicKind::ServiceStatus(_))
    }
}

/// `upstream/fuel-mix` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FuelMixPayload {
    /// The reading's instant.
    pub ts: DateTime<Utc>,
    /// MW by fuel slug, all seven.
    #[serde(serialize_with = "finite::mix")]
    pub fuels: FuelMix,
    /// Sum of the seven.
    #[serde(serialize_with = "finite::one")]
    pub total_mw: f64,
}

impl FuelMixPayload {
    /// The payload of a reading.
    pub fn of(reading: &Reading) -> Self {
        FuelMixPayload {
            ts: reading.ts,
            fuels: reading.mix,
            total_mw: reading.total_mw(),
        }
    }

    /// The reading this payload carries.
    pub fn reading(&self) -> Reading {
        Reading {
            ts: self.ts,
            mix: self.fuels,
        }
    }
}

/// `upstream/fuel-mix/{slug}` payload and every other single-value payload in MW.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FuelValuePayload {
    /// The reading's instant.
    pub ts: DateTime<Utc>,
    /// MW.
    #[serde(serialize_with = "finite::one")]
    pub value: f64,
    /// Always `MW`.
    pub units: String,
}

/// `computed/co2[/lifecycle]` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Co2Payload {
    /// The reading's instant.
    pub ts: DateTime<Utc>,
    /// Intensity, g/kWh.
    #[serde(serialize_with = "finite::one")]
    pub value: f64,
    /// Always `g/kWh`.
    pub units: String,
    /// The factor table's name (`direct`, `lifecycle`, …).
    pub factors: String,
}

/// `archive/co2/24h` payload: parallel arrays, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Co2HistoryPayload {
    /// Always `g/kWh`.
    pub units: String,
    /// Instants, oldest first.
    pub ts: Vec<DateTime<Utc>>,
    /// Intensity at each instant.
    #[serde(serialize_with = "finite::vec")]
    pub values: Vec<f64>,
}

/// `status/fuel-mix/updated` payload: the newest reading published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CursorPayload {
    /// The newest reading's instant.
    pub ts: DateTime<Utc>,
}

/// `status/{service}` payload: online or offline (the offline one is the last will).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceStatusPayload {
    /// `online` or `offline`.
    pub state: ServiceState,
    /// When the state was announced (absent in a last will, whose time is not known ahead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
}

/// A service's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceState {
    /// Running and connected.
    Online,
    /// Stopped, or its connection was lost (last will).
    Offline,
}

/// `computed/co2/forecast` payload: expected mean intensity of each one-hour slot from the
/// issue time on (parallel arrays, 24 slots, `ts` = start of each slot).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Co2ForecastPayload {
    /// When the forecast was made (the newest reading's instant).
    pub issued: DateTime<Utc>,
    /// Start of each slot, oldest first.
    pub ts: Vec<DateTime<Utc>>,
    /// Expected mean intensity over each slot.
    #[serde(serialize_with = "finite::vec")]
    pub values: Vec<f64>,
    /// Always `g/kWh`.
    pub units: String,
}

/// One charge length of the `computed/charge-window` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowPayload {
    /// Charge length, hours (1, 2, 4 or 8).
    pub hours: u32,
    /// When to plug in.
    pub start: DateTime<Utc>,
    /// When the charge ends (`start + hours`).
    pub end: DateTime<Utc>,
    /// Forecast mean intensity over the window.
    #[serde(serialize_with = "finite::one")]
    pub mean: f64,
    /// Forecast mean intensity of the same charge started now.
    #[serde(serialize_with = "finite::one")]
    pub now_mean: f64,
    /// `(now_mean − mean) / now_mean × 100`; 0 when the best window starts now.
    #[serde(serialize_with = "finite::one")]
    pub cleaner_than_now_pct: f64,
    /// What to tell a person (`docs/forecast.md`, "Advice"): `later` (wait for `start`: at
    /// least `margin_pct` cleaner than now), `now` (the cleanest start is now),
    /// `not_worth_it` (a later start is cleaner by less than the margin) or `learning` (too
    /// little history for advice). Absent in payloads from before the field (read as `later`
    /// or `now` from `start`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
    /// `start` in New York time, 12-hour clock, with the day relative to `issued` in New York
    /// (`"1:00 AM tomorrow"`, `"10:00 PM today"`): a label for Home Assistant; `start` is the
    /// instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ny: Option<String>,
    /// `end` the same way (the day only when it is not `start`'s: `"5:00 AM"`,
    /// `"2:00 AM tomorrow"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ny: Option<String>,
}

/// `computed/charge-window` payload: the cleanest window per charge length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargeWindowPayload {
    /// The forecast's issue time.
    pub issued: DateTime<Utc>,
    /// Always `g/kWh`.
    pub units: String,
    /// One entry per charge length, shortest first.
    pub windows: Vec<WindowPayload>,
    /// Hourly means the forecast's profile could use (the last 14 days): with fewer than
    /// `forecast::ADVICE_MIN_HOURS` every window's `advice` is `learning`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_hours: Option<u32>,
    /// Ready-by charging: for each ready-by time offered, the cleanest window of every charge
    /// length that ends by it (`docs/forecast.md`, "Ready-by windows").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_by: Option<Vec<ReadyByPayload>>,
    /// The ready-by time chosen by the `CHARGE_READY_BY` setting (`HH:MM`, New York): the
    /// page's default, one of `ready_by`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_by_default: Option<String>,
    /// The margin rule: a later start is advised only when it is at least this much cleaner
    /// than starting now, % (`forecast::ADVICE_MARGIN_PCT`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "finite::opt"
    )]
    pub margin_pct: Option<f64>,
}

/// One ready-by time of the `computed/charge-window` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadyByPayload {
    /// The time of day, New York, `HH:MM` (24-hour; the page's option value).
    pub time: String,
    /// The same on the 12-hour clock (`7:00 AM`).
    pub time_ny: String,
    /// One window per charge length, shortest first: the cleanest that ends by the first
    /// `time` at or after `issued + hours` (its `end` ≤ that deadline).
    pub windows: Vec<WindowPayload>,
}

/// `computed/co2/band` payload: the newest intensity against the last 30 days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Co2BandPayload {
    /// The reading's instant.
    pub ts: DateTime<Utc>,
    /// Its intensity.
    #[serde(serialize_with = "finite::one")]
    pub value: f64,
    /// `low`, `moderate` or `high`.
    pub band: String,
    /// Below this is low (lower tercile of the hourly means).
    #[serde(serialize_with = "finite::one")]
    pub low_below: f64,
    /// Above this is high (upper tercile of the hourly means).
    #[serde(serialize_with = "finite::one")]
    pub high_above: f64,
    /// Days compared against: the span the hourly means really cover, in whole days (nearest,
    /// 1 to 30).
    pub window_days: u32,
    /// Always `g/kWh`.
    pub units: String,
    /// Hourly means the band was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<u32>,
    /// Fewer than a week of hourly means: the band is still learning what is usual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning: Option<bool>,
    /// The fixed index (`very_low`, `low`, `moderate`, `high`, `very_high`) against
    /// `index_boundaries`, with hysteresis (`docs/forecast.md`, "Fixed index"); absent with a
    /// factor table that has no published boundaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    /// The index's four boundaries, g/kWh, increasing: upper ends of very low … high.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_boundaries: Option<Vec<f64>>,
}

/// The newest reading in a [`ForecasterStatePayload`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatestPoint {
    /// Its instant.
    pub ts: DateTime<Utc>,
    /// Its intensity.
    #[serde(serialize_with = "finite::one")]
    pub value: f64,
    /// Its total generation, MW (absent when restored from the 24 h history).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "finite::opt"
    )]
    pub total_mw: Option<f64>,
}

/// `state/co2/forecaster` payload: hourly means from `hour0` on, one per hour (`null` for an
/// hour without readings), with the number of readings behind each (`n`, since v2); `total_mw`
/// covers the last hours of the same range (aligned to its end). Read it with
/// [`decode_forecaster_state`], which checks it and migrates a v1 state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecasterStatePayload {
    /// Format version ([`FORECASTER_STATE_VERSION`]; 1 lacks `n`).
    pub v: u32,
    /// The factor table of the intensities.
    pub factors: String,
    /// Start of the first hour.
    pub hour0: DateTime<Utc>,
    /// Mean intensity of each hour.
    #[serde(serialize_with = "finite::opt_vec")]
    pub intensity: Vec<Option<f64>>,
    /// Mean total generation of each of the last hours, MW.
    #[serde(serialize_with = "finite::opt_vec")]
    pub total_mw: Vec<Option<f64>>,
    /// Readings behind each hourly mean of `intensity` (v2; absent in v1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub n: Vec<u32>,
    /// The newest reading.
    pub latest: LatestPoint,
}

/// Parses a `state/co2/forecaster` payload, migrates a v1 state to the current version (each
/// hourly mean counted as one reading, as v1 restored them) and checks it is a state a
/// calculator can have written: lengths line up, numbers finite and not negative (a total
/// generation at most seven times [`MAX_FUEL_MW`]), the newest reading not after `now` +
/// [`future_slack`] and in the last hour of the range.
///
/// # Errors
/// [`StreamError`] naming what is wrong; the caller starts without the state.
pub fn decode_forecaster_state(
    topic: &str,
    payload: &[u8],
    now: DateTime<Utc>,
) -> Result<ForecasterStatePayload, StreamError> {
    let mut p: ForecasterStatePayload = decode(topic, payload)?;
    let bad = |problem: String| StreamError::Inconsistent {
        topic: topic.to_owned(),
        problem,
    };
    match p.v {
        1 => {
            p.n = p.intensity.iter().map(|v| u32::from(v.is_some())).collect();
            p.v = FORECASTER_STATE_VERSION;
        }
        FORECASTER_STATE_VERSION => {}
        v => {
            return Err(bad(format!(
                "format version {v} unknown (this build reads 1 to {FORECASTER_STATE_VERSION})"
            )))
        }
    }
    if p.n.len() != p.intensity.len() || p.total_mw.len() > p.intensity.len() {
        return Err(bad(format!(
            "{} hourly means, {} counts, {} totals do not line up",
            p.intensity.len(),
            p.n.len(),
            p.total_mw.len()
        )));
    }
    let intensity_ok = |v: &f64| v.is_finite() && *v >= 0.0;
    if !p.intensity.iter().flatten().all(intensity_ok) || !intensity_ok(&p.latest.value) {
        return Err(bad("an intensity is not a finite number >= 0".to_owned()));
    }
    let mw_ok = |v: &f64| v.is_finite() && (0.0..=7.0 * MAX_FUEL_MW).contains(v);
    if !p.total_mw.iter().flatten().all(mw_ok) || !p.latest.total_mw.iter().all(mw_ok) {
        return Err(bad(format!(
            "a total generation is not between 0 and {} MW",
            7.0 * MAX_FUEL_MW
        )));
    }
    check_not_future(topic, p.latest.ts, now)?;
    if p.latest.ts < p.hour0 {
        return Err(bad("the newest reading is before the first hour".to_owned()));
    }
    Ok(p)
}

/// Parses a `computed/co2/forecast` payload and checks its arrays line up, are in order and
/// finite.
///
/// # Errors
/// [`StreamError`] when the payload is malformed or inconsistent.
pub fn decode_forecast(topic: &str, payload: &[u8]) -> Result<Co2ForecastPayload, StreamError> {
    let p: Co2ForecastPayload = decode(topic, payload)?;
    check_series(topic, &p.ts, &p.values)?;
    Ok(p)
}

/// One message to publish: topic, JSON payload, QoS 1; retained except on the archive stream
/// ([`Topics::co2_archive`], DESIGN §5).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Full topic.
    pub topic: String,
    /// JSON bytes.
    pub payload: Vec<u8>,
    /// Whether the broker keeps it as the topic's retained message.
    pub retain: bool,
}

impl Message {
    /// A retained message with a JSON payload.
    ///
    /// # Errors
    /// [`StreamError::Unwritable`] when a number of the payload is not finite (the contract
    /// has numbers there: JSON would carry `null`).
    pub fn json<T: Serialize>(topic: String, payload: &T) -> Result<Self, StreamError> {
        match serde_json::to_vec(payload) {
            Ok(payload) => Ok(Message {
                topic,
                payload,
                retain: true,
            }),
            Err(source) => Err(StreamError::Unwritable { topic, source }),
        }
    }

    /// A message that is not retained (the archive stream: each one is an event).
    ///
    /// # Errors
    /// As [`Message::json`].
    pub fn event<T: Serialize>(topic: String, payload: &T) -> Result<Self, StreamError> {
        Message::json(topic, payload).map(|m| Message { retain: false, ..m })
    }

    /// The message, or `None` with the error logged (a computed value that is not a finite
    /// number is left out of what is published, never sent as `null`).
    pub fn or_log(result: Result<Message, StreamError>) -> Option<Message> {
        result
            .map_err(|e| tracing::warn!(error = %e, "message left out"))
            .ok()
    }

    /// The payload as UTF-8 text, for logs.
    pub fn payload_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.payload)
    }
}

/// The data messages of one reading, in publish order: the per-fuel topics, then the combined
/// fuel mix. The cursor ([`cursor_message`]) follows once these are acknowledged (DESIGN §5).
/// All or nothing: a reading with a value that is not a finite number has no messages (it is
/// not a reading; the parser never yields one) and is logged.
pub fn reading_messages(topics: &Topics, reading: &Reading) -> Vec<Message> {
    let mut out = Vec::with_capacity(8);
    for (fuel, mw) in reading.mix.iter() {
        let payload = FuelValuePayload {
            ts: reading.ts,
            value: mw,
            units: UNITS_MW.to_owned(),
        };
        match Message::json(topics.fuel(fuel), &payload) {
            Ok(m) => out.push(m),
            Err(e) => {
                tracing::error!(error = %e, ts = %reading.ts, "reading not published");
                return Vec::new();
            }
        }
    }
    match Message::json(topics.fuel_mix(), &FuelMixPayload::of(reading)) {
        Ok(m) => out.push(m),
        Err(e) => {
            tracing::error!(error = %e, ts = %reading.ts, "reading not published");
            return Vec::new();
        }
    }
    out
}

/// The cursor message for the newest published reading.
pub fn cursor_message(topics: &Topics, ts: DateTime<Utc>) -> Message {
    Message {
        topic: topics.cursor(),
        // A timestamp alone: serialising it cannot fail.
        payload: serde_json::to_vec(&CursorPayload { ts }).unwrap_or_default(),
        retain: true,
    }
}

/// The pump's resume cursor from its retained message, checked: `None` (logged as a warning)
/// when the payload is not a cursor or is dated after `now` + [`future_slack`] — the pump then
/// starts as with no cursor (its first lookback), never refusing to start over a bad value.
/// An empty payload (a cleared retained message) is no cursor, silently.
pub fn restore_cursor(topic: &str, payload: &[u8], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if payload.is_empty() {
        return None;
    }
    let checked = decode::<CursorPayload>(topic, payload)
        .and_then(|c| check_not_future(topic, c.ts, now).map(|()| c.ts));
    match checked {
        Ok(ts) => Some(ts),
        Err(e) => {
            tracing::warn!(error = %e, "retained cursor ignored; starting as with no cursor");
            None
        }
    }
}

/// Parses a JSON payload of a contract type, naming the topic in the error.
///
/// # Errors
/// [`StreamError::BadPayload`] when the bytes are not the expected JSON.
pub fn decode<T: for<'de> Deserialize<'de>>(topic: &str, payload: &[u8]) -> Result<T, StreamError> {
    serde_json::from_slice(payload).map_err(|source| StreamError::BadPayload {
        topic: topic.to_owned(),
        source,
    })
}

/// Parses an `upstream/fuel-mix` payload and checks it is a reading a grid can produce: every
/// fuel `0 <= MW <= MAX_FUEL_MW` ([`MAX_FUEL_MW`]), `total_mw` the sum of the fuels.
///
/// # Errors
/// [`StreamError`] when the payload is malformed, a fuel is out of bounds (named with its
/// value) or the total disagrees with the fuels.
pub fn decode_fuel_mix(topic: &str, payload: &[u8]) -> Result<FuelMixPayload, StreamError> {
    let p: FuelMixPayload = decode(topic, payload)?;
    let bad = |problem: String| StreamError::Inconsistent {
        topic: topic.to_owned(),
        problem,
    };
    if let Some((fuel, mw)) = p
        .fuels
        .iter()
        .find(|(_, mw)| !crate::reading::is_valid_mw(*mw))
    {
        return Err(bad(format!(
            "{} = {mw} MW is not a generation a grid reports (0 to {MAX_FUEL_MW} MW per fuel)",
            fuel.slug()
        )));
    }
    let sum = p.fuels.total_mw();
    if !p.total_mw.is_finite() || (sum - p.total_mw).abs() > 1e-6 * sum.abs().max(1.0) {
        return Err(bad(format!(
            "total_mw {} is not the sum of the fuels ({sum})",
            p.total_mw
        )));
    }
    Ok(p)
}

/// [`decode_fuel_mix`], and the reading is not dated after `now` + [`future_slack`].
///
/// # Errors
/// As [`decode_fuel_mix`], and [`StreamError::Inconsistent`] for a reading from the future.
pub fn decode_fuel_mix_at(
    topic: &str,
    payload: &[u8],
    now: DateTime<Utc>,
) -> Result<FuelMixPayload, StreamError> {
    let p = decode_fuel_mix(topic, payload)?;
    check_not_future(topic, p.ts, now)?;
    Ok(p)
}

/// Refuses an instant later than `now` + [`future_slack`].
///
/// # Errors
/// [`StreamError::Inconsistent`] naming the instant and the clock.
pub fn check_not_future(
    topic: &str,
    ts: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StreamError> {
    if ts > crate::reading::latest_acceptable(now) {
        return Err(StreamError::Inconsistent {
            topic: topic.to_owned(),
            problem: format!(
                "{} is in the future (clock {}; at most {} min ahead allowed)",
                ts.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                future_slack().num_minutes()
            ),
        });
    }
    Ok(())
}

/// Checks parallel `ts`/`values` arrays: same length, instants strictly increasing, values
/// finite (the 24 h history and the forecast share this shape).
fn check_series(topic: &str, ts: &[DateTime<Utc>], values: &[f64]) -> Result<(), StreamError> {
    let bad = |problem: String| StreamError::Inconsistent {
        topic: topic.to_owned(),
        problem,
    };
    if ts.len() != values.len() {
        return Err(bad(format!(
            "{} instants but {} values",
            ts.len(),
            values.len()
        )));
    }
    if ts.windows(2).any(|w| w[0] >= w[1]) {
        return Err(bad("instants are not strictly increasing".to_owned()));
    }
    if values.iter().any(|v| !v.is_finite()) {
        return Err(bad("a value is not a finite number".to_owned()));
    }
    Ok(())
}

/// Parses an `archive/co2/24h` payload and checks its arrays line up and are in order.
///
/// # Errors
/// [`StreamError`] when the payload is malformed, the arrays differ in length or the instants
/// are not strictly increasing.
pub fn decode_history(topic: &str, payload: &[u8]) -> Result<Co2HistoryPayload, StreamError> {
    let p: Co2HistoryPayload = decode(topic, payload)?;
    check_series(topic, &p.ts, &p.values)?;
    Ok(p)
}

/// `serialize_with` helpers: a number that is not finite is an error, never `null`.
mod finite {
    use serde::ser::Error as _;
    use serde::{Serialize, Serializer};

    use crate::reading::FuelMix;

    fn refuse<S: Serializer>(v: f64) -> S::Error {
        S::Error::custom(format!("{v} is not a finite number"))
    }

    pub fn one<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            Err(refuse::<S>(*v))
        }
    }

    pub fn opt<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) if !x.is_finite() => Err(refuse::<S>(*x)),
            _ => v.serialize(s),
        }
    }

    pub fn vec<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        match v.iter().find(|x| !x.is_finite()) {
            Some(x) => Err(refuse::<S>(*x)),
            None => v.serialize(s),
        }
    }

    pub fn opt_vec<S: Serializer>(v: &[Option<f64>], s: S) -> Result<S::Ok, S::Error> {
        match v.iter().flatten().find(|x| !x.is_finite()) {
            Some(x) => Err(refuse::<S>(*x)),
            None => v.serialize(s),
        }
    }

    pub fn mix<S: Serializer>(v: &FuelMix, s: S) -> Result<S::Ok, S::Error> {
        match v.iter().find(|(_, mw)| !mw.is_finite()) {
            Some((_, mw)) => Err(refuse::<S>(mw)),
            None => v.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn reading() -> Reading {
        Reading {
            ts: Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap(),
            mix: FuelMix([4613.0, 3487.0, 3357.0, 2.0, 220.0, 853.0, 1592.0]),
        }
    }

    #[test]
    fn topic_roots_are_checked_in_one_place() {
        assert_eq!(Topics::from_root("ny-power").unwrap().root(), "ny-power");
        assert_eq!(
            Topics::from_root(" dev/ny-power/ ").unwrap().root(),
            "dev/ny-power"
        );
        assert_eq!(Topics::from_root("a/").unwrap(), Topics::new("a"));
        for (bad, problem) in [
            ("/x", "starts with `/`"),
            ("a/#", "wildcard"),
            ("a/+/b", "wildcard"),
            ("", "is empty"),
            ("  ", "is empty"),
            ("/", "is empty"),
            ("$aws/x", "starts with `$`"),
            ("a\0b", "NUL"),
        ] {
            let e = Topics::from_root(bad).unwrap_err();
            assert!(e.problem.contains(problem), "{bad:?}: {e}");
            assert!(e.to_string().contains("is not a topic root"), "{e}");
        }
    }

    #[test]
    fn state_topics_are_the_retained_data_topics() {
        let t = Topics::new("r");
        let state = t.state_topics();
        for topic in &state {
            let kind = t.classify(topic).unwrap();
            assert!(kind.is_retained() && kind.is_state(), "{topic}");
        }
        // Every kind of the contract is either state, a service status or the event stream.
        let mut kinds: Vec<TopicKind> = state.iter().filter_map(|x| t.classify(x)).collect();
        kinds.push(t.classify(&t.service_status("pump")).unwrap());
        kinds.push(t.classify(&t.co2_archive()).unwrap());
        for kind in &kinds {
            match kind {
                TopicKind::ServiceStatus(_) => assert!(kind.is_retained() && !kind.is_state()),
                TopicKind::Co2Archive => assert!(!kind.is_retained() && !kind.is_state()),
                TopicKind::FuelMix
                | TopicKind::Fuel(_)
                | TopicKind::Co2(_)
                | TopicKind::Co2History
                | TopicKind::Cursor
                | TopicKind::Co2Forecast
                | TopicKind::Co2Band
                | TopicKind::ChargeWindow
                | TopicKind::ForecasterState => assert!(kind.is_state()),
            }
        }
        assert!(state.contains(&t.cursor()) && state.contains(&t.forecaster_state()));
        assert_eq!(state.len(), 2 + Fuel::ALL.len() + Factors::ALL.len() + 5);
        assert!(!state.contains(&t.co2_archive()));
    }

    #[test]
    fn topic_tree_is_the_contract() {
        let t = Topics::default();
        assert_eq!(t.fuel_mix(), "ny-power/upstream/fuel-mix");
        assert_eq!(
            t.fuel(Fuel::DualFuel),
            "ny-power/upstream/fuel-mix/dual_fuel"
        );
        assert_eq!(t.co2(Factors::Direct), "ny-power/computed/co2");
        assert_eq!(t.co2(Factors::Lifecycle), "ny-power/computed/co2/lifecycle");
        assert_eq!(t.co2_history(), "ny-power/archive/co2/24h");
        assert_eq!(t.cursor(), "ny-power/status/fuel-mix/updated");
        assert_eq!(t.service_status("pump"), "ny-power/status/pump");
        assert_eq!(
            Topics::new("dev/ny-power/").fuel_mix(),
            "dev/ny-power/upstream/fuel-mix"
        );
    }

    #[test]
    fn classify_inverts_the_builders() {
        let t = Topics::default();
        assert_eq!(t.classify(&t.fuel_mix()), Some(TopicKind::FuelMix));
        for f in Fuel::ALL {
            assert_eq!(t.classify(&t.fuel(f)), Some(TopicKind::Fuel(f)));
        }
        for f in Factors::ALL {
            assert_eq!(t.classify(&t.co2(f)), Some(TopicKind::Co2(f)));
        }
        assert_eq!(t.classify(&t.co2_history()), Some(TopicKind::Co2History));
        assert_eq!(t.classify(&t.cursor()), Some(TopicKind::Cursor));
        assert_eq!(
            t.classify(&t.service_status("co2")),
            Some(TopicKind::ServiceStatus("co2".into()))
        );
        assert_eq!(t.classify("ny-power/upstream/fuel-mix/coal"), None);
        assert_eq!(t.classify("other/upstream/fuel-mix"), None);
        assert_eq!(t.classify("ny-powerx/upstream/fuel-mix"), None);
    }

    #[test]
    fn payloads_are_exactly_the_contract() {
        let r = reading();
        let msgs = reading_messages(&Topics::default(), &r);
        assert_eq!(msgs.len(), 8);
        assert_eq!(msgs[0].topic, "ny-power/upstream/fuel-mix/dual_fuel");
        assert_eq!(
            msgs[0].payload_text(),
            r#"{"ts":"2025-02-01T05:05:00Z","value":4613.0,"units":"MW"}"#
        );
        assert_eq!(msgs[7].topic, "ny-power/upstream/fuel-mix");
        assert_eq!(
            msgs[7].payload_text(),
            r#"{"ts":"2025-02-01T05:05:00Z","fuels":{"dual_fuel":4613.0,"natural_gas":3487.0,"nuclear":3357.0,"other_fossil_fuels":2.0,"other_renewables":220.0,"wind":853.0,"hydro":1592.0},"total_mw":14124.0}"#
        );
        let cursor = cursor_message(&Topics::default(), r.ts);
        assert_eq!(cursor.topic, "ny-power/status/fuel-mix/updated");
        assert_eq!(cursor.payload_text(), r#"{"ts":"2025-02-01T05:05:00Z"}"#);
    }

    #[test]
    fn payloads_round_trip() {
        let r = reading();
        let p = FuelMixPayload::of(&r);
        let bytes = serde_json::to_vec(&p).unwrap();
        assert_eq!(decode_fuel_mix("t", &bytes).unwrap(), p);
        assert_eq!(p.reading(), r);

        let c = Co2Payload {
            ts: r.ts,
            value: 248.75,
            units: UNITS_G_PER_KWH.into(),
            factors: "direct".into(),
        };
        let s = serde_json::to_string(&c).unwrap();
        assert_eq!(
            s,
            r#"{"ts":"2025-02-01T05:05:00Z","value":248.75,"units":"g/kWh","factors":"direct"}"#
        );
        assert_eq!(decode::<Co2Payload>("t", s.as_bytes()).unwrap(), c);

        let h = Co2HistoryPayload {
            units: UNITS_G_PER_KWH.into(),
            ts: vec![r.ts, r.ts + chrono::Duration::minutes(5)],
            values: vec![1.5, 2.5],
        };
        let s = serde_json::to_string(&h).unwrap();
        assert_eq!(
            s,
            r#"{"units":"g/kWh","ts":["2025-02-01T05:05:00Z","2025-02-01T05:10:00Z"],"values":[1.5,2.5]}"#
        );
        assert_eq!(decode_history("t", s.as_bytes()).unwrap(), h);

        let st = ServiceStatusPayload {
            state: ServiceState::Offline,
            since: None,
        };
        let s = serde_json::to_string(&st).unwrap();
        assert_eq!(s, r#"{"state":"offline"}"#);
        assert_eq!(
            decode::<ServiceStatusPayload>("t", s.as_bytes()).unwrap(),
            st
        );
    }

    #[test]
    fn forecast_topics_are_the_contract_and_classify() {
        let t = Topics::default();
        assert_eq!(t.co2_forecast(), "ny-power/computed/co2/forecast");
        assert_eq!(t.co2_band(), "ny-power/computed/co2/band");
        assert_eq!(t.charge_window(), "ny-power/computed/charge-window");
        assert_eq!(t.forecaster_state(), "ny-power/state/co2/forecaster");
        assert_eq!(t.classify(&t.co2_forecast()), Some(TopicKind::Co2Forecast));
        assert_eq!(t.classify(&t.co2_band()), Some(TopicKind::Co2Band));
        assert_eq!(
            t.classify(&t.charge_window()),
            Some(TopicKind::ChargeWindow)
        );
        assert_eq!(
            t.classify(&t.forecaster_state()),
            Some(TopicKind::ForecasterState)
        );
        assert_eq!(t.classify("ny-power/computed/co2/forecast/x"), None);
        assert!(!t.archived().contains(&t.co2_forecast()));
    }

    #[test]
    fn forecast_payloads_round_trip() {
        let t0 = reading().ts;
        let f = Co2ForecastPayload {
            issued: t0,
            ts: vec![t0, t0 + chrono::Duration::hours(1)],
            values: vec![250.5, 240.0],
            units: UNITS_G_PER_KWH.into(),
        };
        let s = serde_json::to_string(&f).unwrap();
        assert_eq!(
            s,
            r#"{"issued":"2025-02-01T05:05:00Z","ts":["2025-02-01T05:05:00Z","2025-02-01T06:05:00Z"],"values":[250.5,240.0],"units":"g/kWh"}"#
        );
        assert_eq!(decode_forecast("t", s.as_bytes()).unwrap(), f);
        let e = decode_forecast(
            "t",
            br#"{"issued":"2025-02-01T05:05:00Z","ts":[],"values":[1],"units":"g/kWh"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("0 instants but 1 values"), "{e}");

        let w = ChargeWindowPayload {
            issued: t0,
            units: UNITS_G_PER_KWH.into(),
            windows: vec![WindowPayload {
                hours: 4,
                start: t0 + chrono::Duration::hours(3),
                end: t0 + chrono::Duration::hours(7),
                mean: 200.0,
                now_mean: 250.0,
                cleaner_than_now_pct: 20.0,
                advice: None,
                start_ny: None,
                end_ny: None,
            }],
            history_hours: None,
            ready_by: None,
            ready_by_default: None,
            margin_pct: None,
        };
        let s = serde_json::to_string(&w).unwrap();
        assert_eq!(
            s,
            r#"{"issued":"2025-02-01T05:05:00Z","units":"g/kWh","windows":[{"hours":4,"start":"2025-02-01T08:05:00Z","end":"2025-02-01T12:05:00Z","mean":200.0,"now_mean":250.0,"cleaner_than_now_pct":20.0}]}"#
        );
        assert_eq!(decode::<ChargeWindowPayload>("t", s.as_bytes()).unwrap(), w);

        let b = Co2BandPayload {
            ts: t0,
            value: 248.8,
            band: "high".into(),
            low_below: 180.0,
            high_above: 230.5,
            window_days: 30,
            units: UNITS_G_PER_KWH.into(),
            hours: None,
            learning: None,
            index: None,
            index_boundaries: None,
        };
        let s = serde_json::to_string(&b).unwrap();
        assert_eq!(
            s,
            r#"{"ts":"2025-02-01T05:05:00Z","value":248.8,"band":"high","low_below":180.0,"high_above":230.5,"window_days":30,"units":"g/kWh"}"#
        );
        assert_eq!(decode::<Co2BandPayload>("t", s.as_bytes()).unwrap(), b);

        let st = ForecasterStatePayload {
            v: 1,
            n: Vec::new(),
            factors: "direct".into(),
            hour0: t0,
            intensity: vec![Some(1.5), None],
            total_mw: vec![None],
            latest: LatestPoint {
                ts: t0,
                value: 1.5,
                total_mw: None,
            },
        };
        let s = serde_json::to_string(&st).unwrap();
        assert_eq!(
            s,
            r#"{"v":1,"factors":"direct","hour0":"2025-02-01T05:05:00Z","intensity":[1.5,null],"total_mw":[null],"latest":{"ts":"2025-02-01T05:05:00Z","value":1.5}}"#
        );
        assert_eq!(
            decode::<ForecasterStatePayload>("t", s.as_bytes()).unwrap(),
            st
        );
    }

    #[test]
    fn bad_payloads_name_the_topic() {
        let e = decode_fuel_mix("ny-power/upstream/fuel-mix", b"<html>").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("topic `ny-power/upstream/fuel-mix`"),
            "{e}"
        );
        let r = reading();
        let mut p = FuelMixPayload::of(&r);
        p.total_mw += 1.0;
        let e = decode_fuel_mix("t", &serde_json::to_vec(&p).unwrap()).unwrap_err();
        assert!(e.to_string().contains("not the sum"), "{e}");
        let e = decode_history(
            "t",
            br#"{"units":"g/kWh","ts":["2025-02-01T05:05:00Z"],"values":[]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("1 instants but 0 values"), "{e}");
        let e = decode_history(
            "t",
            br#"{"units":"g/kWh","ts":["2025-02-01T05:05:00Z","2025-02-01T05:05:00Z"],"values":[1,2]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("strictly increasing"), "{e}");
    }

    /// Issue 10, defect 6: negative MW gave -6,814 g/kWh; 1e308 an infinite intensity sent as
    /// `null`.
    #[test]
    fn impossible_fuel_mixes_are_refused_where_they_are_decoded() {
        let good = serde_json::to_vec(&FuelMixPayload::of(&reading())).unwrap();
        assert!(decode_fuel_mix("t", &good).is_ok());
        for (value, total) in [
            ("-6814.0", "7310.0"),
            ("1e308", "1e308"),
            ("60000.5", "74636.5"),
        ] {
            let text = String::from_utf8(good.clone())
                .unwrap()
                .replace("\"dual_fuel\":4613.0", &format!("\"dual_fuel\":{value}"))
                .replace("\"total_mw\":14124.0", &format!("\"total_mw\":{total}"));
            let e = decode_fuel_mix("ny-power/upstream/fuel-mix", text.as_bytes()).unwrap_err();
            // Refused while decoding the mix itself (`FuelMix`'s own check), naming the fuel,
            // its value and the bound.
            let text = e.to_string();
            assert!(text.contains("dual_fuel"), "{e}");
            if value != "1e308" {
                assert!(text.contains(value.trim_end_matches(".0")), "{e}");
            }
            assert!(text.contains("60000"), "{e}");
        }
        // The bound itself is a possible value.
        let mut edge = FuelMixPayload::of(&reading());
        edge.fuels.0[0] = MAX_FUEL_MW;
        edge.total_mw = edge.fuels.total_mw();
        assert!(decode_fuel_mix("t", &serde_json::to_vec(&edge).unwrap()).is_ok());
    }

    #[test]
    fn no_payload_carries_a_non_finite_number() {
        let t0 = reading().ts;
        let co2 = Co2Payload {
            ts: t0,
            value: f64::INFINITY,
            units: UNITS_G_PER_KWH.into(),
            factors: "direct".into(),
        };
        let e = Message::json("ny-power/computed/co2".into(), &co2).unwrap_err();
        assert!(e.to_string().contains("inf is not a finite number"), "{e}");
        let history = Co2HistoryPayload {
            units: UNITS_G_PER_KWH.into(),
            ts: vec![t0],
            values: vec![f64::NAN],
        };
        assert!(Message::json("t".into(), &history).is_err());
        let mut mix = FuelMixPayload::of(&reading());
        mix.fuels.0[3] = f64::NAN;
        assert!(Message::json("t".into(), &mix).is_err());
        let mut bad = reading();
        bad.mix.0[2] = f64::INFINITY;
        assert!(reading_messages(&Topics::default(), &bad).is_empty());
        // And a null where a number is due does not decode.
        let e = decode_history(
            "t",
            br#"{"units":"g/kWh","ts":["2025-02-01T05:05:00Z"],"values":[null]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("topic `t`"), "{e}");
        assert!(decode_forecast(
            "t",
            br#"{"issued":"2025-02-01T05:05:00Z","ts":["2025-02-01T05:05:00Z"],"values":[null],"units":"g/kWh"}"#
        )
        .is_err());
        let ok = Message::event(
            "ny-power/archive/co2/points".into(),
            &Co2Payload { value: 1.0, ..co2 },
        )
        .unwrap();
        assert!(!ok.retain);
    }

    /// Issue 10, defect 7: a retained fuel mix, history or state dated 2100 froze the calculator;
    /// a garbage retained cursor stopped the demo from starting.
    #[test]
    fn restored_state_is_checked_and_v1_is_migrated() {
        let now = reading().ts;
        let v1 = br#"{"v":1,"factors":"direct","hour0":"2025-02-01T04:00:00Z","intensity":[1.5,null,2.5],"total_mw":[14000.0],"latest":{"ts":"2025-02-01T06:05:00Z","value":2.5}}"#;
        let st = decode_forecaster_state("t", v1, now + chrono::Duration::hours(1)).unwrap();
        assert_eq!(st.v, FORECASTER_STATE_VERSION);
        assert_eq!(st.n, [1, 0, 1]);
        let text = String::from_utf8(v1.to_vec()).unwrap();
        let future = text.replace("2025-02-01T06:05:00Z", "2100-01-01T00:00:00Z");
        let e = decode_forecaster_state("t", future.as_bytes(), now).unwrap_err();
        assert!(e.to_string().contains("in the future"), "{e}");
        let negative = text.replace("[1.5,null,2.5]", "[-283.5,null,2.5]");
        assert!(decode_forecaster_state(
            "t",
            negative.as_bytes(),
            now + chrono::Duration::hours(1)
        )
        .is_err());
        let v9 = text.replace("\"v\":1", "\"v\":9");
        let e = decode_forecaster_state("t", v9.as_bytes(), now).unwrap_err();
        assert!(e.to_string().contains("format version 9 unknown"), "{e}");
        let v2_short = text
            .replace("\"v\":1", "\"v\":2")
            .replace("\"latest\"", "\"n\":[1],\"latest\"");
        assert!(decode_forecaster_state(
            "t",
            v2_short.as_bytes(),
            now + chrono::Duration::hours(1)
        )
        .is_err());

        let topic = "ny-power/status/fuel-mix/updated";
        assert_eq!(
            restore_cursor(topic, br#"{"ts":"2025-02-01T05:05:00Z"}"#, now),
            Some(now)
        );
        assert_eq!(restore_cursor(topic, b"\x1b[31mgarbage", now), None);
        assert_eq!(
            restore_cursor(topic, br#"{"ts":"2100-01-01T00:00:00Z"}"#, now),
            None
        );
        assert_eq!(restore_cursor(topic, b"", now), None);
        let soon = (now + chrono::Duration::minutes(14)).to_rfc3339();
        assert!(restore_cursor(topic, format!("{{\"ts\":\"{soon}\"}}").as_bytes(), now).is_some());
        let fm = serde_json::to_vec(&FuelMixPayload::of(&reading())).unwrap();
        assert!(decode_fuel_mix_at("t", &fm, now).is_ok());
        assert!(decode_fuel_mix_at("t", &fm, now - chrono::Duration::minutes(16)).is_err());
    }

    #[test]
    fn the_archive_stream_is_what_archivers_subscribe_to() {
        let t = Topics::default();
        assert_eq!(t.co2_archive(), "ny-power/archive/co2/points");
        assert_eq!(t.classify(&t.co2_archive()), Some(TopicKind::Co2Archive));
        assert_eq!(t.archived(), vec![t.fuel_mix(), t.co2_archive()]);
    }
}
