//! Amazon Timestream for LiveAnalytics archive (`aws-sdk-timestreamwrite` `WriteRecords`).
//!
//! Each [`Point`] becomes one multi-measure record: measure name = the point's measurement,
//! dimensions = its tags plus `source=nyiso` (every record carries at least one dimension),
//! one `DOUBLE` measure value per field, time in seconds, and record version
//! [`RECORD_VERSION`]. Writes go in calls of at most [`MAX_RECORDS_PER_CALL`] records.
//!
//! Rejected records: Timestream accepts an identical record again, and reports
//! `ExistingVersion` on a rejected record when an identical record exists with a *higher*
//! version — such a duplicate counts as success. Any other rejection (a different value at
//! the same key, a time outside the retention windows, a limit) is a permanent error naming the
//! point.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_timestreamwrite::error::{DisplayErrorContext, SdkError};
use aws_sdk_timestreamwrite::operation::write_records::WriteRecordsError;
use aws_sdk_timestreamwrite::types::{
    Dimension, MeasureValue, MeasureValueType, Record, RejectedRecord, TimeUnit,
};
use aws_sdk_timestreamwrite::Client;
use ny_power::archive::Point;
use ny_power::ports::{Archive, PortError};

use crate::sdk_error::port_error;

/// Timestream's limit of records per `WriteRecords` call.
pub const MAX_RECORDS_PER_CALL: usize = 100;
/// The version every record is written with (readings are immutable once published).
pub const RECORD_VERSION: i64 = 1;
/// The dimension every record carries.
pub const SOURCE_DIMENSION: (&str, &str) = ("source", "nyiso");

/// Writes points to one Timestream table.
#[derive(Debug, Clone)]
pub struct TimestreamArchive {
    client: Client,
    database: String,
    table: String,
}

impl TimestreamArchive {
    /// An archive writing to `database`.`table`.
    pub fn new(client: Client, database: impl Into<String>, table: impl Into<String>) -> Self {
        TimestreamArchive {
            client,
            database: database.into(),
            table: table.into(),
        }
    }

    fn context(&self) -> String {
        format!(
            "write records to Timestream {}.{}",
            self.database, self.table
        )
    }
}

