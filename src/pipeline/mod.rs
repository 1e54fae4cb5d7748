//! The RAG request and the seven ways of running many of them (docs/design.md §3–§4).
//!
//! One request is always the same five steps — embed, retrieve, CPU work, streamed generation,
//! citations — written once in [`steps`] for blocking clients and once for async clients. What
//! differs between variants is only *where* those steps run: which threads, which runtime, which
//! queue. Each variant lives in its own file and implements [`Executor`]: the load driver hands it
//! [`Ticket`]s and gets [`RequestRecord`]s back on a channel, so the driver never knows how a
//! request was executed. [`registry`] is the one table that names the variants.

pub(crate) mod async_single;
pub(crate) mod blocking_in_async;
pub mod cpu;
pub(crate) mod fully_async;
pub(crate) mod hybrid;
pub mod record;
pub(crate) mod registry;
pub(crate) mod sequential;
pub mod steps;
pub(crate) mod sync_pool;
pub(crate) mod sync_stream;

use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use record::{RequestRecord, Ticket};
pub use registry::{Marker, Variant};
pub use steps::RequestContext;

/// The variants (contract: names, docs/design.md §4). Each one's name, summary, thread names and
/// chart style are its row of [`registry::VARIANTS`]; the declaration order is the report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VariantKind {
    /// One thread, requests one after another (Q5).
    Sequential,
    /// Blocking clients, one OS thread per in-flight request; `--workers` bounds the pool (Q1, Q3, Q4).
    Sync,
    /// Blocking clients on a shared bounded pool (`--workers`, default 40) that runs a request's
    /// body as one job and every token read as another: FastAPI `def` + `StreamingResponse`.
    SyncStream,
    /// Blocking embed + retrieve in `spawn_blocking`, async streaming generation (Q3 row 2, Q16).
    Hybrid,
    /// Async clients end to end on a multi-thread runtime (Q3 row 3, Q7, Q13).
    Async,
    /// Async on a current-thread runtime: one thread multiplexes everything (Q30).
    AsyncSingle,
    /// The anti-pattern: blocking clients called directly inside async tasks.
    BlockingInAsync,
}

impl VariantKind {
    /// Every variant, in report order.
    pub const ALL: [VariantKind; registry::VARIANTS.len()] = registry::KINDS;

    /// Its row of the registry.
    pub fn info(self) -> &'static Variant {
        &registry::VARIANTS[self as usize]
    }

    /// The contract name (`sync`, `async-single`, …).
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Parses a contract name.
    pub fn parse(s: &str) -> Option<VariantKind> {
        VariantKind::ALL.into_iter().find(|v| v.name() == s.trim())
    }

    /// All names, for error messages.
    pub fn names() -> Vec<&'static str> {
        registry::NAMES.to_vec()
    }

    /// Prefixes of the OS thread names this variant creates (for `threads_peak`).
    pub fn thread_prefixes(self) -> Vec<String> {
        self.info()
            .thread_prefixes
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// How many requests this variant can have in progress at once, given the load's
    /// concurrency (for the Little's-law ideal): sequential runs one; a bounded sync pool runs
    /// `workers`; the others run everything they are given — except that `sync-stream`'s
    /// requests share its `workers` threads (default 40), so it is bounded by thread *time*.
    ///
    /// `thread_share` is the part of a request's service time it must hold a pool thread even
    /// when it never waits on one for a token (see [`crate::metrics::ideal::min_thread_s`]: the
    /// blocking embed and search, the CPU step, the per-token CPU). W threads then sustain at
    /// most `W / thread_share` requests in progress, however long their streams are; and its
    /// event loop's one thread, busy `loop_share` of a service time per request
    /// ([`crate::metrics::ideal::loop_s`]), at most `1 / loop_share`. Both only matter to
    /// `sync-stream`.
    pub fn capacity(
        self,
        offered: usize,
        workers: Option<usize>,
        thread_share: f64,
        loop_share: f64,
    ) -> usize {
        match self {
            VariantKind::Sequential => 1,
            VariantKind::Sync => workers.map_or(offered, |w| w.min(offered)),
            VariantKind::SyncStream => {
                let w = workers.unwrap_or(sync_stream::DEFAULT_WORKERS).max(1) as f64;
                let bound = |threads: f64, share: f64| {
                    if share.is_finite() && share > 0.0 {
                        (threads / share.min(1.0)).floor() as usize
                    } else {
                        usize::MAX
                    }
                };
                offered
                    .min(bound(w, thread_share))
                    .min(bound(1.0, loop_share))
                    .max(1)
            }
            _ => offered,
        }
    }
}

/// Written as its contract name.
impl Serialize for VariantKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// Read from its contract name (exactly, as serde's derive did).
impl<'de> Deserialize<'de> for VariantKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        VariantKind::ALL
            .into_iter()
            .find(|v| v.name() == name)
            .ok_or_else(|| serde::de::Error::unknown_variant(&name, &registry::NAMES))
    }
}

