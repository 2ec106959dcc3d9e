//! The NYISO parser on real NYISO files (tests/fixtures/nyiso, see SOURCES.md there).
//!
//! Every expected number below was derived once, independently of ny-power, with pandas
//! (Python 3.11, pandas `read_csv` on each file / each member of the zip): rows grouped by
//! (time stamp, zone) with the instant = local time + 5 h (EST) or + 4 h (EDT), the later row of
//! a (instant, fuel) pair kept (rows of all files in file order, then row order), readings with
//! fewer than seven fuels dropped; intensities with the factors of DESIGN §4 typed in by hand
//! (ny-power-2016 as the fractions written there). The DST instants were derived with Python's
//! `csv` + `datetime` the same way. The numbers are written here literally; nothing is
//! recomputed by the code under test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;

use chrono::{DateTime, TimeZone, Utc};
use ny_power::nyiso::{local_to_utc, parse_bytes, parse_fuel_mix_csv, FuelMixAccumulator};
use ny_power::{Factors, Fuel, Reading};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/nyiso/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn assert_close(actual: f64, expected: f64, tol: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tol,
        "{what}: got {actual}, expected {expected} ± {tol}"
    );
}

/// MW in contract order: dual fuel, natural gas, nuclear, other fossil fuels, other renewables,
/// wind, hydro.
fn mw(r: &Reading) -> [f64; 7] {
    Fuel::ALL.map(|f| r.mix.get(f))
}

fn strictly_increasing(readings: &[Reading]) -> bool {
    readings.windows(2).all(|w| w[0].ts < w[1].ts)
}

fn fuel_sums(readings: &[Reading]) -> [f64; 7] {
    let mut sums = [0.0; 7];
    for r in readings {
        for (s, v) in sums.iter_mut().zip(mw(r)) {
            *s += v;
        }
    }
    sums
}

fn epoch_sum(readings: &[Reading]) -> i64 {
    readings.iter().map(|r| r.ts.timestamp()).sum()
}

fn intensity_sum(readings: &[Reading], factors: Factors) -> f64 {
    readings
        .iter()
        .map(|r| factors.intensity(&r.mix).unwrap())
        .sum()
}

// ---------------------------------------------------------------------------------------------
// 2016: old format (`Gen MWh`, times without seconds, CRLF, no final newline)

#[test]
fn old_format_2016_day() {
    let parsed =
        parse_fuel_mix_csv("20160119rtfuelmix.csv", &fixture("20160119rtfuelmix.csv")).unwrap();
    let r = &parsed.readings;
    assert!(parsed.incomplete.is_empty(), "{:?}", parsed.incomplete);
    assert_eq!(r.len(), 290);
    assert!(strictly_increasing(r));

    // `01/19/2016 00:05,EST,…` → 05:05 UTC; the file ends with the next day's 00:00.
    assert_eq!(r[0].ts, utc(2016, 1, 19, 5, 5, 0));
    assert_eq!(
        mw(&r[0]),
        [2678.0, 1820.0, 5425.0, 169.0, 248.0, 1173.0, 2385.0]
    );
    assert_eq!(r[0].total_mw(), 13898.0);
    assert_close(
        Factors::Direct.intensity(&r[0].mix).unwrap(),
        151.408965,
        1e-6,
        "direct",
    );
    assert_close(
        Factors::Lifecycle.intensity(&r[0].mix).unwrap(),
        205.174903,
        1e-6,
        "lifecycle",
    );
    assert_close(
        Factors::NyPower2016.intensity(&r[0].mix).unwrap(),
        171.317301,
        1e-6,
        "2016",
    );
    let last = r.last().unwrap();
    assert_eq!(last.ts, utc(2016, 1, 20, 5, 0, 0));
    assert_eq!(
        mw(last),
        [2782.0, 1914.0, 5423.0, 167.0, 248.0, 1232.0, 3195.0]
    );

    // The two off-grid snapshots (16:38 and 16:41 EST) are kept.
    let off_grid: Vec<_> = r
        .iter()
        .filter(|r| r.ts.timestamp() % 300 != 0)
        .map(|r| r.ts)
        .collect();
    assert_eq!(
        off_grid,
        [utc(2016, 1, 19, 21, 38, 0), utc(2016, 1, 19, 21, 41, 0)]
    );

    assert_eq!(epoch_sum(r), 421_434_688_740);
    assert_eq!(
        fuel_sums(r),
        [998971.0, 620920.0, 1572732.0, 63981.0, 70958.0, 406475.0, 930977.0]
    );
    assert_close(
        intensity_sum(r, Factors::Direct),
        46304.165032,
        1e-5,
        "Σ direct",
    );
    assert_close(
        intensity_sum(r, Factors::Lifecycle),
        62676.135348,
        1e-5,
        "Σ lifecycle",
    );
    assert_close(
        intensity_sum(r, Factors::NyPower2016),
        53237.765184,
        1e-5,
        "Σ 2016",
    );
}

