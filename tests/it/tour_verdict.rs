//! The tour's verdicts are computed from measurements: the same checks that judge a real run
//! judge fixture numbers here, so a fixture where the claimed effect is absent must come out
//! "not confirmed", one where a detail fails "qualified", and the expected behaviour
//! "confirmed". No timing is involved.

use ragperf::tour::experiments::q1_q3_per_request::{self as threads, Cost, PerRequest};
use ragperf::tour::experiments::q4_bounded_pool::{self, BoundedPool};
use ragperf::tour::experiments::q5_two_requests::{self, TwoRequests};
use ragperf::tour::experiments::q6_gil::{self as gil, Gil, Speedup};
use ragperf::tour::experiments::q7_thousands::{self, Thousands};
use ragperf::tour::experiments::q16_hybrid::{self as hybrid, Hybrid, Side};
use ragperf::tour::experiments::q22_held_thread::{self, Held, HeldSide};
use ragperf::tour::experiments::q30_one_thread::{self, OneThread};
use ragperf::tour::experiments::x1_blocking_in_async::{self, Blocking};
use ragperf::tour::experiments::x2_cpu_on_loop::{self, CpuOnLoop, Load};
use ragperf::tour::measure::ThreadUse;
use ragperf::tour::verdict::{Verdict, decide};

fn failed(checks: &[ragperf::tour::Check]) -> Vec<String> {
    checks
        .iter()
        .filter(|c| !c.pass)
        .map(|c| c.what.clone())
        .collect()
}

fn two(seq: f64, pool: f64) -> TwoRequests {
    TwoRequests {
        service_ms: 150.0,
        time_scale: 0.05,
        sequential_ms: seq,
        pool_ms: pool,
        pool_threads: 2,
    }
}

#[test]
fn q5_a_pool_faster_than_sequential_is_confirmed() {
    let checks = q5_two_requests::two_requests_checks(&two(305.0, 158.0));
    assert_eq!(decide(&checks), Verdict::Confirmed, "{:?}", failed(&checks));
}

#[test]
fn q5_a_pool_no_faster_than_sequential_is_not_confirmed() {
    let checks = q5_two_requests::two_requests_checks(&two(305.0, 300.0));
    assert_eq!(decide(&checks), Verdict::NotConfirmed);
    // And sequential code that somehow overlapped is not "6 s" either.
    let checks = q5_two_requests::two_requests_checks(&two(160.0, 155.0));
    assert_eq!(decide(&checks), Verdict::NotConfirmed);
}

#[test]
fn q5_nothing_measured_is_not_confirmed() {
    let checks = q5_two_requests::two_requests_checks(&two(f64::NAN, f64::NAN));
    assert_eq!(decide(&checks), Verdict::NotConfirmed);
}

fn bounded(rps: f64, queue_ms: f64, free_rps: f64) -> BoundedPool {
    BoundedPool {
        service_ms: 60.0,
        workers: 4,
        users: 16,
        bounded_rps: rps,
        bounded_queue_p50_ms: queue_ms,
        bounded_e2e_p50_ms: queue_ms + 60.0,
        bounded_threads: 5,
        bounded_request_threads: 4,
        free_rps,
        free_queue_p50_ms: 0.1,
        free_e2e_p50_ms: 61.0,
        free_threads: 17,
        free_request_threads: 16,
    }
}

#[test]
fn q4_verdicts_follow_the_queue_and_the_cap() {
    // Cap = 4 / 60 ms = 66.7 req/s.
    assert_eq!(
        decide(&q4_bounded_pool::bounded_checks(&bounded(
            63.0, 180.0, 250.0
        ))),
        Verdict::Confirmed
    );
    // No queueing and throughput far past the cap: the pool did not bound anything.
    assert_eq!(
        decide(&q4_bounded_pool::bounded_checks(&bounded(
            200.0, 1.0, 250.0
        ))),
        Verdict::NotConfirmed
    );
    // Capped and queued, but far below the cap: the core holds, a detail does not.
    assert_eq!(
        decide(&q4_bounded_pool::bounded_checks(&bounded(
            30.0, 180.0, 250.0
        ))),
        Verdict::Qualified
    );
}

