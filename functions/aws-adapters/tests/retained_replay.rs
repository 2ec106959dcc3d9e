//! Adapters whose API the local server lacks or cannot fault: `GetRetainedMessage` (moto
//! does not implement it) and Timestream's `RejectedRecordsException` (moto accepts
//! everything). Covered with the SDK's own mock HTTP layer (`aws-smithy-mocks`), replaying
//! the documented HTTP responses through the real SDK deserialisers:
//! - `GET /retainedMessage/{topic}` → 200 `{"topic", "payload": base64, "qos",
//!   "lastModifiedTime"}`, or 404 `ResourceNotFoundException` when nothing is retained
//!   (IoT data-plane API reference, GetRetainedMessage);
//! - `WriteRecords` → 419 `RejectedRecordsException` with `RejectedRecords[{RecordIndex,
//!   Reason, ExistingVersion}]` (Timestream Write API reference).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_smithy_mocks::{mock, mock_client, RuleMode};
use chrono::{TimeZone, Utc};
use ny_power::archive::Point;
use ny_power::ports::{Archive, CursorStore};
use ny_power::stream::Topics;
use ny_power::usecases::co2::load_history;
use ny_power_aws::iot::{iot_cursor, IotRetained};
use ny_power_aws::timestream::TimestreamArchive;

fn ok_json(body: &str) -> aws_smithy_mocks::Rule {
    let body = body.to_owned();
    mock!(aws_sdk_iotdataplane::Client::get_retained_message)
        .match_requests(|r| r.topic() == Some("ny-power/status/fuel-mix/updated"))
        .sequence()
        .http_status(200, Some(body))
        .build()
}

fn not_found() -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_iotdataplane::Client::get_retained_message)
        .sequence()
        .http_status(
            404,
            Some(
                r#"{"__type":"ResourceNotFoundException","message":"No retained message"}"#.into(),
            ),
        )
        .times(2)
        .build()
}

#[tokio::test]
async fn cursor_reads_the_retained_status_message() {
    // payload = base64 of {"ts":"2025-02-01T05:05:00Z"}
    let rule = ok_json(
        r#"{"topic":"ny-power/status/fuel-mix/updated","payload":"eyJ0cyI6IjIwMjUtMDItMDFUMDU6MDU6MDBaIn0=","qos":1,"lastModifiedTime":1738386310000}"#,
    );
    let client = mock_client!(aws_sdk_iotdataplane, RuleMode::Sequential, [&rule]);
    let cursor = iot_cursor(client, Topics::default());
    assert_eq!(
        cursor.load().await.unwrap(),
        Some(Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap())
    );
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn no_retained_message_means_no_cursor_and_no_history() {
    let rule = not_found();
    let client = mock_client!(aws_sdk_iotdataplane, RuleMode::MatchAny, [&rule]);
    let cursor = iot_cursor(client.clone(), Topics::default());
    assert_eq!(cursor.load().await.unwrap(), None);
    let history = load_history(&IotRetained::new(client), &Topics::default())
        .await
        .unwrap();
    assert_eq!(history, None);
}

#[tokio::test]
async fn a_corrupt_cursor_is_ignored_and_throttling_is_transient() {
    // Issue 10, defect 7: a garbage retained cursor stopped the pump for good. It is now
    // warned about and ignored: the pump starts as with no cursor.
    // payload = base64 of <html>
    let bad = ok_json(
        r#"{"topic":"ny-power/status/fuel-mix/updated","payload":"PGh0bWw+","qos":1,"lastModifiedTime":1}"#,
    );
    let client = mock_client!(aws_sdk_iotdataplane, RuleMode::Sequential, [&bad]);
    let loaded = iot_cursor(client, Topics::default()).load().await.unwrap();
    assert_eq!(loaded, None);
    // One dated 2100 too (payload = base64 of {"ts":"2100-01-01T00:00:00Z"}).
    let future = ok_json(
        r#"{"topic":"ny-power/status/fuel-mix/updated","payload":"eyJ0cyI6IjIxMDAtMDEtMDFUMDA6MDA6MDBaIn0=","qos":1,"lastModifiedTime":1}"#,
    );
    let client = mock_client!(aws_sdk_iotdataplane, RuleMode::Sequential, [&future]);
    let loaded = iot_cursor(client, Topics::default()).load().await.unwrap();
    assert_eq!(loaded, None);

    let throttled = mock!(aws_sdk_iotdataplane::Client::get_retained_message)
        .sequence()
        .http_status(
            429,
            Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into()),
        )
        .times(10)
        .build();
    let client = mock_client!(aws_sdk_iotdataplane, RuleMode::Sequential, [&throttled]);
    let e = iot_cursor(client, Topics::default())
        .load()
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
}

fn co2_point(minute: i64, value: f64) -> Point {
    Point {
        measurement: "co2".into(),
        tags: [("factors".to_owned(), "direct".to_owned())].into(),
        fields: vec![("value".into(), value)],
        ts: Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap() + chrono::Duration::minutes(minute),
    }
}

fn rejected(body: &'static str) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_timestreamwrite::Client::write_records)
        .sequence()
        .http_status(419, Some(body.to_owned()))
        .build()
}

