//! `sync-stream` shares its pool token by token: more streams than threads all progress, the
//! threads stay at `--workers`, and with one thread two streams' tokens interleave — where `sync`
//! (a thread held per request) runs them one after the other. Bounds are generous and derived
//! from the injected (fixed) latency model.
//!
//! The tests take turns ([`crate::serial`], as every test of `tests/process/`): threads are
//! counted by name across the process, so another test's `sync-stream-N` threads would count as
//! this one's.

use crate::common;

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use mock_services::{Bind, MockServices, OwnedMockServices};
use ragperf::pipeline::{
    ExecutorOptions, RequestContext, RequestRecord, Ticket, VariantKind, start_executor,
};
use ragperf::scenario::Scenario;

#[test]
fn more_streams_than_threads_progress_at_once() {
    let _turn = crate::serial();
    // One request: 100 ms to the first token, then 19 more 20 ms apart: ~480 ms.
    let service_ms = 100.0 + 19.0 * 20.0;
    let mut s = common::fixed_scenario(0.0, 0.0, 100.0, 20.0, 20.0);
    s.load.workers = Some(4);
    s.load.requests = Some(16);
    let result = common::run(&common::plan(
        s,
        &[VariantKind::SyncStream],
        vec![common::closed(16)],
    ));
    let r = common::variant(&result, "sync-stream");
    assert_eq!(r.counters.ok, 16);
    // Holding a thread per request, 16 streams on 4 threads would take 4 rounds (~1.9 s); shared
    // token by token they all run at once. Half the held figure is a generous bound.
    let held_ms = 16.0 / 4.0 * service_ms;
    let e2e_max = r.latency_ms["e2e"].max;
    assert!(
        e2e_max < held_ms / 2.0,
        "e2e max {e2e_max} ms, held-thread makespan {held_ms} ms"
    );
    assert!(e2e_max >= service_ms * 0.95, "e2e max {e2e_max}");
    assert!(
        r.process.threads_peak <= 4 && r.process.threads_peak >= 1,
        "threads {} with --workers 4",
        r.process.threads_peak
    );
    assert_eq!(r.settings.get("workers").map(String::as_str), Some("4"));
    // The ideal is not capped at the 4 workers.
    assert_eq!(r.ideal.capacity, 16);
}

#[test]
fn one_thread_overlaps_two_streams_where_a_held_thread_cannot() {
    let _turn = crate::serial();
    // ~230 ms per request; 2 users, one pool thread.
    let service_ms = 50.0 + 9.0 * 20.0;
    let mut s = common::fixed_scenario(0.0, 0.0, 50.0, 20.0, 10.0);
    s.load.workers = Some(1);
    s.load.requests = Some(2);
    let result = common::run(&common::plan(
        s,
        &[VariantKind::Sync, VariantKind::SyncStream],
        vec![common::closed(2)],
    ));
    let held = common::variant(&result, "sync");
    let shared = common::variant(&result, "sync-stream");
    assert_eq!(held.counters.ok, 2);
    assert_eq!(shared.counters.ok, 2);
    assert!(
        held.latency_ms["e2e"].max >= 1.9 * service_ms,
        "sync: the second request waits for the first ({} ms)",
        held.latency_ms["e2e"].max
    );
    assert!(
        shared.latency_ms["e2e"].max < 1.5 * service_ms,
        "sync-stream: both streams overlap ({} ms)",
        shared.latency_ms["e2e"].max
    );
    // Each stream's first token comes before the other one finishes.
    let t = &shared.timeline;
    assert_eq!(t.len(), 2);
    for (a, b) in [(&t[0], &t[1]), (&t[1], &t[0])] {
        let first = a.first_token_us.expect("first token");
        assert!(
            first < b.finished_us,
            "request {} first token at {first} µs, request {} done at {} µs",
            a.id,
            b.id,
            b.finished_us
        );
    }
    assert!(shared.process.threads_peak <= 1);
}

/// Mocks with `s`'s latencies, and a request context pointing at them.
fn mocks_and_context(s: &Scenario) -> (OwnedMockServices, Arc<RequestContext>) {
    let mocks = MockServices::start_on_own_runtime(s.mock_config(), Bind::default(), 2)
        .expect("start the mocks");
    let ctx = Arc::new(common::request_context(&mocks, s));
    (mocks, ctx)
}

/// Absolute time of every token of `r`, µs since the epoch.
fn token_times(r: &RequestRecord) -> Vec<u64> {
    let mut t = r.first_token_us.expect("a first token");
    let mut out = vec![t];
    for gap in &r.token_gaps_us {
        t += u64::from(*gap);
        out.push(t);
    }
    out
}

/// Submits two requests at once to `kind` with one worker and returns both records.
fn two_streams(kind: VariantKind, s: &Scenario) -> (RequestRecord, RequestRecord) {
    let (mocks, ctx) = mocks_and_context(s);
    let (tx, rx): (_, Receiver<RequestRecord>) = mpsc::channel();
    let opts = ExecutorOptions {
        workers: Some(1),
        worker_threads: None,
        max_blocking_threads: None,
        expected_concurrency: 2,
    };
    let executor = start_executor(kind, ctx, &opts, tx).expect("start the executor");
    for id in 0..2 {
        executor.submit(Ticket {
            id,
            intended: Instant::now(),
            question: Arc::from("What is the site status?"),
            measured: true,
            user: None,
        });
    }
    let mut records: Vec<RequestRecord> = (0..2)
        .map(|_| rx.recv_timeout(Duration::from_secs(20)).expect("a record"))
        .collect();
    executor.shutdown(Duration::from_secs(2));
    mocks.shutdown(Duration::from_millis(200));
    records.sort_by_key(|r| r.id);
    let b = records.pop().expect("two records");
    let a = records.pop().expect("two records");
    (a, b)
}

/// How often the owner changes along both requests' tokens merged in time order.
fn switches(a: &RequestRecord, b: &RequestRecord) -> usize {
    let mut merged: Vec<(u64, u8)> = token_times(a).into_iter().map(|t| (t, 0)).collect();
    merged.extend(token_times(b).into_iter().map(|t| (t, 1)));
    merged.sort_unstable();
    merged.windows(2).filter(|w| w[0].1 != w[1].1).count()
}

#[test]
fn with_one_thread_two_streams_interleave_token_by_token() {
    let _turn = crate::serial();
    let s = common::fixed_scenario(0.0, 0.0, 30.0, 15.0, 10.0);
    let (a, b) = two_streams(VariantKind::SyncStream, &s);
    for r in [&a, &b] {
        assert!(r.is_ok(), "{:?}", r.outcome);
        assert_eq!(r.tokens, 10);
        assert_eq!(r.start_tid, a.start_tid, "one pool thread");
    }
    // Strict alternation is 19 owner changes over 20 tokens; one run after the other is 1.
    let n = switches(&a, &b);
    assert!(n >= 15, "{n} owner changes: the tokens did not interleave");
    // The same with a thread held per request: the second stream starts after the first ends.
    let (a, b) = two_streams(VariantKind::Sync, &s);
    assert!(a.is_ok() && b.is_ok());
    assert_eq!(switches(&a, &b), 1);
}
