//! `rag_batch/<variant>/<concurrency>`: the seven concurrency models side by side.
//!
//! One iteration submits N requests at once to a variant's executor and ends when all N records
//! are back, so the time per iteration is the batch's makespan and criterion's throughput line
//! (`Elements(N)`) reads as requests per second at concurrency N. The mocks run in-process on
//! their own runtime (2 threads, as `ragperf run` starts them) with the seed's latency model at
//! [`TIME_SCALE`]; one mock set serves the whole group and each executor is started once per
//! benchmark, outside the timed loop, so connection set-up and thread spawning are warm-up, not
//! measurement.
//!
//! Reading it: at N = 1 every variant costs one service time plus its overhead; at larger N the
//! parallel variants stay near one service time while `sequential` grows with N and
//! `blocking-in-async` with N divided by the runtime's worker threads.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group};
use mock_services::{Bind, MockServices, OwnedMockServices};
use ragperf::client::Endpoints;
use ragperf::pipeline::{
    Executor, ExecutorOptions, RequestContext, RequestRecord, Ticket, VariantKind, start_executor,
};
use ragperf::scenario::Scenario;

/// 1/200 of the seed's latencies: one request's expected service time is about 19 ms.
pub const TIME_SCALE: f64 = 0.005;

/// Requests per batch (= concurrency).
pub const CONCURRENCY: [usize; 3] = [1, 8, 32];

/// Measurement time of a benchmark whose batches are fast (at least 10 batches are timed).
const MEASUREMENT: Duration = Duration::from_millis(1500);

/// How long one record may take before the batch gives up on it (counted, not a panic).
const RECORD_TIMEOUT: Duration = Duration::from_secs(20);

/// Failures seen while benchmarking one variant at one concurrency.
#[derive(Default)]
struct Failures {
    failed: u64,
    lost: u64,
    first_message: Option<String>,
}

/// Everything one benchmark's batches share.
struct Batch<'a> {
    executor: &'a dyn Executor,
    records: &'a Receiver<RequestRecord>,
    questions: &'a [Arc<str>],
    next_id: u64,
    failures: Failures,
}

impl Batch<'_> {
    /// Submits `n` requests at once and waits for all of them; returns the makespan.
    fn run(&mut self, n: usize) -> Duration {
        let start = Instant::now();
        for _ in 0..n {
            let question = self.questions[self.next_id as usize % self.questions.len()].clone();
            self.executor.submit(Ticket {
                id: self.next_id,
                intended: Instant::now(),
                question,
                measured: true,
                user: None,
            });
            self.next_id += 1;
        }
        for _ in 0..n {
            match self.records.recv_timeout(RECORD_TIMEOUT) {
                Ok(record) if record.is_ok() => {}
                Ok(record) => {
                    self.failures.failed += 1;
                    if self.failures.first_message.is_none() {
                        self.failures.first_message = Some(format!("{:?}", record.outcome));
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    self.failures.lost += 1;
                    break;
                }
            }
        }
        start.elapsed()
    }
}

/// The seed's scenario at [`TIME_SCALE`].
fn scenario() -> Scenario {
    Scenario {
        time_scale: TIME_SCALE,
        ..Scenario::default()
    }
}

/// The mocks for the whole group (None after printing why).
fn start_mocks(s: &Scenario) -> Option<OwnedMockServices> {
    match MockServices::start_on_own_runtime(s.mock_config(), Bind::default(), 2) {
        Ok(m) => Some(m),
        Err(e) => {
            eprintln!("rag_batch: cannot start the in-process mocks: {e}");
            None
        }
    }
}

/// The request context of one executor (its own epoch; no GIL).
fn context(s: &Scenario, mocks: &OwnedMockServices) -> Arc<RequestContext> {
    Arc::new(RequestContext {
        epoch: Instant::now(),
        endpoints: Endpoints {
            qdrant_url: mocks.qdrant_url(),
            bedrock_url: mocks.bedrock_url(),
            collection: s.qdrant.collection.clone(),
            embed_model: s.request.embed_model.clone(),
            embed_dimensions: s.request.embed_dimensions as u32,
            chat_model: s.request.chat_model.clone(),
        },
        client: s.client.clone(),
        time_scale: s.time_scale,
        top_k: s.request.top_k,
        cpu_work_us: s.request.cpu_work_us,
        cpu_per_token_us: s.request.cpu_per_token_us,
        cpu_per_read_us: s.request.cpu_per_read_us,
        cpu_steps: s.request.cpu_steps,
        cpu_offloop_share: s.request.cpu_offloop_share,
        cpu_parallel_share: s.request.cpu_parallel_share,
        cpu_token_loop_share: s.request.cpu_token_loop_share,
        cpu_request_loop_share: s.request.cpu_request_loop_share,
        gil: None,
        max_tokens: s.request.max_tokens,
        temperature: s.request.temperature,
    })
}

/// The variants at every concurrency of [`CONCURRENCY`].
pub fn variants(c: &mut Criterion) {
    let s = scenario();
    let Some(mocks) = start_mocks(&s) else {
        std::process::exit(1);
    };
    let questions: Vec<Arc<str>> = s.questions().into_iter().map(Arc::from).collect();
    let mut broken: Vec<String> = Vec::new();
    let mut group = c.benchmark_group("rag_batch");
    // A batch takes tens to hundreds of milliseconds: flat sampling with the minimum sample
    // count keeps the whole group near a minute (sequential at 32 is the slowest, ~0.8 s a
    // batch).
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300));
    for kind in VariantKind::ALL {
        for n in CONCURRENCY {
            let (tx, rx) = mpsc::channel();
            let opts = ExecutorOptions {
                workers: None,
                worker_threads: None,
                max_blocking_threads: None,
                expected_concurrency: n,
            };
            let executor = match start_executor(kind, context(&s, &mocks), &opts, tx) {
                Ok(e) => e,
                Err(e) => {
                    broken.push(format!("rag_batch/{}/{n}: {e}", kind.name()));
                    continue;
                }
            };
            let mut batch = Batch {
                executor: executor.as_ref(),
                records: &rx,
                questions: &questions,
                next_id: 0,
                failures: Failures::default(),
            };
            // One untimed batch opens the connections and tells how long a batch takes, so
            // the slow combinations (sequential or blocking-in-async at 32) get the time their
            // 10 samples need instead of a warning.
            let first = batch.run(n);
            group.measurement_time(MEASUREMENT.max(first.mul_f64(12.0)));
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new(kind.name(), n), &n, |b, &n| {
                b.iter_custom(|iters| (0..iters).map(|_| batch.run(n)).sum::<Duration>())
            });
            let f = batch.failures;
            if f.failed + f.lost > 0 {
                broken.push(format!(
                    "rag_batch/{}/{n}: {} request(s) failed and {} never came back (first: {})",
                    kind.name(),
                    f.failed,
                    f.lost,
                    f.first_message.as_deref().unwrap_or("-")
                ));
            }
            executor.shutdown(Duration::from_millis(500));
        }
    }
    group.finish();
    mocks.shutdown(Duration::from_millis(500));
    // The scenario injects no faults, so a failure means the bench is broken (mocks
    // unreachable, a client bug): its timings would be wrong, and `cargo test --bench
    // bench_main` in CI must notice rather than print "Success".
    if !broken.is_empty() {
        eprintln!(
            "rag_batch: requests failed, timings are not valid:\n{}",
            broken.join("\n")
        );
        std::process::exit(1);
    }
}

criterion_group!(benches, variants);