fn cost(threads: u64, rss_growth: f64, efficiency: f64) -> Cost {
    Cost {
        threads,
        request_threads: threads as usize,
        rss_peak_mib: 30.0 + rss_growth,
        rss_growth_mib: rss_growth,
        efficiency,
        failed: 0,
        rps: 100.0,
        e2e_p99_ms: 3000.0,
        cpu_s: 1.0,
    }
}

fn per_request(sync: (u64, u64), hybrid: (u64, u64), single: (u64, u64)) -> PerRequest {
    PerRequest {
        many: 64,
        sync: (cost(sync.0, 1.0, 1.0), cost(sync.1, 20.0, 1.0)),
        hybrid: (cost(hybrid.0, 1.0, 1.0), cost(hybrid.1, 5.0, 1.0)),
        single: (cost(single.0, 1.0, 1.0), cost(single.1, 2.0, 0.98)),
    }
}

#[test]
fn q1_q3_threads_that_did_not_grow_are_not_confirmed() {
    // Sync used 2 threads for 64 requests: not "a thread per request".
    let checks = threads::per_request_checks(&per_request((2, 2), (2, 6), (1, 1)));
    assert_eq!(decide(&checks), Verdict::NotConfirmed);
    assert!(failed(&checks).iter().any(|w| w.contains("64 requests")));
}

#[test]
fn q1_q3_the_seed_table_as_measured() {
    let checks = threads::per_request_checks(&per_request((2, 64), (2, 6), (1, 1)));
    assert_eq!(decide(&checks), Verdict::Confirmed, "{:?}", failed(&checks));
    // The hybrid needing 3 threads for 2 requests is outside the seed's "1-2": qualified.
    let checks = threads::per_request_checks(&per_request((2, 64), (3, 6), (1, 1)));
    assert_eq!(decide(&checks), Verdict::Qualified);
    // An "event loop" that needed more than one thread is not confirmed.
    let checks = threads::per_request_checks(&per_request((2, 64), (2, 6), (1, 4)));
    assert_eq!(decide(&checks), Verdict::NotConfirmed);
}

fn thousands(async_threads: (u64, u64), sync_threads: u64, async_eff: f64) -> Thousands {
    Thousands {
        low: 50,
        high: 500,
        asyn: (
            cost(async_threads.0, 5.0, 1.0),
            cost(async_threads.1, 30.0, async_eff),
        ),
        sync: (cost(50, 20.0, 1.0), cost(sync_threads, 180.0, 0.99)),
    }
}

#[test]
fn q7_async_that_grows_threads_or_falls_behind_is_not_confirmed() {
    assert_eq!(
        decide(&q7_thousands::thousands_checks(&thousands(
            (2, 2),
            504,
            0.99
        ))),
        Verdict::Confirmed
    );
    assert_eq!(
        decide(&q7_thousands::thousands_checks(&thousands(
            (2, 400),
            504,
            0.99
        ))),
        Verdict::NotConfirmed
    );
    assert_eq!(
        decide(&q7_thousands::thousands_checks(&thousands(
            (2, 2),
            504,
            0.5
        ))),
        Verdict::NotConfirmed
    );
    // Sync that did not grow its threads contradicts the claim too.
    assert_eq!(
        decide(&q7_thousands::thousands_checks(&thousands(
            (2, 2),
            40,
            0.99
        ))),
        Verdict::NotConfirmed
    );
}

fn gil(cpu_gil: f64, cpu_free: f64, io_gil: f64, cores: u64) -> Gil {
    let s = |x: f64| Speedup {
        one: 50.0,
        many: 50.0 * x,
    };
    Gil {
        cores,
        cpu_work_us: 20_000,
        cpu_gil: s(cpu_gil),
        cpu_free: s(cpu_free),
        io_gil: s(io_gil),
        io_free: s(io_gil),
    }
}

#[test]
fn q6_the_gil_verdicts() {
    assert_eq!(
        decide(&gil::checks(&gil(1.0, 1.9, 3.9, 2))),
        Verdict::Confirmed
    );
    // CPU-bound work that sped up under the lock: the GIL did not serialise it.
    assert_eq!(
        decide(&gil::checks(&gil(1.9, 1.9, 3.9, 2))),
        Verdict::NotConfirmed
    );
    // I/O-bound work that did not speed up with threads.
    assert_eq!(
        decide(&gil::checks(&gil(1.0, 1.9, 1.1, 2))),
        Verdict::NotConfirmed
    );
    // One core: "without the lock CPU work speeds up" cannot be shown, so the claim is
    // qualified rather than confirmed.
    assert_eq!(
        decide(&gil::checks(&gil(1.0, 1.0, 3.9, 1))),
        Verdict::Qualified
    );
}

