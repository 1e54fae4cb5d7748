//! `qdrant_search/*`: the mock Qdrant's brute-force cosine search over the demo corpus (1,000
//! passages of 256 dimensions), the CPU each `points/query` costs the mock.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group};
use mock_services::config::QdrantConfig;
use mock_services::embedding;
use mock_services::qdrant::{SearchRequest, Store};

/// Top-4 nearest passages to an embedded question, with payloads (what the harness asks).
pub fn search(c: &mut Criterion) {
    let config = QdrantConfig::default();
    let store = Store::with_demo_corpus(&config);
    let vector = embedding::embed("What is the current site status?", config.dimensions, true);
    let request = SearchRequest::nearest(vector, 4);
    let mut group = c.benchmark_group("qdrant_search");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Elements(config.corpus_size as u64));
    group.bench_function("demo_corpus_top4", |b| {
        b.iter(|| {
            store
                .search(black_box(&config.collection), black_box(&request))
                .map(|hits| hits.len())
        })
    });
    group.finish();
}

criterion_group!(benches, search);
