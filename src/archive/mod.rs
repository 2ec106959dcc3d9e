//! Archive points: what the archiver stores for each contract message, and their InfluxDB
//! line-protocol encoding. Pure; the InfluxDB, SQLite and Timestream adapters write these.
//!
//! | topic | measurement | tags | fields |
//! |---|---|---|---|
//! | `upstream/fuel-mix` | `fuel_mix` | — | one per fuel slug (MW), `total_mw` |
//! | `archive/co2/points` | `co2` | `factors` = table name | `value` (g/kWh) |
//!
//! Archivers subscribe to `archive/co2/points` ([`Topics::archived`]): every reading's
//! intensity, late ones included. The live `computed/co2*` topics are not archived (they skip
//! a reading that arrives after a newer one, and carry the same numbers otherwise).
//!
//! A point is keyed by measurement + tags + timestamp, so writing it again overwrites it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::stream::{decode, decode_fuel_mix, Co2Payload, StreamError, TopicKind, Topics};

/// Measurement of fuel-mix points.
pub const FUEL_MIX_MEASUREMENT: &str = "fuel_mix";
/// Measurement of intensity points.
pub const CO2_MEASUREMENT: &str = "co2";

/// The identity of a point: measurement, tags, timestamp.
pub type PointKey = (String, BTreeMap<String, String>, DateTime<Utc>);

/// One time-series point.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Measurement name.
    pub measurement: String,
    /// Tags (sorted by key).
    pub tags: BTreeMap<String, String>,
    /// Fields, in a fixed order; all finite.
    pub fields: Vec<(String, f64)>,
    /// Timestamp.
    pub ts: DateTime<Utc>,
}

impl Point {
    /// The identity of the point: a write with the same key overwrites.
    pub fn key(&self) -> PointKey {
        (self.measurement.clone(), self.tags.clone(), self.ts)
    }

    /// Line protocol (second precision), e.g.
    /// `co2,factors=direct value=248.75 1738386300`.
    pub fn line_protocol(&self) -> String {
        let mut s = escape(&self.measurement, &[',', ' ']);
        for (k, v) in &self.tags {
            let _ = write!(
                s,
                ",{}={}",
                escape(k, &[',', '=', ' ']),
                escape(v, &[',', '=', ' '])
            );
        }
        for (i, (k, v)) in self.fields.iter().enumerate() {
            let sep = if i == 0 { ' ' } else { ',' };
            let _ = write!(s, "{sep}{}={v:?}", escape(k, &[',', '=', ' ']));
        }
        let _ = write!(s, " {}", self.ts.timestamp());
        s
    }
}

fn escape(s: &str, special: &[char]) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if special.contains(&c) || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Line protocol for many points, one per line.
pub fn line_protocol(points: &[Point]) -> String {
    let mut out = String::new();
    for p in points {
        out.push_str(&p.line_protocol());
        out.push('\n');
    }
    out
}

/// The points a contract message maps to (none for topics that are not archived).
///
/// # Errors
/// [`StreamError`] when the payload of an archived topic does not follow the contract.
pub fn points_for_message(
    topics: &Topics,
    topic: &str,
    payload: &[u8],
) -> Result<Vec<Point>, StreamError> {
    match topics.classify(topic) {
        Some(TopicKind::FuelMix) => {
            let p = decode_fuel_mix(topic, payload)?;
            let mut fields: Vec<(String, f64)> = p
                .fuels
                .iter()
                .map(|(f, mw)| (f.slug().to_owned(), mw))
                .collect();
            fields.push(("total_mw".to_owned(), p.total_mw));
            Ok(vec![Point {
                measurement: FUEL_MIX_MEASUREMENT.to_owned(),
                tags: BTreeMap::new(),
                fields,
                ts: p.ts,
            }])
        }
        Some(TopicKind::Co2Archive) => {
            let p: Co2Payload = decode(topic, payload)?;
            if !(p.value.is_finite() && p.value >= 0.0) {
                return Err(StreamError::Inconsistent {
                    topic: topic.to_owned(),
                    problem: format!("value {} is not a finite number >= 0", p.value),
                });
            }
            Ok(vec![Point {
                measurement: CO2_MEASUREMENT.to_owned(),
                tags: BTreeMap::from([("factors".to_owned(), p.factors)]),
                fields: vec![("value".to_owned(), p.value)],
                ts: p.ts,
            }])
        }
        _ => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reading::{FuelMix, Reading};
    use crate::stream::{reading_messages, FuelMixPayload};
    use chrono::TimeZone;

    #[test]
    fn fuel_mix_and_co2_points_encode_as_line_protocol() {
        let t = Topics::default();
        let r = Reading {
            ts: Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap(),
            mix: FuelMix([4613.0, 3487.0, 3357.0, 2.0, 220.0, 853.0, 1592.5]),
        };
        let msgs = reading_messages(&t, &r);
        let mix = msgs.iter().find(|m| m.topic == t.fuel_mix()).unwrap();
        let pts = points_for_message(&t, &mix.topic, &mix.payload).unwrap();
        assert_eq!(
            line_protocol(&pts),
            "fuel_mix dual_fuel=4613.0,natural_gas=3487.0,nuclear=3357.0,other_fossil_fuels=2.0,other_renewables=220.0,wind=853.0,hydro=1592.5,total_mw=14124.5 1738386300\n"
        );
        // Per-fuel topics are not archived (the combined message carries the same numbers).
        assert!(points_for_message(&t, &msgs[0].topic, &msgs[0].payload)
            .unwrap()
            .is_empty());

        let co2 =
            br#"{"ts":"2025-02-01T05:05:00Z","value":248.75,"units":"g/kWh","factors":"direct"}"#;
        // The live topic is not archived; the archive stream is.
        assert!(points_for_message(&t, "ny-power/computed/co2", co2)
            .unwrap()
            .is_empty());
        let pts = points_for_message(&t, "ny-power/archive/co2/points", co2).unwrap();
        assert_eq!(
            pts[0].line_protocol(),
            "co2,factors=direct value=248.75 1738386300"
        );
        let _ = FuelMixPayload::of(&r);
    }

    #[test]
    fn escaping_and_bad_payloads() {
        let p = Point {
            measurement: "a b,c".into(),
            tags: BTreeMap::from([("k=1".into(), "v 2".into())]),
            fields: vec![("f,x".into(), 1.0)],
            ts: Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
        };
        assert_eq!(p.line_protocol(), r"a\ b\,c,k\=1=v\ 2 f\,x=1.0 1735689600");
        let e = points_for_message(&Topics::default(), "ny-power/archive/co2/points", b"{}")
            .unwrap_err();
        assert!(e.to_string().contains("ny-power/archive/co2/points"));
    }
}