// ---------------------------------------------------------------------------------------------
// 2017: new format (`Gen MW`, `HH:MM:SS`)

#[test]
fn new_format_2017_day() {
    let parsed =
        parse_fuel_mix_csv("20171122rtfuelmix.csv", &fixture("20171122rtfuelmix.csv")).unwrap();
    let r = &parsed.readings;
    assert!(parsed.incomplete.is_empty(), "{:?}", parsed.incomplete);
    assert_eq!(r.len(), 289);
    assert!(strictly_increasing(r));

    // DESIGN §4 check value: 2017-11-22 00:05 EST → 05:05Z, 12752 MW, 113.782 g/kWh.
    assert_eq!(r[0].ts, utc(2017, 11, 22, 5, 5, 0));
    assert_eq!(
        mw(&r[0]),
        [1447.0, 1565.0, 5413.0, 0.0, 271.0, 509.0, 3547.0]
    );
    assert_eq!(r[0].total_mw(), 12752.0);
    let v2016 = Factors::NyPower2016.intensity(&r[0].mix).unwrap();
    assert_close(v2016, 113.78195, 1e-5, "ny-power-2016");
    assert_eq!(format!("{v2016:.3}"), "113.782");
    assert_close(
        Factors::Direct.intensity(&r[0].mix).unwrap(),
        110.763921,
        1e-6,
        "direct",
    );
    assert_close(
        Factors::Lifecycle.intensity(&r[0].mix).unwrap(),
        153.972673,
        1e-6,
        "lifecycle",
    );

    // This day ends at 23:55 (no next-day 00:00 row).
    let last = r.last().unwrap();
    assert_eq!(last.ts, utc(2017, 11, 23, 4, 55, 0));
    assert_eq!(
        mw(last),
        [1427.0, 1579.0, 5422.0, 0.0, 279.0, 473.0, 3445.0]
    );

    let off_grid: Vec<_> = r
        .iter()
        .filter(|r| r.ts.timestamp() % 300 != 0)
        .map(|r| r.ts)
        .collect();
    assert_eq!(
        off_grid,
        [utc(2017, 11, 22, 5, 7, 34), utc(2017, 11, 22, 5, 9, 40)]
    );

    assert_eq!(epoch_sum(r), 436_785_844_634);
    assert_eq!(
        fuel_sums(r),
        [553672.0, 804204.0, 1565054.0, 12.0, 79780.0, 119197.0, 1073917.0]
    );
    assert_close(
        intensity_sum(r, Factors::Direct),
        41334.660983,
        1e-5,
        "Σ direct",
    );
    assert_close(
        intensity_sum(r, Factors::Lifecycle),
        56185.900478,
        1e-5,
        "Σ lifecycle",
    );
    assert_close(
        intensity_sum(r, Factors::NyPower2016),
        43910.118937,
        1e-5,
        "Σ 2016",
    );
}

// ---------------------------------------------------------------------------------------------
// February 2025 monthly zip: 28 daily files

const ZIP: &str = "20250201rtfuelmix_csv.zip";

