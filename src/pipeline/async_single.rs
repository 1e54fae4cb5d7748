//! `async-single`: the async pipeline on a current-thread runtime — one OS thread
//! (`async-single`) multiplexes every in-flight request, like Python's asyncio event loop (Q30).
//! Tickets reach it over a channel; each becomes a task on that one thread.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::mpsc;

use super::sequential::join_within;
use super::steps::{self, RequestContext};
use super::{Executor, ExecutorError, ExecutorOptions, RequestRecord, Ticket};

/// The single-thread event-loop executor.
pub struct AsyncSingle {
    tx: Option<mpsc::UnboundedSender<Ticket>>,
    thread: Option<JoinHandle<()>>,
    grace_tx: std::sync::mpsc::Sender<Duration>,
    abandon: Arc<AtomicBool>,
}

impl AsyncSingle {
    /// Starts the event-loop thread.
    pub fn start(
        ctx: Arc<RequestContext>,
        opts: &ExecutorOptions,
        done: Sender<RequestRecord>,
    ) -> Result<Self, ExecutorError> {
        let clients = ctx
            .event_loop_clients(opts.expected_concurrency)
            .map_err(|e| ExecutorError::Clients {
                variant: "async-single",
                message: e.to_string(),
            })?;
        // Its blocking pool runs a request's off-the-loop CPU (`cpu_offloop_share`,
        // `cpu_parallel_share`): bounded by --max-blocking-threads like Python's default
        // executor (min(32, cores + 4) threads).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(opts.max_blocking_threads.unwrap_or(512).max(1))
            .thread_name("async-single")
            .build()
            .map_err(|source| ExecutorError::Spawn {
                variant: "async-single",
                source,
            })?;
        let (tx, mut rx) = mpsc::unbounded_channel::<Ticket>();
        let (grace_tx, grace_rx) = std::sync::mpsc::channel::<Duration>();
        let abandon = Arc::new(AtomicBool::new(false));
        let clients = Arc::new(clients);
        let thread = std::thread::Builder::new()
            .name("async-single".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let mut tasks = tokio::task::JoinSet::new();
                    while let Some(ticket) = rx.recv().await {
                        let (ctx, clients, done) = (ctx.clone(), clients.clone(), done.clone());
                        tasks.spawn(async move {
                            let record = steps::run_async(&ctx, &clients, &ticket).await;
                            let _ = done.send(record);
                        });
                        // Reap finished tasks so the set doesn't grow for the whole run.
                        while tasks.try_join_next().is_some() {}
                    }
                    let grace = grace_rx.try_recv().unwrap_or(Duration::from_secs(1));
                    let _ = tokio::time::timeout(grace, async {
                        while tasks.join_next().await.is_some() {}
                    })
                    .await;
                    tasks.abort_all();
                });
            })
            .map_err(|source| ExecutorError::Spawn {
                variant: "async-single",
                source,
            })?;
        Ok(AsyncSingle {
            tx: Some(tx),
            thread: Some(thread),
            grace_tx,
            abandon,
        })
    }
}

impl Executor for AsyncSingle {
    fn submit(&self, ticket: Ticket) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(ticket);
        }
    }

    fn shutdown(mut self: Box<Self>, grace: Duration) {
        let _ = self.grace_tx.send(grace);
        self.tx.take();
        if let Some(t) = self.thread.take() {
            // The loop itself gives its tasks `grace`, then aborts them; past that margin the
            // thread is left detached.
            join_within(vec![t], grace + Duration::from_millis(500), &self.abandon);
        }
    }
}
