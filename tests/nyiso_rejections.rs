//! Every rejection class of the fuel-mix parser (DESIGN §3): the error names the file, the line
//! and the offending value, and a rejected input changes nothing.
//!
//! Inputs are real NYISO files (tests/fixtures/nyiso) with one line replaced; the line numbers
//! and the original lines were read off the files with `sed -n Np`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;

use ny_power::nyiso::{parse_bytes, FuelMixAccumulator, ParseError, ParseProblem};

const DAY: &str = "20171122rtfuelmix.csv";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/nyiso/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The real 2017-11-22 file (CRLF) with line `n` (1-based) replaced by `new`.
fn day_with_line(n: usize, new: &str) -> Vec<u8> {
    let text = String::from_utf8(fixture(DAY)).unwrap();
    let mut lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines.len(), 2024);
    lines[n - 1] = new;
    lines.join("\r\n").into_bytes()
}

/// Rejects `bytes` as `name` and checks that the accumulator holding a good day is unchanged.
/// Returns the error.
fn reject(name: &str, bytes: &[u8]) -> ParseError {
    let mut acc = FuelMixAccumulator::new();
    acc.add("20160119rtfuelmix.csv", &fixture("20160119rtfuelmix.csv"))
        .unwrap();
    let before = acc.clone().finish();
    assert_eq!(before.readings.len(), 290);
    let err = acc.add(name, bytes).unwrap_err();
    assert_eq!(acc.finish(), before, "a rejected input must change nothing");
    // The one-shot entry point rejects it the same way.
    assert_eq!(parse_bytes(name, bytes).unwrap_err(), err);
    err
}

// Lines used (as in the file):
//   1000: 11/22/2017 11:45:00,EST,Other Renewables,277.0
//   1500: 11/22/2017 17:45:00,EST,Dual Fuel,2558.0
//   1700: 11/22/2017 20:05:00,EST,Other Renewables,277.0
//   2024: 11/22/2017 23:55:00,EST,Hydro,3445.0   (last line, no final newline)

