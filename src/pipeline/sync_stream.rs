//! `sync-stream`: a FastAPI `def` endpoint that returns `StreamingResponse(generator)` — blocking
//! clients on a bounded pool of OS threads that requests share *token by token*, not request by
//! request.
//!
//! # What Starlette does, and what this variant does
//!
//! Starlette runs a `def` endpoint's body in its thread pool (`anyio.to_thread.run_sync`, bounded
//! by anyio's default `CapacityLimiter` of 40 tokens), and then iterates the returned sync
//! generator with `iterate_in_threadpool`: *every* `next()` — every wait for one more token — is
//! a separate `run_sync` call on the same shared 40-token limiter, and the token is released
//! between two `next()` calls. So a streaming request does not hold a thread for its whole life;
//! its waits are spread over the stream. Measured on the real stack at 100 concurrent users, that
//! served ~2.5× what "40 threads, each holding a request to the end" (the `sync` variant with
//! `--workers 40`) predicts, with a short TTFT and 42 OS threads; the bound there was Python
//! CPU, not the pool.
//!
//! This variant does exactly that, with real threads and a real queue:
//!
//! - one pool of at most `--workers` OS threads (`sync-stream-N`, default
//!   [`DEFAULT_WORKERS`] = anyio's limiter), spawned on demand and shared by every request, with
//!   one FIFO job queue;
//! - a request's **body** is one job: embed, retrieve, the CPU prompt step, and opening the
//!   `ConverseStream` (the 200 arrives before the first token) — the point where the endpoint
//!   returns its generator;
//! - every **`next()`** is one more job, appended to the back of the same queue: it pulls the
//!   next event from the open stream with the *blocking* client
//!   ([`BlockingConverseStream::next_event`](crate::client::BlockingConverseStream::next_event)),
//!   blocking its thread until a token arrives if none is buffered yet, then spends the per-token
//!   CPU (`cpu_per_token_us`, under the GIL when `gil = true`). The last job reads the end of
//!   the stream and finishes the record;
//! - between two jobs the request holds **no thread**: its open connection, decoder, token clock
//!   and record sit in a per-request state object in the queue. Tokens the server sends meanwhile
//!   wait in the socket buffer.
//!
//! So with one thread and two streams, their tokens interleave; with W threads and more streams
//! than W, every stream progresses, and the time a token waits for a thread shows up in TTFT and
//! ITL (that is the point). `queue` (and `started_us`) is the wait for the body job only.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::record::TokenClock;
use super::sequential::join_within;
use super::steps::{self, RequestContext};
use super::{Executor, ExecutorError, ExecutorOptions, RequestRecord, Ticket};
use crate::client::{BlockingClients, BlockingConverseStream, Passage, StreamEvent};

/// Pool size when `--workers` is not given: anyio's default `CapacityLimiter` (40 tokens), which
/// Starlette's thread pool uses.
pub const DEFAULT_WORKERS: usize = 40;

/// Thread name prefix (`sync-stream-1`, …).
pub const THREAD_PREFIX: &str = "sync-stream-";

/// A request between two jobs: everything its generator holds while suspended.
struct Open {
    record: RequestRecord,
    passages: Vec<Passage>,
    clock: TokenClock,
    stream: BlockingConverseStream,
}

/// One unit of work for a pool thread.
enum Job {
    /// The endpoint body: embed, retrieve, prompt, open the stream.
    Start(Ticket),
    /// One `next()` on an open stream.
    Next(Box<Open>),
}

/// What a job left behind.
enum Step {
    /// The stream is open and has more to give: queue its next `next()`.
    Parked(Box<Open>),
    /// The request is over (answer complete, or failed).
    Done(Box<RequestRecord>),
}

struct Queue {
    jobs: VecDeque<Job>,
    /// Workers running a job.
    busy: usize,
    spawned: usize,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    abandon: AtomicBool,
    max_workers: usize,
    handles: Mutex<Vec<JoinHandle<()>>>,
    clients: BlockingClients,
    ctx: Arc<RequestContext>,
    done: Sender<RequestRecord>,
}

/// The shared, token-by-token thread pool.
pub struct SyncStream {
    shared: Arc<Shared>,
}

