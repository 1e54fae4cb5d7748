//! The RAG request itself, written once for blocking clients and once for async clients:
//! embed → retrieve → CPU work (prompt) → streamed generation → citations (docs/design.md §3).
//! With `cpu_steps` above 1 the per-request CPU is spread: a slice before the embedding and/or
//! the retrieval too ([`CpuPoint`]); `cpu_offloop_share` of each slice runs off the event loop
//! under the GIL and `cpu_parallel_share` off it outside the GIL ([`CpuSlice`]).
//!
//! The two versions are the same steps in the same order; only the waiting differs (a blocked
//! thread or an `.await`). Every phase boundary is timestamped into the [`RequestRecord`]; every
//! text delta goes through [`token_sink`]: its CPU work (`cpu_per_token_us`), then a
//! [`TokenClock`] tick, so TTFT is the first decoded delta, never the HTTP headers.
//!
//! `sync-stream` runs the same steps cut into pool jobs; it uses the pieces below
//! ([`embed_and_retrieve_blocking`], [`prepare`], [`token_cpu`], [`close_stream`]) directly.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::cpu;
use super::record::{RequestRecord, Ticket, TokenClock, since};
use crate::client::{
    AsyncClients, BlockingClients, ChatRequest, ClientBuildError, ClientConfig, ClientError,
    Endpoints, GenerateOutcome, Passage, Piece, Reply,
};

/// What every request of a run shares.
#[derive(Clone, Debug)]
pub struct RequestContext {
    /// The run's time origin; record timestamps are µs since this instant.
    pub epoch: Instant,
    /// Where the services are and which models/collection to use.
    pub endpoints: Endpoints,
    /// Client behaviour (timeouts, retries); the pool size is set per variant.
    pub client: ClientConfig,
    /// The run's time scale: client retry backoffs are multiplied by it.
    pub time_scale: f64,
    /// Passages retrieved per question.
    pub top_k: usize,
    /// Calibrated CPU work per request, µs.
    pub cpu_work_us: u64,
    /// Calibrated CPU work per received text delta, µs (0 = none).
    pub cpu_per_token_us: u64,
    /// CPU per socket read of the answer stream that brought a token, µs, on top of that
    /// token's `cpu_per_token_us` (`sync-stream`: a `next()` that found no event buffered).
    pub cpu_per_read_us: u64,
    /// Points before the stream `cpu_work_us` is spread over (1–3, [`CpuPoint`]).
    pub cpu_steps: u8,
    /// Share of `cpu_work_us` run off the event loop on another thread, under the GIL.
    pub cpu_offloop_share: f64,
    /// Share of `cpu_work_us` run in parallel: off the event loop, outside the GIL.
    pub cpu_parallel_share: f64,
    /// Share of `cpu_per_token_us` a `sync-stream` service's event loop spends on every token
    /// (dispatching the next `next()`, sending the chunk), serially on its one thread.
    pub cpu_token_loop_share: f64,
    /// Share of `cpu_work_us` a `sync-stream` service's event loop spends on every new request
    /// (reading it, dispatching its body), serially on its one thread.
    pub cpu_request_loop_share: f64,
    /// The global lock of `gil = true` (shared with the blocking pool's off-loop work), with
    /// the share of every section under it a thread spends outside it.
    pub gil: Option<Arc<cpu::Gil>>,
    /// `inferenceConfig.maxTokens`.
    pub max_tokens: u32,
    /// `inferenceConfig.temperature`.
    pub temperature: f64,
}

impl RequestContext {
    /// Blocking clients whose connection pool is sized for `concurrency`.
    pub fn blocking_clients(
        &self,
        concurrency: usize,
    ) -> Result<BlockingClients, ClientBuildError> {
        BlockingClients::new(&self.endpoints, &self.client, concurrency, self.time_scale)
    }

    /// The per-request CPU spent at `at`. Zero at a point `cpu_steps` leaves out.
    pub(crate) fn cpu_slice(&self, at: CpuPoint) -> CpuSlice {
        let steps = self.cpu_steps.clamp(1, crate::scenario::MAX_CPU_STEPS);
        if at as u8 > steps {
            return CpuSlice::default();
        }
        let total = self.cpu_work_us as f64 / f64::from(steps);
        let parallel = total * self.cpu_parallel_share.clamp(0.0, 1.0);
        let offloop = (total * self.cpu_offloop_share.clamp(0.0, 1.0)).min(total - parallel);
        CpuSlice {
            on_thread_us: (total - parallel - offloop).max(0.0).round() as u64,
            offloop_us: offloop.max(0.0).round() as u64,
            parallel_us: parallel.round() as u64,
        }
    }

    /// Async clients whose connection pool is sized for `concurrency`.
    pub fn async_clients(&self, concurrency: usize) -> Result<AsyncClients, ClientBuildError> {
        AsyncClients::new(&self.endpoints, &self.client, concurrency, self.time_scale)
    }

