//! `HttpSource` against a local NYISO stand-in (a real HTTP server on 127.0.0.1): incremental
//! polling with 304 and 206 replies, fall-backs to full downloads, failures that return
//! nothing, midnight, and catch-up from daily files and the monthly zip.
//!
//! The measurement of bytes per day of polling is an ignored test; run it with
//! `cargo test --release --test http_source -- --ignored bytes_per_day --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod support;

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use ny_power::adapters::nyiso::{HttpOptions, HttpSource};
use ny_power::nyiso::parse_bytes;
use ny_power::ports::{PortError, Source};
use ny_power::reading::Reading;

use support::nyiso_server::{gzip_of_zeros, NyisoServer};
use support::{zip_member, FEB_2025_ZIP};

const FEB1: &str = "rtfuelmix/20250201rtfuelmix.csv";
const FEB2: &str = "rtfuelmix/20250202rtfuelmix.csv";

/// Options for tests: no waiting between retries, short timeout.
fn options() -> HttpOptions {
    HttpOptions {
        timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
        retries: 1,
        backoff: Duration::from_millis(10),
        ..HttpOptions::default()
    }
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// A real NYISO day file as its header and its readings' row groups (each group: the rows
/// of one time stamp), lines without line ends.
struct DayFile {
    header: String,
    groups: Vec<Vec<String>>,
}

impl DayFile {
    fn of(bytes: &[u8]) -> DayFile {
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap().to_owned();
        let mut groups: Vec<Vec<String>> = Vec::new();
        for line in lines {
            let stamp = line.split(',').take(2).collect::<Vec<_>>().join(",");
            match groups.last_mut() {
                Some(g) if g[0].starts_with(&format!("{stamp},")) => g.push(line.to_owned()),
                _ => groups.push(vec![line.to_owned()]),
            }
        }
        DayFile { header, groups }
    }

    fn feb(day: u32) -> DayFile {
        DayFile::of(&zip_member(
            FEB_2025_ZIP,
            &format!("202502{day:02}rtfuelmix.csv"),
        ))
    }

    /// The file as NYISO serves it after `n` readings: CRLF line ends, none after the last
    /// (so its newest reading is held back until a later fetch confirms it).
    fn first(&self, n: usize) -> Vec<u8> {
        let mut lines = vec![self.header.clone()];
        lines.extend(self.groups[..n].iter().flatten().cloned());
        lines.join("\r\n").into_bytes()
    }

    /// What NYISO appends to go from `from` to `to` readings.
    fn appended(&self, from: usize, to: usize) -> Vec<u8> {
        let mut out = String::new();
        for line in self.groups[from..to].iter().flatten() {
            out.push_str("\r\n");
            out.push_str(line);
        }
        out.into_bytes()
    }

    /// The file after `n` readings with every line ended (a line break after the last one
    /// too): nothing is held back. The tests of caching and ranges use it, so that what they
    /// check does not depend on the hold-back rule (tested on its own).
    fn ended(&self, n: usize) -> Vec<u8> {
        let mut out = self.first(n);
        out.extend_from_slice(b"\r\n");
        out
    }

    /// What is appended to go from [`DayFile::ended`]`(from)` to `ended(to)`.
    fn appended_ended(&self, from: usize, to: usize) -> Vec<u8> {
        let mut out = String::new();
        for line in self.groups[from..to].iter().flatten() {
            out.push_str(line);
            out.push_str("\r\n");
        }
        out.into_bytes()
    }
}

fn parsed(bytes: &[u8]) -> Vec<Reading> {
    parse_bytes("expected", bytes).unwrap().readings
}

#[tokio::test]
async fn incremental_polls_use_304_and_206() {
    let server = NyisoServer::start().await;
    let day = DayFile::feb(1);
    server.put(FEB1, &day.ended(12));
    let source = HttpSource::new(&server.url(), options()).unwrap();
    // 23:30 EST on 1 February: today's file only.
    let now = utc(2025, 2, 2, 4, 30);

    let first = source.readings_after(None, now).await.unwrap();
    assert_eq!(first.len(), 12);
    assert_eq!(first[0].ts, utc(2025, 2, 1, 5, 5));
    assert_eq!(first[11].ts, utc(2025, 2, 1, 6, 0));
    let cursor = first[11].ts;

    // Unchanged: a 304, nothing new.
    let none = source.readings_after(Some(cursor), now).await.unwrap();
    assert!(none.is_empty());
    assert_eq!(server.stats().status(304), 1);

    // NYISO appends twelve readings: a 206 with only the tail (and the overlap).
    server.reset_stats();
    let tail = day.appended_ended(12, 24);
    server.append(FEB1, &tail);
    let more = source.readings_after(Some(cursor), now).await.unwrap();
    assert_eq!(more.len(), 12);
    assert_eq!(more[0].ts, utc(2025, 2, 1, 6, 5));
    let stats = server.stats();
    assert_eq!(stats.status(206), 1, "{stats:?}");
    assert_eq!(stats.status(200), 0, "{stats:?}");
    assert!(
        stats.body_bytes <= tail.len() as u64 + options().range_overlap,
        "{stats:?}"
    );
    let request = &server.requests()[0];
    assert!(request.headers.contains_key("range"), "{request:?}");
    assert!(request.headers.contains_key("if-none-match"), "{request:?}");

    // All polls together give exactly the readings of the file as it now is.
    let mut all = first.clone();
    all.extend(more);
    assert_eq!(all, parsed(&day.ended(24)));

    let c = source.stats();
    assert_eq!((c.full, c.not_modified, c.partial), (1, 1, 1), "{c:?}");
    assert_eq!(c.requests, 3);
}

#[tokio::test]
async fn last_modified_alone_also_gives_304_and_206() {
    let server = NyisoServer::start().await;
    server.set(|b| b.etag = false);
    let day = DayFile::feb(1);
    server.put(FEB1, &day.ended(6));
    let source = HttpSource::new(&server.url(), options()).unwrap();
    let now = utc(2025, 2, 2, 4, 30);
    let first = source.readings_after(None, now).await.unwrap();
    source.readings_after(None, now).await.unwrap();
    server.append(FEB1, &day.appended_ended(6, 9));
    let all = source.readings_after(None, now).await.unwrap();
    assert_eq!(first.len(), 6);
    assert_eq!(all, parsed(&day.ended(9)));
    let stats = server.stats();
    assert_eq!(
        (stats.status(200), stats.status(304), stats.status(206)),
        (1, 1, 1),
        "{stats:?}"
    );
}

#[tokio::test]
async fn a_file_that_shrank_is_downloaded_whole() {
    let server = NyisoServer::start().await;
    let day = DayFile::feb(1);
    server.put(FEB1, &day.ended(24));
    let source = HttpSource::new(&server.url(), options()).unwrap();
    let now = utc(2025, 2, 2, 4, 30);
    assert_eq!(source.readings_after(None, now).await.unwrap().len(), 24);

    // Shrank below the cached length: the range is unsatisfiable (416), then a full GET.
    server.put(FEB1, &day.ended(6));
    server.reset_stats();
    let got = source.readings_after(None, now).await.unwrap();
    assert_eq!(got, parsed(&day.ended(6)));
    let stats = server.stats();
    assert_eq!((stats.status(416), stats.status(200)), (1, 1), "{stats:?}");
}

#[tokio::test]
async fn a_rewritten_file_with_a_valid_looking_range_is_refetched() {
    let server = NyisoServer::start().await;
    let day = DayFile::feb(1);
    server.put(FEB1, &day.ended(12));
    let source = HttpSource::new(&server.url(), options()).unwrap();
    let now = utc(2025, 2, 2, 4, 30);
    source.readings_after(None, now).await.unwrap();
    // Same first readings, but the last reading's values revised and more appended: the
    // ranged reply starts where asked but its overlap differs from the cached bytes.
    let mut revised = String::from_utf8(day.ended(24)).unwrap();
    let cut = String::from_utf8(day.ended(12)).unwrap().len();
    let (head, rest) = revised.split_at(cut - 8);
    revised = format!(
        "{head}{}",
        rest.replacen(|c: char| c.is_ascii_digit(), "9", 1)
    );
    server.put(FEB1, revised.as_bytes());
    server.reset_stats();
    let got = source.readings_after(None, now).await.unwrap();
    assert_eq!(got, parsed(revised.as_bytes()));
    let stats = server.stats();
    assert_eq!((stats.status(206), stats.status(200)), (1, 1), "{stats:?}");
}

#[tokio::test]
async fn range_ignored_means_full_downloads() {
    let server = NyisoServer::start().await;
    server.set(|b| b.ignore_range = true);
    let day = DayFile::feb(1);
    server.put(FEB1, &day.ended(12));
    let source = HttpSource::new(&server.url(), options()).unwrap();
    let now = utc(2025, 2, 2, 4, 30);
    let first = source.readings_after(None, now).await.unwrap();
    server.append(FEB1, &day.appended_ended(12, 20));
    let more = source
        .readings_after(Some(first[11].ts), now)
        .await
        .unwrap();
    assert_eq!(more.len(), 8);
    let stats = server.stats();
    assert_eq!((stats.status(200), stats.status(206)), (2, 0), "{stats:?}");
    assert_eq!(
        stats.body_bytes,
        (day.ended(12).len() + day.ended(20).len()) as u64
    );
    assert_eq!(source.stats().full, 2);
}

#[tokio::test]
async fn failures_return_nothing_and_the_next_poll_recovers() {
    let server = NyisoServer::start().await;
    let day = DayFile::feb(1);
    server.put(FEB1, &day.ended(12));
    let source = HttpSource::new(&server.url(), options()).unwrap();
    let now = utc(2025, 2, 2, 4, 30);
    let cursor = source.readings_after(None, now).await.unwrap()[11].ts;
    let mut grown = 12;

    type Switch = fn(&mut support::nyiso_server::Behaviour, bool);
    let cases: [(&str, Switch); 4] = [
        ("HTTP 500", |b, on| b.fail_500 = on),
        ("HTML page", |b, on| b.html = on),
        ("body cut short", |b, on| b.truncate = on),
        ("no answer (timeout)", |b, on| b.hang = on),
    ];
    for (what, switch) in cases {
        server.append(FEB1, &day.appended_ended(grown, grown + 2));
        grown += 2;
        server.set(|b| switch(b, true));
        let err = source
            .readings_after(Some(cursor), now)
            .await
            .expect_err(what);
        match what {
            "HTML page" => {
                assert!(matches!(err, PortError::Rejected(_)), "{what}: {err}");
                assert!(err.to_string().contains("20250201rtfuelmix.csv"), "{err}");
                assert!(err.to_string().contains("HTML"), "{err}");
            }
            _ => assert!(matches!(err, PortError::Transient { .. }), "{what}: {err}"),
        }
        server.set(|b| switch(b, false));
        let got = source.readings_after(Some(cursor), now).await.unwrap();
        assert_eq!(got, parsed(&day.ended(grown))[12..], "{what}");
    }

    // A row cut in the middle (as if NYISO served a half-written file, which ends without a
    // line break): neither an error nor a reading — its reading is held back; with the row
    // complete and confirmed by a later fetch, it comes out.
    let whole = day.first(grown + 1);
    let cut = &whole[..whole.len() - 20];
    server.put(FEB1, cut);
    let got = source.readings_after(Some(cursor), now).await.unwrap();
    assert_eq!(got, parsed(&day.ended(grown))[12..]);
    server.put(FEB1, &whole);
    let got = source.readings_after(Some(cursor), now).await.unwrap();
    assert_eq!(got, parsed(&day.ended(grown))[12..], "not confirmed yet");
    let got = source.readings_after(Some(cursor), now).await.unwrap();
    assert_eq!(got, parsed(&whole)[12..]);
}

#[tokio::test]
async fn around_midnight_yesterday_is_read_too_and_a_split_reading_joins() {
    let server = NyisoServer::start().await;
    let feb1 = DayFile::feb(1);
    let feb2 = DayFile::feb(2);
    // The 2 February 00:00 reading (the last of 1 February's file) split over both files:
    // four fuels in yesterday's file, three in today's.
    let n1 = feb1.groups.len();
    let midnight = feb1.groups[n1 - 1].clone();
    assert!(
        midnight[0].starts_with("02/02/2025 00:00:00"),
        "{midnight:?}"
    );
    let mut day1 = feb1.first(n1 - 1);
    for line in &midnight[..4] {
        day1.extend_from_slice(format!("\r\n{line}").as_bytes());
    }
    let mut day2 = feb2.header.clone();
    for line in midnight[4..]
        .iter()
        .chain(feb2.groups[..4].iter().flatten())
    {
        day2.push_str("\r\n");
        day2.push_str(line);
    }
    server.put(FEB1, &day1);
    server.put(FEB2, day2.as_bytes());
    let source = HttpSource::new(&server.url(), options()).unwrap();

    // 00:30 EST on 2 February, cursor at 1 February 23:55 EST. Both files are still being
    // written and end without a line break: the first poll holds back from the midnight
    // reading on (yesterday's newest); the next, which sees the same bytes, confirms them.
    let now = utc(2025, 2, 2, 5, 30);
    let cursor = utc(2025, 2, 2, 4, 55);
    let got = source.readings_after(Some(cursor), now).await.unwrap();
    assert!(got.is_empty(), "{got:?}");
    let got = source.readings_after(Some(cursor), now).await.unwrap();
    let times: Vec<_> = got.iter().map(|r| r.ts).collect();
    assert_eq!(
        times,
        vec![
            utc(2025, 2, 2, 5, 0),
            utc(2025, 2, 2, 5, 5),
            utc(2025, 2, 2, 5, 10),
            utc(2025, 2, 2, 5, 15),
            utc(2025, 2, 2, 5, 20)
        ]
    );
    let joined = parsed(&feb1.first(n1));
    assert_eq!(got[0], joined[n1 - 1]);

    // One bad file spoils the poll: nothing at all comes back.
    server.put(FEB2, b"<html><body>Service Unavailable</body></html>");
    assert!(source.readings_after(Some(cursor), now).await.is_err());

    // No file for today yet, early after midnight: not an error; later it is.
    server.remove(FEB2);
    let got = source.readings_after(Some(cursor), now).await.unwrap();
    assert!(
        got.is_empty(),
        "the split reading is incomplete without today's rows"
    );
    let late = utc(2025, 2, 2, 8, 0); // 03:00 EST
    let err = source.readings_after(Some(cursor), late).await.unwrap_err();
    assert!(matches!(err, PortError::Transient { .. }), "{err}");
    assert!(err.to_string().contains("404"), "{err}");
}

#[tokio::test]
async fn catches_up_from_the_monthly_zip_and_daily_files() {
    let server = NyisoServer::start().await;
    server.put("rtfuelmix/20250201rtfuelmix_csv.zip", FEB_2025_ZIP);
    for day in 23..=28 {
        let name = format!("202502{day}rtfuelmix.csv");
        server.put(
            &format!("rtfuelmix/{name}"),
            &zip_member(FEB_2025_ZIP, &name),
        );
    }
    // 00:30 EST on 1 March (no file for today yet); cursor at 20 February 00:00 EST.
    let now = utc(2025, 3, 1, 5, 30);
    let cursor = utc(2025, 2, 20, 5, 0);
    let expected: Vec<Reading> = parsed(FEB_2025_ZIP)
        .into_iter()
        .filter(|r| r.ts > cursor)
        .collect();
    assert_eq!(expected.last().unwrap().ts, utc(2025, 3, 1, 5, 0));

    let source = HttpSource::new(&server.url(), options()).unwrap();
    let got = source.readings_after(Some(cursor), now).await.unwrap();
    // Yesterday's file (28 February) may still grow at 00:30: its newest reading, 1 March
    // 00:00 EST, waits for the next poll to confirm it. The finished days' files were
    // confirmed at once by a second, conditional request each.
    assert_eq!(got, expected[..expected.len() - 1]);
    let mut targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    targets.sort();
    let mut want = vec!["/rtfuelmix/20250201rtfuelmix_csv.zip".to_owned()];
    for d in 23..=27 {
        let name = format!("/rtfuelmix/202502{d}rtfuelmix.csv");
        want.extend([name.clone(), name]);
    }
    want.push("/rtfuelmix/20250228rtfuelmix.csv".to_owned());
    want.push("/rtfuelmix/20250301rtfuelmix.csv".to_owned());
    assert_eq!(targets, want);
    assert_eq!(server.stats().status(304), 5);

    // A second poll: every file is a 304 (the zip too), and the held reading comes out.
    server.reset_stats();
    assert_eq!(
        source.readings_after(Some(cursor), now).await.unwrap(),
        expected
    );
    let stats = server.stats();
    assert_eq!(stats.status(304), 7, "{stats:?}");
    assert_eq!(
        (stats.status(200), stats.status(206), stats.status(404)),
        (0, 0, 1),
        "{stats:?}"
    );

    // Daily files gone (NYISO keeps about a week): the zip stands in, fetched once.
    for day in 23..=28 {
        server.remove(&format!("rtfuelmix/202502{day}rtfuelmix.csv"));
    }
    server.reset_stats();
    let fresh = HttpSource::new(&server.url(), options()).unwrap();
    assert_eq!(
        fresh.readings_after(Some(cursor), now).await.unwrap(),
        expected
    );
    let zip_requests = server
        .requests()
        .iter()
        .filter(|r| r.target.ends_with(".zip"))
        .count();
    assert_eq!(zip_requests, 1);
}

#[tokio::test]
async fn catches_up_across_daily_files() {
    let server = NyisoServer::start().await;
    for day in 1..=3 {
        let name = format!("2025020{day}rtfuelmix.csv");
        server.put(
            &format!("rtfuelmix/{name}"),
            &zip_member(FEB_2025_ZIP, &name),
        );
    }
    let source = HttpSource::new(&server.url(), options()).unwrap();
    // Cursor 1 February 12:00 EST, now 3 February 12:00 EST.
    let cursor = utc(2025, 2, 1, 17, 0);
    let now = utc(2025, 2, 3, 17, 0);
    let got = source.readings_after(Some(cursor), now).await.unwrap();
    // (The finished days' files were confirmed at once by a second request; today's newest
    // reading, 4 February 00:00 EST, is held back but lies after `now` anyway.)
    let expected: Vec<Reading> = parsed(FEB_2025_ZIP)
        .into_iter()
        .filter(|r| r.ts > cursor && r.ts <= now)
        .collect();
    assert_eq!(got, expected);
    assert_eq!(got.first().unwrap().ts, utc(2025, 2, 1, 17, 5));
    assert_eq!(got.last().unwrap().ts, now);
}

/// Bytes per simulated day of polling every minute while a real day file grows in five-minute
/// steps: ranged + conditional requests against whole downloads (and conditional-only).
#[tokio::test]
#[ignore = "measurement; run with --ignored bytes_per_day --nocapture"]
async fn bytes_per_day() {
    let day = DayFile::feb(1);
    let n = day.groups.len();
    // The reading index available at each simulated minute: readings every 5 minutes.
    let available = |minute: usize| ((minute / 5) + 1).min(n);

    let mut results = Vec::new();
    for (label, range) in [("range + conditional", true), ("conditional only", false)] {
        let server = NyisoServer::start().await;
        server.put(FEB1, &day.first(1));
        let source = HttpSource::new(
            &server.url(),
            HttpOptions {
                range_requests: range,
                yesterday_recheck: Duration::ZERO,
                ..options()
            },
        )
        .unwrap();
        let mut shown = 1;
        let mut cursor = None;
        let mut whole_file_bytes = 0u64;
        let mut published = 0;
        for minute in 0..(24 * 60) {
            let want = available(minute);
            if want > shown {
                server.append(FEB1, &day.appended(shown, want));
                shown = want;
            }
            whole_file_bytes += day.first(shown).len() as u64;
            // Minute `minute` of 1 February, New York (EST = UTC-5).
            let now = utc(2025, 2, 1, 5, 0) + chrono::Duration::minutes(minute as i64);
            let got = source.readings_after(cursor, now).await.unwrap();
            if let Some(last) = got.last() {
                cursor = Some(last.ts);
            }
            published += got.len();
        }
        let stats = server.stats();
        let client = source.stats();
        results.push((label, stats, client, whole_file_bytes, published));
    }
    let final_size = day.first(n).len();
    println!(
        "day file 20250201rtfuelmix.csv: {n} readings, {final_size} bytes at the end of the day"
    );
    println!("1440 polls (one per simulated minute), file growing every 5 minutes");
    for (label, stats, client, whole, published) in &results {
        println!(
            "{label:>22}: body {:>9} B, on the wire {:>9} B ({} requests: {} × 200, {} × 206, {} × 304); \
             whole-file baseline {whole} B → body {:.3} %, wire {:.3} %; {published} readings",
            stats.body_bytes,
            stats.total_bytes,
            stats.requests,
            stats.status(200),
            stats.status(206),
            stats.status(304),
            100.0 * stats.body_bytes as f64 / *whole as f64,
            100.0 * stats.total_bytes as f64 / *whole as f64,
        );
        assert_eq!(client.requests, stats.requests);
    }
}

/// Defect 1 of issue 10: a body cut inside the last number (`…,Hydro,30` for
/// `…,Hydro,3068.0`) still parses, as NYISO's files end without a line break. The newest
/// reading of such a fetch is held back until a later fetch confirms the bytes.
#[tokio::test]
async fn a_cut_off_last_row_waits_for_a_later_fetch_to_confirm_it() {
    let server = NyisoServer::start().await;
    let day = DayFile::feb(1);
    let whole = day.first(2);
    // As `(head -n 15 FILE | head -c -5)`: the second reading's Hydro value loses its end.
    let cut = &whole[..whole.len() - 5];
    let true_hydro = parsed(&whole)[1].mix.get(ny_power::Fuel::Hydro);
    let cut_hydro = parsed(cut)[1].mix.get(ny_power::Fuel::Hydro);
    assert_ne!(
        cut_hydro, true_hydro,
        "the cut body parses to a wrong value"
    );
    server.put(FEB1, cut);
    let source = HttpSource::new(&server.url(), options()).unwrap();
    let now = utc(2025, 2, 2, 4, 30);

    // First fetch: the newest reading (the cut one) is held back.
    let got = source.readings_after(None, now).await.unwrap();
    assert_eq!(got, parsed(&whole)[..1]);
    // NYISO finishes the row: the bytes changed, so the newest reading waits again.
    server.put(FEB1, &whole);
    let cursor = Some(got[0].ts);
    assert!(source.readings_after(cursor, now).await.unwrap().is_empty());
    // The next fetch sees the same bytes (a 304): confirmed, with the true value.
    let got = source.readings_after(cursor, now).await.unwrap();
    assert_eq!(got, parsed(&whole)[1..2]);
    assert_eq!(got[0].mix.get(ny_power::Fuel::Hydro), true_hydro);
    assert_eq!(server.stats().status(304), 1);

    // Continued by more rows (a line break, then a new reading): the old newest is
    // confirmed by the line break, the new newest waits.
    server.append(FEB1, &day.appended(2, 4));
    let cursor = Some(got[0].ts);
    let got = source.readings_after(cursor, now).await.unwrap();
    assert_eq!(got, parsed(&day.first(4))[2..3]);
    let got = source.readings_after(Some(got[0].ts), now).await.unwrap();
    assert_eq!(got, parsed(&day.first(4))[3..4]);
}

/// Defect 4 of issue 10: a body that never ends is abandoned at the cap, with a clear error.
#[tokio::test]
async fn an_endless_body_is_abandoned_at_the_cap() {
    let server = NyisoServer::start().await;
    server.set(|b| b.endless = true);
    let source = HttpSource::new(&server.url(), options()).unwrap();
    let err = source
        .readings_after(None, utc(2025, 2, 2, 4, 30))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PortError::Rejected(e) if e.problem == ny_power::nyiso::ParseProblem::TooLarge(ny_power::nyiso::MAX_CSV_BYTES)),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("20250201rtfuelmix.csv") && text.contains("larger than"),
        "{text}"
    );
    assert!(text.len() < 300, "{text}");
    // The client read about the cap, not what the server would have sent on.
    assert!(source.stats().bytes_downloaded <= ny_power::nyiso::MAX_CSV_BYTES);
}

