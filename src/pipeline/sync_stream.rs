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
//! - a `next()` that finds no event buffered reads the socket and spends `cpu_per_read_us` on
//!   top; a stream that queued finds several tokens per read (83 % of `next()` calls read at 64
//!   users, 6 % at 200 with the seed's calibration at time scale 1), so a saturated service
//!   spends less per answer (`RequestRecord::stream_reads`, `steps::token_sink`);
//! - between two jobs the request holds **no thread**: its open connection, decoder, token clock
//!   and record sit in a per-request state object in the queue. Tokens the server sends meanwhile
//!   wait in the socket buffer.
//!
//! So with one thread and two streams, their tokens interleave; with W threads and more streams
//! than W, every stream progresses, and the time a token waits for a thread shows up in TTFT and
//! ITL (that is the point). `queue` (and `started_us`) is the wait for the body job only.
//!
//! # The event loop in front of the pool
//!
//! Starlette's event loop sends every token and dispatches every `next()`; with a loop share
//! above 0 the pool gets that thread ([`LOOP_THREAD`]). How it works: `sync_stream_loop.rs`.

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

#[path = "sync_stream_loop.rs"]
mod event_loop;
use event_loop::event_loop;

/// Pool size when `--workers` is not given: anyio's default `CapacityLimiter` (40 tokens), which
/// Starlette's thread pool uses.
pub const DEFAULT_WORKERS: usize = 40;

/// Thread name prefix (`sync-stream-1`, …).
pub const THREAD_PREFIX: &str = "sync-stream-";

/// The event loop's thread, when a loop share gives it work (within Linux's 15-byte
/// thread names, and under [`THREAD_PREFIX`]: it is one of the variant's threads).
pub const LOOP_THREAD: &str = "sync-stream-ev";

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

/// What the event loop is handed.
enum LoopItem {
    /// A new request: the loop reads it and dispatches its body to the pool.
    Request(Ticket),
    /// A stream whose body or `next()` returned (`true`: with a token to send).
    Stream(Box<Open>, bool),
}

/// What a job left behind.
enum Step {
    /// The stream is open and has more to give: queue its next `next()`.
    Parked(Box<Open>),
    /// The same, through the event loop first: the body returned its generator (`false`) or a
    /// `next()` returned a token (`true`) whose loop share of the CPU is still to spend.
    ToLoop(Box<Open>, bool),
    /// The request is over (answer complete, or failed).
    Done(Box<RequestRecord>),
}

struct Queue {
    jobs: VecDeque<Job>,
    /// Workers running a job.
    busy: usize,
    /// Streams handed to the event loop and not queued again yet.
    at_loop: usize,
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
    /// The event loop's inbox (None without a loop share, and once shut down).
    to_loop: Mutex<Option<Sender<LoopItem>>>,
    /// The loop's own CPU per token, µs; the pool thread that read the token spends the rest.
    loop_token_us: u64,
    /// The loop's CPU per new request, µs (reading it, dispatching its body).
    loop_request_us: u64,
    /// Whether the pool has an event loop (a loop share above 0): streams go through it.
    has_loop: bool,
}