impl SyncStream {
    /// Creates the pool (`opts.workers` threads at most, default [`DEFAULT_WORKERS`]); threads
    /// are spawned as jobs need them.
    pub fn start(
        ctx: Arc<RequestContext>,
        opts: &ExecutorOptions,
        done: Sender<RequestRecord>,
    ) -> Result<Self, ExecutorError> {
        let max_workers = opts.workers.unwrap_or(DEFAULT_WORKERS).max(1);
        // Every in-flight request keeps its stream's connection open, whether or not it holds a
        // thread: size the connection pool for the requests, not the threads.
        let clients = ctx
            .blocking_clients(opts.expected_concurrency.max(max_workers))
            .map_err(|e| ExecutorError::Clients {
                variant: "sync-stream",
                message: e.to_string(),
            })?;
        Ok(SyncStream {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue {
                    jobs: VecDeque::new(),
                    busy: 0,
                    spawned: 0,
                    closed: false,
                }),
                ready: Condvar::new(),
                abandon: AtomicBool::new(false),
                max_workers,
                handles: Mutex::new(Vec::new()),
                clients,
                ctx,
                done,
            }),
        })
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `q` needs one more thread (more jobs queued than idle workers, room in the pool);
    /// if so, counts it as spawned and returns its number.
    fn grow(&self, q: &mut Queue) -> Option<usize> {
        let idle = q.spawned - q.busy;
        if q.closed || q.jobs.len() <= idle || q.spawned >= self.max_workers {
            return None;
        }
        q.spawned += 1;
        Some(q.spawned)
    }

    /// Queues a job (a new request or a parked stream's next `next()`), waking or spawning a
    /// worker for it.
    fn push(self: &Arc<Self>, job: Job, finishing_worker: bool) {
        let spawn = {
            let mut q = self.lock();
            if finishing_worker {
                q.busy -= 1;
            }
            q.jobs.push_back(job);
            self.ready.notify_one();
            self.grow(&mut q)
        };
        if let Some(n) = spawn {
            self.spawn(n);
        }
    }

    /// A worker finished a job that ended its request.
    fn finished(&self) {
        let mut q = self.lock();
        q.busy -= 1;
        if q.closed && q.busy == 0 && q.jobs.is_empty() {
            self.ready.notify_all();
        }
    }

    /// The next job, waiting for one; None once the pool is closed and no job can appear any
    /// more (nothing queued, nothing running), or when abandoned.
    fn next_job(&self) -> Option<Job> {
        let mut q = self.lock();
        loop {
            if self.abandon.load(Ordering::Relaxed) {
                return None;
            }
            if let Some(job) = q.jobs.pop_front() {
                q.busy += 1;
                return Some(job);
            }
            if q.closed && q.busy == 0 {
                return None;
            }
            q = self.ready.wait(q).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn spawn(self: &Arc<Self>, n: usize) {
        let shared = self.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("{THREAD_PREFIX}{n}"))
            .spawn(move || worker_loop(shared));
        match spawned {
            Ok(handle) => self
                .handles
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(handle),
            Err(e) => self.spawn_failed(&e),
        }
    }

    /// Out of threads: the jobs stay queued for the existing workers; with no worker at all, the
    /// newest request fails now, as a counted error.
    fn spawn_failed(&self, e: &std::io::Error) {
        let mut q = self.lock();
        q.spawned -= 1;
        if q.spawned > 0 {
            self.ready.notify_one();
            return;
        }
        let Some(Job::Start(ticket)) = q.jobs.pop_back() else {
            return;
        };
        drop(q);
        let _ = self.done.send(RequestRecord::not_started(
            &ticket,
            self.ctx.epoch,
            "thread_spawn",
            format!("cannot spawn a worker thread: {e}"),
        ));
    }
}

fn worker_loop(shared: Arc<Shared>) {
    while let Some(job) = shared.next_job() {
        let step = match job {
            Job::Start(ticket) => body(&shared.ctx, &shared.clients, &ticket),
            Job::Next(open) => next(&shared.ctx, open),
        };
        match step {
            Step::Parked(open) => shared.push(Job::Next(open), true),
            Step::Done(record) => {
                // Not busy any more *before* the record goes back, so the closed-loop user's
                // next request (which the record triggers) finds this thread idle.
                shared.finished();
                if shared.done.send(*record).is_err() {
                    return;
                }
            }
        }
    }
}

/// The endpoint body: embed, retrieve, build the prompt, open the stream.
fn body(ctx: &RequestContext, clients: &BlockingClients, ticket: &Ticket) -> Step {
    let (mut record, passages) = match steps::embed_and_retrieve_blocking(ctx, clients, ticket) {
        Ok(x) => x,
        Err(record) => return Step::Done(record),
    };
    let (system, user) = steps::prepare(ctx, &mut record, &ticket.question, &passages);
    let request = ctx.chat_request(&system, &user);
    let clock = TokenClock::new(ctx.epoch);
    match clients.bedrock.open_stream(&request) {
        Ok(stream) => Step::Parked(Box::new(Open {
            record,
            passages,
            clock,
            stream,
        })),
        Err(e) => {
            steps::close_stream(ctx, &mut record, clock, Err(e), &passages);
            Step::Done(Box::new(record))
        }
    }
}

/// One `next()`: the next text delta (waiting for it on this thread) and its CPU, or the end.
fn next(ctx: &RequestContext, mut open: Box<Open>) -> Step {
    let result = match open.stream.next_event() {
        Ok(StreamEvent::Token(delta)) => {
            steps::on_token(ctx, &mut open.clock, &delta);
            return Step::Parked(open);
        }
        Ok(StreamEvent::Done(reply)) => Ok(reply),
        Err(e) => Err(e),
    };
    let Open {
        mut record,
        passages,
        clock,
        ..
    } = *open;
    steps::close_stream(ctx, &mut record, clock, result, &passages);
    Step::Done(Box::new(record))
}

impl Executor for SyncStream {
    fn submit(&self, ticket: Ticket) {
        self.shared.push(Job::Start(ticket), false);
    }

    fn shutdown(self: Box<Self>, grace: Duration) {
        let deadline = Instant::now() + grace;
        {
            let mut q = self.shared.lock();
            q.closed = true;
        }
        self.shared.ready.notify_all();
        // Workers drain every queued job (streams in progress included) before they exit.
        let handles = std::mem::take(
            &mut *self
                .shared
                .handles
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        join_within(
            handles,
            deadline.saturating_duration_since(Instant::now()),
            &self.shared.abandon,
        );
        self.shared.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
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
            cpu_steps: 1,
            cpu_offloop_share: 0.0,
            cpu_parallel_share: 0.0,
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
        q.spawned = 0;
        assert_eq!(shared.grow(&mut q), None, "no threads once closed");
    }
}
