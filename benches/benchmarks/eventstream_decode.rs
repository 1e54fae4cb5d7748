//! `eventstream_decode/*`: the client's ConverseStream decoding, the per-token work every
//! streaming variant does (prelude CRC, frame decode with the message CRC, JSON of the delta).
//!
//! Frames are the mock's own encoding (`mock_services::bedrock::eventstream`), with the padding
//! field at its longest, as real Bedrock sends it.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use mock_services::bedrock::eventstream::{
    MAX_PADDING, Usage, message_start, message_stop, metadata, padding, text_delta,
};
use ragperf::client::ConverseStreamDecoder;

/// Tokens in the whole-stream benchmark (the seed's answers are 60-150 tokens).
const STREAM_TOKENS: usize = 100;

fn stream_frames() -> Vec<Bytes> {
    let p = padding(MAX_PADDING);
    let mut frames = vec![message_start(p)];
    frames.extend(
        (0..STREAM_TOKENS).map(|i| text_delta(if i % 2 == 0 { " the" } else { " site" }, p)),
    );
    frames.push(message_stop("end_turn", p));
    frames.push(metadata(Usage::new(50, STREAM_TOKENS as u64), 120, p));
    frames
}

/// One token frame into a fresh decoder, and a whole 100-token stream fed frame by frame.
pub fn decode(c: &mut Criterion) {
    let frame = text_delta(" status", padding(MAX_PADDING));
    let frames = stream_frames();
    let mut group = c.benchmark_group("eventstream_decode");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Bytes(frame.len() as u64));
    group.bench_function("token_frame", |b| {
        b.iter_batched_ref(
            ConverseStreamDecoder::new,
            |decoder| {
                let mut tokens = 0usize;
                let fed = decoder.feed(black_box(&frame), &mut |t: &str| tokens += t.len());
                (fed.is_ok(), tokens)
            },
            BatchSize::SmallInput,
        )
    });
    group.throughput(Throughput::Elements(STREAM_TOKENS as u64));
    group.bench_function("stream_100_tokens", |b| {
        b.iter(|| {
            let mut decoder = ConverseStreamDecoder::new();
            let mut tokens = 0usize;
            for f in &frames {
                if decoder
                    .feed(black_box(f), &mut |t: &str| tokens += t.len())
                    .is_err()
                {
                    break;
                }
            }
            (decoder.finish().is_ok(), tokens)
        })
    });
    group.finish();
}

criterion_group!(benches, decode);
