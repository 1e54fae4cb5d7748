//! What a snapshot costs with many threads (docs/design.md §10: the sampler must not become the load).
//! Ignored by default because it starts 10,000 threads; run it with
//! `cargo test --release --test process snapshot_of_ten_thousand -- --ignored --nocapture`.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use ragperf::metrics::process::{RECHECK_EVERY, SnapshotReader};

const THREADS: usize = 10_000;
const MOCK_THREADS: usize = 8;
/// Generous ceilings at 10,000 threads on a loaded 2-core machine; the medians measured are
/// printed so a regression is visible long before it trips these. Cold: every name read (the
/// first two snapshots of a reader); warm: names cached, one in `RECHECK_EVERY` re-read.
const COLD_CEILING: Duration = Duration::from_millis(1_000);
const WARM_CEILING: Duration = Duration::from_millis(150);

#[test]
#[ignore = "starts 10,000 threads"]
fn snapshot_of_ten_thousand_threads_is_cheap() {
    let _turn = crate::serial();
    let release = Arc::new(Barrier::new(THREADS + 1));
    let threads: Vec<_> = (0..THREADS)
        .map(|n| {
            let release = Arc::clone(&release);
            let name = if n < MOCK_THREADS {
                format!("mock-{n}")
            } else {
                format!("sync-worker-{n}")
            };
            std::thread::Builder::new()
                .name(name)
                .stack_size(64 * 1024)
                .spawn(move || {
                    release.wait();
                })
                .expect("spawn a test thread")
        })
        .collect();

    let mut reader = SnapshotReader::new(&["sync-worker-".into()]);
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..(2 + 2 * RECHECK_EVERY) {
        let started = Instant::now();
        last = Some(reader.snapshot().expect("snapshot"));
        times.push(started.elapsed());
    }
    release.wait();
    for t in threads {
        t.join().expect("thread exits");
    }

    let mut warm = times.split_off(2);
    warm.sort();
    let cold = times.iter().max().copied().unwrap_or_default();
    let median = warm[warm.len() / 2];
    println!(
        "snapshot of {THREADS} threads: cold {times:?}; warm median {median:?}, min {:?}, max {:?}",
        warm[0],
        warm[warm.len() - 1]
    );
    let last = last.expect("at least one snapshot");
    assert_eq!(last.threads.variant, (THREADS - MOCK_THREADS) as u64);
    assert_eq!(last.threads.mock, MOCK_THREADS as u64);
    assert_eq!(last.mock_threads_cpu.len(), MOCK_THREADS);
    assert!(
        cold < COLD_CEILING,
        "cold snapshot {cold:?} at {THREADS} threads"
    );
    assert!(
        median < WARM_CEILING,
        "warm median snapshot {median:?} at {THREADS} threads"
    );
}
