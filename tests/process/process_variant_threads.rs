//! The variant's threads are counted by their name prefix, and only as the variant's.

use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::Duration;

use ragperf::metrics::process::{ProcessSampler, SnapshotReader};

const WORKERS: usize = 20;

/// Spawns `WORKERS` threads named `sync-worker-<n>` that stay alive until `release` is passed.
fn spawn_workers(ready: &Arc<Barrier>, release: &Arc<Barrier>) -> Vec<JoinHandle<()>> {
    (0..WORKERS)
        .map(|n| {
            let (ready, release) = (Arc::clone(ready), Arc::clone(release));
            std::thread::Builder::new()
                .name(format!("sync-worker-{n}"))
                .spawn(move || {
                    ready.wait();
                    release.wait();
                })
                .expect("spawn a test thread")
        })
        .collect()
}

#[test]
fn named_workers_count_as_variant_threads_only() {
    let _turn = crate::serial();
    let prefixes = vec!["sync-worker-".to_string()];
    let sampler = ProcessSampler::start(Duration::from_millis(5), prefixes.clone()).expect("start");
    let ready = Arc::new(Barrier::new(WORKERS + 1));
    let release = Arc::new(Barrier::new(WORKERS + 1));
    let workers = spawn_workers(&ready, &release);
    ready.wait();

    let with_variant = SnapshotReader::new(&prefixes).snapshot().expect("snapshot");
    let without_variant = SnapshotReader::new(&[]).snapshot().expect("snapshot");
    let figures = sampler.stop();
    release.wait();
    for worker in workers {
        worker.join().expect("worker exits");
    }

    // Only this test creates sync-worker threads, and the tests of this binary take turns.
    assert_eq!(with_variant.threads.variant, WORKERS as u64);
    assert_eq!(
        with_variant.thread_groups.get("sync-worker-"),
        Some(&(WORKERS as u64))
    );
    assert_eq!(with_variant.threads.mock, 0);
    // Without the prefix the same threads are "other", not mock or harness.
    assert_eq!(without_variant.threads.variant, 0);
    assert_eq!(
        without_variant.threads.other,
        with_variant.threads.other + WORKERS as u64
    );
    assert_eq!(without_variant.threads.mock, 0);

    assert_eq!(figures.threads_baseline, 0);
    assert_eq!(figures.threads_peak, WORKERS as u64);
    assert!(figures.process_threads_peak > WORKERS as u64);
    assert_eq!(
        figures.thread_groups_peak.get("sync-worker-"),
        Some(&(WORKERS as u64))
    );
}