/// Defect 4 of issue 10: a small gzip body inflating to far more than a NYISO file is
/// abandoned at the cap (counted after decoding); the error stays short.
#[tokio::test]
async fn a_gzip_bomb_is_abandoned_at_the_cap() {
    let server = NyisoServer::start().await;
    // Inflating up to the cap is real work in a debug build on a busy machine: a timeout
    // here would fail the test for the wrong reason (the cap is what is tested).
    let patient = HttpOptions {
        timeout: Duration::from_secs(60),
        ..options()
    };
    let source = HttpSource::new(&server.url(), patient).unwrap();
    let now = utc(2025, 2, 2, 4, 30);
    // A small gzip body decodes (the encoder works) and is rejected as what it is: its first
    // line quoted short, control characters escaped.
    // (Its one line has no line break: the first fetch holds it back, the second, with the
    // same bytes, reads it.)
    let small = gzip_of_zeros(5000);
    server.set(|b| b.gzip_bomb = Some(small.into()));
    assert!(source.readings_after(None, now).await.unwrap().is_empty());
    let err = source.readings_after(None, now).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("header is `\\u{0}\\u{0}"), "{text}");
    assert!(text.len() < 600 && !text.contains('\0'), "{text}");
    // 64 MiB of zeros in ~0.4 MB on the wire.
    let bomb = gzip_of_zeros(64 << 20);
    server.set(|b| b.gzip_bomb = Some(bomb.into()));
    let err = source.readings_after(None, now).await.unwrap_err();
    assert!(
        matches!(&err, PortError::Rejected(e) if e.problem == ny_power::nyiso::ParseProblem::TooLarge(ny_power::nyiso::MAX_CSV_BYTES)),
        "{err}"
    );
    assert!(err.to_string().len() < 300, "{err}");
}

