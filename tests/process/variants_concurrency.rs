//! The concurrency models behave as their names say: sequential adds latencies up, async
//! overlaps them; sync needs a thread per in-flight request while async needs a handful.
//! Bounds are generous and derived from the injected latency model (fixed latencies).

use crate::common;

use ragperf::pipeline::VariantKind;

#[test]
fn sequential_takes_the_sum_and_async_the_max() {
    let _turn = crate::serial();
    // One request: 300 ms to the first token, 1 token.
    let mut s = common::fixed_scenario(0.0, 0.0, 300.0, 0.0, 1.0);
    s.load.requests = Some(2);
    let result = common::run(&common::plan(
        s,
        &[VariantKind::Sequential, VariantKind::Async],
        vec![common::closed(2)],
    ));
    let seq = common::variant(&result, "sequential");
    let asy = common::variant(&result, "async");
    // Sequential: the second request waits for the first, so its e2e is ~600 ms.
    assert!(
        seq.latency_ms["e2e"].max >= 580.0,
        "sequential max {}",
        seq.latency_ms["e2e"].max
    );
    assert!(seq.latency_ms["queue"].max >= 280.0);
    // Async: both overlap, so neither takes much more than 300 ms.
    assert!(
        asy.latency_ms["e2e"].max < 580.0,
        "async max {}",
        asy.latency_ms["e2e"].max
    );
    assert!(asy.latency_ms["e2e"].min >= 295.0);
}

#[test]
fn sync_threads_grow_with_concurrency_async_threads_do_not() {
    let _turn = crate::serial();
    // 400 ms per request keeps every user in flight while the sampler looks.
    let mut s = common::fixed_scenario(0.0, 0.0, 400.0, 0.0, 1.0);
    s.load.worker_threads = Some(2);
    let mut small = s.clone();
    small.load.requests = Some(4);
    let mut big = s;
    big.load.requests = Some(32);
    let variants = [
        VariantKind::Sync,
        VariantKind::Async,
        VariantKind::AsyncSingle,
    ];
    let r4 = common::run(&common::plan(small, &variants, vec![common::closed(4)]));
    let r32 = common::run(&common::plan(big, &variants, vec![common::closed(32)]));
    let threads =
        |r: &ragperf::result::RunResult, v: &str| common::variant(r, v).process.threads_peak;
    assert!(
        threads(&r4, "sync") >= 4,
        "sync at 4: {}",
        threads(&r4, "sync")
    );
    assert!(
        threads(&r32, "sync") >= 24,
        "sync at 32: {}",
        threads(&r32, "sync")
    );
    assert!(threads(&r32, "sync") > threads(&r4, "sync"));
    // Async: two workers (plus, at most, a couple of blocking-pool helpers).
    assert!(
        threads(&r32, "async") <= 4,
        "async at 32: {}",
        threads(&r32, "async")
    );
    assert!(
        threads(&r32, "async-single") <= 2,
        "async-single: {}",
        threads(&r32, "async-single")
    );
    assert!(threads(&r32, "async-single") >= 1);
}

#[test]
fn a_bounded_pool_queues_the_excess() {
    let _turn = crate::serial();
    // --workers 1 with 4 concurrent requests of 200 ms: the last waits ~600 ms.
    let mut s = common::fixed_scenario(0.0, 0.0, 200.0, 0.0, 1.0);
    s.load.workers = Some(1);
    s.load.requests = Some(4);
    let result = common::run(&common::plan(
        s,
        &[VariantKind::Sync],
        vec![common::closed(4)],
    ));
    let r = common::variant(&result, "sync");
    assert_eq!(r.counters.ok, 4);
    assert!(
        r.latency_ms["queue"].max >= 550.0,
        "queue max {}",
        r.latency_ms["queue"].max
    );
    assert!(
        r.process.threads_peak <= 2,
        "one worker, got {}",
        r.process.threads_peak
    );
}