/// Complete readings of each daily file parsed on its own (pandas, see the top of this file).
/// Each day holds its own 00:05 … 24:00 (the next day's 00:00); off-grid snapshots make the
/// busy days longer; 02-06 ends at 23:55, 02-15 starts at 00:01.
const PER_FILE: [(&str, usize); 28] = [
    ("20250201rtfuelmix.csv", 288),
    ("20250202rtfuelmix.csv", 290),
    ("20250203rtfuelmix.csv", 289),
    ("20250204rtfuelmix.csv", 294),
    ("20250205rtfuelmix.csv", 294),
    ("20250206rtfuelmix.csv", 291),
    ("20250207rtfuelmix.csv", 297),
    ("20250208rtfuelmix.csv", 296),
    ("20250209rtfuelmix.csv", 288),
    ("20250210rtfuelmix.csv", 299),
    ("20250211rtfuelmix.csv", 309),
    ("20250212rtfuelmix.csv", 300),
    ("20250213rtfuelmix.csv", 308),
    ("20250214rtfuelmix.csv", 299),
    ("20250215rtfuelmix.csv", 295),
    ("20250216rtfuelmix.csv", 288),
    ("20250217rtfuelmix.csv", 292),
    ("20250218rtfuelmix.csv", 297),
    ("20250219rtfuelmix.csv", 300),
    ("20250220rtfuelmix.csv", 296),
    ("20250221rtfuelmix.csv", 300),
    ("20250222rtfuelmix.csv", 290),
    ("20250223rtfuelmix.csv", 290),
    ("20250224rtfuelmix.csv", 290),
    ("20250225rtfuelmix.csv", 291),
    ("20250226rtfuelmix.csv", 293),
    ("20250227rtfuelmix.csv", 290),
    ("20250228rtfuelmix.csv", 292),
];

fn zip_members() -> Vec<(String, Vec<u8>)> {
    let bytes = fixture(ZIP);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        out.push((f.name().to_owned(), data));
    }
    out.sort();
    out
}

#[test]
fn every_day_of_the_monthly_zip_parses_with_its_count() {
    let members = zip_members();
    let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
    let expected: Vec<&str> = PER_FILE.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, expected);
    for ((name, data), (_, count)) in members.iter().zip(PER_FILE) {
        let parsed = parse_fuel_mix_csv(name, data).unwrap();
        assert_eq!(parsed.readings.len(), count, "{name}");
        assert!(
            parsed.incomplete.is_empty(),
            "{name}: {:?}",
            parsed.incomplete
        );
        assert!(strictly_increasing(&parsed.readings), "{name}");
    }
}

#[test]
fn monthly_zip_as_a_whole() {
    let parsed = parse_bytes(ZIP, &fixture(ZIP)).unwrap();
    let r = &parsed.readings;
    assert!(parsed.incomplete.is_empty());
    // No instant is in two files, so the month is the sum of the days: 8246.
    assert_eq!(r.len(), 8246);
    assert_eq!(r.len(), PER_FILE.iter().map(|(_, n)| n).sum::<usize>());
    assert!(strictly_increasing(r));

    // DESIGN §4 check values: 2025-02-01 00:05 EST.
    assert_eq!(r[0].ts, utc(2025, 2, 1, 5, 5, 0));
    assert_eq!(
        mw(&r[0]),
        [4613.0, 3487.0, 3274.0, 1.0, 232.0, 671.0, 1846.0]
    );
    assert_eq!(r[0].total_mw(), 14124.0);
    let direct = Factors::Direct.intensity(&r[0].mix).unwrap();
    let lifecycle = Factors::Lifecycle.intensity(&r[0].mix).unwrap();
    let v2016 = Factors::NyPower2016.intensity(&r[0].mix).unwrap();
    assert_close(direct, 248.747124, 1e-6, "direct");
    assert_close(lifecycle, 326.077696, 1e-6, "lifecycle");
    assert_close(v2016, 277.273506, 1e-6, "ny-power-2016");
    assert_eq!(
        format!("{direct:.2} {lifecycle:.2} {v2016:.2}"),
        "248.75 326.08 277.27"
    );

    // The last file's next-day row: 03/01/2025 00:00 EST.
    let last = r.last().unwrap();
    assert_eq!(last.ts, utc(2025, 3, 1, 5, 0, 0));
    assert_eq!(
        mw(last),
        [3128.0, 3390.0, 3238.0, 1.0, 209.0, 2070.0, 2108.0]
    );

    // Real off-grid snapshot named in SOURCES.md, and the day that starts at 00:01.
    assert!(r.iter().any(|x| x.ts == utc(2025, 2, 4, 13, 23, 34)));
    assert!(r.iter().any(|x| x.ts == utc(2025, 2, 15, 5, 1, 0)));
    // 02-06 ends at 23:55 and 02-07 starts at 00:05: there is no 02-07 00:00 reading.
    assert!(!r.iter().any(|x| x.ts == utc(2025, 2, 7, 5, 0, 0)));

    assert_eq!(epoch_sum(r), 14_344_701_905_039);
    assert_eq!(
        fuel_sums(r),
        [36698797.0, 32481094.0, 26859455.0, 95806.0, 2422989.0, 7815207.0, 21311805.0]
    );
    assert_close(
        intensity_sum(r, Factors::Direct),
        1955910.268441,
        1e-4,
        "Σ direct",
    );
    assert_close(
        intensity_sum(r, Factors::Lifecycle),
        2571951.406767,
        1e-4,
        "Σ lifecycle",
    );
    assert_close(
        intensity_sum(r, Factors::NyPower2016),
        2160650.247966,
        1e-4,
        "Σ 2016",
    );
    let max_direct = r
        .iter()
        .map(|x| Factors::Direct.intensity(&x.mix).unwrap())
        .fold(f64::MIN, f64::max);
    assert_close(max_direct, 274.308933, 1e-6, "max direct");
}

