//! Property tests of the fuel-mix parser: any input gives readings or an error, never a panic;
//! readings written out as a fuel-mix CSV (in any of the layouts NYISO has used) parse back to
//! the same readings.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use proptest::collection::vec;
use proptest::prelude::*;

use ny_power::nyiso::{parse_bytes, FuelMixAccumulator, ParseError, ParsedFile};
use ny_power::reading::{is_valid_mw, MAX_FUEL_MW};
use ny_power::{Fuel, FuelMix, Reading};

const NAME: &str = "prop.csv";

/// What must hold of any outcome: readings sorted, one per instant, every value one a grid
/// produces (0..=60,000 MW); incomplete and invalid ones sorted and never at a reading's
/// instant, an invalid one naming a value outside the bound and a line inside the input; an
/// error names the file it was given and a line inside the input.
fn check_outcome(input: &[u8], out: &Result<ParsedFile, ParseError>) -> Result<(), TestCaseError> {
    match out {
        Ok(p) => {
            prop_assert!(p.readings.windows(2).all(|w| w[0].ts < w[1].ts));
            prop_assert!(p.incomplete.windows(2).all(|w| w[0].ts < w[1].ts));
            for r in &p.readings {
                prop_assert!(r.mix.0.iter().all(|v| is_valid_mw(*v)), "{r:?}");
            }
            prop_assert!(p.invalid.windows(2).all(|w| w[0].ts < w[1].ts));
            let lines = input.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            for i in &p.invalid {
                prop_assert!(!is_valid_mw(i.mw), "{i}");
                prop_assert!(i.line >= 1 && i.line <= lines, "{i}");
                prop_assert!(p.readings.binary_search_by_key(&i.ts, |r| r.ts).is_err());
            }
            for i in &p.incomplete {
                prop_assert!(!i.missing.is_empty());
                prop_assert!(p.readings.binary_search_by_key(&i.ts, |r| r.ts).is_err());
            }
        }
        Err(e) => {
            prop_assert!(e.file.starts_with(NAME), "{e}");
            let lines = input.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            if let Some(l) = e.line {
                prop_assert!(l >= 1 && l <= lines, "line {l} of {lines}: {e}");
            }
            prop_assert!(!e.to_string().is_empty());
        }
    }
    Ok(())
}

// --- "almost CSV" -------------------------------------------------------------------------------

fn year() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (1990i64..2040).prop_map(|y| y.to_string()),
        1 => (0i64..10_000).prop_map(|y| y.to_string()),
        1 => (-400_000i64..400_000).prop_map(|y| format!("{y:+}")),
        // The edges of chrono's range: +262142-12-31 plus a zone offset is out of range.
        1 => prop::sample::select(vec!["+262142", "-262143", "262143", "+99999", "02025", "999999999"])
            .prop_map(str::to_owned),
    ]
}

fn time_field() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (0u32..14, 0u32..33, year(), 0u32..26, 0u32..62, prop::option::of(0u32..62)).prop_map(
            |(mo, d, y, h, mi, s)| match s {
                Some(s) => format!("{mo:02}/{d:02}/{y} {h:02}:{mi:02}:{s:02}"),
                None => format!("{mo:02}/{d:02}/{y} {h:02}:{mi:02}"),
            }
        ),
        1 => "[0-9/: ]{0,22}",
        1 => "\\PC{0,12}",
    ]
}

fn zone_field() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["EST", "EDT"]).prop_map(str::to_owned),
        1 => prop::sample::select(vec!["", "PST", "est", " EDT ", "UTC"]).prop_map(str::to_owned),
        1 => "\\PC{0,5}",
    ]
}

fn fuel_field() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(Fuel::ALL.to_vec()).prop_map(|f| f.nyiso_name().to_owned()),
        1 => prop::sample::select(vec!["Coal", "hydro", "", "Other  Renewables"]).prop_map(str::to_owned),
        1 => "\\PC{0,10}",
    ]
}

fn mw_field() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => any::<f64>().prop_map(|v| format!("{v}")),
        2 => (-10_000i32..100_000).prop_map(|v| format!("{v}.0")),
        1 => prop::sample::select(vec!["NaN", "inf", "-inf", "1e400", "", "-", "1,0", "0x10", "+5"])
            .prop_map(str::to_owned),
        1 => "\\PC{0,8}",
    ]
}

