//! `sync`: blocking clients, and each in-flight request owns an OS thread from start to end —
//! Flask/Django workers, FastAPI's thread pool for `def` endpoints, `ThreadPoolExecutor` (Q1, Q3,
//! Q4).
//!
//! The pool grows on demand: a request that finds no idle worker gets a new thread
//! (`sync-worker-N`), so by default there is one thread per in-flight request. `--workers N`
//! caps the pool like `ThreadPoolExecutor(max_workers=N)` or Starlette's 40 threads; excess
//! requests wait in the queue, and that wait is their measured `queue` time. Threads are kept
//! until the run ends, so `threads_peak` is the largest number ever needed at once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::sequential::join_within;
use super::steps::{self, RequestContext};
use super::{Executor, ExecutorError, ExecutorOptions, RequestRecord, Ticket};
use crate::client::BlockingClients;

struct Queue {
    tickets: VecDeque<Ticket>,
    /// Workers running a request. A worker stops counting as busy *before* it hands its record
    /// back, so the closed-loop user's next request (which the record triggers) finds it free
    /// instead of spawning a thread it does not need.
    busy: usize,
    spawned: usize,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    abandon: AtomicBool,
    clients: BlockingClients,
    ctx: Arc<RequestContext>,
    done: Sender<RequestRecord>,
}

/// The thread-per-request (or bounded) pool.
pub struct SyncPool {
    shared: Arc<Shared>,
    max_workers: Option<usize>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl SyncPool {
    /// Creates the pool; threads are spawned as requests arrive.
    pub fn start(
        ctx: Arc<RequestContext>,
        opts: &ExecutorOptions,
        done: Sender<RequestRecord>,
    ) -> Result<Self, ExecutorError> {
        let pool = opts.workers.unwrap_or(opts.expected_concurrency).max(1);
        let clients = ctx
            .blocking_clients(pool)
            .map_err(|e| ExecutorError::Clients {
                variant: "sync",
                message: e.to_string(),
            })?;
        Ok(SyncPool {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue {
                    tickets: VecDeque::new(),
                    busy: 0,
                    spawned: 0,
                    closed: false,
                }),
                ready: Condvar::new(),
                abandon: AtomicBool::new(false),
                clients,
                ctx,
                done,
            }),
            max_workers: opts.workers,
            workers: Mutex::new(Vec::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.shared.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn worker_loop(shared: Arc<Shared>) {
    loop {
        let ticket = {
            let mut q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if shared.abandon.load(Ordering::Relaxed) {
                    return;
                }
                if let Some(t) = q.tickets.pop_front() {
                    q.busy += 1;
                    break t;
                }
                if q.closed {
                    return;
                }
                q = shared.ready.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        let record = steps::run_blocking(&shared.ctx, &shared.clients, &ticket);
        shared.queue.lock().unwrap_or_else(|p| p.into_inner()).busy -= 1;
        if shared.done.send(record).is_err() {
            return;
        }
    }
}

impl Executor for SyncPool {
    fn submit(&self, ticket: Ticket) {
        let spawn_index = {
            let mut q = self.lock();
            q.tickets.push_back(ticket);
            // Free workers (waiting, or finishing and about to look at the queue) take the
            // queued tickets; a thread is spawned only when there are more tickets than that.
            let free = q.spawned - q.busy;
            let can_grow = self.max_workers.is_none_or(|max| q.spawned < max);
            if free >= q.tickets.len() || !can_grow {
                self.shared.ready.notify_one();
                None
            } else {
                q.spawned += 1;
                Some(q.spawned)
            }
        };
        let Some(n) = spawn_index else { return };
        let shared = self.shared.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("sync-worker-{n}"))
            .spawn(move || worker_loop(shared));
        match spawned {
            Ok(handle) => self
                .workers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(handle),
            Err(e) => {
                // Out of threads: the ticket stays queued for an existing worker; with no
                // worker at all it fails now, as a counted error.
                let mut q = self.lock();
                q.spawned -= 1;
                if q.spawned == 0 {
                    if let Some(t) = q.tickets.pop_back() {
                        drop(q);
                        let _ = self.shared.done.send(RequestRecord::not_started(
                            &t,
                            self.shared.ctx.epoch,
                            "thread_spawn",
                            format!("cannot spawn a worker thread: {e}"),
                        ));
                    }
                } else {
                    self.shared.ready.notify_one();
                }
            }
        }
    }

    fn shutdown(self: Box<Self>, grace: Duration) {
        let deadline = Instant::now() + grace;
        {
            let mut q = self.lock();
            q.closed = true;
        }
        self.shared.ready.notify_all();
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|p| p.into_inner()));
        join_within(
            workers,
            deadline.saturating_duration_since(Instant::now()),
            &self.shared.abandon,
        );
        self.shared.ready.notify_all();
    }
}
