//! Where the per-request CPU runs: `cpu_steps` spreads it over the points before the stream (a
//! slice before the embedding and the retrieval as well as at the prompt), and
//! `cpu_offloop_share` and `cpu_parallel_share` move those shares off the event loop's thread
//! onto the blocking pool.
//! Requests run one at a time on a current-thread runtime on the test's own thread, whose CPU
//! clock counts only what ran on it; every bound is a lower bound from work that must be done
//! (CPU work cannot finish sooner than its CPU time) or a generous share of it.

use crate::common;

use std::sync::Arc;
use std::time::Instant;

use mock_services::{Bind, MockServices, OwnedMockServices};
use ragperf::pipeline::cpu::thread_cpu_us;
use ragperf::pipeline::steps::run_async;
use ragperf::pipeline::{RequestContext, RequestRecord, Ticket};
use ragperf::scenario::Scenario;

/// CPU per request, µs: large beside what the clients spend on zero-latency mocks.
const WORK_US: u64 = 30_000;
const REQUESTS: u64 = 3;

fn context(
    mocks: &OwnedMockServices,
    s: &Scenario,
    steps: u8,
    offloop: f64,
    share: f64,
) -> RequestContext {
    RequestContext {
        cpu_work_us: WORK_US,
        cpu_per_token_us: 0,
        cpu_per_read_us: 0,
        cpu_steps: steps,
        cpu_offloop_share: offloop,
        cpu_parallel_share: share,
        gil: None,
        ..common::request_context(mocks, s)
    }
}

/// Runs [`REQUESTS`] requests one after the other on a current-thread runtime on this thread:
/// their records and the CPU this thread (the "event loop") spent.
fn run_on_loop(ctx: RequestContext) -> (Vec<RequestRecord>, u64) {
    let ctx = Arc::new(ctx);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let clients = ctx.async_clients(1).expect("clients");
    // Client set-up, connections and the work function's calibration outside the measurement.
    let warm = Ticket {
        id: 0,
        intended: Instant::now(),
        question: "What is the site status?".into(),
        measured: false,
        user: None,
    };
    let _ = runtime.block_on(run_async(&ctx, &clients, &warm));
    let start = thread_cpu_us();
    let records = (1..=REQUESTS)
        .map(|id| {
            let ticket = Ticket {
                id,
                intended: Instant::now(),
                ..warm.clone()
            };
            runtime.block_on(run_async(&ctx, &clients, &ticket))
        })
        .collect();
    (records, thread_cpu_us() - start)
}

fn mocks() -> (OwnedMockServices, Scenario) {
    let s = common::fixed_scenario(0.0, 0.0, 1.0, 0.0, 3.0);
    let mocks = MockServices::start_on_own_runtime(s.mock_config(), Bind::default(), 1)
        .expect("start the mocks");
    (mocks, s)
}

fn all_ok(records: &[RequestRecord]) {
    for r in records {
        assert!(r.is_ok(), "request {}: {:?}", r.id, r.outcome);
    }
}

#[test]
fn three_steps_put_a_slice_before_each_call_and_one_step_all_at_the_prompt() {
    let (mocks, s) = mocks();
    let slice = WORK_US / 3;
    let (three, loop_cpu) = run_on_loop(context(&mocks, &s, 3, 0.0, 0.0));
    all_ok(&three);
    for r in &three {
        let embed = r.embed_done_us.expect("embedded") - r.started_us;
        let retrieve = r.retrieve_done_us.expect("retrieved") - r.embed_done_us.expect("embedded");
        let prompt = r.cpu_done_us.expect("prompt") - r.retrieve_done_us.expect("retrieved");
        // Each phase holds its slice: at least 70 % of 10 ms of CPU (the work's calibration
        // runs on an idle thread; a busy machine only makes it longer).
        for (phase, us) in [("embed", embed), ("retrieve", retrieve), ("prompt", prompt)] {
            assert!(
                us >= slice * 7 / 10,
                "request {}: {phase} took {us} µs",
                r.id
            );
        }
    }
    assert!(
        loop_cpu >= REQUESTS * WORK_US * 7 / 10,
        "the loop's thread spent {loop_cpu} µs for {REQUESTS} x {WORK_US} µs of serial work"
    );
    let (one, _) = run_on_loop(context(&mocks, &s, 1, 0.0, 0.0));
    all_ok(&one);
    for r in &one {
        let prompt = r.cpu_done_us.expect("prompt") - r.retrieve_done_us.expect("retrieved");
        assert!(
            prompt >= WORK_US * 7 / 10,
            "request {}: prompt {prompt} µs",
            r.id
        );
    }
}

#[test]
fn the_parallel_share_runs_off_the_loop_thread() {
    let (mocks, s) = mocks();
    let (serial, serial_cpu) = run_on_loop(context(&mocks, &s, 3, 0.0, 0.0));
    let (parallel, parallel_cpu) = run_on_loop(context(&mocks, &s, 3, 0.0, 1.0));
    all_ok(&serial);
    all_ok(&parallel);
    let work = REQUESTS * WORK_US;
    assert!(
        serial_cpu >= work * 7 / 10,
        "serial: loop CPU {serial_cpu} µs"
    );
    // With all of it in parallel the loop only runs the clients (well under a third of the
    // work); the request still waits for the work, so its phases still hold the slices.
    assert!(
        parallel_cpu < work / 3,
        "parallel: loop CPU {parallel_cpu} µs for {work} µs of work moved off it"
    );
    for r in &parallel {
        let prompt = r.cpu_done_us.expect("prompt") - r.retrieve_done_us.expect("retrieved");
        assert!(
            prompt >= WORK_US / 3 * 7 / 10,
            "request {}: prompt {prompt} µs",
            r.id
        );
    }
}