/// A line that is mostly a fuel-mix row: 4 fields (sometimes 3 or 5), each mostly valid,
/// randomly quoted (sometimes with a stray quote).
fn almost_line() -> impl Strategy<Value = String> {
    (
        time_field(),
        zone_field(),
        fuel_field(),
        mw_field(),
        prop::sample::select(vec![4usize, 4, 4, 4, 4, 4, 3, 5]),
        vec(0u8..6, 5),
    )
        .prop_map(|(t, z, f, m, n, q)| {
            let mut fields = vec![t, z, f, m, "x".to_owned()];
            fields.truncate(n);
            fields
                .iter()
                .zip(q)
                .map(|(v, q)| match q {
                    0 => format!("\"{v}\""),
                    1 if v.is_empty() => "\"".to_owned(),
                    _ => v.clone(),
                })
                .collect::<Vec<_>>()
                .join(",")
        })
}

fn header_line() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec![
            "Time Stamp,Time Zone,Fuel Category,Gen MW",
            "Time Stamp,Time Zone,Fuel Category,Gen MWh",
            "\"Time Stamp\",\"Time Zone\",\"Fuel Category\",\"Gen MW\"",
        ])
        .prop_map(str::to_owned),
        1 => prop::sample::select(vec!["", "<html>", "Time Stamp,Time Zone,Name,PTID,Load"])
            .prop_map(str::to_owned),
        1 => "\\PC{0,30}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_give_readings_or_an_error(bytes in vec(any::<u8>(), 0..1024)) {
        let out = parse_bytes(NAME, &bytes);
        check_outcome(&bytes, &out)?;
    }

    #[test]
    fn arbitrary_bytes_after_a_zip_signature_give_an_error(tail in vec(any::<u8>(), 0..512)) {
        let mut bytes = b"PK\x03\x04".to_vec();
        bytes.extend(tail);
        let out = parse_bytes(NAME, &bytes);
        prop_assert!(out.is_err());
        check_outcome(&bytes, &out)?;
    }

    #[test]
    fn almost_csv_gives_readings_or_an_error(
        header in header_line(),
        lines in vec(almost_line(), 0..30),
        crlf in any::<bool>(),
        bom in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut text = if bom { "\u{feff}".to_owned() } else { String::new() };
        text += &header;
        for l in &lines {
            text += eol;
            text += l;
        }
        let out = parse_bytes(NAME, text.as_bytes());
        check_outcome(text.as_bytes(), &out)?;
    }
}

// --- round trip ---------------------------------------------------------------------------------

/// The layouts NYISO has used.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// Before 2016-01-24: `Gen MWh`, `MM/DD/YYYY HH:MM` (whole minutes only).
    Old,
    /// Until 2017-11: `Gen MWh` with seconds.
    Mid,
    /// Today: `Gen MW` with seconds.
    New,
}

/// One reading as it will be written: instant, values, zone, the order of its rows, and an
/// optional stale earlier row for one fuel (the later row must win).
#[derive(Debug, Clone)]
struct Written {
    ts: DateTime<Utc>,
    mix: FuelMix,
    edt: bool,
    order: Vec<Fuel>,
    stale: Option<(Fuel, f64)>,
}

/// A value a reading may have: 0..=60,000 MW (DESIGN §3).
fn finite_mw() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => (0i32..20_000).prop_map(f64::from),
        2 => (0i64..=600_000).prop_map(|v| v as f64 / 10.0),
        1 => 0.0..=MAX_FUEL_MW,
        1 => prop::sample::select(vec![0.0, f64::MIN_POSITIVE, 5e-324, MAX_FUEL_MW]),
    ]
}

fn written(whole_minutes: bool) -> impl Strategy<Value = Written> {
    // 2000-01-01 … 2035: seconds since 2000-01-01T00:00:00Z.
    (
        0i64..(35 * 365 * 86_400),
        prop::array::uniform7(finite_mw()),
        any::<bool>(),
        Just(Fuel::ALL.to_vec()).prop_shuffle(),
        prop::option::of((prop::sample::select(Fuel::ALL.to_vec()), finite_mw())),
    )
        .prop_map(move |(secs, mw, edt, order, stale)| {
            let secs = if whole_minutes {
                secs - secs % 60
            } else {
                secs
            };
            let base = DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z")
                .unwrap()
                .to_utc();
            Written {
                ts: base + Duration::seconds(secs),
                mix: FuelMix(mw),
                edt,
                order,
                stale,
            }
        })
}