/// The shared, token-by-token thread pool.
pub struct SyncStream {
    shared: Arc<Shared>,
    /// The event loop's thread (with a loop share only).
    event_loop: Option<JoinHandle<()>>,
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
        let token_share = ctx.cpu_token_loop_share.clamp(0.0, 1.0);
        let request_share = ctx.cpu_request_loop_share.clamp(0.0, 1.0);
        let loop_token_us = (ctx.cpu_per_token_us as f64 * token_share).round() as u64;
        let loop_request_us = (ctx.cpu_work_us as f64 * request_share).round() as u64;
        // The loop's part of the per-request CPU is not the body's: the body spends the rest.
        let ctx = if loop_request_us > 0 {
            Arc::new(RequestContext {
                cpu_work_us: ctx.cpu_work_us - loop_request_us,
                ..RequestContext::clone(&ctx)
            })
        } else {
            ctx
        };
        let (to_loop, inbox) = if token_share > 0.0 || request_share > 0.0 {
            let (tx, rx) = std::sync::mpsc::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                busy: 0,
                at_loop: 0,
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
            to_loop: Mutex::new(to_loop),
            loop_token_us,
            loop_request_us,
            has_loop: inbox.is_some(),
        });
        let event_loop = match inbox {
            Some(inbox) => {
                let loop_shared = shared.clone();
                let handle = std::thread::Builder::new()
                    .name(LOOP_THREAD.into())
                    .spawn(move || event_loop(&loop_shared, &inbox))
                    .map_err(|e| ExecutorError::Clients {
                        variant: "sync-stream",
                        message: format!("cannot spawn the event loop's thread: {e}"),
                    })?;
                Some(handle)
            }
            None => None,
        };
        Ok(SyncStream { shared, event_loop })
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `q` needs one more thread (more jobs queued than idle workers, room in the pool);
    /// if so, counts it as spawned and returns its number. Once closed, only a pool without a
    /// thread grows (a request the event loop queued after the close still gets one).
    fn grow(&self, q: &mut Queue) -> Option<usize> {
        let idle = q.spawned - q.busy;
        if (q.closed && q.spawned > 0) || q.jobs.len() <= idle || q.spawned >= self.max_workers {
            return None;
        }
        q.spawned += 1;
        Some(q.spawned)
    }

    /// Queues a job (a new request or a parked stream's next `next()`), waking or spawning a
    /// worker for it.
    fn push(self: &Arc<Self>, job: Job, origin: Origin) {
        let spawn = {
            let mut q = self.lock();
            match origin {
                Origin::Submit => {}
                Origin::Worker => q.busy -= 1,
                Origin::Loop => q.at_loop -= 1,
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
        if q.closed && q.busy == 0 && q.at_loop == 0 && q.jobs.is_empty() {
            self.ready.notify_all();
        }
    }

    /// Joins the workers (by `deadline`, then abandons them).
    fn join_workers(&self, deadline: Instant) {
        let handles = std::mem::take(&mut *self.handles.lock().unwrap_or_else(|p| p.into_inner()));
        join_within(
            handles,
            deadline.saturating_duration_since(Instant::now()),
            &self.abandon,
        );
        self.ready.notify_all();
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
            if q.closed && q.busy == 0 && q.at_loop == 0 {
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
            Job::Start(ticket) => body(&shared.ctx, &shared.clients, &ticket, shared.has_loop),
            Job::Next(open) => next(
                &shared.ctx,
                shared.has_loop.then_some(shared.loop_token_us),
                open,
            ),
        };
        match step {
            Step::Parked(open) => shared.push(Job::Next(open), Origin::Worker),
            Step::ToLoop(open, token) => shared.hand_to_loop(open, token),
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

/// Who queues a job: [`Shared::push`] keeps the counts of busy workers and streams at the loop.
enum Origin {
    /// A new request.
    Submit,
    /// A worker that just finished a job.
    Worker,
    /// The event loop, after its turn.
    Loop,
}

/// The endpoint body: embed, retrieve, build the prompt, open the stream.
fn body(ctx: &RequestContext, clients: &BlockingClients, ticket: &Ticket, with_loop: bool) -> Step {
    let (mut record, passages) = match steps::embed_and_retrieve_blocking(ctx, clients, ticket) {
        Ok(x) => x,
        Err(record) => return Step::Done(record),
    };
    let (system, user) = steps::prepare(ctx, &mut record, &ticket.question, &passages);
    let request = ctx.chat_request(&system, &user);
    let clock = TokenClock::new(ctx.epoch);
    match clients.bedrock.open_stream(&request) {
        Ok(stream) => {
            let open = Box::new(Open {
                record,
                passages,
                clock,
                stream,
            });
            if with_loop {
                Step::ToLoop(open, false)
            } else {
                Step::Parked(open)
            }
        }
        Err(e) => {
            steps::close_stream(ctx, &mut record, clock, Err(e), &passages);
            Step::Done(Box::new(record))
        }
    }
}

/// One `next()`: the next text delta (waiting for it on this thread) and its CPU, or the end.
/// With a loop share, this thread spends the rest of the token's CPU and the loop sends it.
fn next(ctx: &RequestContext, loop_token_us: Option<u64>, mut open: Box<Open>) -> Step {
    // A `next()` that finds no event left from an earlier read reads the socket (and, at low
    // load, waits there for the token): its CPU (`cpu_per_read_us`) is spent on this thread.
    // A stream that queued finds several events per read, so few of its tokens pay it.
    let read_us = if open.stream.has_buffered_event() {
        0
    } else {
        open.clock.reads += 1;
        ctx.cpu_per_read_us
    };
    let result = match open.stream.next_event() {
        Ok(StreamEvent::Token(delta)) => {
            let loop_us = loop_token_us.unwrap_or(0);
            let here = ctx.cpu_per_token_us.saturating_sub(loop_us) + read_us;
            steps::token_cpu(&mut open.clock, &delta, here, ctx.gil.as_deref());
            if loop_token_us.is_some() {
                return Step::ToLoop(open, true);
            }
            open.clock.token();
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

impl Drop for SyncStream {
    /// Without a shutdown (an error path), the loop's thread must not wait on its inbox forever:
    /// it holds the pool, whose sender would keep the inbox open.
    fn drop(&mut self) {
        self.shared.close_loop();
    }
}

impl Executor for SyncStream {
    fn submit(&self, ticket: Ticket) {
        match self.shared.loop_inbox() {
            Some(tx) => {
                self.shared.lock().at_loop += 1;
                self.shared.send_to_loop(&tx, LoopItem::Request(ticket));
            }
            None => self.shared.push(Job::Start(ticket), Origin::Submit),
        }
    }

    fn shutdown(mut self: Box<Self>, grace: Duration) {
        let deadline = Instant::now() + grace;
        {
            let mut q = self.shared.lock();
            q.closed = true;
        }
        self.shared.ready.notify_all();
        // Workers drain every queued job (streams in progress and streams at the loop included)
        // before they exit.
        self.shared.join_workers(deadline);
        // The workers are gone, so no stream is at the loop (or the run was abandoned, or no
        // worker had started yet): closing its inbox ends it once it has emptied it.
        self.shared.close_loop();
        if let Some(handle) = self.event_loop.take() {
            join_within(
                vec![handle],
                deadline.saturating_duration_since(Instant::now()),
                &self.shared.abandon,
            );
            // A request the loop queued after the close, into a pool with no thread yet, got
            // one: it finishes too.
            self.shared.join_workers(deadline);
        }
    }
}

#[cfg(test)]
#[path = "sync_stream_tests.rs"]
mod tests;