    /// The async clients of an event loop (`async-single`): streams read as asyncio reads them
    /// ([`AsyncClients::for_event_loop`]).
    pub fn event_loop_clients(&self, concurrency: usize) -> Result<AsyncClients, ClientBuildError> {
        AsyncClients::for_event_loop(&self.endpoints, &self.client, concurrency, self.time_scale)
    }

    /// The generation request for a built prompt.
    pub(crate) fn chat_request<'a>(&self, system: &'a str, user: &'a str) -> ChatRequest<'a> {
        ChatRequest {
            system,
            user,
            max_tokens: self.max_tokens,
            temperature: self.temperature as f32,
        }
    }

    fn now_us(&self) -> u64 {
        since(self.epoch, Instant::now())
    }
}

/// The prompt: passages in the system text, one `[source: <doc_id>]` line each, and the
/// question as the user message.
pub fn build_prompt(question: &str, passages: &[Passage]) -> (String, String) {
    let mut system = String::from(
        "You are a helpful assistant. Answer the question using only the sources below, and cite \
         each source you use as [doc-id].\n\n",
    );
    for p in passages {
        system.push_str("[source: ");
        system.push_str(&p.doc_id);
        system.push_str("] ");
        if !p.title.is_empty() {
            system.push_str(&p.title);
            system.push_str(": ");
        }
        system.push_str(&p.text);
        system.push('\n');
    }
    (system, question.to_string())
}

/// The doc ids an answer cites as `[doc-id]`, in order, deduplicated.
pub fn cited_in_answer(answer: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = answer;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        let id = after[..close].trim();
        if !id.is_empty() && !id.contains(char::is_whitespace) && !out.iter().any(|o| o == id) {
            out.push(id.to_string());
        }
        rest = &after[close + 1..];
    }
    out
}

/// Citations are right when the answer cites at least one passage and only retrieved ones.
fn check_citations(answer: &str, passages: &[Passage]) -> bool {
    let cited = cited_in_answer(answer);
    if passages.is_empty() {
        return cited.is_empty();
    }
    !cited.is_empty()
        && cited
            .iter()
            .all(|c| passages.iter().any(|p| &p.doc_id == c))
}

/// Where a slice of the per-request CPU is spent (`request.cpu_steps`): the prompt always, the
/// point before the retrieval from 2 steps, the one before the embedding at 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CpuPoint {
    /// Building the prompt (after the retrieval, before the generation).
    Prompt = 1,
    /// Before the search (parsing the embedding, setting up the next call).
    BeforeRetrieve = 2,
    /// Before the embedding (the request's own set-up: clients, parsing).
    BeforeEmbed = 3,
}

/// One point's share of the per-request CPU, µs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CpuSlice {
    /// On the request's own thread (the event loop in async variants), under the GIL.
    pub on_thread_us: u64,
    /// Off the event loop on another thread, still under the GIL (Python code in an executor).
    pub offloop_us: u64,
    /// Off the event loop and outside the GIL: in parallel with everything else.
    pub parallel_us: u64,
}

/// The CPU of point `at` on the calling thread: all but the parallel part under the GIL when
/// configured, then the parallel part without it (a blocking request has no loop to leave).
pub(crate) fn cpu_blocking(ctx: &RequestContext, seed: &str, at: CpuPoint) {
    let s = ctx.cpu_slice(at);
    let gil = ctx.gil.as_deref();
    std::hint::black_box(cpu::prompt_work(seed, s.on_thread_us + s.offloop_us, gil));
    std::hint::black_box(cpu::prompt_work(seed, s.parallel_us, None));
}

/// The CPU of point `at` in an async request: its own part on the runtime's thread (it holds
/// the loop, as Python code does); the off-loop parts on the blocking pool while the request
/// awaits them (the loop serves others meanwhile), the GIL part under the GIL.
pub(crate) async fn cpu_async(ctx: &RequestContext, seed: &str, at: CpuPoint) {
    let s = ctx.cpu_slice(at);
    std::hint::black_box(cpu::prompt_work(seed, s.on_thread_us, ctx.gil.as_deref()));
    if s.offloop_us + s.parallel_us > 0 {
        let (seed, gil) = (seed.to_owned(), ctx.gil.clone());
        let work = tokio::task::spawn_blocking(move || {
            std::hint::black_box(cpu::prompt_work(&seed, s.offloop_us, gil.as_deref()));
            cpu::prompt_work(&seed, s.parallel_us, None)
        });
        // A pool that cannot run it (runtime shutting down) skips the work, not the request.
        let _ = std::hint::black_box(work.await);
    }
}

fn fail(ctx: &RequestContext, record: &mut RequestRecord, phase: &str, e: &ClientError) {
    record.retries += e.retries();
    record.fail(ctx.epoch, e.kind.name(), phase, e.message.clone());
}

