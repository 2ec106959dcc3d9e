//! Parse + intensity over a month of real data: the February 2025 monthly zip (28 daily CSVs,
//! 8246 readings) unzipped, parsed into readings under the reading policy, and the CO2
//! intensity of every reading computed with all three factor tables.
//!
//! `scripts/bench-parse.sh` runs this and the same work in pandas
//! (`scripts/bench_parse_pandas.py`) and prints both medians and the ratio.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ny_power::nyiso::parse_bytes;
use ny_power::Factors;

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

fn bench(c: &mut Criterion) {
    let (n, _) = month(ZIP);
    assert_eq!(n, 8246, "readings in February 2025");
    let mut group = c.benchmark_group("feb2025");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(30);
    group.bench_function("parse_intensity", |b| b.iter(|| month(black_box(ZIP))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