#[test]
fn open_loop_over_capacity_counts_queueing() {
    let _turn = crate::serial();
    // Sequential serves 10 req/s (100 ms each); offer 20 req/s for 1 s.
    let mut s = common::fixed_scenario(0.0, 0.0, 100.0, 0.0, 1.0);
    s.load.duration = Some(std::time::Duration::from_secs(1));
    s.load.drain_timeout = Some(std::time::Duration::from_secs(10));
    let result = common::run(&common::plan(
        s,
        &[VariantKind::Sequential],
        vec![common::open(20.0, None)],
    ));
    let r = common::variant(&result, "sequential");
    // ~20 arrivals; the last waits behind ~19 x 100 ms of work: e2e far above the 100 ms service.
    assert!(r.counters.sent >= 15, "sent {}", r.counters.sent);
    assert!(
        r.latency_ms["e2e"].max >= 500.0,
        "e2e max {}",
        r.latency_ms["e2e"].max
    );
    assert!(r.latency_ms["queue"].p99 >= 400.0);
    assert!(r.ideal.ideal_requests_per_s <= 10.5);
}

#[test]
fn a_small_blocking_pool_queues_hybrid_requests() {
    let _turn = crate::serial();
    // Embedding + search take 200 ms in the blocking pool; with one pool thread and four
    // concurrent requests, the last one waits ~600 ms for the pool.
    let mut s = common::fixed_scenario(100.0, 100.0, 50.0, 0.0, 1.0);
    s.load.max_blocking_threads = Some(1);
    s.load.requests = Some(4);
    let result = common::run(&common::plan(
        s,
        &[VariantKind::Hybrid],
        vec![common::closed(4)],
    ));
    let r = common::variant(&result, "hybrid");
    assert_eq!(r.counters.ok, 4);
    assert!(
        r.latency_ms["queue"].max >= 550.0,
        "queue max {}",
        r.latency_ms["queue"].max
    );
}

#[test]
fn blocking_calls_inside_async_stall_every_task_on_the_thread() {
    let _turn = crate::serial();
    // One runtime thread, four concurrent requests of 200 ms each. Real async overlaps them;
    // blocking calls on the runtime thread run them one after another.
    let mut s = common::fixed_scenario(0.0, 0.0, 200.0, 0.0, 1.0);
    s.load.worker_threads = Some(1);
    s.load.requests = Some(4);
    let result = common::run(&common::plan(
        s,
        &[VariantKind::Async, VariantKind::BlockingInAsync],
        vec![common::closed(4)],
    ));
    let good = common::variant(&result, "async");
    let bad = common::variant(&result, "blocking-in-async");
    assert!(
        good.latency_ms["e2e"].max < 550.0,
        "async max {}",
        good.latency_ms["e2e"].max
    );
    assert!(
        bad.latency_ms["e2e"].max >= 750.0,
        "blocking-in-async max {}",
        bad.latency_ms["e2e"].max
    );
    assert!(
        bad.process.threads_peak <= 2,
        "one runtime thread, got {}",
        bad.process.threads_peak
    );
}

#[test]
fn thread_per_request_reuses_a_finished_users_thread() {
    let _turn = crate::serial();
    // Two closed-loop users, twelve requests: a user's next request must find the thread its
    // last one just left, so only two worker threads ever run requests.
    let mut s = common::fixed_scenario(0.0, 0.0, 20.0, 0.0, 1.0);
    s.load.requests = Some(12);
    let result = common::run(&common::plan(
        s,
        &[VariantKind::Sync],
        vec![common::closed(2)],
    ));
    let r = common::variant(&result, "sync");
    assert_eq!(r.counters.ok, 12);
    let mut tids: Vec<i32> = r.timeline.iter().map(|t| t.tid).collect();
    tids.sort_unstable();
    tids.dedup();
    assert_eq!(tids.len(), 2, "worker threads that ran requests: {tids:?}");
}