#[derive(Debug, Clone)]
struct Style {
    layout: Layout,
    crlf: bool,
    bom: bool,
    final_newline: bool,
    /// Per-field quoting decisions, cycled through.
    quote: Vec<bool>,
    /// Debug (`4613.0`) rather than Display (`4613`) for numbers.
    debug_numbers: bool,
    /// Put a blank line after every n-th row (0 = never).
    blank_every: usize,
}

fn style() -> impl Strategy<Value = Style> {
    (
        prop::sample::select(vec![Layout::Old, Layout::Mid, Layout::New]),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        vec(any::<bool>(), 1..9),
        any::<bool>(),
        prop::sample::select(vec![0usize, 0, 0, 5, 50]),
    )
        .prop_map(
            |(layout, crlf, bom, final_newline, quote, debug_numbers, blank_every)| Style {
                layout,
                crlf,
                bom,
                final_newline,
                quote,
                debug_numbers,
                blank_every,
            },
        )
}

/// Readings with distinct instants (the later of two drawn with the same instant is dropped),
/// in a random file order, and the style to write them in.
fn case() -> impl Strategy<Value = (Vec<Written>, Style)> {
    style().prop_flat_map(|s| {
        let whole = matches!(s.layout, Layout::Old);
        (vec(written(whole), 0..25).prop_shuffle(), Just(s))
    })
}

fn distinct(ws: Vec<Written>) -> Vec<Written> {
    let mut seen = std::collections::BTreeSet::new();
    ws.into_iter().filter(|w| seen.insert(w.ts)).collect()
}

/// For each row of [`rows`], whether it sets its fuel's final value (not a stale earlier row).
fn final_rows(ws: &[Written]) -> Vec<bool> {
    let mut out = Vec::new();
    for w in ws {
        if w.stale.is_some() {
            out.push(false);
        }
        out.extend(w.order.iter().map(|_| true));
    }
    out
}

/// The data rows (without header) of `ws`, each as its fields.
fn rows(ws: &[Written], s: &Style) -> Vec<[String; 4]> {
    let num = |v: f64| {
        if s.debug_numbers {
            format!("{v:?}")
        } else {
            format!("{v}")
        }
    };
    let mut out = Vec::new();
    for w in ws {
        let (zone, hours) = if w.edt { ("EDT", 4) } else { ("EST", 5) };
        let local = (w.ts - Duration::hours(hours)).naive_utc();
        let time = match s.layout {
            Layout::Old => local.format("%m/%d/%Y %H:%M").to_string(),
            Layout::Mid | Layout::New => local.format("%m/%d/%Y %H:%M:%S").to_string(),
        };
        let row = |f: Fuel, v: f64| {
            [
                time.clone(),
                zone.to_owned(),
                f.nyiso_name().to_owned(),
                num(v),
            ]
        };
        if let Some((f, v)) = w.stale {
            out.push(row(f, v));
        }
        for &f in &w.order {
            out.push(row(f, w.mix.get(f)));
        }
    }
    out
}

fn render(rows: &[[String; 4]], s: &Style) -> String {
    let eol = if s.crlf { "\r\n" } else { "\n" };
    let header = match s.layout {
        Layout::Old | Layout::Mid => ["Time Stamp", "Time Zone", "Fuel Category", "Gen MWh"],
        Layout::New => ["Time Stamp", "Time Zone", "Fuel Category", "Gen MW"],
    };
    let mut q = s.quote.iter().cycle();
    let mut field = |v: &str| {
        if *q.next().unwrap_or(&false) {
            format!("\"{v}\"")
        } else {
            v.to_owned()
        }
    };
    let mut lines = vec![header
        .iter()
        .map(|h| field(h))
        .collect::<Vec<_>>()
        .join(",")];
    for (i, r) in rows.iter().enumerate() {
        lines.push(r.iter().map(|v| field(v)).collect::<Vec<_>>().join(","));
        if s.blank_every > 0 && i % s.blank_every == s.blank_every - 1 {
            lines.push(String::new());
        }
    }
    let mut text = if s.bom {
        "\u{feff}".to_owned()
    } else {
        String::new()
    };
    text += &lines.join(eol);
    if s.final_newline {
        text += eol;
    }
    text
}