fn side(rps: f64, e2e: f64, queue: f64) -> Side {
    Side {
        rps,
        efficiency: rps / 200.0,
        e2e_p50_ms: e2e,
        queue_p50_ms: queue,
        threads: 3,
    }
}

fn hybrid(low_hybrid_e2e: f64, high_hybrid_rps: f64, high_queue: f64) -> Hybrid {
    Hybrid {
        retrieval_ms: 10.0,
        service_ms: 300.0,
        pool: 1,
        low: (side(13.0, 300.0, 0.1), side(13.0, low_hybrid_e2e, 0.1)),
        high: (
            side(210.0, 301.0, 0.1),
            side(high_hybrid_rps, 600.0, high_queue),
        ),
    }
}

#[test]
fn q16_hybrid_verdicts() {
    assert_eq!(
        decide(&hybrid::checks(&hybrid(303.0, 98.0, 300.0))),
        Verdict::Confirmed
    );
    // Slower than async at low load: the "equal at low load" part fails.
    assert_eq!(
        decide(&hybrid::checks(&hybrid(450.0, 98.0, 300.0))),
        Verdict::NotConfirmed
    );
    // A small pool that caused no queue and no cap: not confirmed.
    assert_eq!(
        decide(&hybrid::checks(&hybrid(303.0, 205.0, 0.1))),
        Verdict::NotConfirmed
    );
}

fn usage(threads: usize, max_per_thread: usize, thread_ms: f64, stream_ms: f64) -> ThreadUse {
    ThreadUse {
        requests: 100,
        threads,
        max_per_thread,
        max_overall: 16,
        thread_ms_per_request: thread_ms,
        held_ms: thread_ms,
        stream_ms,
        generate_ms: stream_ms + 20.0,
    }
}

#[test]
fn q22_held_thread_verdicts() {
    let held = |sync_per_thread: usize, sync_ms: f64, async_ms: f64| Held {
        sync: HeldSide {
            usage: usage(16, sync_per_thread, sync_ms, 125.0),
            threads: 17,
            busy_share: 0.01,
        },
        single: HeldSide {
            usage: usage(1, 16, async_ms, 125.0),
            threads: 1,
            busy_share: 0.08,
        },
    };
    assert_eq!(
        decide(&q22_held_thread::held_checks(&held(1, 150.0, 10.0))),
        Verdict::Confirmed
    );
    // Sync threads that served two streams at once were not held by one stream.
    assert_eq!(
        decide(&q22_held_thread::held_checks(&held(2, 150.0, 10.0))),
        Verdict::NotConfirmed
    );
    // An async loop that cost as much thread time as sync did not release the thread.
    assert_eq!(
        decide(&q22_held_thread::held_checks(&held(1, 150.0, 150.0))),
        Verdict::NotConfirmed
    );
}

#[test]
fn q30_one_thread_verdicts() {
    let one = |threads: usize, overlap: usize, e2e: f64| OneThread {
        usage: usage(threads, overlap, 20.0, 125.0),
        threads: threads as u64,
        users: 8,
        service_ms: 150.0,
        e2e_p50_ms: e2e,
        efficiency: 0.97,
    };
    assert_eq!(
        decide(&q30_one_thread::one_thread_checks(&one(1, 8, 155.0))),
        Verdict::Confirmed
    );
    assert_eq!(
        decide(&q30_one_thread::one_thread_checks(&one(4, 2, 155.0))),
        Verdict::NotConfirmed
    );
    // One thread, but requests ran one after another (no interleaving).
    assert_eq!(
        decide(&q30_one_thread::one_thread_checks(&one(1, 1, 600.0))),
        Verdict::NotConfirmed
    );
}

#[test]
fn x1_blocking_verdicts() {
    let b = |blocking_rps: f64, blocking_e2e: f64| Blocking {
        service_ms: 60.0,
        loop_threads: 1,
        async_rps: 120.0,
        async_e2e_p50_ms: 65.0,
        blocking_rps,
        blocking_e2e_p50_ms: blocking_e2e,
        blocking_threads: 1,
    };
    assert_eq!(
        decide(&x1_blocking_in_async::blocking_checks(&b(16.0, 500.0))),
        Verdict::Confirmed
    );
    // Blocking calls that did not slow anything down: not confirmed.
    assert_eq!(
        decide(&x1_blocking_in_async::blocking_checks(&b(118.0, 66.0))),
        Verdict::NotConfirmed
    );
}

