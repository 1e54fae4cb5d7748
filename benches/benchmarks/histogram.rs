//! `histogram/*`: recording latencies into the project's HdrHistogram (µs, 3 significant
//! digits, auto-resize), which the collector does for every phase and every token gap.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group};
use mock_services::hist;

/// Values recorded per iteration.
const VALUES: usize = 1_000;

/// Latency-like values from 1 µs to a few seconds (a fixed LCG: no randomness between runs).
fn values() -> Vec<u64> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..VALUES)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // Spread over six decades, like itl gaps next to e2e times.
            let decade = 10u64.pow(((x >> 60) % 7) as u32);
            1 + (x >> 33) % (decade * 4)
        })
        .collect()
}

/// 1,000 records into a warm histogram, and the percentile summary a report takes.
pub fn record(c: &mut Criterion) {
    let values = values();
    let mut group = c.benchmark_group("histogram");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Elements(VALUES as u64));
    let mut h = hist::new_us();
    group.bench_function("record_1000", |b| {
        b.iter(|| {
            for v in &values {
                hist::record_us(&mut h, black_box(*v));
            }
        })
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("percentiles", |b| {
        b.iter(|| hist::Percentiles::of_us(black_box(&h)))
    });
    group.finish();
}

criterion_group!(benches, record);
