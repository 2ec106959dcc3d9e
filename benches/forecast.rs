#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn
//! One forecast + charge windows + band with 30 days of history (what the calculator does on
//! each reading), the band, the state snapshot and one update.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use chrono::{Duration, TimeZone, Utc};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ny_power::forecast::{charge_window_payload, charge_windows, Forecaster};
use ny_power::reading::{FuelMix, Reading};

fn thirty_days() -> Forecaster {
    let t0 = Utc.with_ymd_and_hms(2025, 2, 1, 5, 0, 0).unwrap();
    let mut fc = Forecaster::default();
    for i in 0..30 * 288 {
        let h = f64::from(i) / 12.0;
        let gas =
            4000.0 + 2000.0 * (h / 24.0 * std::f64::consts::TAU).sin() + (h * 7.3).sin() * 300.0;
        fc.update(&Reading {
            ts: t0 + Duration::minutes(5 * i64::from(i)),
            mix: FuelMix([3000.0, gas, 3300.0, 1.0, 230.0, 700.0, 1800.0]),
        });
    }
    fc
}

fn bench(c: &mut Criterion) {
    let fc = thirty_days();
    let now = fc.newest().unwrap_or_default();
    c.bench_function("forecast + charge_windows (30 days held)", |b| {
        b.iter(|| {
            let f = fc.forecast(black_box(now), None);
            f.map(|f| charge_windows(&f))
        })
    });
    c.bench_function("forecast + window payload + band payload", |b| {
        b.iter(|| {
            let f = fc.forecast(black_box(now), None);
            (f.map(|f| charge_window_payload(&f)), fc.band_payload())
        })
    });
    c.bench_function("state snapshot to JSON", |b| {
        b.iter(|| serde_json::to_vec(&fc.state()).map(|v| v.len()))
    });
    let mut live = fc.clone();
    let mut ts = now;
    c.bench_function("update with one reading", |b| {
        b.iter(|| {
            ts += Duration::minutes(5);
            live.update(&Reading {
                ts,
                mix: FuelMix([3000.0, 4000.0, 3300.0, 1.0, 230.0, 700.0, 1800.0]),
            })
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