/// The Timestream record of one point.
///
/// # Errors
/// A permanent [`PortError`] for a point Timestream cannot take (no fields, a non-finite
/// value, an empty name).
pub fn record_for(point: &Point) -> Result<Record, PortError> {
    let context = || format!("encode point {} at {}", point.measurement, point.ts);
    if point.fields.is_empty() {
        return Err(PortError::permanent(
            context(),
            "a point needs at least one field",
        ));
    }
    let mut builder = Record::builder()
        .measure_name(&point.measurement)
        .measure_value_type(MeasureValueType::Multi)
        .time(point.ts.timestamp().to_string())
        .time_unit(TimeUnit::Seconds)
        .version(RECORD_VERSION);
    let dims = std::iter::once((SOURCE_DIMENSION.0, SOURCE_DIMENSION.1))
        .chain(point.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    for (name, value) in dims {
        let d = Dimension::builder()
            .name(name)
            .value(value)
            .build()
            .map_err(|e| PortError::permanent(context(), e))?;
        builder = builder.dimensions(d);
    }
    for (name, value) in &point.fields {
        if !value.is_finite() {
            return Err(PortError::permanent(
                context(),
                format!("field {name} is not a finite number"),
            ));
        }
        let m = MeasureValue::builder()
            .name(name)
            .value(value.to_string())
            .r#type(MeasureValueType::Double)
            .build()
            .map_err(|e| PortError::permanent(context(), e))?;
        builder = builder.measure_values(m);
    }
    Ok(builder.build())
}

/// The points to write, one per key (a later point with the same key wins, as in any
/// archive), in batches of at most [`MAX_RECORDS_PER_CALL`].
pub fn batches(points: &[Point]) -> Vec<Vec<&Point>> {
    let mut by_key = BTreeMap::new();
    for p in points {
        by_key.insert(p.key(), p);
    }
    let unique: Vec<&Point> = by_key.into_values().collect();
    unique
        .chunks(MAX_RECORDS_PER_CALL)
        .map(<[&Point]>::to_vec)
        .collect()
}

/// Whether a rejected record is an identical duplicate (counts as written).
pub fn is_identical_duplicate(rejected: &RejectedRecord) -> bool {
    rejected
        .existing_version()
        .is_some_and(|existing| existing > RECORD_VERSION)
}

#[async_trait]
impl Archive for TimestreamArchive {
    async fn write(&self, points: &[Point]) -> Result<(), PortError> {
        for batch in batches(points) {
            let records = batch
                .iter()
                .map(|p| record_for(p))
                .collect::<Result<Vec<_>, _>>()?;
            let n = records.len();
            let result = self
                .client
                .write_records()
                .database_name(&self.database)
                .table_name(&self.table)
                .set_records(Some(records))
                .send()
                .await;
            match result {
                Ok(_) => tracing::debug!(records = n, "wrote Timestream records"),
                Err(SdkError::ServiceError(se))
                    if matches!(se.err(), WriteRecordsError::RejectedRecordsException(_)) =>
                {
                    let WriteRecordsError::RejectedRecordsException(rej) = se.err() else {
                        continue;
                    };
                    let problems: Vec<String> = rej
                        .rejected_records()
                        .iter()
                        .filter(|r| !is_identical_duplicate(r))
                        .map(|r| {
                            let what = usize::try_from(r.record_index())
                                .ok()
                                .and_then(|i| batch.get(i))
                                .map(|p| format!("{} {:?} at {}", p.measurement, p.tags, p.ts))
                                .unwrap_or_else(|| format!("record {}", r.record_index()));
                            format!(
                                "{what}: {} (existing version {:?})",
                                r.reason().unwrap_or("rejected without a reason"),
                                r.existing_version()
                            )
                        })
                        .collect();
                    let duplicates = rej.rejected_records().len() - problems.len();
                    if !problems.is_empty() {
                        return Err(PortError::permanent(
                            self.context(),
                            format!("rejected records: {}", problems.join("; ")),
                        ));
                    }
                    tracing::info!(duplicates, "identical records already stored");
                }
                Err(e) => {
                    let err = port_error(self.context(), &e);
                    tracing::debug!(error = %DisplayErrorContext(&e), "WriteRecords failed");
                    return Err(err);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn point(i: i64, value: f64) -> Point {
        Point {
            measurement: "co2".into(),
            tags: BTreeMap::from([("factors".into(), "direct".into())]),
            fields: vec![("value".into(), value)],
            ts: Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap() + Duration::minutes(5 * i),
        }
    }

    #[test]
    fn multi_measure_record_shape() {
        let r = record_for(&point(0, 248.75)).unwrap();
        assert_eq!(r.measure_name(), Some("co2"));
        assert_eq!(r.measure_value_type(), Some(&MeasureValueType::Multi));
        assert_eq!(r.time(), Some("1738386300"));
        assert_eq!(r.time_unit(), Some(&TimeUnit::Seconds));
        assert_eq!(r.version(), Some(1));
        let dims: Vec<_> = r
            .dimensions()
            .iter()
            .map(|d| (d.name(), d.value()))
            .collect();
        assert_eq!(dims, [("source", "nyiso"), ("factors", "direct")]);
        let mv = &r.measure_values()[0];
        assert_eq!(
            (mv.name(), mv.value(), mv.r#type()),
            ("value", "248.75", &MeasureValueType::Double)
        );
    }

    #[test]
    fn bad_points_are_refused() {
        let e = record_for(&point(0, f64::NAN)).unwrap_err();
        assert!(!e.is_retryable());
        assert!(
            e.to_string().contains("field value is not a finite number"),
            "{e}"
        );
        let mut p = point(0, 1.0);
        p.fields.clear();
        assert!(record_for(&p).is_err());
    }

    #[test]
    fn at_most_100_per_call_and_one_per_key() {
        let mut points: Vec<Point> = (0..250).map(|i| point(i, i as f64)).collect();
        points.push(point(3, 99.0)); // same key as #3: the later one wins
        let b = batches(&points);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 50]);
        let three: Vec<_> = b
            .iter()
            .flatten()
            .filter(|p| p.ts == point(3, 0.0).ts)
            .collect();
        assert_eq!(three.len(), 1);
        assert_eq!(three[0].fields[0].1, 99.0);
    }

    #[test]
    fn only_a_higher_existing_version_is_a_duplicate() {
        let dup = RejectedRecord::builder()
            .record_index(0)
            .existing_version(2)
            .build();
        assert!(is_identical_duplicate(&dup));
        let conflict = RejectedRecord::builder()
            .record_index(0)
            .existing_version(1)
            .reason("different measure value")
            .build();
        assert!(!is_identical_duplicate(&conflict));
        let old = RejectedRecord::builder()
            .record_index(0)
            .reason("outside retention")
            .build();
        assert!(!is_identical_duplicate(&old));
    }
}
