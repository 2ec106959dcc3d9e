//! Parse + intensity over a month of real data: the February 2025 monthly zip (28 daily CSVs,
//! 8246 readings) unzipped, parsed into readings under the reading policy, and the CO2
//! intensity of every reading computed with all three factor tables.
//!
//! `scripts/bench-parse.sh` runs this and the same work in pandas
//! (`scripts/bench_parse_pandas.py`) and prints both medians and the ratio.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point
#![allow(missing_docs)] // criterion_group! generates an undocumented `pub fn`.

use std::hint::black_box;
use std::io::Read;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ny_power::nyiso::{parse_bytes, FuelMixAccumulator};
use ny_power::{Factors, Reading};

const ZIP_NAME: &str = "20250201rtfuelmix_csv.zip";
const ZIP: &[u8] = include_bytes!("../tests/fixtures/nyiso/20250201rtfuelmix_csv.zip");

/// The measured work: unzip + parse + three intensities per reading. Returns the number of
/// readings and the sum of all intensities (so nothing can be optimised away).
fn month(zip: &[u8]) -> (usize, f64) {
    let parsed = match parse_bytes(ZIP_NAME, zip) {
        Ok(p) => p,
        Err(e) => panic!("the fixture must parse: {e}"),
    };
    let mut sum = 0.0;
    for r in &parsed.readings {
        for f in Factors::ALL {
            sum += f.intensity(&r.mix).unwrap_or(0.0);
        }
    }
    (parsed.readings.len(), sum)
}

/// Where the time goes: inflating the zip members only.
fn unzip(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = match zip::ZipArchive::new(std::io::Cursor::new(zip)) {
        Ok(a) => a,
        Err(e) => panic!("the fixture must be a zip: {e}"),
    };
    let mut out = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let Ok(mut f) = archive.by_index(i) else {
            panic!("member {i}")
        };
        let mut data = Vec::with_capacity(usize::try_from(f.size()).unwrap_or(0));
        if let Err(e) = f.read_to_end(&mut data) {
            panic!("member {i}: {e}");
        }
        out.push((f.name().to_owned(), data));
    }
    out
}

/// Where the time goes: parsing the already inflated CSVs.
fn parse_csvs(members: &[(String, Vec<u8>)]) -> Vec<Reading> {
    let mut acc = FuelMixAccumulator::new();
    for (name, data) in members {
        if let Err(e) = acc.add_csv(name, data) {
            panic!("{e}");
        }
    }
    acc.finish().readings
}

/// Where the time goes: the three intensities of every reading.
fn intensities(readings: &[Reading]) -> f64 {
    readings
        .iter()
        .flat_map(|r| Factors::ALL.map(|f| f.intensity(&r.mix).unwrap_or(0.0)))
        .sum()
}

fn bench(c: &mut Criterion) {
    let (n, _) = month(ZIP);
    assert_eq!(n, 8246, "readings in February 2025");
    let mut group = c.benchmark_group("feb2025");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(30);
    group.bench_function("parse_intensity", |b| b.iter(|| month(black_box(ZIP))));

    // The parts, for finding where the time goes.
    let members = unzip(ZIP);
    let readings = parse_csvs(&members);
    group.bench_function("part_unzip", |b| b.iter(|| unzip(black_box(ZIP))));
    group.bench_function("part_parse_csvs", |b| {
        b.iter(|| parse_csvs(black_box(&members)))
    });
    group.bench_function("part_intensities", |b| {
        b.iter(|| intensities(black_box(&readings)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
