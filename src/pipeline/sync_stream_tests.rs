//! Unit tests of `src/pipeline/sync_stream.rs` (the pool's growth rule), kept apart so the
//! module stays a readable size.

use super::*;

#[test]
fn the_pool_grows_only_for_queued_jobs_and_up_to_its_bound() {
    let (done, _rx) = std::sync::mpsc::channel();
    let ctx = Arc::new(RequestContext {
        epoch: Instant::now(),
        endpoints: Default::default(),
        client: Default::default(),
        time_scale: 1.0,
        top_k: 4,
        cpu_work_us: 0,
        cpu_per_token_us: 0,
        cpu_per_read_us: 0,
        cpu_steps: 1,
        cpu_offloop_share: 0.0,
        cpu_parallel_share: 0.0,
        cpu_token_loop_share: 0.0,
        cpu_request_loop_share: 0.0,
        gil: None,
        max_tokens: 16,
        temperature: 0.0,
    });
    let opts = ExecutorOptions {
        workers: Some(2),
        worker_threads: None,
        max_blocking_threads: None,
        expected_concurrency: 8,
    };
    let pool = SyncStream::start(ctx, &opts, done).unwrap();
    let shared = &pool.shared;
    let mut q = Queue {
        jobs: VecDeque::new(),
        busy: 0,
        at_loop: 0,
        spawned: 0,
        closed: false,
    };
    assert_eq!(shared.grow(&mut q), None, "nothing queued");
    let ticket = |id| Ticket {
        id,
        intended: Instant::now(),
        question: Arc::from("q"),
        measured: true,
        user: None,
    };
    q.jobs.push_back(Job::Start(ticket(0)));
    assert_eq!(shared.grow(&mut q), Some(1));
    q.jobs.push_back(Job::Start(ticket(1)));
    assert_eq!(shared.grow(&mut q), Some(2));
    q.jobs.push_back(Job::Start(ticket(2)));
    assert_eq!(shared.grow(&mut q), None, "bounded at --workers");
    q.closed = true;
    q.spawned = 1;
    assert_eq!(shared.grow(&mut q), None, "no more threads once closed");
    q.spawned = 0;
    assert_eq!(
        shared.grow(&mut q),
        Some(1),
        "a request the loop queued after the close, in a pool without a thread"
    );
}