#[test]
fn zip_members_added_one_by_one_equal_the_zip() {
    let mut acc = FuelMixAccumulator::new();
    // Reverse order: the result must not depend on the order files are added in, because no
    // instant is in two files.
    for (name, data) in zip_members().iter().rev() {
        acc.add_csv(name, data).unwrap();
    }
    let one_by_one = acc.finish();
    let whole = parse_bytes(ZIP, &fixture(ZIP)).unwrap();
    assert_eq!(one_by_one, whole);
}

#[test]
fn a_reading_split_across_two_files_joins_and_later_rows_win() {
    // The first day of the zip cut in the middle of its 00:05 reading (after 3 of 7 rows),
    // then a third file correcting one value.
    let text = String::from_utf8(zip_members()[0].1.clone()).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    let header = lines[0];
    let first = [header, lines[1], lines[2], lines[3]].join("\r\n");
    let rest = std::iter::once(header)
        .chain(lines[4..].iter().copied())
        .collect::<Vec<_>>()
        .join("\r\n");
    let fix = format!("{header}\n02/01/2025 00:05:00,EST,Wind,700.0\n");

    let mut acc = FuelMixAccumulator::new();
    acc.add_csv("a.csv", first.as_bytes()).unwrap();
    acc.add_csv("b.csv", rest.as_bytes()).unwrap();
    let joined = acc.clone().finish();
    let whole = parse_fuel_mix_csv("20250201rtfuelmix.csv", text.as_bytes()).unwrap();
    assert_eq!(joined, whole);
    assert_eq!(joined.readings.len(), 288);

    acc.add_csv("c.csv", fix.as_bytes()).unwrap();
    let fixed = acc.finish();
    assert_eq!(fixed.readings[0].mix.get(Fuel::Wind), 700.0);
    assert_eq!(fixed.readings[0].total_mw(), 14124.0 - 671.0 + 700.0);
    assert_eq!(fixed.readings[1..], whole.readings[1..]);
}

// ---------------------------------------------------------------------------------------------
// DST