#[tokio::test]
async fn timestream_identical_duplicates_are_success_anything_else_an_error() {
    let dup = rejected(
        r#"{"__type":"com.amazonaws.timestream.v20181101#RejectedRecordsException","Message":"One or more records have been rejected.","RejectedRecords":[{"RecordIndex":1,"Reason":"The record already exists with a higher version.","ExistingVersion":2}]}"#,
    );
    let client = mock_client!(aws_sdk_timestreamwrite, RuleMode::Sequential, [&dup]);
    let archive = TimestreamArchive::new(client, "db", "t");
    archive
        .write(&[co2_point(0, 1.0), co2_point(5, 2.0)])
        .await
        .unwrap();
    assert_eq!(dup.num_calls(), 1);

    let conflict = rejected(
        r#"{"__type":"RejectedRecordsException","Message":"One or more records have been rejected.","RejectedRecords":[{"RecordIndex":0,"Reason":"A record with the same time, dimensions and measure name exists with a different measure value.","ExistingVersion":1},{"RecordIndex":1,"Reason":"The record timestamp is outside the time range of the data ingestion window."}]}"#,
    );
    let client = mock_client!(aws_sdk_timestreamwrite, RuleMode::Sequential, [&conflict]);
    let archive = TimestreamArchive::new(client, "db", "t");
    let e = archive
        .write(&[co2_point(0, 1.0), co2_point(5, 2.0)])
        .await
        .unwrap_err();
    assert!(!e.is_retryable(), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("different measure value") && msg.contains("outside the time range"),
        "{msg}"
    );
    assert!(
        msg.contains("2025-02-01 05:05:00 UTC"),
        "names the point: {msg}"
    );
}

#[tokio::test]
async fn a_lagging_retained_read_cannot_move_a_warm_cursor_back() {
    // The retained read still answers 05:05 right after the cursor was published at 05:10.
    let stale = ok_json(
        r#"{"topic":"ny-power/status/fuel-mix/updated","payload":"eyJ0cyI6IjIwMjUtMDItMDFUMDU6MDU6MDBaIn0=","qos":1,"lastModifiedTime":1738386310000}"#,
    );
    let publish = mock!(aws_sdk_iotdataplane::Client::publish)
        .match_requests(|r| {
            r.topic() == Some("ny-power/status/fuel-mix/updated") && r.retain() == Some(true)
        })
        .sequence()
        .http_status(200, Some("{}".into()))
        .build();
    let client = mock_client!(aws_sdk_iotdataplane, RuleMode::MatchAny, [&stale, &publish]);
    let cursor = iot_cursor(client, Topics::default());
    let t = Utc.with_ymd_and_hms(2025, 2, 1, 5, 10, 0).unwrap();
    cursor.save(t).await.unwrap();
    assert_eq!(cursor.load().await.unwrap(), Some(t));
    assert_eq!((publish.num_calls(), stale.num_calls()), (1, 1));
}

#[tokio::test]
async fn the_forecaster_state_is_read_back_and_a_bad_one_is_an_inner_error() {
    use ny_power::stream::{ForecasterStatePayload, LatestPoint};
    use ny_power::usecases::co2::load_forecaster_state;
    let t = Utc.with_ymd_and_hms(2025, 2, 1, 5, 0, 0).unwrap();
    let state = ForecasterStatePayload {
        v: 1,
        n: Vec::new(),
        factors: "direct".into(),
        hour0: t,
        intensity: vec![Some(248.8)],
        total_mw: vec![Some(14124.0)],
        latest: LatestPoint {
            ts: t + chrono::Duration::minutes(5),
            value: 248.75,
            total_mw: Some(14124.0),
        },
    };
    let retained = |payload: &[u8]| {
        format!(
            r#"{{"topic":"ny-power/state/co2/forecaster","payload":"{}","qos":1,"lastModifiedTime":1}}"#,
            aws_smithy_types::base64::encode(payload)
        )
    };
    let rule = mock!(aws_sdk_iotdataplane::Client::get_retained_message)
        .match_requests(|r| r.topic() == Some("ny-power/state/co2/forecaster"))
        .sequence()
        .http_status(200, Some(retained(&serde_json::to_vec(&state).unwrap())))
        .http_status(200, Some(retained(b"<html>")))
        .http_status(
            404,
            Some(
                r#"{"__type":"ResourceNotFoundException","message":"No retained message"}"#.into(),
            ),
        )
        .build();
    let client = mock_client!(aws_sdk_iotdataplane, RuleMode::Sequential, [&rule]);
    let reader = IotRetained::new(client);
    let topics = Topics::default();
    let got = load_forecaster_state(&reader, &topics, chrono::Utc::now())
        .await
        .unwrap();
    // A v1 state comes back migrated to the current version (each mean one reading).
    let migrated = ForecasterStatePayload {
        v: ny_power::stream::FORECASTER_STATE_VERSION,
        n: vec![1],
        ..state.clone()
    };
    assert_eq!(got.unwrap().unwrap(), migrated);
    let bad = load_forecaster_state(&reader, &topics, chrono::Utc::now())
        .await
        .unwrap();
    let e = bad.unwrap().unwrap_err();
    assert!(
        e.to_string().contains("ny-power/state/co2/forecaster"),
        "{e}"
    );
    assert!(load_forecaster_state(&reader, &topics, chrono::Utc::now())
        .await
        .unwrap()
        .is_none());
    assert_eq!(rule.num_calls(), 3);
}
