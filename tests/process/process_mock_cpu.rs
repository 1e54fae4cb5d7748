//! CPU burnt by a `mock-*` thread shows up as mock CPU, within the process's CPU.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use ragperf::metrics::process::{ProcessSampler, ProcessSnapshot};

/// CPU time the calling thread has used.
fn thread_cpu() -> Duration {
    // SAFETY: a zeroed timespec is valid; clock_gettime only writes into it.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[test]
fn a_busy_mock_thread_adds_mock_cpu() {
    let _turn = crate::serial();
    let sampler = ProcessSampler::start(Duration::from_millis(10), vec![]).expect("start");
    let before = ProcessSnapshot::now().expect("snapshot");
    let (done_tx, done_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let busy = std::thread::Builder::new()
        .name("mock-busy".into())
        .spawn(move || {
            // Spin until this thread has had 200 ms of CPU (however loaded the machine is), or
            // give up after 20 s of wall time.
            let give_up = Instant::now() + Duration::from_secs(20);
            let mut x = 0u64;
            while thread_cpu() < Duration::from_millis(200) && Instant::now() < give_up {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            let _ = done_tx.send(thread_cpu());
            // Stay alive so the final snapshots still see this thread.
            let _ = release_rx.recv();
        })
        .expect("spawn");
    let burnt = done_rx.recv().expect("busy thread reports");
    let after = ProcessSnapshot::now().expect("snapshot");
    let figures = sampler.stop();
    let _ = release_tx.send(());
    busy.join().expect("busy thread exits");

    assert!(
        burnt >= Duration::from_millis(200),
        "the machine gave the spinner only {burnt:?}"
    );
    assert!(after.threads.mock >= 1);
    assert!(after.mock_cpu_s() - before.mock_cpu_s() > 0.05, "{after:?}");
    assert!(figures.mock_cpu_s > 0.05, "{figures:?}");
    assert_eq!(figures.mock_threads_peak, 1);
    // Mock CPU is part of the process's CPU (one 10 ms clock tick of slack per reading).
    assert!(
        figures.mock_cpu_s <= figures.cpu_user_s + figures.cpu_sys_s + 0.02,
        "{figures:?}"
    );
}
