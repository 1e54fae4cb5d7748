//! What goes into and comes out of one request: the [`Ticket`] the driver hands a variant and the
//! [`RequestRecord`] the variant sends back, with every phase timestamp the metrics and the
//! request-timeline chart need.
//!
//! Timestamps are microseconds since the run's epoch (one `Instant` shared by the driver and every
//! variant), so records are small, `Copy`-able numbers and survive into `result.json`.

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// One request to run.
#[derive(Clone, Debug)]
pub struct Ticket {
    /// Sequence number in the run.
    pub id: u64,
    /// When the request was *meant* to start: every latency counts from here (coordinated
    /// omission: a request that waited for a worker still waited).
    pub intended: Instant,
    /// The question.
    pub question: Arc<str>,
    /// Counted in the results (false during warm-up).
    pub measured: bool,
    /// The closed-loop user that sent it (None in open loop).
    pub user: Option<usize>,
}

/// How a request ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Every step succeeded.
    Ok,
    /// A step failed; the error kind (`throttled`, `stream_cut`, …) and the step.
    Failed {
        /// Error kind, a counter key.
        kind: String,
        /// The step that failed: `embed`, `retrieve`, `generate` or `start`.
        phase: String,
        /// The error message.
        message: String,
    },
}

/// Everything measured about one request. Times are µs since the run epoch; `None` where the
/// request never got there.
#[derive(Clone, Debug)]
pub struct RequestRecord {
    /// Ticket id.
    pub id: u64,
    /// Counted in the results.
    pub measured: bool,
    /// The closed-loop user.
    pub user: Option<usize>,
    /// Intended start.
    pub intended_us: u64,
    /// A worker (thread or task) began executing it.
    pub started_us: u64,
    /// Embedding returned.
    pub embed_done_us: Option<u64>,
    /// Retrieval returned.
    pub retrieve_done_us: Option<u64>,
    /// Prompt built (CPU section done).
    pub cpu_done_us: Option<u64>,
    /// First text delta decoded.
    pub first_token_us: Option<u64>,
    /// Request finished (done event or failure).
    pub finished_us: u64,
    /// Gap before each token after the first, µs.
    pub token_gaps_us: Vec<u32>,
    /// Text deltas received.
    pub tokens: u32,
    /// Time spent in the per-token CPU work, GIL waits included, µs (0 without
    /// `cpu_per_token_us`).
    pub token_cpu_us: u64,
    /// Socket reads of the answer stream: in `sync-stream` a `next()` that found no event
    /// buffered (the one that reads the stream's end included), elsewhere every read that brought
    /// body bytes. A read that brought a token costs `cpu_per_read_us`; tokens minus reads (about)
    /// is how many were found already buffered.
    pub stream_reads: u32,
    /// Retries spent across all calls.
    pub retries: u32,
    /// Every `[doc]` the answer cites was among the retrieved passages (and it cites at least one
    /// when passages were given).
    pub citations_ok: bool,
    /// Citations returned with the answer (retrieved passages' doc ids).
    pub citations: Vec<String>,
    /// OS thread that started the request.
    pub start_tid: i32,
    /// OS thread that received the first token (differs from `start_tid` when a task migrated).
    pub stream_tid: i32,
    /// How it ended.
    pub outcome: Outcome,
}

impl RequestRecord {
    /// A record for a request that starts now.
    pub fn begin(ticket: &Ticket, epoch: Instant) -> Self {
        RequestRecord {
            id: ticket.id,
            measured: ticket.measured,
            user: ticket.user,
            intended_us: since(epoch, ticket.intended),
            started_us: since(epoch, Instant::now()),
            embed_done_us: None,
            retrieve_done_us: None,
            cpu_done_us: None,
            first_token_us: None,
            finished_us: 0,
            token_gaps_us: Vec::new(),
            tokens: 0,
            token_cpu_us: 0,
            stream_reads: 0,
            retries: 0,
            citations_ok: false,
            citations: Vec::new(),
            start_tid: current_tid(),
            stream_tid: 0,
            outcome: Outcome::Ok,
        }
    }

    /// A request that could not even start (e.g. no thread could be spawned).
    pub fn not_started(ticket: &Ticket, epoch: Instant, kind: &str, message: String) -> Self {
        let mut r = RequestRecord::begin(ticket, epoch);
        r.fail(epoch, kind, "start", message);
        r
    }

    /// Marks the request failed now.
    pub fn fail(&mut self, epoch: Instant, kind: &str, phase: &str, message: String) {
        self.finished_us = since(epoch, Instant::now());
        self.outcome = Outcome::Failed {
            kind: kind.to_string(),
            phase: phase.to_string(),
            message,
        };
    }

    /// True when every step succeeded.
    pub fn is_ok(&self) -> bool {
        self.outcome == Outcome::Ok
    }

    /// End-to-end latency from the intended start, µs.
    pub fn e2e_us(&self) -> u64 {
        self.finished_us.saturating_sub(self.intended_us)
    }

    /// Time waiting for a worker, µs.
    pub fn queue_us(&self) -> u64 {
        self.started_us.saturating_sub(self.intended_us)
    }
}

/// Microseconds from `epoch` to `t` (0 when `t` is earlier).
pub fn since(epoch: Instant, t: Instant) -> u64 {
    t.saturating_duration_since(epoch).as_micros() as u64
}

/// The calling OS thread's id.
pub fn current_tid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// Token timing collector for one stream: call [`TokenClock::token`] on every text delta.
#[derive(Debug)]
pub struct TokenClock {
    epoch: Instant,
    last: Option<Instant>,
    /// First token, µs since the epoch.
    pub first_us: Option<u64>,
    /// Gaps after the first token, µs.
    pub gaps_us: Vec<u32>,
    /// Tokens seen.
    pub tokens: u32,
    /// Thread that saw the first token.
    pub tid: i32,
    /// Time spent in the per-token CPU work (`cpu_per_token_us`, and `cpu_per_read_us` for a
    /// token a read brought), waiting for the GIL included, µs.
    pub cpu_us: u64,
    /// Reads of the answer stream's socket ([`RequestRecord::stream_reads`]).
    pub reads: u32,
}

impl TokenClock {
    /// A clock for one stream.
    pub fn new(epoch: Instant) -> Self {
        TokenClock {
            epoch,
            last: None,
            first_us: None,
            gaps_us: Vec::new(),
            tokens: 0,
            tid: 0,
            cpu_us: 0,
            reads: 0,
        }
    }

    /// One text delta arrived now.
    pub fn token(&mut self) {
        let now = Instant::now();
        match self.last {
            None => {
                self.first_us = Some(since(self.epoch, now));
                self.tid = current_tid();
            }
            Some(prev) => {
                let gap = now.saturating_duration_since(prev).as_micros();
                self.gaps_us.push(gap.min(u32::MAX as u128) as u32);
            }
        }
        self.last = Some(now);
        self.tokens += 1;
    }
}