#[test]
fn x2_cpu_on_the_loop_verdicts() {
    let load = |cpu: f64, e2e: f64, itl: f64, ttft: f64| Load {
        cpu_ms: cpu,
        e2e_mean_ms: e2e,
        e2e_p50_ms: e2e,
        e2e_p99_ms: e2e * 1.3,
        ttft_p99_ms: ttft,
        itl_p99_ms: itl,
        rps: 100.0,
    };
    let light = load(0.2, 152.0, 15.0, 25.0);
    let confirmed = CpuOnLoop {
        light,
        heavy: load(4.2, 170.0, 28.0, 40.0),
    };
    assert_eq!(
        decide(&x2_cpu_on_loop::cpu_checks(&confirmed)),
        Verdict::Confirmed
    );
    // Latency grew only by the request's own CPU: nobody paid for anybody else's.
    let own_only = CpuOnLoop {
        light,
        heavy: load(4.2, 156.0, 15.5, 29.0),
    };
    assert_eq!(
        decide(&x2_cpu_on_loop::cpu_checks(&own_only)),
        Verdict::NotConfirmed
    );
}

// Every sentence follows the numbers (#15 item 7): a fixture whose verdict is "not confirmed"
// gets prose that quotes the measured figure and never tells the claim's story; the confirmed
// fixture does tell it (so the check below cannot pass on prose that never mentions it).

use ragperf::tour::{Finding, Measured, Table};

/// `f` is "not confirmed", quotes `figure`, says so, and contains none of `story`.
fn assert_not_told(f: &Finding, story: &[&str], figure: &str) {
    assert_eq!(
        f.verdict(),
        Verdict::NotConfirmed,
        "{:?}",
        failed(&f.checks)
    );
    let words = f.words();
    for s in story {
        assert!(
            !words.contains(s),
            "tells `{s}` although not confirmed:\n{words}"
        );
    }
    assert!(
        words.contains(figure),
        "does not quote `{figure}`:\n{words}"
    );
    assert!(
        f.explanation.contains("do not confirm the claim"),
        "{}",
        f.explanation
    );
}

/// `f` is "confirmed" and tells `story`.
fn assert_told(f: &Finding, story: &str) {
    assert_eq!(f.verdict(), Verdict::Confirmed, "{:?}", failed(&f.checks));
    assert!(f.words().contains(story), "{}", f.words());
}

#[test]
fn q5_prose_follows_the_verdict() {
    let m = Measured::default();
    let story = "the waits overlapped";
    assert_told(
        &q5_two_requests::two_requests_finding(&two(305.0, 158.0), &m),
        story,
    );
    let f = q5_two_requests::two_requests_finding(&two(305.0, 300.0), &m);
    assert_not_told(&f, &[story, "6 s vs 3 s"], "300 ms");
}

#[test]
fn q4_prose_follows_the_verdict() {
    let story = "the cap is the pool";
    assert_told(
        &q4_bounded_pool::bounded_finding(&bounded(63.0, 180.0, 250.0)),
        story,
    );
    let f = q4_bounded_pool::bounded_finding(&bounded(200.0, 1.0, 250.0));
    assert_not_told(
        &f,
        &[story, "most of a request's time is queueing"],
        "200 req/s",
    );
}

#[test]
fn q1_q3_prose_follows_the_verdict() {
    let story = "keeps its thread through every network wait";
    assert_told(
        &threads::per_request_finding(&per_request((2, 64), (2, 6), (1, 1))),
        story,
    );
    let f = threads::per_request_finding(&per_request((2, 2), (2, 6), (1, 1)));
    assert_not_told(&f, &[story, "only between waits"], "2 for 64");
    // Qualified: the story, and the detail that failed, quoted.
    let f = threads::per_request_finding(&per_request((2, 64), (3, 6), (1, 1)));
    assert_eq!(f.verdict(), Verdict::Qualified);
    assert!(f.explanation.contains(story) && f.explanation.contains("measured 3"));
}

