//! `blocking-in-async`: the anti-pattern — an `async def` endpoint that calls `requests` or
//! `boto3` directly. The blocking clients run inside async tasks on a multi-thread runtime
//! (`bia-rt-N`), so each network wait freezes a whole runtime thread and every other task queued
//! on it. With W worker threads at most W requests make progress at once, however many are in
//! flight; the rest sit in the runtime's run queue (their wait shows up as `queue`, because a task
//! only records its start when it first gets polled).

use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Duration;

use super::steps::{self, InFlight, RequestContext};
use super::{Executor, ExecutorError, ExecutorOptions, RequestRecord, Ticket, named_runtime};
use crate::client::BlockingClients;

/// The anti-pattern executor.
pub struct BlockingInAsync {
    runtime: Option<tokio::runtime::Runtime>,
    clients: Arc<BlockingClients>,
    ctx: Arc<RequestContext>,
    done: Sender<RequestRecord>,
    in_flight: InFlight,
}

impl BlockingInAsync {
    /// Builds the runtime and the blocking clients.
    pub fn start(
        ctx: Arc<RequestContext>,
        opts: &ExecutorOptions,
        done: Sender<RequestRecord>,
    ) -> Result<Self, ExecutorError> {
        let runtime = named_runtime("blocking-in-async", "bia-rt-", opts.worker_threads, None)?;
        let clients = ctx
            .blocking_clients(opts.expected_concurrency)
            .map_err(|e| ExecutorError::Clients {
                variant: "blocking-in-async",
                message: e.to_string(),
            })?;
        Ok(BlockingInAsync {
            runtime: Some(runtime),
            clients: Arc::new(clients),
            ctx,
            done,
            in_flight: InFlight::default(),
        })
    }
}

impl Executor for BlockingInAsync {
    fn submit(&self, ticket: Ticket) {
        let Some(rt) = &self.runtime else { return };
        let (ctx, clients, done) = (self.ctx.clone(), self.clients.clone(), self.done.clone());
        let guard = self.in_flight.enter();
        rt.spawn(async move {
            // Deliberately wrong: blocking I/O on a runtime worker thread.
            let record = steps::run_blocking(&ctx, &clients, &ticket);
            let _ = done.send(record);
            drop(guard);
        });
    }

    fn shutdown(mut self: Box<Self>, grace: Duration) {
        self.in_flight.wait_idle(grace);
        if let Some(rt) = self.runtime.take() {
            // Tasks stuck in blocking calls cannot be cancelled; don't wait for them.
            rt.shutdown_background();
        }
    }
}