/// How a variant is configured for one run.
#[derive(Clone, Debug)]
pub struct ExecutorOptions {
    /// `sync`: bounded pool size (None = a thread per in-flight request). `sync-stream`: the
    /// shared pool's size (None = [`sync_stream::DEFAULT_WORKERS`]).
    pub workers: Option<usize>,
    /// Multi-thread runtimes: worker threads (None = cores).
    pub worker_threads: Option<usize>,
    /// `hybrid`: tokio blocking-pool size.
    pub max_blocking_threads: Option<usize>,
    /// Expected peak in-flight requests (sizes connection pools).
    pub expected_concurrency: usize,
}

/// Something that runs requests: a variant's threads, runtime and queue.
pub trait Executor: Send {
    /// Accepts a request; its record will arrive on the completion channel. Never blocks for
    /// long: a variant that cannot start the request now queues it (the wait is its `queue`).
    fn submit(&self, ticket: Ticket);

    /// Stops accepting, waits up to `grace` for requests in progress, then tears down the
    /// threads. Requests still running after `grace` are abandoned (the driver counts them).
    fn shutdown(self: Box<Self>, grace: Duration);
}

/// Why a variant could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// An OS thread or runtime could not be created.
    #[error(
        "cannot start the `{variant}` variant: {source} (too many threads? lower --concurrency or raise `ulimit -u`)"
    )]
    Spawn {
        /// Variant name.
        variant: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The HTTP clients could not be built.
    #[error("cannot build the HTTP clients for `{variant}`: {message}")]
    Clients {
        /// Variant name.
        variant: &'static str,
        /// What went wrong.
        message: String,
    },
}

/// Starts the executor of `kind`.
pub fn start_executor(
    kind: VariantKind,
    ctx: Arc<RequestContext>,
    opts: &ExecutorOptions,
    done: Sender<RequestRecord>,
) -> Result<Box<dyn Executor>, ExecutorError> {
    Ok(match kind {
        VariantKind::Sequential => Box::new(sequential::Sequential::start(ctx, opts, done)?),
        VariantKind::Sync => Box::new(sync_pool::SyncPool::start(ctx, opts, done)?),
        VariantKind::SyncStream => Box::new(sync_stream::SyncStream::start(ctx, opts, done)?),
        VariantKind::Hybrid => Box::new(hybrid::Hybrid::start(ctx, opts, done)?),
        VariantKind::Async => Box::new(fully_async::FullyAsync::start(ctx, opts, done)?),
        VariantKind::AsyncSingle => Box::new(async_single::AsyncSingle::start(ctx, opts, done)?),
        VariantKind::BlockingInAsync => {
            Box::new(blocking_in_async::BlockingInAsync::start(ctx, opts, done)?)
        }
    })
}

/// A multi-thread tokio runtime whose threads (workers and blocking pool) are named
/// `<prefix><n>`.
pub(crate) fn named_runtime(
    variant: &'static str,
    prefix: &'static str,
    worker_threads: Option<usize>,
    max_blocking_threads: Option<usize>,
) -> Result<tokio::runtime::Runtime, ExecutorError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let counter = Arc::new(AtomicUsize::new(0));
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.enable_all()
        .thread_name_fn(move || format!("{prefix}{}", counter.fetch_add(1, Ordering::Relaxed)));
    if let Some(n) = worker_threads {
        b.worker_threads(n.max(1));
    }
    if let Some(n) = max_blocking_threads {
        b.max_blocking_threads(n.max(1));
    }
    b.build()
        .map_err(|source| ExecutorError::Spawn { variant, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for v in VariantKind::ALL {
            assert_eq!(VariantKind::parse(v.name()), Some(v));
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(json, format!("\"{}\"", v.name()));
        }
        assert_eq!(VariantKind::parse("fast"), None);
    }

    #[test]
    fn capacity_follows_the_model() {
        assert_eq!(VariantKind::Sequential.capacity(64, None, 0.1, 0.0), 1);
        assert_eq!(VariantKind::Sync.capacity(64, Some(4), 0.1, 0.0), 4);
        assert_eq!(VariantKind::Sync.capacity(2, Some(4), 0.1, 0.0), 2);
        assert_eq!(VariantKind::Async.capacity(64, Some(4), 0.1, 0.0), 64);
        // sync-stream: not capped at the workers; 4 threads each needed 10% of a request's
        // time serve 40 in progress.
        assert_eq!(VariantKind::SyncStream.capacity(64, Some(4), 0.1, 0.0), 40);
        assert_eq!(VariantKind::SyncStream.capacity(16, Some(4), 0.1, 0.0), 16);
        assert_eq!(VariantKind::SyncStream.capacity(1000, None, 0.1, 0.0), 400);
        assert_eq!(VariantKind::SyncStream.capacity(64, Some(4), 0.0, 0.0), 64);
        assert_eq!(VariantKind::SyncStream.capacity(64, Some(4), 2.0, 0.0), 4);
        // An event loop busy a tenth of a service time per request: at most 10 in progress.
        assert_eq!(VariantKind::SyncStream.capacity(64, Some(4), 0.1, 0.1), 10);
        assert_eq!(VariantKind::SyncStream.capacity(8, Some(4), 0.1, 0.1), 8);
    }
}
