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
    // The pool grew to its size (16 starts queued at once) and no further.
    assert_eq!(
        r.process.threads_peak, 4,
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
    let (records, _) = submit_all(kind, ctx, 1, 2);
    mocks.shutdown(Duration::from_millis(200));
    let mut records = records;
    let b = records.pop().expect("two records");
    let a = records.pop().expect("two records");
    (a, b)
}

/// Submits `n` requests at once to `kind` with `workers` pool threads; their records (by id)
/// and the CPU of this process's threads by name, read before the executor shuts down.
fn submit_all(
    kind: VariantKind,
    ctx: Arc<RequestContext>,
    workers: usize,
    n: u64,
) -> (Vec<RequestRecord>, Vec<(String, f64)>) {
    let (tx, rx): (_, Receiver<RequestRecord>) = mpsc::channel();
    let opts = ExecutorOptions {
        workers: Some(workers),
        worker_threads: None,
        max_blocking_threads: None,
        expected_concurrency: n as usize,
    };
    let executor = start_executor(kind, ctx, &opts, tx).expect("start the executor");
    for id in 0..n {
        executor.submit(Ticket {
            id,
            intended: Instant::now(),
            question: Arc::from("What is the site status?"),
            measured: true,
            user: None,
        });
    }
    let mut records: Vec<RequestRecord> = (0..n)
        .map(|_| rx.recv_timeout(Duration::from_secs(20)).expect("a record"))
        .collect();
    let cpu = thread_cpu_by_name();
    executor.shutdown(Duration::from_secs(2));
    records.sort_by_key(|r| r.id);
    (records, cpu)
}

/// Every thread of this process: its name and CPU seconds (user + system, from
/// `/proc/self/task/*/stat`).
fn thread_cpu_by_name() -> Vec<(String, f64)> {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .flatten()
    {
        let path = task.path();
        let (Ok(comm), Ok(stat)) = (
            std::fs::read_to_string(path.join("comm")),
            std::fs::read_to_string(path.join("stat")),
        ) else {
            continue; // the thread ended meanwhile
        };
        // Fields after the command's closing parenthesis: state is field 3, utime 14, stime 15.
        let after = &stat[stat.rfind(')').expect("a stat line") + 2..];
        let f: Vec<&str> = after.split_whitespace().collect();
        let jiffies: f64 =
            f[11].parse::<f64>().expect("utime") + f[12].parse::<f64>().expect("stime");
        out.push((comm.trim().to_string(), jiffies / ticks));
    }
    out
}