/// Defect 4 of issue 10: a monthly zip whose member inflates past the per-member cap rejects
/// the catch-up; nothing is returned.
#[tokio::test]
async fn a_zip_with_a_huge_member_is_rejected() {
    use std::io::Write as _;
    let server = NyisoServer::start().await;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("20250101rtfuelmix.csv", deflated).unwrap();
    zip.write_all(b"Time Stamp,Time Zone,Fuel Category,Gen MW\r\n")
        .unwrap();
    let row = "01/01/2025 00:05:00,EST,Wind,671.0\r\n".repeat(1000);
    let rows = (ny_power::nyiso::MAX_MEMBER_BYTES as usize).div_ceil(row.len()) + 1;
    for _ in 0..rows {
        zip.write_all(row.as_bytes()).unwrap();
    }
    let bytes = zip.finish().unwrap().into_inner();
    assert!(bytes.len() < 1 << 20, "{} bytes on the wire", bytes.len());
    server.put("rtfuelmix/20250101rtfuelmix_csv.zip", &bytes);
    for day in 1..=3 {
        let name = format!("2025020{day}rtfuelmix.csv");
        server.put(
            &format!("rtfuelmix/{name}"),
            &zip_member(FEB_2025_ZIP, &name),
        );
    }
    let source = HttpSource::new(&server.url(), options()).unwrap();
    // Cursor 20 January, now 3 February noon: January comes from its zip.
    let err = source
        .readings_after(Some(utc(2025, 1, 20, 5, 0)), utc(2025, 2, 3, 17, 0))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PortError::Rejected(e) if e.problem == ny_power::nyiso::ParseProblem::TooLarge(ny_power::nyiso::MAX_MEMBER_BYTES)),
        "{err}"
    );
    assert!(err.to_string().contains("20250101rtfuelmix.csv"), "{err}");
}