fn expected(ws: &[Written]) -> Vec<Reading> {
    let by_ts: BTreeMap<_, _> = ws.iter().map(|w| (w.ts, w.mix)).collect();
    by_ts
        .into_iter()
        .map(|(ts, mix)| Reading { ts, mix })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn written_readings_parse_back_the_same((ws, s) in case()) {
        let ws = distinct(ws);
        let text = render(&rows(&ws, &s), &s);
        let parsed = parse_bytes(NAME, text.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{e}\n--- input ---\n{text}")))?;
        prop_assert!(parsed.incomplete.is_empty(), "{:?}", parsed.incomplete);
        prop_assert_eq!(parsed.readings, expected(&ws));
    }

    #[test]
    fn split_into_two_files_the_rows_join_the_same(
        (ws, s) in case(),
        cut in any::<prop::sample::Index>(),
    ) {
        let ws = distinct(ws);
        let all = rows(&ws, &s);
        let k = if all.is_empty() { 0 } else { cut.index(all.len() + 1) };
        let mut acc = FuelMixAccumulator::new();
        acc.add_csv("a.csv", render(&all[..k], &s).as_bytes()).unwrap();
        acc.add_csv("b.csv", render(&all[k..], &s).as_bytes()).unwrap();
        let parsed = acc.finish();
        prop_assert!(parsed.incomplete.is_empty());
        prop_assert_eq!(parsed.readings, expected(&ws));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// The line an error names is the line of the bad row, whatever the line endings, quoting,
    /// BOM and blank lines.
    #[test]
    fn an_error_names_the_line_of_the_bad_row(
        (ws, s) in case(),
        pick in any::<prop::sample::Index>(),
    ) {
        let ws = distinct(ws);
        let mut all = rows(&ws, &s);
        prop_assume!(!all.is_empty());
        let j = pick.index(all.len());
        all[j][2] = "Coal".to_owned();
        let text = render(&all, &s);
        let expected_line = text.split('\n').position(|l| l.contains("Coal")).unwrap() as u64 + 1;
        let e = parse_bytes(NAME, text.as_bytes()).unwrap_err();
        prop_assert_eq!(e.line, Some(expected_line), "{}", e);
        prop_assert_eq!(e.to_string(), format!("{NAME}: line {expected_line}: field `Fuel Category`: unknown fuel `Coal`"));
    }

    /// A value no grid produces leaves exactly its reading out, reported with the line of the
    /// value, whatever the line endings, quoting, BOM and blank lines; the others parse back.
    #[test]
    fn an_invalid_value_leaves_its_reading_out_naming_its_line(
        (ws, s) in case(),
        pick in any::<prop::sample::Index>(),
        bad in prop::sample::select(vec!["-77777.75", "60000.125", "1e308", "inf", "NaN"]),
    ) {
        let ws = distinct(ws);
        let mut all = rows(&ws, &s);
        let finals: Vec<usize> = final_rows(&ws)
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.then_some(i))
            .collect();
        prop_assume!(!finals.is_empty());
        let j = finals[pick.index(finals.len())];
        all[j][3] = bad.to_owned();
        let text = render(&all, &s);
        let expected_line = text.split('\n').position(|l| l.contains(bad)).unwrap() as u64 + 1;
        let parsed = parse_bytes(NAME, text.as_bytes()).unwrap();
        let [invalid] = parsed.invalid.as_slice() else {
            return Err(TestCaseError::fail(format!("{:?}", parsed.invalid)));
        };
        prop_assert_eq!(invalid.line, expected_line, "{}", invalid);
        prop_assert_eq!(invalid.file.as_str(), NAME);
        let keep: Vec<Reading> = expected(&ws).into_iter().filter(|r| r.ts != invalid.ts).collect();
        prop_assert_eq!(keep.len() + 1, ws.len());
        prop_assert_eq!(parsed.readings, keep);
    }
}
