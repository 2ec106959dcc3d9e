//! `ny-power inspect FILE…` and `ny-power --help`, run as the real binary.
//!
//! The expected readings of the real fixtures are in `tests/fixtures/nyiso/expected/`, derived
//! once with pandas by `tests/fixtures/nyiso/expected/derive.py` (independently of ny-power: see
//! that script) and checked in.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const SLUGS: [&str; 7] = [
    "dual_fuel",
    "natural_gas",
    "nuclear",
    "other_fossil_fuels",
    "other_renewables",
    "wind",
    "hydro",
];
const TABLES: [&str; 3] = ["direct", "lifecycle", "ny-power-2016"];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/nyiso")
        .join(name)
}

fn ny_power(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ny-power"))
        .args(args)
        .output()
        .unwrap()
}

fn inspect(files: &[&Path]) -> Output {
    let args: Vec<&str> = std::iter::once("inspect")
        .chain(files.iter().map(|p| p.to_str().unwrap()))
        .collect();
    ny_power(&args)
}

fn stdout_lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Compares inspect's JSON lines with an expected-readings file (ts, seven MW, three
/// intensities with 4 decimals).
fn assert_matches_expected(lines: &[Value], expected_file: &str) {
    let text = std::fs::read_to_string(fixture(&format!("expected/{expected_file}"))).unwrap();
    let mut rows = text.lines();
    let header = rows.next().unwrap();
    assert_eq!(
        header,
        "ts,dual_fuel,natural_gas,nuclear,other_fossil_fuels,other_renewables,wind,hydro,direct,lifecycle,ny-power-2016"
    );
    let rows: Vec<Vec<&str>> = rows.map(|r| r.split(',').collect()).collect();
    assert_eq!(lines.len(), rows.len(), "number of readings");
    for (i, (line, row)) in lines.iter().zip(&rows).enumerate() {
        let at = format!("reading {i} ({})", row[0]);
        assert_eq!(line["ts"], row[0], "{at}");
        let mut total = 0.0;
        for (k, slug) in SLUGS.iter().enumerate() {
            let expected: f64 = row[1 + k].parse().unwrap();
            assert_eq!(line["fuels"][slug].as_f64(), Some(expected), "{at}: {slug}");
            total += expected;
        }
        assert_eq!(line["fuels"].as_object().unwrap().len(), 7, "{at}");
        assert_eq!(line["total_mw"].as_f64(), Some(total), "{at}");
        for (k, table) in TABLES.iter().enumerate() {
            let expected: f64 = row[8 + k].parse().unwrap();
            let got = line["co2"][table].as_f64().unwrap();
            assert!(
                (got - expected).abs() <= 0.5e-4 + 1e-9,
                "{at}: {table}: {got} vs {expected}"
            );
        }
    }
}

#[test]
fn every_real_fuel_mix_fixture_gives_exactly_the_policy_readings() {
    for (input, expected) in [
        ("20160119rtfuelmix.csv", "20160119rtfuelmix.readings.csv"),
        ("20171122rtfuelmix.csv", "20171122rtfuelmix.readings.csv"),
        (
            "20250201rtfuelmix_csv.zip",
            "20250201rtfuelmix_csv.readings.csv",
        ),
    ] {
        let out = inspect(&[&fixture(input)]);
        assert!(out.status.success(), "{input}: {}", stderr(&out));
        assert_eq!(
            stderr(&out),
            "",
            "{input}: all readings are complete: no warnings"
        );
        let lines = stdout_lines(&out);
        assert_matches_expected(&lines, expected);
    }
}

#[test]
fn first_line_of_the_month_is_the_design_check_value() {
    let out = inspect(&[&fixture("20250201rtfuelmix_csv.zip")]);
    let first = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let v: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(v["ts"], "2025-02-01T05:05:00Z");
    assert_eq!(
        v["fuels"],
        serde_json::json!({"dual_fuel": 4613.0, "natural_gas": 3487.0, "nuclear": 3274.0,
            "other_fossil_fuels": 1.0, "other_renewables": 232.0, "wind": 671.0, "hydro": 1846.0})
    );
    assert_eq!(v["total_mw"], 14124.0);
    let co2 = |t: &str| format!("{:.2}", v["co2"][t].as_f64().unwrap());
    assert_eq!(
        [co2("direct"), co2("lifecycle"), co2("ny-power-2016")],
        ["248.75", "326.08", "277.27"]
    );
}