/// The publish delay the hold-back rule adds in the normal case: a real day file growing in
/// five-minute steps as NYISO writes it (no line break after the last row), polled once a
/// (simulated) minute. For every reading: the polls between the one that first saw it in the
/// file and the one that returned it.
#[tokio::test]
#[ignore = "measurement; run with --ignored publish_delay --nocapture"]
async fn publish_delay_of_the_newest_reading() {
    let day = DayFile::feb(1);
    let n = day.groups.len();
    let available = |minute: usize| ((minute / 5) + 1).min(n);
    let server = NyisoServer::start().await;
    server.put(FEB1, &day.first(1));
    let source = HttpSource::new(
        &server.url(),
        HttpOptions {
            yesterday_recheck: Duration::ZERO,
            ..options()
        },
    )
    .unwrap();
    let mut shown = 1;
    let mut seen_at = vec![None; n];
    let mut delays = Vec::new();
    let mut cursor = None;
    for minute in 0..(24 * 60 + 5) {
        let want = available(minute);
        if want > shown {
            server.append(FEB1, &day.appended(shown, want));
            shown = want;
        }
        for slot in seen_at.iter_mut().take(shown) {
            slot.get_or_insert(minute);
        }
        let now = utc(2025, 2, 1, 5, 0) + chrono::Duration::minutes(minute as i64);
        let got = source.readings_after(cursor, now).await.unwrap();
        for r in &got {
            let i = parsed(&day.first(n)).iter().position(|p| p == r).unwrap();
            delays.push(minute - seen_at[i].unwrap());
        }
        if let Some(last) = got.last() {
            cursor = Some(last.ts);
        }
    }
    assert_eq!(delays.len(), n, "every reading came out");
    let held = delays.iter().filter(|&&d| d > 0).count();
    let max = delays.iter().max().copied().unwrap_or(0);
    let mean = delays.iter().sum::<usize>() as f64 / delays.len() as f64;
    println!(
        "{n} readings, one poll a minute, the file growing every 5 minutes (one reading each): \
         {held} returned one poll later than first seen, max delay {max} poll(s), mean {mean:.2} polls"
    );
}