/// Takes a call's value and counts its retries; on failure marks the record failed at `phase`.
fn settle<T>(
    ctx: &RequestContext,
    record: &mut RequestRecord,
    phase: &str,
    result: Result<Reply<T>, ClientError>,
) -> Option<T> {
    match result {
        Ok(reply) => {
            record.retries += reply.retries();
            Some(reply.value)
        }
        Err(e) => {
            fail(ctx, record, phase, &e);
            None
        }
    }
}

/// The CPU step: builds the prompt (system, user) with the calibrated work, under the GIL
/// when configured.
pub(crate) fn prepare(
    ctx: &RequestContext,
    record: &mut RequestRecord,
    question: &str,
    passages: &[Passage],
) -> (String, String) {
    let prompt = build_prompt(question, passages);
    cpu_blocking(ctx, &prompt.0, CpuPoint::Prompt);
    record.cpu_done_us = Some(ctx.now_us());
    prompt
}

/// [`prepare`] in an async request (its parallel CPU share awaited on the blocking pool).
async fn prepare_async(
    ctx: &RequestContext,
    record: &mut RequestRecord,
    question: &str,
    passages: &[Passage],
) -> (String, String) {
    let prompt = build_prompt(question, passages);
    cpu_async(ctx, &prompt.0, CpuPoint::Prompt).await;
    record.cpu_done_us = Some(ctx.now_us());
    prompt
}

/// Closes the generation step: token timings, citations and the outcome.
pub(crate) fn close_stream(
    ctx: &RequestContext,
    record: &mut RequestRecord,
    clock: TokenClock,
    result: Result<Reply<GenerateOutcome>, ClientError>,
    passages: &[Passage],
) {
    record.first_token_us = clock.first_us;
    record.tokens = clock.tokens;
    record.token_cpu_us = clock.cpu_us;
    record.stream_reads = clock.reads;
    record.stream_tid = clock.tid;
    let Some(outcome) = settle(ctx, record, "generate", result) else {
        return;
    };
    record.token_gaps_us = clock.gaps_us;
    record.citations_ok = check_citations(&outcome.text, passages);
    record.citations = passages.iter().map(|p| p.doc_id.clone()).collect();
    record.finished_us = ctx.now_us();
}

/// Embed + retrieve with the blocking clients: `Ok((record so far, passages))` or the failed
/// record.
pub fn embed_and_retrieve_blocking(
    ctx: &RequestContext,
    clients: &BlockingClients,
    ticket: &Ticket,
) -> Result<(RequestRecord, Vec<Passage>), Box<RequestRecord>> {
    let mut record = RequestRecord::begin(ticket, ctx.epoch);
    cpu_blocking(ctx, &ticket.question, CpuPoint::BeforeEmbed);
    let embedded = clients.embed.embed(&ticket.question);
    let Some(vector) = settle(ctx, &mut record, "embed", embedded) else {
        return Err(Box::new(record));
    };
    record.embed_done_us = Some(ctx.now_us());
    cpu_blocking(ctx, &ticket.question, CpuPoint::BeforeRetrieve);
    let found = clients.qdrant.search(&vector, ctx.top_k);
    let Some(passages) = settle(ctx, &mut record, "retrieve", found) else {
        return Err(Box::new(record));
    };
    record.retrieve_done_us = Some(ctx.now_us());
    Ok((record, passages))
}

/// The whole request with blocking clients on the calling thread.
pub fn run_blocking(
    ctx: &RequestContext,
    clients: &BlockingClients,
    ticket: &Ticket,
) -> RequestRecord {
    let (mut record, passages) = match embed_and_retrieve_blocking(ctx, clients, ticket) {
        Ok(x) => x,
        Err(record) => return *record,
    };
    let (system, user) = prepare(ctx, &mut record, &ticket.question, &passages);
    let request = ctx.chat_request(&system, &user);
    let mut clock = TokenClock::new(ctx.epoch);
    let result = clients
        .bedrock
        .converse_stream_reads(&request, token_sink(ctx, &mut clock));
    close_stream(ctx, &mut record, clock, result, &passages);
    record
}

/// The CPU step and streamed generation with async clients (the second half of `hybrid`).
pub async fn finish_async(
    ctx: &RequestContext,
    clients: &AsyncClients,
    mut record: RequestRecord,
    question: &str,
    passages: Vec<Passage>,
) -> RequestRecord {
    let (system, user) = prepare_async(ctx, &mut record, question, &passages).await;
    let request = ctx.chat_request(&system, &user);
    let mut clock = TokenClock::new(ctx.epoch);
    let result = clients
        .bedrock
        .converse_stream_reads(&request, token_sink(ctx, &mut clock))
        .await;
    close_stream(ctx, &mut record, clock, result, &passages);
    record
}