#[test]
fn files_in_any_order_come_out_in_utc_order() {
    let (d2016, d2017) = (
        fixture("20160119rtfuelmix.csv"),
        fixture("20171122rtfuelmix.csv"),
    );
    let out = inspect(&[&d2017, &d2016]);
    assert!(out.status.success());
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 290 + 289);
    assert_eq!(lines[0]["ts"], "2016-01-19T05:05:00Z");
    assert_eq!(lines[289]["ts"], "2016-01-20T05:00:00Z");
    assert_eq!(lines[290]["ts"], "2017-11-22T05:05:00Z");
    let ts: Vec<&str> = lines.iter().map(|l| l["ts"].as_str().unwrap()).collect();
    // RFC 3339 UTC with a fixed width sorts as text in time order.
    assert!(ts.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn incomplete_readings_are_warnings_on_stderr() {
    // Real 2025-11-02 (DST fall-back) data filtered to Nuclear and Wind: no complete reading.
    let out = inspect(&[&fixture("excerpts/rtfuelmix_20251102.csv")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    let warnings: Vec<&str> = err.lines().collect();
    assert_eq!(warnings.len(), 300);
    let path = fixture("excerpts/rtfuelmix_20251102.csv")
        .display()
        .to_string();
    let missing = "(missing dual_fuel, natural_gas, other_fossil_fuels, other_renewables, hydro)";
    assert_eq!(
        warnings[0],
        format!("warning: {path}: line 2: incomplete reading at 2025-11-02T04:05:00Z left out {missing}")
    );
    // 01:00 EDT (line 24) and 01:00 EST (line 48) are two instants an hour apart.
    assert!(warnings.contains(
        &format!(
        "warning: {path}: line 24: incomplete reading at 2025-11-02T05:00:00Z left out {missing}"
    )
        .as_str()
    ));
    assert!(warnings.contains(
        &format!(
        "warning: {path}: line 48: incomplete reading at 2025-11-02T06:00:00Z left out {missing}"
    )
        .as_str()
    ));
    assert!(warnings[299].contains("incomplete reading at 2025-11-03T05:00:00Z"));
}

/// The real 2017-11-22 file with line 1000 (`11/22/2017 11:45:00,EST,Other Renewables,277.0`)
/// changed to an unknown fuel.
fn write_bad_day(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(fixture("20171122rtfuelmix.csv")).unwrap();
    let mut lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[999], "11/22/2017 11:45:00,EST,Other Renewables,277.0");
    lines[999] = "11/22/2017 11:45:00,EST,Coal,277.0";
    let path = dir.join("20171122rtfuelmix.csv");
    std::fs::write(&path, lines.join("\r\n")).unwrap();
    path
}

#[test]
fn a_rejected_file_prints_its_error_and_nothing_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write_bad_day(dir.path());
    let out = inspect(&[&bad]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "nothing of a rejected file on stdout"
    );
    assert_eq!(
        stderr(&out),
        format!(
            "error: {}: line 1000: field `Fuel Category`: unknown fuel `Coal`\n",
            bad.display()
        )
    );

    // With a good file: the good file's readings only, and still exit status 1.
    let good = fixture("20160119rtfuelmix.csv");
    let alone = inspect(&[&good]);
    let out = inspect(&[&bad, &good]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, alone.stdout);
    assert!(stderr(&out).contains("unknown fuel `Coal`"));

    // An HTML error page saved under a fuel-mix name.
    let html = dir.path().join("20250203rtfuelmix.csv");
    std::fs::write(
        &html,
        "<html><head><title>404 Not Found</title></head></html>\n",
    )
    .unwrap();
    let out = inspect(&[&html]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "error: {}: line 1: not a fuel-mix CSV: starts like an HTML page (`<html>",
            html.display()
        )),
        "{err}"
    );

    // A file that does not exist.
    let missing = dir.path().join("20250204rtfuelmix.csv");
    let out = inspect(&[&missing]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).starts_with(&format!("error: {}: cannot read: ", missing.display())));
}

#[test]
fn a_reading_split_across_files_joins_up() {
    // 2017-11-22 cut after line 4: the 00:05 reading's first three rows (dual fuel, natural gas,
    // nuclear) are in the first file, the other four in the second.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("20171122rtfuelmix.csv")).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    std::fs::write(&a, lines[..4].join("\r\n")).unwrap();
    std::fs::write(&b, [&lines[..1], &lines[4..]].concat().join("\r\n")).unwrap();

    let whole = inspect(&[&fixture("20171122rtfuelmix.csv")]);
    let first_only = inspect(&[&a]);
    assert!(first_only.stdout.is_empty());
    assert!(
        stderr(&first_only).contains("missing other_fossil_fuels, other_renewables, wind, hydro")
    );
    let out = inspect(&[&a, &b]);
    assert!(out.status.success());
    assert_eq!(stderr(&out), "");
    assert_eq!(out.stdout, whole.stdout);

    // A later file's row for the same instant and fuel wins.
    let fix = dir.path().join("c.csv");
    std::fs::write(
        &fix,
        "Time Stamp,Time Zone,Fuel Category,Gen MW\n11/22/2017 00:05:00,EST,Wind,600.0\n",
    )
    .unwrap();
    let out = inspect(&[&a, &b, &fix]);
    let first = &stdout_lines(&out)[0];
    assert_eq!(first["fuels"]["wind"], 600.0);
    assert_eq!(first["total_mw"], 12752.0 - 509.0 + 600.0);
}

