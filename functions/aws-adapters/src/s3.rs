//! Amazon S3 archive (`aws-sdk-s3` `PutObject`): one small JSON-lines object per point, under
//! a Hive-style date partition, so Athena reads the archive through the Glue tables of
//! `infra/template.yaml` (partition projection, no crawler).
//!
//! Layout (the date is the point's **UTC** date: every partition is a 24-hour day, and it is
//! the date of the `ts` the object holds):
//!
//! ```text
//! {prefix}/fuel_mix/date=2025-02-01/20250201T050500Z.jsonl
//! {prefix}/co2/date=2025-02-01/20250201T050500Z_factors=direct.jsonl
//! ```
//!
//! The key is the point's identity (measurement, tags, instant), so writing a point again —
//! a Lambda retry, a redelivered IoT rule event, a backfill — overwrites the object instead of
//! adding one (with bucket versioning on, the earlier copy becomes a noncurrent version that
//! the lifecycle rule expires). Each object is one line: `ts` (RFC 3339 UTC), the tags, then
//! the fields, e.g. `{"ts":"2025-02-01T05:05:00Z","factors":"direct","value":248.75}`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use chrono::SecondsFormat;
use ny_power::archive::Point;
use ny_power::ports::{Archive, PortError};
use tokio::task::JoinSet;

use crate::sdk_error::port_error;

/// The key prefix the archive writes under (and the template grants `s3:PutObject` on).
pub const DEFAULT_PREFIX: &str = crate::config::DEFAULT_ARCHIVE_PREFIX;
/// At most this many `PutObject` calls in flight for one batch.
pub const MAX_CONCURRENT_PUTS: usize = 16;
/// The objects' `Content-Type`.
pub const CONTENT_TYPE: &str = "application/x-ndjson";

/// Writes points as JSON-lines objects to one bucket, under one prefix.
#[derive(Debug, Clone)]
pub struct S3Archive {
    client: Client,
    bucket: String,
    prefix: String,
}

