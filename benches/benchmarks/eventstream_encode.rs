//! `eventstream_encode/*`: the mock's per-token work of building a ConverseStream text-delta
//! frame (JSON payload, headers, prelude and message CRCs), the user-space part of the CPU cost
//! of one token event that `scripts/stream_capacity.sh` reports for the whole process.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group};
use mock_services::bedrock::eventstream::{MAX_PADDING, padding, text_delta};

/// One token frame, with a plain word and with a word that needs JSON escaping.
pub fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("eventstream_encode");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(1));
    group.bench_function("token_frame", |b| {
        b.iter(|| text_delta(black_box(" status"), black_box(padding(MAX_PADDING))))
    });
    group.bench_function("token_frame_escaped", |b| {
        b.iter(|| {
            text_delta(
                black_box(" \"caf\u{e9}\"\n"),
                black_box(padding(MAX_PADDING)),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, encode);