#[test]
fn fall_back_2025_excerpt_keeps_both_one_oclock_hours_apart() {
    // Real rtfuelmix of 2025-11-02 filtered to Nuclear and Wind: every reading is incomplete.
    let name = "excerpts/rtfuelmix_20251102.csv";
    let parsed = parse_fuel_mix_csv(name, &fixture(name)).unwrap();
    assert!(parsed.readings.is_empty());
    let inc = &parsed.incomplete;
    // 300 (time stamp, zone) pairs → 300 distinct instants: nothing merged.
    assert_eq!(inc.len(), 300);
    assert!(inc.windows(2).all(|w| w[0].ts < w[1].ts));
    assert_eq!(inc[0].ts, utc(2025, 11, 2, 4, 5, 0)); // 00:05 EDT
    assert_eq!(inc[299].ts, utc(2025, 11, 3, 5, 0, 0)); // next day 00:00 EST
    for i in inc {
        assert_eq!(
            i.missing,
            [
                Fuel::DualFuel,
                Fuel::NaturalGas,
                Fuel::OtherFossilFuels,
                Fuel::OtherRenewables,
                Fuel::Hydro
            ]
        );
        assert_eq!(i.file, name);
    }
    // 01:00 EDT (line 24) = 05:00Z … 01:55 EDT = 05:55Z, then 01:00 EST (line 48) = 06:00Z.
    let at = |ts| inc.iter().find(|i| i.ts == ts).unwrap();
    assert_eq!(at(utc(2025, 11, 2, 5, 0, 0)).line, 24);
    assert_eq!(at(utc(2025, 11, 2, 6, 0, 0)).line, 48);
    let one_oclock: Vec<_> = inc
        .iter()
        .filter(|i| i.ts >= utc(2025, 11, 2, 5, 0, 0) && i.ts < utc(2025, 11, 2, 7, 0, 0))
        .map(|i| i.ts)
        .collect();
    let expected: Vec<_> = (0..24)
        .map(|k| utc(2025, 11, 2, 5, 0, 0) + chrono::Duration::minutes(5 * k))
        .collect();
    assert_eq!(one_oclock, expected);
    // A regular 5-minute grid across the whole day: 300 instants, 04:05Z … 05:00Z next day.
    assert!(inc
        .windows(2)
        .all(|w| w[1].ts - w[0].ts == chrono::Duration::minutes(5)));
}

/// Distinct (time stamp, zone) pairs of a `pal` file in file order, and their UTC instants.
fn pal_instants(name: &str) -> Vec<((String, String), DateTime<Utc>)> {
    let bytes = fixture(name);
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "Time Stamp");
    assert_eq!(&headers[1], "Time Zone");
    let mut out: Vec<((String, String), DateTime<Utc>)> = Vec::new();
    for rec in reader.records() {
        let rec = rec.unwrap();
        let key = (rec[0].to_owned(), rec[1].to_owned());
        let ts = local_to_utc(&rec[0], &rec[1]).unwrap();
        match out.last() {
            Some((k, t)) if *k == key => assert_eq!(*t, ts),
            _ => out.push((key, ts)),
        }
    }
    out
}

#[test]
fn fall_back_2022_pal_times_convert_without_merging() {
    let stamps = pal_instants("20221106pal.csv");
    assert_eq!(stamps.len(), 302); // 288 + the repeated hour (12) + 2 off-grid snapshots
    assert!(
        stamps.windows(2).all(|w| w[0].1 < w[1].1),
        "UTC order = file order"
    );
    assert!(stamps
        .windows(2)
        .all(|w| w[1].1 - w[0].1 <= chrono::Duration::minutes(5)));
    assert_eq!(stamps[0].1, utc(2022, 11, 6, 4, 0, 0)); // 00:00 EDT
    assert_eq!(stamps.last().unwrap().1, utc(2022, 11, 7, 4, 55, 0)); // 23:55 EST
    let find = |t: &str, z: &str| {
        stamps
            .iter()
            .find(|((a, b), _)| a == t && b == z)
            .map(|(_, ts)| *ts)
            .unwrap()
    };
    assert_eq!(
        find("11/06/2022 01:00:00", "EDT"),
        utc(2022, 11, 6, 5, 0, 0)
    );
    assert_eq!(
        find("11/06/2022 01:55:00", "EDT"),
        utc(2022, 11, 6, 5, 55, 0)
    );
    assert_eq!(
        find("11/06/2022 01:00:00", "EST"),
        utc(2022, 11, 6, 6, 0, 0)
    );
    assert_eq!(
        find("11/06/2022 01:55:00", "EST"),
        utc(2022, 11, 6, 6, 55, 0)
    );
    assert_eq!(
        find("11/06/2022 02:00:00", "EST"),
        utc(2022, 11, 6, 7, 0, 0)
    );
}