#[test]
fn html_page() {
    let page = "<!DOCTYPE html>\r\n<html><head><title>503 Service Unavailable</title></head>\r\n\
                <body><h1>Service Unavailable</h1></body></html>\r\n";
    let e = reject(DAY, page.as_bytes());
    assert_eq!(e.file, DAY);
    assert_eq!(e.line, Some(1));
    assert!(
        matches!(&e.problem, ParseProblem::Html(v) if v == "<!DOCTYPE html>"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "20171122rtfuelmix.csv: line 1: not a fuel-mix CSV: starts like an HTML page \
         (`<!DOCTYPE html>`; an error page served instead?)"
    );

    // After a BOM and blank lines, the page starts on line 3; a long first line is cut.
    let long = format!(
        "\u{feff}\r\n\n  <html><body>{}</body></html>",
        "x".repeat(200)
    );
    let e = reject("today.csv", long.as_bytes());
    assert_eq!(e.line, Some(3));
    let msg = e.to_string();
    assert!(
        msg.starts_with(
            "today.csv: line 3: not a fuel-mix CSV: starts like an HTML page (`<html><body>xxx"
        ),
        "{msg}"
    );
    assert!(msg.contains("xxx…`"), "{msg}");
}

#[test]
fn wrong_header() {
    // A real file of another dataset: 5-minute load (`pal`).
    let e = reject("20221106pal.csv", &fixture("20221106pal.csv"));
    assert_eq!(e.line, Some(1));
    assert_eq!(
        e.problem,
        ParseProblem::WrongHeader("Time Stamp,Time Zone,Name,PTID,Load".into())
    );
    assert_eq!(
        e.to_string(),
        "20221106pal.csv: line 1: not a fuel-mix CSV: header is `Time Stamp,Time Zone,Name,PTID,Load`, \
         expected `Time Stamp,Time Zone,Fuel Category,Gen MW` (or `Gen MWh`)"
    );

    let e = reject(DAY, &day_with_line(1, "Time Stamp,Time Zone,Fuel,Gen MW"));
    assert_eq!(e.line, Some(1));
    assert!(
        e.to_string()
            .contains("header is `Time Stamp,Time Zone,Fuel,Gen MW`"),
        "{e}"
    );

    // A headerless file: its first data row is not a header.
    let text = String::from_utf8(fixture(DAY)).unwrap();
    let headerless = text.split_once("\r\n").unwrap().1;
    let e = reject(DAY, headerless.as_bytes());
    assert_eq!(
        e.problem,
        ParseProblem::WrongHeader("11/22/2017 00:05:00,EST,Dual Fuel,1447.0".into())
    );
    assert_eq!(e.line, Some(1));
}

#[test]
fn unknown_fuel() {
    let e = reject(
        DAY,
        &day_with_line(1000, "11/22/2017 11:45:00,EST,Coal,277.0"),
    );
    assert_eq!(e.line, Some(1000));
    assert_eq!(e.problem, ParseProblem::UnknownFuel("Coal".into()));
    assert_eq!(
        e.to_string(),
        "20171122rtfuelmix.csv: line 1000: field `Fuel Category`: unknown fuel `Coal`"
    );
    // Names are matched exactly (NYISO's spelling).
    let e = reject(
        DAY,
        &day_with_line(1000, "11/22/2017 11:45:00,EST,other renewables,277.0"),
    );
    assert_eq!(
        e.to_string(),
        "20171122rtfuelmix.csv: line 1000: field `Fuel Category`: unknown fuel `other renewables`"
    );
}

#[test]
fn bad_number() {
    for (value, shown) in [("2558.O", "2558.O"), ("", ""), ("\"2,558.0\"", "2,558.0")] {
        let e = reject(
            DAY,
            &day_with_line(1500, &format!("11/22/2017 17:45:00,EST,Dual Fuel,{value}")),
        );
        assert_eq!(e.line, Some(1500), "{value}");
        assert_eq!(e.problem, ParseProblem::BadNumber(shown.into()));
        assert_eq!(
            e.to_string(),
            format!("20171122rtfuelmix.csv: line 1500: field `Gen MW`: bad number `{shown}`")
        );
    }
    // On the last line, which has no final newline.
    let e = reject(DAY, &day_with_line(2024, "11/22/2017 23:55:00,EST,Hydro,-"));
    assert_eq!(
        e.to_string(),
        "20171122rtfuelmix.csv: line 2024: field `Gen MW`: bad number `-`"
    );
}

#[test]
fn bad_time() {
    for value in [
        "11/22/2017 25:45:00",
        "11/31/2017 17:45:00",
        "2017-11-22 17:45:00",
        "11/22/2017",
        "",
        // Out of chrono's range once the zone offset is added (was a panic).
        "12/31/+262142 23:00:00",
        "11/22/+2017 17:45:00",
        "11/22/17 17:45:00",
        // A leap second would fall on the instant of second 59.
        "11/22/2017 23:59:60",
    ] {
        let e = reject(
            DAY,
            &day_with_line(1700, &format!("{value},EST,Other Renewables,277.0")),
        );
        assert_eq!(e.line, Some(1700), "{value}");
        assert_eq!(e.problem, ParseProblem::BadTime(value.into()));
        assert_eq!(
            e.to_string(),
            format!(
                "20171122rtfuelmix.csv: line 1700: field `Time Stamp`: bad time `{value}` \
                 (expected MM/DD/YYYY HH:MM:SS or MM/DD/YYYY HH:MM)"
            )
        );
    }
}

#[test]
fn unknown_zone() {
    for value in ["PST", "est", "", "UTC"] {
        let e = reject(
            DAY,
            &day_with_line(
                1700,
                &format!("11/22/2017 20:05:00,{value},Other Renewables,277.0"),
            ),
        );
        assert_eq!(e.line, Some(1700), "{value}");
        assert_eq!(e.problem, ParseProblem::UnknownZone(value.into()));
        assert_eq!(
            e.to_string(),
            format!(
                "20171122rtfuelmix.csv: line 1700: field `Time Zone`: unknown zone `{value}` (expected EST or EDT)"
            )
        );
    }
}

#[test]
fn wrong_field_count_and_not_text() {
    let e = reject(
        DAY,
        &day_with_line(1000, "11/22/2017 11:45:00,EST,Other Renewables,277.0,x"),
    );
    assert_eq!(
        e.to_string(),
        "20171122rtfuelmix.csv: line 1000: expected 4 fields, found 5"
    );

    // An invalid UTF-8 byte in the 4th character of line 1700.
    let mut bytes = fixture(DAY);
    let line_1700_starts_at: usize = String::from_utf8(bytes.clone())
        .unwrap()
        .split("\r\n")
        .take(1699)
        .map(|l| l.len() + 2)
        .sum();
    bytes[line_1700_starts_at + 3] = 0xFF;
    let e = reject(DAY, &bytes);
    assert_eq!(e.line, Some(1700));
    assert_eq!(e.problem, ParseProblem::NotText);
    assert_eq!(
        e.to_string(),
        "20171122rtfuelmix.csv: line 1700: not a fuel-mix CSV: not UTF-8 text"
    );

    let e = reject(DAY, b"\xEF\xBB\xBF \r\n\r\n");
    assert_eq!(
        e.to_string(),
        "20171122rtfuelmix.csv: empty file: no header"
    );
}

fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in members {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn a_bad_member_rejects_the_whole_zip_naming_the_member() {
    let good = fixture(DAY);
    let bad = day_with_line(1000, "11/22/2017 11:45:00,EST,Coal,277.0");
    let zip = zip_of(&[
        ("20171121rtfuelmix.csv", &good),
        ("20171122rtfuelmix.csv", &bad),
    ]);
    let e = reject("20171101rtfuelmix_csv.zip", &zip);
    assert_eq!(e.file, "20171101rtfuelmix_csv.zip!20171122rtfuelmix.csv");
    assert_eq!(
        e.to_string(),
        "20171101rtfuelmix_csv.zip!20171122rtfuelmix.csv: line 1000: field `Fuel Category`: unknown fuel `Coal`"
    );

    let e = reject("x.zip", &zip_of(&[("readme.txt", b"hello")]));
    assert_eq!(e.to_string(), "x.zip: zip archive holds no CSV file");

    let mut broken = zip_of(&[("20171122rtfuelmix.csv", &good)]);
    broken.truncate(100);
    let e = reject("broken.zip", &broken);
    assert_eq!(e.file, "broken.zip");
    assert!(matches!(e.problem, ParseProblem::BadZip(_)), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("broken.zip: not a readable zip archive: "),
        "{e}"
    );
}

/// Defect 6 of issue 10: a value no grid produces (negative, not finite, above 60,000 MW) is
/// a number, so the file is read, but its reading is not a reading: left out and reported with
/// the file and the line of the value; the other readings stay.
#[test]
fn a_value_no_grid_produces_leaves_its_reading_out() {
    let all = parse_bytes(DAY, &fixture(DAY)).unwrap().readings;
    assert_eq!(all.len(), 289);
    for value in [
        "-6814.0", "-0.5", "60000.5", "1e308", "1e400", "inf", "-inf", "NaN",
    ] {
        // Line 1500 is the 17:45 EST reading's Dual Fuel row.
        let bytes = day_with_line(1500, &format!("11/22/2017 17:45:00,EST,Dual Fuel,{value}"));
        let parsed = parse_bytes(DAY, &bytes).unwrap();
        assert_eq!(parsed.readings.len(), 288, "{value}");
        assert!(parsed.incomplete.is_empty(), "{value}");
        let [bad] = parsed.invalid.as_slice() else {
            panic!("{value}: {:?}", parsed.invalid)
        };
        assert_eq!((bad.file.as_str(), bad.line), (DAY, 1500), "{value}");
        assert_eq!(bad.fuel, ny_power::Fuel::DualFuel);
        assert_eq!(bad.ts.to_rfc3339(), "2017-11-22T22:45:00+00:00");
        let text = bad.to_string();
        assert!(
            text.starts_with(
                "20171122rtfuelmix.csv: line 1500: reading at 2017-11-22T22:45:00Z left out: fuel `dual_fuel`:"
            ),
            "{text}"
        );
        assert!(text.contains("60000"), "{text}");
        let kept: Vec<_> = all.iter().filter(|r| r.ts != bad.ts).cloned().collect();
        assert_eq!(parsed.readings, kept, "{value}");
    }
    // 60,000 MW exactly and 0 MW are values a reading may have.
    for value in ["60000.0", "0.0"] {
        let bytes = day_with_line(1500, &format!("11/22/2017 17:45:00,EST,Dual Fuel,{value}"));
        let parsed = parse_bytes(DAY, &bytes).unwrap();
        assert_eq!(
            (parsed.readings.len(), parsed.invalid.len()),
            (289, 0),
            "{value}"
        );
    }
    // A later row for the same fuel wins: a bad value it replaces does not count.
    let text = String::from_utf8(fixture(DAY)).unwrap();
    let fixed = text.replacen(
        "11/22/2017 17:45:00,EST,Dual Fuel,2558.0",
        "11/22/2017 17:45:00,EST,Dual Fuel,-1.0\r\n11/22/2017 17:45:00,EST,Dual Fuel,2558.0",
        1,
    );
    let parsed = parse_bytes(DAY, fixed.as_bytes()).unwrap();
    assert_eq!((parsed.readings, parsed.invalid.len()), (all, 0));
}

/// Defect 5 of issue 10: a value quoted in an error is cut short and its control characters
/// are escaped — a 50 MB field gives a short message, a quoted line break cannot forge a line
/// of its own, an escape sequence cannot reach the terminal.
#[test]
fn quoted_values_are_short_and_inert() {
    let huge = "9".repeat(50 << 20);
    for (line, field) in [
        (
            format!("11/22/2017 17:45:00,EST,Dual Fuel,{huge}x"),
            "Gen MW",
        ),
        (
            format!("11/22/2017 17:45:00,EST,{huge},1.0"),
            "Fuel Category",
        ),
        (format!("{huge},EST,Wind,1.0"), "Time Stamp"),
        (format!("11/22/2017 17:45:00,{huge},Wind,1.0"), "Time Zone"),
    ] {
        let e = reject(DAY, &day_with_line(1500, &line));
        let text = e.to_string();
        assert!(text.len() < 250, "{field}: {} bytes", text.len());
        assert!(text.contains(&format!("`{}…`", "9".repeat(60))), "{text}");
        assert!(text.contains(field), "{text}");
    }
    // A quoted field holding a line break and an escape sequence.
    let forged = "11/22/2017 17:45:00,EST,\"Wind\nerror: forged \u{1b}[2J\",1.0";
    let e = reject(DAY, &day_with_line(1500, forged));
    let text = e.to_string();
    assert!(!text.chars().any(char::is_control), "{text:?}");
    assert!(
        text.contains("unknown fuel `Wind\\nerror: forged \\u{1b}[2J`"),
        "{text}"
    );
    // A huge header line.
    let e = reject(DAY, format!("{huge}\r\n").as_bytes());
    assert!(e.to_string().len() < 300, "{e}");
}
