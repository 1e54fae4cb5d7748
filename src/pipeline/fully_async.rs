//! `async`: async clients end to end on a multi-thread tokio runtime (`async-rt-N` threads,
//! `--worker-threads`, default one per core) — FastAPI `async def` with `aretrieve` and
//! `astream_chat` (Q3 row 3, Q7, Q13). Every wait is an `.await`; a handful of threads
//! multiplex every in-flight request.

use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Duration;

use super::steps::{self, InFlight, RequestContext};
use super::{Executor, ExecutorError, ExecutorOptions, RequestRecord, Ticket, named_runtime};
use crate::client::AsyncClients;

/// The multi-thread async executor.
pub struct FullyAsync {
    runtime: Option<tokio::runtime::Runtime>,
    clients: Arc<AsyncClients>,
    ctx: Arc<RequestContext>,
    done: Sender<RequestRecord>,
    in_flight: InFlight,
}

impl FullyAsync {
    /// Builds the runtime and the async clients.
    pub fn start(
        ctx: Arc<RequestContext>,
        opts: &ExecutorOptions,
        done: Sender<RequestRecord>,
    ) -> Result<Self, ExecutorError> {
        let runtime = named_runtime("async", "async-rt-", opts.worker_threads, None)?;
        let clients =
            ctx.async_clients(opts.expected_concurrency)
                .map_err(|e| ExecutorError::Clients {
                    variant: "async",
                    message: e.to_string(),
                })?;
        Ok(FullyAsync {
            runtime: Some(runtime),
            clients: Arc::new(clients),
            ctx,
            done,
            in_flight: InFlight::default(),
        })
    }
}

impl Executor for FullyAsync {
    fn submit(&self, ticket: Ticket) {
        let Some(rt) = &self.runtime else { return };
        let (ctx, clients, done) = (self.ctx.clone(), self.clients.clone(), self.done.clone());
        let guard = self.in_flight.enter();
        rt.spawn(async move {
            let record = steps::run_async(&ctx, &clients, &ticket).await;
            let _ = done.send(record);
            drop(guard);
        });
    }

    fn shutdown(mut self: Box<Self>, grace: Duration) {
        self.in_flight.wait_idle(grace);
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_millis(100));
        }
    }
}
