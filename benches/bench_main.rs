//! `cargo bench`: criterion's own layout, one group per file under `benchmarks/`.
//!
//! - `rag_batch/<variant>/<concurrency>`: one iteration is a batch of N concurrent RAG requests
//!   through a variant's executor against in-process mocks at 1/200 of the seed's latencies;
//!   criterion's throughput line is requests per second.
//! - `eventstream_decode/*`, `histogram/*`, `qdrant_search/*`: micro-benches of the hot paths a
//!   request goes through (decoding a ConverseStream token frame, recording a latency, the
//!   mock's brute-force search over the demo corpus).
//!
//! The whole suite runs in about 80 s on a 2-core machine (`cargo bench`); pick one group
//! with `cargo bench -- rag_batch`. `cargo test --bench bench_main` runs every benchmark once,
//! as a test (CI does that, so the benches never rot).

mod benchmarks;

criterion::criterion_main!(
    benchmarks::variants::benches,
    benchmarks::eventstream_decode::benches,
    benchmarks::eventstream_encode::benches,
    benchmarks::histogram::benches,
    benchmarks::qdrant_search::benches,
);