#[test]
fn the_event_loop_reads_every_request_and_sends_every_token_on_its_one_thread() {
    let _turn = crate::serial();
    // 4 requests of 10 tokens on 4 pool threads; 20 ms of CPU per request and 5 ms per token,
    // all of it on the event loop: 4 × 20 + 40 × 5 = 280 ms there, none on the pool threads.
    let s = common::fixed_scenario(0.0, 0.0, 20.0, 5.0, 10.0);
    let mocks = MockServices::start_on_own_runtime(s.mock_config(), Bind::default(), 2)
        .expect("start the mocks");
    let ctx = Arc::new(RequestContext {
        cpu_work_us: 20_000,
        cpu_per_token_us: 5_000,
        cpu_request_loop_share: 1.0,
        cpu_token_loop_share: 1.0,
        ..common::request_context(&mocks, &s)
    });
    let (records, cpu) = submit_all(VariantKind::SyncStream, ctx, 4, 4);
    mocks.shutdown(Duration::from_millis(200));
    for r in &records {
        assert!(r.is_ok(), "{:?}", r.outcome);
        assert_eq!(
            r.tokens, 10,
            "every token went through the loop and was counted once"
        );
    }
    let on = |pred: &dyn Fn(&str) -> bool| -> f64 {
        cpu.iter().filter(|(n, _)| pred(n)).map(|(_, s)| s).sum()
    };
    let event_loop = on(&|n| n == "sync-stream-ev");
    let pool = on(&|n| n.starts_with("sync-stream-") && n != "sync-stream-ev");
    let loops = cpu.iter().filter(|(n, _)| n == "sync-stream-ev").count();
    assert_eq!(loops, 1, "one event loop thread: {cpu:?}");
    // Generous: the CPU clock's ticks are 10 ms, the work spends at least what it asks.
    assert!(
        event_loop >= 0.25,
        "loop {event_loop} s of the 0.28 asked: {cpu:?}"
    );
    assert!(
        pool < 0.1,
        "pool threads {pool} s: their CPU work went to the loop: {cpu:?}"
    );

    // Without a loop share there is no loop thread, and the pool threads do the work.
    let mocks = MockServices::start_on_own_runtime(s.mock_config(), Bind::default(), 2)
        .expect("start the mocks");
    let ctx = Arc::new(RequestContext {
        cpu_work_us: 20_000,
        cpu_per_token_us: 5_000,
        ..common::request_context(&mocks, &s)
    });
    let (records, cpu) = submit_all(VariantKind::SyncStream, ctx, 4, 4);
    mocks.shutdown(Duration::from_millis(200));
    assert!(records.iter().all(|r| r.is_ok() && r.tokens == 10));
    assert!(!cpu.iter().any(|(n, _)| n == "sync-stream-ev"), "{cpu:?}");
    let pool_threads: Vec<f64> = cpu
        .iter()
        .filter(|(n, _)| n.starts_with("sync-stream-"))
        .map(|(_, s)| *s)
        .collect();
    let pool = pool_threads.iter().sum::<f64>();
    // /proc counts each thread's user and system time in 10 ms ticks, each rounded down: the
    // sum over N threads reads up to N × 20 ms short of what they spent (a clean-clone CI run
    // read 0.24 s over 4 threads).
    let floor = 0.28 - 0.02 * pool_threads.len() as f64;
    assert!(
        pool >= floor,
        "pool threads {pool} s of the 0.28 asked (at least {floor:.2} counting /proc's ticks): {cpu:?}"
    );
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

#[test]
fn a_read_costs_cpu_only_when_no_token_was_buffered() {
    let _turn = crate::serial();
    // 2 streams of 20 tokens; every token event costs nothing but a socket read costs 5 ms —
    // in Starlette's sync streaming (a `next()` per token), on an event loop (asyncio's reads:
    // all that arrived) and with a thread per request.
    let read_cost = |kind: VariantKind, threads: &str, itl_ms: f64| -> (f64, usize, u64) {
        let s = common::fixed_scenario(0.0, 0.0, 20.0, itl_ms, 20.0);
        let mocks = MockServices::start_on_own_runtime(s.mock_config(), Bind::default(), 2)
            .expect("start the mocks");
        let ctx = Arc::new(RequestContext {
            cpu_work_us: 0,
            cpu_per_token_us: 0,
            cpu_per_read_us: 5_000,
            ..common::request_context(&mocks, &s)
        });
        let (records, cpu) = submit_all(kind, ctx, 2, 2);
        mocks.shutdown(Duration::from_millis(200));
        assert!(records.iter().all(|r| r.is_ok() && r.tokens == 20));
        let reads = records.iter().map(|r| u64::from(r.stream_reads)).sum();
        let used: Vec<f64> = cpu
            .iter()
            .filter(|(n, _)| n.starts_with(threads))
            .map(|(_, s)| *s)
            .collect();
        (used.iter().sum(), used.len(), reads)
    };
    for (kind, threads) in [
        (VariantKind::SyncStream, "sync-stream-"),
        (VariantKind::AsyncSingle, "async-single"),
        (VariantKind::Sync, "sync-worker-"),
    ] {
        // Tokens 30 ms apart and 5 ms of CPU each: every token is a read that waited,
        // 40 × 5 ms = 0.2 s (/proc's 10 ms ticks: up to 20 ms short per thread).
        let (paced, n, reads) = read_cost(kind, threads, 30.0);
        let floor = 0.2 - 0.02 * n as f64;
        assert!(
            (floor..0.35).contains(&paced) && reads >= 40,
            "{kind:?} paced: {paced} s of CPU on {n} threads, 0.2 asked; {reads} reads of 40 tokens"
        );
        // All tokens at once: after the first read or two each stream finds the rest buffered.
        let (burst, n, reads) = read_cost(kind, threads, 0.0);
        assert!(
            burst < 0.1 && reads < 20,
            "{kind:?}: a burst spent {burst} s of CPU on {n} threads in {reads} reads of 40 tokens: \
             more reads than a buffered stream needs"
        );
    }
}

#[test]
fn streams_that_queue_for_the_pool_read_several_tokens_at_once() {
    let _turn = crate::serial();
    // 4 streams of 20 tokens 10 ms apart.
    let reads = |kind: VariantKind, workers: usize, cpu_per_token_us: u64| -> (u64, u64) {
        let s = common::fixed_scenario(0.0, 0.0, 20.0, 10.0, 20.0);
        let mocks = MockServices::start_on_own_runtime(s.mock_config(), Bind::default(), 2)
            .expect("start the mocks");
        let ctx = Arc::new(RequestContext {
            cpu_work_us: 0,
            cpu_per_token_us,
            ..common::request_context(&mocks, &s)
        });
        let (records, _) = submit_all(kind, ctx, workers, 4);
        mocks.shutdown(Duration::from_millis(200));
        assert!(records.iter().all(|r| r.is_ok() && r.tokens == 20));
        let reads = records.iter().map(|r| u64::from(r.stream_reads)).sum();
        let tokens = records.iter().map(|r| u64::from(r.tokens)).sum();
        (reads, tokens)
    };
    // A thread per stream and no CPU: every `next()` waits for its token on the socket, and
    // the last one reads the end of the stream (one read per stream more than its tokens).
    let (waited, tokens) = reads(VariantKind::SyncStream, 4, 0);
    assert!(
        waited * 10 >= tokens * 8 && waited <= tokens + 4,
        "{waited} reads for {tokens} tokens with a thread per stream"
    );
    // One thread and 10 ms of CPU per token: a round of the 4 streams takes ~40 ms, so each
    // finds ~4 tokens buffered when its turn comes, read at once.
    let (queued, tokens) = reads(VariantKind::SyncStream, 1, 10_000);
    assert!(
        queued * 10 < tokens * 6,
        "{queued} reads for {tokens} tokens on one busy thread: streams that queued should find \
         tokens already buffered"
    );
    // The same on an event loop, read as asyncio reads (all that arrived, in one wake-up): idle,
    // a read per token (and a few that bring no token: the stream's start and end); busy with
    // 10 ms per token, a stream's turn comes ~40 ms later and its read brings several.
    let (idle, tokens) = reads(VariantKind::AsyncSingle, 1, 0);
    assert!(
        idle * 10 >= tokens * 8 && idle <= tokens + 4 * 3,
        "{idle} reads for {tokens} tokens on an idle event loop"
    );
    let (late, tokens) = reads(VariantKind::AsyncSingle, 1, 10_000);
    assert!(
        late * 10 < tokens * 6,
        "{late} reads for {tokens} tokens on a busy event loop: a late read should bring the \
         tokens that arrived meanwhile"
    );
}