/// The whole request with async clients.
pub async fn run_async(
    ctx: &RequestContext,
    clients: &AsyncClients,
    ticket: &Ticket,
) -> RequestRecord {
    let mut record = RequestRecord::begin(ticket, ctx.epoch);
    cpu_async(ctx, &ticket.question, CpuPoint::BeforeEmbed).await;
    let embedded = clients.embed.embed(&ticket.question).await;
    let Some(vector) = settle(ctx, &mut record, "embed", embedded) else {
        return record;
    };
    record.embed_done_us = Some(ctx.now_us());
    cpu_async(ctx, &ticket.question, CpuPoint::BeforeRetrieve).await;
    let found = clients.qdrant.search(&vector, ctx.top_k).await;
    let Some(passages) = settle(ctx, &mut record, "retrieve", found) else {
        return record;
    };
    record.retrieve_done_us = Some(ctx.now_us());
    finish_async(ctx, clients, record, &ticket.question, passages).await
}

/// `cpu_us` of the per-token CPU work over `delta` (under `gil` when given), its wall time (GIL
/// wait included) added to the clock's CPU total. No tick: [`token_sink`] does all of it and
/// ticks; `sync-stream` splits it between the pool thread and its event loop (whose pass holds
/// the GIL already, so it passes none).
pub(crate) fn token_cpu(clock: &mut TokenClock, delta: &str, cpu_us: u64, gil: Option<&cpu::Gil>) {
    if cpu_us > 0 {
        let t0 = Instant::now();
        let digest = cpu::token_work(delta, cpu_us, gil);
        std::hint::black_box(digest);
        clock.cpu_us += t0.elapsed().as_micros() as u64;
    }
}

/// The stream's callback: counts its socket reads, and for every text delta spends the
/// per-token CPU work (a Python service parses the event, builds LlamaIndex's chunk objects and
/// JSON, hops threads — under the GIL when `gil` is on), then ticks the clock. The tick comes
/// after the work because the service's own client sees the token only once that work is done,
/// so GIL waits show up in TTFT and ITL. The first delta of a read has `cpu_per_read_us` on top
/// (Python's wake-up for a read that waited: the selector, the protocol's `data_received`, the
/// task's step — or a blocking `recv` that dropped the GIL and took it back); deltas that
/// arrived together in one read pay it once, so a stream that waited behind other work pays it
/// for few of its tokens.
/// A named function (rather than an inline closure) gives the closure a concrete signature,
/// which keeps the async futures `Send`.
fn token_sink<'a>(
    ctx: &'a RequestContext,
    clock: &'a mut TokenClock,
) -> impl for<'p> FnMut(Piece<'p>) + Send + 'a {
    let mut fresh = false;
    move |piece: Piece<'_>| match piece {
        Piece::Read => {
            clock.reads += 1;
            fresh = true;
        }
        Piece::Token(delta) => {
            let read_us = if std::mem::take(&mut fresh) {
                ctx.cpu_per_read_us
            } else {
                0
            };
            let cpu_us = ctx.cpu_per_token_us + read_us;
            token_cpu(clock, delta, cpu_us, ctx.gil.as_deref());
            clock.token();
        }
    }
}

/// Counts requests in progress on a runtime, so shutdown can wait for them.
#[derive(Debug, Default, Clone)]
pub struct InFlight(Arc<AtomicUsize>);

/// Decrements the in-flight count when dropped.
#[derive(Debug)]
pub struct InFlightGuard(Arc<AtomicUsize>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl InFlight {
    /// One more request in progress.
    pub fn enter(&self) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(self.0.clone())
    }

    /// Requests in progress.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    /// Waits until none are in progress or `grace` has passed.
    pub fn wait_idle(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        while self.count() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(doc: &str) -> Passage {
        Passage {
            id: "1".into(),
            doc_id: doc.into(),
            score: 0.5,
            title: "T".into(),
            text: "some text".into(),
        }
    }

    #[test]
    fn prompt_lists_sources() {
        let (system, user) = build_prompt("Why?", &[passage("doc-1"), passage("doc-2")]);
        assert!(system.contains("[source: doc-1] T: some text\n"));
        assert!(system.contains("[source: doc-2]"));
        assert_eq!(user, "Why?");
    }

    #[test]
    fn citations_are_parsed_and_checked() {
        assert_eq!(
            cited_in_answer("According to [doc-1], yes [doc-2] and [doc-1]. [not a cite]"),
            vec!["doc-1", "doc-2"]
        );
        let ps = [passage("doc-1"), passage("doc-2")];
        assert!(check_citations("see [doc-2]", &ps));
        assert!(!check_citations("see [doc-9]", &ps));
        assert!(!check_citations("no citation", &ps));
        assert!(check_citations("plain", &[]));
    }
}