#[test]
fn spring_forward_2023_pal_times_convert_without_a_gap() {
    let stamps = pal_instants("20230312pal.csv");
    assert_eq!(stamps.len(), 282); // 276 grid stamps (no 02:xx) + off-grid snapshots
    assert!(
        stamps.iter().all(|((t, _), _)| &t[11..13] != "02"),
        "no 02:xx in the file"
    );
    assert!(stamps.windows(2).all(|w| w[0].1 < w[1].1));
    // 01:55 EST = 06:55Z is followed by 03:00 EDT = 07:00Z: no hole in UTC.
    assert!(stamps
        .windows(2)
        .all(|w| w[1].1 - w[0].1 <= chrono::Duration::minutes(5)));
    let i = stamps
        .iter()
        .position(|((t, z), _)| t == "03/12/2023 01:55:00" && z == "EST")
        .unwrap();
    assert_eq!(stamps[i].1, utc(2023, 3, 12, 6, 55, 0));
    assert_eq!(
        stamps[i + 1].0,
        ("03/12/2023 03:00:00".to_owned(), "EDT".to_owned())
    );
    assert_eq!(stamps[i + 1].1, utc(2023, 3, 12, 7, 0, 0));
    assert_eq!(stamps[0].1, utc(2023, 3, 12, 5, 0, 0));
    assert_eq!(stamps.last().unwrap().1, utc(2023, 3, 13, 3, 55, 0));
}

/// SYNTHETIC (built here, not NYISO data): a full seven-fuel fall-back day,
/// 11/02/2025 00:00 EDT … 02:00 EST in 5-minute steps, written with the EST block *before* the
/// EDT block so that file order and UTC order differ. Nuclear carries the step's position in
/// true time order so the order of the output can be checked.
#[test]
fn synthetic_full_fall_back_day_sorts_by_utc() {
    let mut steps: Vec<(String, &str)> = Vec::new();
    for m in (0..120).step_by(5) {
        steps.push((format!("11/02/2025 {:02}:{:02}:00", m / 60, m % 60), "EDT"));
        // 00:00–01:55
    }
    for m in (60..125).step_by(5) {
        steps.push((format!("11/02/2025 {:02}:{:02}:00", m / 60, m % 60), "EST"));
        // 01:00–02:00
    }
    assert_eq!(steps.len(), 24 + 13);
    let row = |k: usize, (t, z): &(String, &str)| -> String {
        Fuel::ALL
            .iter()
            .map(|f| {
                let v = if *f == Fuel::Nuclear { k as f64 } else { 100.0 };
                format!("{t},{z},{},{v:.1}\r\n", f.nyiso_name())
            })
            .collect()
    };
    let mut csv = String::from("Time Stamp,Time Zone,Fuel Category,Gen MW\r\n");
    for (k, s) in steps.iter().enumerate().skip(24) {
        csv += &row(k, s);
    }
    for (k, s) in steps.iter().enumerate().take(24) {
        csv += &row(k, s);
    }
    let parsed = parse_fuel_mix_csv("synthetic-20251102.csv", csv.as_bytes()).unwrap();
    assert!(parsed.incomplete.is_empty());
    let r = &parsed.readings;
    assert_eq!(r.len(), 37);
    let order: Vec<f64> = r.iter().map(|x| x.mix.get(Fuel::Nuclear)).collect();
    assert_eq!(order, (0..37).map(|k| k as f64).collect::<Vec<_>>());
    // 00:00 EDT = 04:00Z, a regular 5-minute grid up to 02:00 EST = 07:00Z.
    assert_eq!(r[0].ts, utc(2025, 11, 2, 4, 0, 0));
    assert!(r
        .windows(2)
        .all(|w| w[1].ts - w[0].ts == chrono::Duration::minutes(5)));
    assert_eq!(r[36].ts, utc(2025, 11, 2, 7, 0, 0));
    // Same wall clock, different instants.
    assert_eq!(r[12].ts, utc(2025, 11, 2, 5, 0, 0)); // 01:00 EDT
    assert_eq!(r[24].ts, utc(2025, 11, 2, 6, 0, 0)); // 01:00 EST
}