/// Defect 1 of issue 10, through the pump: the cut-off value is never published and the
/// cursor never passes the held reading; the true value goes out one poll later.
#[tokio::test]
async fn the_pump_never_publishes_a_cut_off_value() {
    use ny_power::fakes::{MemoryBroker, MemoryCursor};
    use ny_power::stream::Topics;
    use ny_power::usecases::pump::Pump;
    let server = NyisoServer::start().await;
    let day = DayFile::feb(1);
    let whole = day.first(3);
    server.put(FEB1, &whole[..whole.len() - 5]);
    let source = HttpSource::new(&server.url(), options()).unwrap();
    let (broker, cursor) = (MemoryBroker::new(), MemoryCursor::default());
    let topics = Topics::default();
    let pump = Pump::new(source, &broker, &cursor, topics.clone());
    let now = utc(2025, 2, 2, 4, 30);
    let expected = parsed(&whole);

    assert_eq!(pump.poll_once(now).await.unwrap().published, 2);
    assert_eq!(cursor.get(), Some(expected[1].ts));
    server.put(FEB1, &whole);
    assert_eq!(pump.poll_once(now).await.unwrap().published, 0);
    assert_eq!(cursor.get(), Some(expected[1].ts));
    assert_eq!(pump.poll_once(now).await.unwrap().published, 1);
    assert_eq!(cursor.get(), Some(expected[2].ts));
    let hydro: Vec<f64> = broker
        .published()
        .iter()
        .filter(|m| m.topic == topics.fuel(ny_power::Fuel::Hydro))
        .map(|m| {
            serde_json::from_slice::<serde_json::Value>(&m.payload).unwrap()["value"]
                .as_f64()
                .unwrap()
        })
        .collect();
    let want: Vec<f64> = expected
        .iter()
        .map(|r| r.mix.get(ny_power::Fuel::Hydro))
        .collect();
    assert_eq!(hydro, want, "each hydro value once, the true one");
}