#[test]
fn help_explains_each_command() {
    let out = ny_power(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let commands: Vec<(&str, &str)> = help
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands section")
        .lines()
        .take_while(|l| l.starts_with("  "))
        .map(|l| {
            let l = l.trim();
            l.split_once(char::is_whitespace)
                .map_or((l, ""), |(c, d)| (c, d.trim()))
        })
        .collect();
    assert!(commands.iter().any(|(c, _)| *c == "inspect"), "{help}");
    for (command, explanation) in &commands {
        assert!(
            explanation.split_whitespace().count() >= 4,
            "`{command}` is not explained: {help}"
        );
    }
    let inspect = commands.iter().find(|(c, _)| *c == "inspect").unwrap().1;
    assert!(
        inspect.contains("JSON") && inspect.contains("UTC order"),
        "{inspect}"
    );

    let out = ny_power(&["inspect", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("<FILE>..."), "{help}");
    assert!(help.contains("rtfuelmix_csv.zip"), "{help}");

    // No file: a usage error (clap's status 2), nothing on stdout.
    let out = ny_power(&["inspect"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("<FILE>"));
}

/// Defect 6 of issue 10: `inspect` leaves out a reading with a value no grid produces and
/// warns naming the file and the line of the value; a forged line break or escape sequence in
/// a rejected file's value reaches stderr escaped (defect 5).
#[test]
fn a_value_no_grid_produces_is_warned_and_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("20171122rtfuelmix.csv")).unwrap();
    let mut lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[999], "11/22/2017 11:45:00,EST,Other Renewables,277.0");
    lines[999] = "11/22/2017 11:45:00,EST,Other Renewables,-6814.0";
    let path = dir.path().join("20171122rtfuelmix.csv");
    std::fs::write(&path, lines.join("\r\n")).unwrap();
    let out = inspect(&[&path]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 288);
    assert_eq!(
        stderr(&out),
        format!(
            "warning: {}: line 1000: reading at 2017-11-22T16:45:00Z left out: fuel `other_renewables`: -6814 MW is not a generation value (expected a number from 0 to 60000)\n",
            path.display()
        )
    );

    lines[999] = "11/22/2017 11:45:00,EST,\"Wind\nerror: forged\u{1b}[31m\",1.0";
    std::fs::write(&path, lines.join("\r\n")).unwrap();
    let out = inspect(&[&path]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.trim_end().chars().any(char::is_control), "{err:?}");
    assert!(
        err.contains("unknown fuel `Wind\\nerror: forged\\u{1b}[31m`"),
        "{err}"
    );
}

/// The JSON line of a reading in the form `inspect` printed before its writer was made
/// allocation-free: a `serde_json::Map` of the intensities (`null` when there is none),
/// serialised to a `String`.
fn serde_json_line(r: &ny_power::Reading) -> String {
    let co2: serde_json::Map<String, Value> = ny_power::Factors::ALL
        .iter()
        .map(|f| {
            let v = f.intensity(&r.mix).map_or(Value::Null, Value::from);
            (f.name().to_owned(), v)
        })
        .collect();
    #[derive(serde::Serialize)]
    struct Line<'a> {
        ts: chrono::DateTime<chrono::Utc>,
        fuels: &'a ny_power::FuelMix,
        total_mw: f64,
        co2: serde_json::Map<String, Value>,
    }
    serde_json::to_string(&Line {
        ts: r.ts,
        fuels: &r.mix,
        total_mw: r.total_mw(),
        co2,
    })
    .unwrap()
}

/// `inspect`'s output is byte for byte the serde_json form of each reading, `null`
/// intensities included: a real day plus a reading where every fuel reports 0 MW (possible
/// values, no generation: no intensity).
#[test]
fn output_is_byte_identical_to_the_serde_json_form_nulls_included() {
    let dir = tempfile::tempdir().unwrap();
    let zero = dir.path().join("20171123rtfuelmix.csv");
    let mut text = String::from("Time Stamp,Time Zone,Fuel Category,Gen MW\r\n");
    for fuel in ny_power::Fuel::ALL {
        text.push_str(&format!(
            "11/23/2017 00:05:00,EST,{},0.0\r\n",
            fuel.nyiso_name()
        ));
    }
    std::fs::write(&zero, &text).unwrap();
    let files = [fixture("20171122rtfuelmix.csv"), zero];

    let mut acc = ny_power::nyiso::FuelMixAccumulator::new();
    for f in &files {
        acc.add(&f.display().to_string(), &std::fs::read(f).unwrap())
            .unwrap();
    }
    let readings = acc.finish().readings;
    assert_eq!(readings.len(), 289 + 1);
    let expected: String = readings.iter().map(|r| serde_json_line(r) + "\n").collect();
    assert!(expected.ends_with(
        r#""total_mw":0.0,"co2":{"direct":null,"lifecycle":null,"ny-power-2016":null}}
"#
    ));

    let out = inspect(&[&files[0], &files[1]]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
}
