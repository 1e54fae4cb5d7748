//! `sequential`: one OS thread runs every request, one after another, with the blocking clients —
//! plain Python without threads or asyncio (Q5). Requests that arrive while it is busy wait in an
//! unbounded queue, and that wait is their `queue` time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use super::steps::{self, RequestContext};
use super::{Executor, ExecutorError, ExecutorOptions, RequestRecord, Ticket};

/// The single-thread executor.
pub struct Sequential {
    tx: Option<Sender<Ticket>>,
    worker: Option<JoinHandle<()>>,
    abandon: Arc<AtomicBool>,
}

impl Sequential {
    /// Starts the worker thread `seq-worker`.
    pub fn start(
        ctx: Arc<RequestContext>,
        _opts: &ExecutorOptions,
        done: Sender<RequestRecord>,
    ) -> Result<Self, ExecutorError> {
        let clients = ctx
            .blocking_clients(1)
            .map_err(|e| ExecutorError::Clients {
                variant: "sequential",
                message: e.to_string(),
            })?;
        let (tx, rx) = mpsc::channel::<Ticket>();
        let abandon = Arc::new(AtomicBool::new(false));
        let stop = abandon.clone();
        let worker = std::thread::Builder::new()
            .name("seq-worker".into())
            .spawn(move || {
                for ticket in rx {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let record = steps::run_blocking(&ctx, &clients, &ticket);
                    if done.send(record).is_err() {
                        break;
                    }
                }
            })
            .map_err(|source| ExecutorError::Spawn {
                variant: "sequential",
                source,
            })?;
        Ok(Sequential {
            tx: Some(tx),
            worker: Some(worker),
            abandon,
        })
    }
}

impl Executor for Sequential {
    fn submit(&self, ticket: Ticket) {
        if let Some(tx) = &self.tx {
            // The receiver lives as long as the worker; a send after it stopped is dropped and
            // the driver counts the request as abandoned.
            let _ = tx.send(ticket);
        }
    }

    fn shutdown(mut self: Box<Self>, grace: Duration) {
        self.tx.take();
        if let Some(worker) = self.worker.take() {
            join_within(vec![worker], grace, &self.abandon);
        }
    }
}

/// Waits for `threads` to finish for up to `grace`; then sets `abandon` and leaves the rest
/// detached (they stop after their current request).
pub(crate) fn join_within(threads: Vec<JoinHandle<()>>, grace: Duration, abandon: &AtomicBool) {
    let deadline = std::time::Instant::now() + grace;
    let mut pending = threads;
    loop {
        let (finished, running): (Vec<_>, Vec<_>) =
            pending.into_iter().partition(|h| h.is_finished());
        for h in finished {
            let _ = h.join();
        }
        pending = running;
        if pending.is_empty() {
            return;
        }
        if std::time::Instant::now() >= deadline {
            abandon.store(true, Ordering::Relaxed);
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