/// Defect 7 of issue 10, pump side: a reading dated far in the future in NYISO's file is not
/// published and the cursor does not move past it; the readings before it go out.
#[tokio::test]
async fn the_pump_refuses_a_reading_from_the_future() {
    use ny_power::fakes::{MemoryBroker, MemoryCursor};
    use ny_power::stream::Topics;
    use ny_power::usecases::pump::Pump;
    let server = NyisoServer::start().await;
    let day = DayFile::feb(1);
    let mut file = day.ended(3);
    for line in &day.groups[3] {
        file.extend_from_slice(line.replace("02/01/2025", "02/01/2100").as_bytes());
        file.extend_from_slice(b"\r\n");
    }
    server.put(FEB1, &file);
    let source = HttpSource::new(&server.url(), options()).unwrap();
    let (broker, cursor) = (MemoryBroker::new(), MemoryCursor::default());
    let pump = Pump::new(source, &broker, &cursor, Topics::default());
    let now = utc(2025, 2, 2, 4, 30);
    let expected = parsed(&day.ended(3));
    for _ in 0..2 {
        let out = pump.poll_once(now).await.unwrap();
        assert_eq!(cursor.get(), Some(expected[2].ts));
        assert_eq!(broker.published().len(), 3 * 8, "{out:?}");
    }
}

/// Defect 5 of issue 10, HTTP side: an error page is read only so far and quoted short, its
/// control characters escaped (a line break cannot forge a log line, ESC cannot reach the
/// terminal).
#[tokio::test]
async fn an_error_body_is_quoted_short_and_inert() {
    let server = NyisoServer::start().await;
    let mut body = b"oops\nerror: forged line \x1b[2J ".to_vec();
    body.extend(std::iter::repeat_n(b'x', 8 << 20));
    server.set(|b| {
        b.fail_500 = true;
        b.error_body = Some(body);
    });
    let source = HttpSource::new(&server.url(), options()).unwrap();
    let err = source
        .readings_after(None, utc(2025, 2, 2, 4, 30))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("HTTP 500"), "{text}");
    assert!(
        text.contains("oops\\nerror: forged line \\u{1b}[2J"),
        "{text}"
    );
    assert!(text.ends_with('…') && text.len() < 300, "{text}");
    assert!(!text.chars().any(char::is_control), "{text:?}");
}