impl S3Archive {
    /// An archive writing to `s3://{bucket}/{prefix}/…` (`prefix` without slashes at its ends).
    pub fn new(client: Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        S3Archive {
            client,
            bucket: bucket.into(),
            prefix: prefix.into().trim_matches('/').to_owned(),
        }
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// Whether `s` may be a path segment of a key (and a Glue/Athena name part): ASCII letters,
/// digits, `_`, `-` and `.`, not empty.
fn is_key_safe(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn encode_context(point: &Point) -> String {
    format!("encode point {} at {}", point.measurement, point.ts)
}

/// The object key of `point` under `prefix`:
/// `{prefix}/{measurement}/date={UTC date}/{YYYYMMDDTHHMMSS[.fff]Z}[_{tag}={value}…].jsonl`.
///
/// # Errors
/// A permanent [`PortError`] when the measurement, a tag name or a tag value is not made of
/// ASCII letters, digits, `_`, `-` and `.` (it would not be a clean key or partition).
pub fn object_key(prefix: &str, point: &Point) -> Result<String, PortError> {
    if !is_key_safe(&point.measurement) {
        return Err(PortError::permanent(
            encode_context(point),
            format!(
                "measurement `{}` is not a safe key segment (letters, digits, _ - .)",
                point.measurement
            ),
        ));
    }
    let mut key = String::new();
    if !prefix.is_empty() {
        key.push_str(prefix);
        key.push('/');
    }
    let _ = write!(
        key,
        "{}/date={}/{}",
        point.measurement,
        point.ts.format("%Y-%m-%d"),
        point.ts.format("%Y%m%dT%H%M%S%.fZ")
    );
    for (k, v) in &point.tags {
        if !is_key_safe(k) || !is_key_safe(v) {
            return Err(PortError::permanent(
                encode_context(point),
                format!("tag `{k}={v}` is not a safe key segment (letters, digits, _ - .)"),
            ));
        }
        let _ = write!(key, "_{k}={v}");
    }
    key.push_str(".jsonl");
    Ok(key)
}

/// The object body of `point`: one JSON line, `ts` first, then the tags, then the fields.
///
/// # Errors
/// A permanent [`PortError`] for a point without fields, with a non-finite value, or with a
/// name used twice (a field named like a tag or `ts`).
pub fn object_body(point: &Point) -> Result<Vec<u8>, PortError> {
    let context = || encode_context(point);
    if point.fields.is_empty() {
        return Err(PortError::permanent(
            context(),
            "a point needs at least one field",
        ));
    }
    let mut seen: BTreeMap<&str, ()> = BTreeMap::from([("ts", ())]);
    let ts = point.ts.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    let mut line = format!("{{\"ts\":{}", json_string(&ts));
    for (k, v) in &point.tags {
        if seen.insert(k, ()).is_some() {
            return Err(PortError::permanent(
                context(),
                format!("`{k}` is used twice"),
            ));
        }
        let _ = write!(line, ",{}:{}", json_string(k), json_string(v));
    }
    for (k, v) in &point.fields {
        if seen.insert(k, ()).is_some() {
            return Err(PortError::permanent(
                context(),
                format!("`{k}` is used twice"),
            ));
        }
        let number = serde_json::Number::from_f64(*v).ok_or_else(|| {
            PortError::permanent(context(), format!("field {k} is not a finite number"))
        })?;
        let _ = write!(line, ",{}:{number}", json_string(k));
    }
    line.push_str("}\n");
    Ok(line.into_bytes())
}

/// A JSON string literal (serde_json's escaping).
fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// The objects to write, one per key (a later point with the same key wins, as in any
/// archive), sorted by key.
///
/// # Errors
/// The first point that cannot be encoded ([`object_key`], [`object_body`]); nothing is
/// written then.
pub fn objects(prefix: &str, points: &[Point]) -> Result<Vec<(String, Vec<u8>)>, PortError> {
    let mut by_key = BTreeMap::new();
    for p in points {
        by_key.insert(object_key(prefix, p)?, object_body(p)?);
    }
    Ok(by_key.into_iter().collect())
}

#[async_trait]
impl Archive for S3Archive {
    async fn write(&self, points: &[Point]) -> Result<(), PortError> {
        let objects = objects(&self.prefix, points)?;
        let total = objects.len();
        let mut failures: Vec<(String, PortError)> = Vec::new();
        let mut in_flight = JoinSet::new();
        let mut pending = objects.into_iter();
        loop {
            while in_flight.len() < MAX_CONCURRENT_PUTS {
                let Some((key, body)) = pending.next() else {
                    break;
                };
                let put = self
                    .client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(&key)
                    .content_type(CONTENT_TYPE)
                    .body(ByteStream::from(body));
                let context = format!("put s3://{}/{key}", self.bucket);
                in_flight.spawn(async move {
                    let result = put.send().await.map_err(|e| port_error(context, &e));
                    (key, result)
                });
            }
            let Some(done) = in_flight.join_next().await else {
                break;
            };
            match done {
                Ok((key, Ok(_))) => tracing::debug!(%key, "wrote archive object"),
                Ok((key, Err(e))) => failures.push((key, e)),
                Err(join) => failures.push((
                    "?".to_owned(),
                    PortError::transient("put archive object", join),
                )),
            }
        }
        if failures.is_empty() {
            tracing::debug!(objects = total, bucket = %self.bucket, "wrote archive objects");
            return Ok(());
        }
        failures.sort_by(|a, b| a.0.cmp(&b.0));
        let retryable = failures.iter().all(|(_, e)| e.is_retryable());
        let context = format!(
            "write archive to s3://{}/{}: {} of {total} objects failed",
            self.bucket,
            self.prefix,
            failures.len()
        );
        let message = failures
            .iter()
            .map(|(_, e)| e.to_string())
            .collect::<Vec<_>>()
            .join("; ");
        Err(if retryable {
            PortError::transient(context, message)
        } else {
            PortError::permanent(context, message)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn co2(ts: chrono::DateTime<Utc>, factors: &str, value: f64) -> Point {
        Point {
            measurement: "co2".into(),
            tags: BTreeMap::from([("factors".into(), factors.into())]),
            fields: vec![("value".into(), value)],
            ts,
        }
    }

    #[test]
    fn keys_are_the_point_identity_under_a_utc_date_partition() {
        let ts = Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap();
        assert_eq!(
            object_key("archive", &co2(ts, "direct", 248.75)).unwrap(),
            "archive/co2/date=2025-02-01/20250201T050500Z_factors=direct.jsonl"
        );
        let mix = Point {
            measurement: "fuel_mix".into(),
            tags: BTreeMap::new(),
            fields: vec![("wind".into(), 853.0), ("total_mw".into(), 14124.5)],
            // 23:55 in New York on 2025-01-31 is 04:55 UTC on 2025-02-01: the UTC date.
            ts: Utc.with_ymd_and_hms(2025, 2, 1, 4, 55, 0).unwrap(),
        };
        assert_eq!(
            object_key("archive", &mix).unwrap(),
            "archive/fuel_mix/date=2025-02-01/20250201T045500Z.jsonl"
        );
        assert_eq!(
            object_key("", &mix).unwrap(),
            "fuel_mix/date=2025-02-01/20250201T045500Z.jsonl"
        );
        // An off-grid snapshot keeps its sub-second part, so it cannot overwrite another.
        let odd = ts + Duration::milliseconds(250);
        assert_eq!(
            object_key("a", &co2(odd, "lifecycle", 1.0)).unwrap(),
            "a/co2/date=2025-02-01/20250201T050500.250Z_factors=lifecycle.jsonl"
        );
        for bad in ["", "a/b", "x y", "..", "é"] {
            let e = object_key("archive", &co2(ts, bad, 1.0)).unwrap_err();
            assert!(
                !e.is_retryable() && e.to_string().contains("safe key"),
                "{e}"
            );
        }
        let mut p = co2(ts, "direct", 1.0);
        p.measurement = "co2/../x".into();
        assert!(object_key("archive", &p).is_err());
    }

    #[test]
    fn bodies_are_one_json_line_with_ts_tags_and_fields() {
        let ts = Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap();
        let body = object_body(&co2(ts, "direct", 248.7471240441801)).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "{\"ts\":\"2025-02-01T05:05:00Z\",\"factors\":\"direct\",\"value\":248.7471240441801}\n"
        );
        let mix = Point {
            measurement: "fuel_mix".into(),
            tags: BTreeMap::new(),
            fields: vec![
                ("dual_fuel".into(), 4613.0),
                ("other_fossil_fuels".into(), 0.5),
            ],
            ts,
        };
        assert_eq!(
            object_body(&mix).unwrap(),
            b"{\"ts\":\"2025-02-01T05:05:00Z\",\"dual_fuel\":4613.0,\"other_fossil_fuels\":0.5}\n"
        );
        let e = object_body(&co2(ts, "direct", f64::INFINITY)).unwrap_err();
        assert!(e.to_string().contains("not a finite number"), "{e}");
        let mut clash = co2(ts, "direct", 1.0);
        clash.fields.push(("factors".into(), 2.0));
        assert!(object_body(&clash)
            .unwrap_err()
            .to_string()
            .contains("`factors` is used twice"));
        let mut ts_field = co2(ts, "direct", 1.0);
        ts_field.fields = vec![("ts".into(), 1.0)];
        assert!(object_body(&ts_field).is_err());
        let mut empty = co2(ts, "direct", 1.0);
        empty.fields.clear();
        assert!(object_body(&empty).is_err());
    }

    #[test]
    fn one_object_per_key_the_later_point_wins_and_a_bad_point_writes_nothing() {
        let ts = Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap();
        let points = [
            co2(ts, "direct", 1.0),
            co2(ts, "lifecycle", 2.0),
            co2(ts, "direct", 3.0),
        ];
        let o = objects("archive", &points).unwrap();
        assert_eq!(o.len(), 2);
        assert!(String::from_utf8_lossy(&o[0].1).contains("\"value\":3.0"));
        let bad = [co2(ts, "direct", 1.0), co2(ts, "direct", f64::NAN)];
        assert!(objects("archive", &bad).is_err());
    }
}
