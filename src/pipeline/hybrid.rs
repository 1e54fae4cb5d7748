//! `hybrid`: a tokio multi-thread runtime (`hybrid-rt-N`) where embedding and retrieval go
//! through the blocking clients inside `spawn_blocking` (Python's `asyncio.to_thread`, Q16), and
//! generation streams with the async client (Q3 row 2). The blocking pool is capped by
//! `--max-blocking-threads`; when more requests are in flight than the pool has threads, the rest
//! wait for a pool thread, and that wait is their `queue` time (the request "starts" when its
//! blocking section starts).

use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Duration;

use super::steps::{self, InFlight, RequestContext};
use super::{Executor, ExecutorError, ExecutorOptions, RequestRecord, Ticket, named_runtime};
use crate::client::{AsyncClients, BlockingClients};

/// The hybrid executor.
pub struct Hybrid {
    runtime: Option<tokio::runtime::Runtime>,
    blocking: Arc<BlockingClients>,
    clients: Arc<AsyncClients>,
    ctx: Arc<RequestContext>,
    done: Sender<RequestRecord>,
    in_flight: InFlight,
}

impl Hybrid {
    /// Builds the runtime and both client sets.
    pub fn start(
        ctx: Arc<RequestContext>,
        opts: &ExecutorOptions,
        done: Sender<RequestRecord>,
    ) -> Result<Self, ExecutorError> {
        let runtime = named_runtime(
            "hybrid",
            "hybrid-rt-",
            opts.worker_threads,
            opts.max_blocking_threads,
        )?;
        let err = |e: crate::client::ClientBuildError| ExecutorError::Clients {
            variant: "hybrid",
            message: e.to_string(),
        };
        let blocking = ctx
            .blocking_clients(opts.expected_concurrency)
            .map_err(err)?;
        let clients = ctx.async_clients(opts.expected_concurrency).map_err(err)?;
        Ok(Hybrid {
            runtime: Some(runtime),
            blocking: Arc::new(blocking),
            clients: Arc::new(clients),
            ctx,
            done,
            in_flight: InFlight::default(),
        })
    }
}

impl Executor for Hybrid {
    fn submit(&self, ticket: Ticket) {
        let Some(rt) = &self.runtime else { return };
        let (ctx, blocking, clients, done) = (
            self.ctx.clone(),
            self.blocking.clone(),
            self.clients.clone(),
            self.done.clone(),
        );
        let guard = self.in_flight.enter();
        rt.spawn(async move {
            let (ctx2, ticket2) = (ctx.clone(), ticket.clone());
            let first_half = tokio::task::spawn_blocking(move || {
                steps::embed_and_retrieve_blocking(&ctx2, &blocking, &ticket2)
            })
            .await;
            let record = match first_half {
                Ok(Ok((record, passages))) => {
                    steps::finish_async(&ctx, &clients, record, &ticket.question, passages).await
                }
                Ok(Err(record)) => *record,
                Err(join) => RequestRecord::not_started(
                    &ticket,
                    ctx.epoch,
                    "blocking_pool",
                    format!("the blocking section did not run: {join}"),
                ),
            };
            let _ = done.send(record);
            drop(guard);
        });
    }

    fn shutdown(mut self: Box<Self>, grace: Duration) {
        self.in_flight.wait_idle(grace);
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