#[test]
fn q7_prose_follows_the_verdict() {
    let story = "a handful of threads carry them all";
    let finding = |f: &Thousands| q7_thousands::thousands_finding(f, Table::default(), 2);
    assert_told(&finding(&thousands((2, 2), 504, 0.99)), story);
    assert_not_told(
        &finding(&thousands((2, 400), 504, 0.99)),
        &[story],
        "on 400 threads",
    );
}

#[test]
fn q6_prose_follows_the_verdict() {
    let story = "took turns";
    assert_told(&gil::finding(&gil(1.0, 1.9, 3.9, 2)), story);
    let f = gil::finding(&gil(1.9, 1.9, 3.9, 2));
    // The caption that once said "stays near 1×" now quotes the measured 1.9×.
    assert_not_told(
        &f,
        &[story, "stays near 1×", "lock released"],
        "1.9× with the GIL",
    );
}

#[test]
fn q16_prose_follows_the_verdict() {
    let m = Measured::default();
    let story = "costs a thread hop";
    assert_told(&hybrid::finding(&hybrid(303.0, 98.0, 300.0), &m), story);
    let f = hybrid::finding(&hybrid(303.0, 205.0, 0.1), &m);
    assert_not_told(
        &f,
        &[story, "stops at the pool's cap"],
        "hybrid served 205 req/s",
    );
}

#[test]
fn q22_prose_follows_the_verdict() {
    let m = Measured::default();
    let held = |async_ms: f64| Held {
        sync: HeldSide {
            usage: usage(16, 1, 150.0, 125.0),
            threads: 17,
            busy_share: 0.01,
        },
        single: HeldSide {
            usage: usage(1, 16, async_ms, 125.0),
            threads: 1,
            busy_share: 0.08,
        },
    };
    let story = "what differs is who waits";
    assert_told(&q22_held_thread::held_finding(&held(10.0), &m), story);
    let f = q22_held_thread::held_finding(&held(150.0), &m);
    assert_not_told(&f, &[story, "held from retrieval"], "1× less than sync's");
}

#[test]
fn q30_prose_follows_the_verdict() {
    let m = Measured::default();
    let one = |threads: usize, overlap: usize| OneThread {
        usage: usage(threads, overlap, 20.0, 125.0),
        threads: threads as u64,
        users: 8,
        service_ms: 150.0,
        e2e_p50_ms: 155.0,
        efficiency: 0.97,
    };
    let story = "the thread ran another";
    assert_told(&q30_one_thread::one_thread_finding(&one(1, 8), &m), story);
    let f = q30_one_thread::one_thread_finding(&one(4, 2), &m);
    assert_not_told(&f, &[story, "every row says T1"], "on 4 OS thread(s)");
}

#[test]
fn x1_prose_follows_the_verdict() {
    let m = Measured::default();
    let b = |blocking_rps: f64, blocking_e2e: f64| Blocking {
        service_ms: 60.0,
        loop_threads: 1,
        async_rps: 120.0,
        async_e2e_p50_ms: 65.0,
        blocking_rps,
        blocking_e2e_p50_ms: blocking_e2e,
        blocking_threads: 1,
    };
    let story = "froze the loop";
    assert_told(
        &x1_blocking_in_async::blocking_finding(&b(16.0, 500.0), &m),
        story,
    );
    let f = x1_blocking_in_async::blocking_finding(&b(118.0, 66.0), &m);
    assert_not_told(&f, &[story, "one after another"], "118 req/s");
}

#[test]
fn x2_prose_follows_the_verdict() {
    let load = |e2e: f64, itl: f64, ttft: f64| Load {
        cpu_ms: if e2e > 152.0 { 4.2 } else { 0.2 },
        e2e_mean_ms: e2e,
        e2e_p50_ms: e2e,
        e2e_p99_ms: e2e * 1.3,
        ttft_p99_ms: ttft,
        itl_p99_ms: itl,
        rps: 100.0,
    };
    let light = load(152.0, 15.0, 25.0);
    let story = "someone else's prompt";
    let confirmed = CpuOnLoop {
        light,
        heavy: load(170.0, 28.0, 40.0),
    };
    assert_told(&x2_cpu_on_loop::cpu_finding(&confirmed), story);
    let own_only = CpuOnLoop {
        light,
        heavy: load(156.0, 15.5, 29.0),
    };
    assert_not_told(
        &x2_cpu_on_loop::cpu_finding(&own_only),
        &[story],
        "(1× its own CPU)",
    );
}
