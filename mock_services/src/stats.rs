//! What the mocks did: requests, faults and injected latencies per operation, token events and
//! the timer error they observed. Readable in-process ([`MockStats::snapshot`]) and over HTTP at
//! `GET /__ragperf/stats` (reset with `POST /__ragperf/stats/reset`) on both servers.
//!
//! Counters are atomics; histograms sit behind a mutex per operation. A stream records its
//! per-token figures in a local [`StreamRecorder`] and merges once at the end, so the lock is taken
//! once per stream, not once per token.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::config::MockConfig;
use crate::hist::{self, Percentiles};

/// The operations the mocks count separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// Bedrock `InvokeModel` (embeddings).
    Embed,
    /// Bedrock `Converse`.
    Converse,
    /// Bedrock `ConverseStream`.
    ConverseStream,
    /// Qdrant searches (`points/query`, `points/search` and their batches).
    QdrantSearch,
    /// Every other Qdrant operation.
    QdrantOther,
}

impl Operation {
    /// All operations, in report order.
    pub const ALL: [Operation; 5] = [
        Operation::Embed,
        Operation::Converse,
        Operation::ConverseStream,
        Operation::QdrantSearch,
        Operation::QdrantOther,
    ];

    /// Stable name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Embed => "embed",
            Operation::Converse => "converse",
            Operation::ConverseStream => "converse_stream",
            Operation::QdrantSearch => "qdrant_search",
            Operation::QdrantOther => "qdrant_other",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Fault and outcome kinds counted per operation (`client_closed`: the client hung up before
/// the response was complete, including during the injected latency; `client_timeout`: its
/// request body did not arrive within `connections.body_timeout_ms`).
pub const OUTCOME_KINDS: [&str; 11] = [
    "ok",
    "throttle",
    "quota",
    "server_error",
    "unavailable",
    "stream_exception",
    "stream_cut",
    "bad_request",
    "not_found",
    "client_closed",
    "client_timeout",
];

#[derive(Debug)]
struct OpStats {
    requests: AtomicU64,
    outcomes: [AtomicU64; OUTCOME_KINDS.len()],
    slow: AtomicU64,
    injected: Mutex<Histogram<u64>>,
}

impl OpStats {
    fn new() -> Self {
        OpStats {
            requests: AtomicU64::new(0),
            outcomes: Default::default(),
            slow: AtomicU64::new(0),
            injected: Mutex::new(hist::new_us()),
        }
    }
}

/// Live statistics of one set of mocks (both servers share one).
#[derive(Debug)]
pub struct MockStats {
    ops: [OpStats; 5],
    tokens_sent: AtomicU64,
    streams_open: AtomicU64,
    streams_peak: AtomicU64,
    ttft: Mutex<Histogram<u64>>,
    itl: Mutex<Histogram<u64>>,
    timer_lateness: Mutex<Histogram<u64>>,
    conns: ConnCounters,
    settings: Option<MockConfig>,
}

#[derive(Debug, Default)]
struct ConnCounters {
    open: AtomicU64,
    peak: AtomicU64,
    accepted: AtomicU64,
    over_cap: AtomicU64,
    header_timeouts: AtomicU64,
    idle_timeouts: AtomicU64,
}

impl Default for MockStats {
    fn default() -> Self {
        MockStats {
            ops: std::array::from_fn(|_| OpStats::new()),
            tokens_sent: AtomicU64::new(0),
            streams_open: AtomicU64::new(0),
            streams_peak: AtomicU64::new(0),
            ttft: Mutex::new(hist::new_us()),
            itl: Mutex::new(hist::new_us()),
            timer_lateness: Mutex::new(hist::new_us()),
            conns: ConnCounters::default(),
            settings: None,
        }
    }
}

fn lock(m: &Mutex<Histogram<u64>>) -> std::sync::MutexGuard<'_, Histogram<u64>> {
    // A poisoned histogram is still a valid histogram: keep counting.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn outcome_index(kind: &str) -> usize {
    OUTCOME_KINDS.iter().position(|k| *k == kind).unwrap_or(7) // unknown kinds count as bad_request
}

/// Per-stream figures, merged into [`MockStats`] once when the stream ends.
///
/// Samples are kept raw (8 bytes a token) and folded into the shared histograms under their
/// locks only in [`MockStats::merge_stream`]: a recorder holding histograms of its own would
/// cost hundreds of KiB per open stream, gigabytes across ten thousand streams.
#[derive(Debug, Default)]
pub struct StreamRecorder {
    /// `(injected gap µs, or u32::MAX for the first token; lateness µs)` per token sent.
    samples: Vec<(u32, u32)>,
}

fn micros_u32(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX - 1)) as u32
}

impl StreamRecorder {
    /// A recorder with room for `tokens` tokens.
    pub fn with_capacity(tokens: usize) -> Self {
        StreamRecorder {
            samples: Vec::with_capacity(tokens),
        }
    }

    /// One token event sent: `injected_gap` is the gap the model asked for (`None` for the
    /// first token), `lateness` how much later than its deadline it actually went out.
    pub fn token(&mut self, injected_gap: Option<Duration>, lateness: Duration) {
        self.samples.push((
            injected_gap.map_or(u32::MAX, micros_u32),
            micros_u32(lateness),
        ));
    }

    /// Tokens recorded.
    pub fn tokens(&self) -> usize {
        self.samples.len()
    }
}

impl MockStats {
    /// Statistics whose snapshots carry `settings` (the mocks' effective configuration).
    pub fn with_settings(settings: MockConfig) -> Self {
        MockStats {
            settings: Some(settings),
            ..MockStats::default()
        }
    }

    /// A connection was accepted under the cap; the guard marks it closed when dropped.
    pub fn connection_opened(self: &Arc<Self>) -> ConnectionGuard {
        let c = &self.conns;
        c.accepted.fetch_add(1, Ordering::Relaxed);
        let open = c.open.fetch_add(1, Ordering::AcqRel) + 1;
        c.peak.fetch_max(open, Ordering::AcqRel);
        ConnectionGuard {
            stats: Arc::clone(self),
        }
    }

    /// A connection arrived beyond `connections.max_open` (answered 503 or closed).
    pub fn connection_over_cap(&self) {
        self.conns.over_cap.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection was closed by the idle (`true`) or the header timeout.
    pub fn connection_timed_out(&self, idle: bool) {
        let c = &self.conns;
        if idle {
            c.idle_timeouts.fetch_add(1, Ordering::Relaxed);
        } else {
            c.header_timeouts.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a request arriving at `op`.
    pub fn request(&self, op: Operation) {
        self.ops[op.index()]
            .requests
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts how a request ended: `ok` or one of [`OUTCOME_KINDS`].
    pub fn outcome(&self, op: Operation, kind: &str) {
        self.ops[op.index()].outcomes[outcome_index(kind)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a slow-response fault (it still ends in an outcome of its own).
    pub fn slow(&self, op: Operation) {
        self.ops[op.index()].slow.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the latency injected into one request of `op` (for a stream: its whole duration
    /// as scheduled: time to first token plus every gap).
    pub fn injected(&self, op: Operation, d: Duration) {
        hist::record_us(
            &mut lock(&self.ops[op.index()].injected),
            d.as_micros() as u64,
        );
    }

    /// Records an injected time to first token.
    pub fn injected_ttft(&self, d: Duration) {
        hist::record_us(&mut lock(&self.ttft), d.as_micros() as u64);
    }

    /// A stream started; returns a guard that marks it ended when dropped.
    pub fn stream_opened(&self) -> StreamGuard<'_> {
        let open = self.streams_open.fetch_add(1, Ordering::AcqRel) + 1;
        self.streams_peak.fetch_max(open, Ordering::AcqRel);
        StreamGuard { stats: self }
    }

    /// Merges a finished stream's figures (one lock per histogram per stream).
    pub fn merge_stream(&self, rec: &StreamRecorder) {
        if rec.samples.is_empty() {
            return;
        }
        self.tokens_sent
            .fetch_add(rec.samples.len() as u64, Ordering::Relaxed);
        {
            let mut itl = lock(&self.itl);
            for &(gap, _) in &rec.samples {
                if gap != u32::MAX {
                    hist::record_us(&mut itl, u64::from(gap));
                }
            }
        }
        let mut late = lock(&self.timer_lateness);
        for &(_, l) in &rec.samples {
            hist::record_us(&mut late, u64::from(l));
        }
    }

    /// A copy of the injected-latency histogram of `op` (µs).
    pub fn injected_histogram(&self, op: Operation) -> Histogram<u64> {
        lock(&self.ops[op.index()].injected).clone()
    }

    /// Total text-delta events sent so far.
    pub fn tokens_sent(&self) -> u64 {
        self.tokens_sent.load(Ordering::Relaxed)
    }

    /// Streams open right now.
    pub fn streams_open(&self) -> u64 {
        self.streams_open.load(Ordering::Relaxed)
    }

    /// Clears everything (between variants of one run).
    pub fn reset(&self) {
        for op in &self.ops {
            op.requests.store(0, Ordering::Relaxed);
            op.slow.store(0, Ordering::Relaxed);
            for o in &op.outcomes {
                o.store(0, Ordering::Relaxed);
            }
            lock(&op.injected).reset();
        }
        self.tokens_sent.store(0, Ordering::Relaxed);
        let c = &self.conns;
        for n in [
            &c.accepted,
            &c.over_cap,
            &c.header_timeouts,
            &c.idle_timeouts,
        ] {
            n.store(0, Ordering::Relaxed);
        }
        c.peak
            .store(c.open.load(Ordering::Relaxed), Ordering::Relaxed);
        self.streams_peak
            .store(self.streams_open.load(Ordering::Relaxed), Ordering::Relaxed);
        lock(&self.ttft).reset();
        lock(&self.itl).reset();
        lock(&self.timer_lateness).reset();
    }

    /// A serialisable copy of everything.
    pub fn snapshot(&self) -> StatsSnapshot {
        let operations = Operation::ALL
            .iter()
            .map(|&op| {
                let s = &self.ops[op.index()];
                let h = lock(&s.injected).clone();
                let outcomes = OUTCOME_KINDS
                    .iter()
                    .zip(&s.outcomes)
                    .map(|(k, v)| (k.to_string(), v.load(Ordering::Relaxed)))
                    .filter(|(_, v)| *v > 0)
                    .collect();
                (
                    op.name().to_string(),
                    OpSnapshot {
                        requests: s.requests.load(Ordering::Relaxed),
                        outcomes,
                        slow: s.slow.load(Ordering::Relaxed),
                        injected_ms: Percentiles::of_us(&h),
                        injected_total_s: h.mean() * h.len() as f64 / 1e6,
                        injected_hist: hist::encode_b64(&h),
                    },
                )
            })
            .collect();
        let ttft = lock(&self.ttft).clone();
        let itl = lock(&self.itl).clone();
        let late = lock(&self.timer_lateness).clone();
        StatsSnapshot {
            operations,
            tokens_sent: self.tokens_sent(),
            streams_open: self.streams_open(),
            streams_peak: self.streams_peak.load(Ordering::Relaxed),
            injected_ttft_ms: Percentiles::of_us(&ttft),
            injected_itl_ms: Percentiles::of_us(&itl),
            timer_lateness_ms: Percentiles::of_us(&late),
            injected_ttft_hist: hist::encode_b64(&ttft),
            injected_itl_hist: hist::encode_b64(&itl),
            timer_lateness_hist: hist::encode_b64(&late),
            process_cpu_s: process_cpu_s(),
            connections: ConnectionsSnapshot {
                open: self.conns.open.load(Ordering::Relaxed),
                peak: self.conns.peak.load(Ordering::Relaxed),
                accepted: self.conns.accepted.load(Ordering::Relaxed),
                over_cap: self.conns.over_cap.load(Ordering::Relaxed),
                header_timeouts: self.conns.header_timeouts.load(Ordering::Relaxed),
                idle_timeouts: self.conns.idle_timeouts.load(Ordering::Relaxed),
            },
            settings: self.settings.clone(),
        }
    }
}

/// Marks a connection closed when dropped.
#[derive(Debug)]
pub struct ConnectionGuard {
    stats: Arc<MockStats>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.stats.conns.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Connections of both servers (see `connections` in [`crate::config::MockConfig`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ConnectionsSnapshot {
    /// Open right now (under the cap).
    pub open: u64,
    /// Most open at once since the last reset.
    pub peak: u64,
    /// Accepted under the cap.
    pub accepted: u64,
    /// Arrived beyond `connections.max_open` (answered 503 and closed).
    pub over_cap: u64,
    /// Closed because a request head did not arrive within `connections.header_timeout_ms`.
    pub header_timeouts: u64,
    /// Closed after `connections.idle_timeout_ms` without a request.
    pub idle_timeouts: u64,
}

/// `settings` leniently: a configuration this build cannot read (another ragperf version) is
/// `None`, never a failure of the whole snapshot.
fn lenient_settings<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<MockConfig>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(v).ok())
}

/// Marks a stream ended when dropped.
#[derive(Debug)]
pub struct StreamGuard<'a> {
    stats: &'a MockStats,
}

impl Drop for StreamGuard<'_> {
    fn drop(&mut self) {
        self.stats.streams_open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Figures of one operation.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct OpSnapshot {
    /// Requests received.
    pub requests: u64,
    /// How they ended, by kind (`ok`, `throttle`, `quota`, …); zero counts are omitted.
    pub outcomes: BTreeMap<String, u64>,
    /// Requests that drew a slow-response fault.
    pub slow: u64,
    /// Injected latency per request, ms.
    pub injected_ms: Percentiles,
    /// Sum of injected latency, seconds.
    pub injected_total_s: f64,
    /// The injected-latency histogram (µs), HdrHistogram V2 + deflate, base64.
    pub injected_hist: String,
}

/// Everything the mocks counted, as served at `GET /__ragperf/stats`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StatsSnapshot {
    /// Per operation, keyed by [`Operation::name`].
    pub operations: BTreeMap<String, OpSnapshot>,
    /// Text-delta events sent.
    pub tokens_sent: u64,
    /// Streams open at the time of the snapshot.
    pub streams_open: u64,
    /// Most streams open at once since the last reset.
    pub streams_peak: u64,
    /// Injected time to first token, ms.
    pub injected_ttft_ms: Percentiles,
    /// Injected gap between tokens, ms.
    pub injected_itl_ms: Percentiles,
    /// How late token events left the mock relative to their scheduled deadline, ms: the mock's
    /// own timer error (tokio's timer has 1 ms granularity; CPU saturation shows up here first).
    pub timer_lateness_ms: Percentiles,
    /// Histogram of injected TTFT (µs), base64 V2 + deflate.
    pub injected_ttft_hist: String,
    /// Histogram of injected gaps (µs), base64 V2 + deflate.
    pub injected_itl_hist: String,
    /// Histogram of timer lateness (µs), base64 V2 + deflate.
    pub timer_lateness_hist: String,
    /// CPU time (user + system) of the whole process serving the mocks since it started,
    /// seconds. For `ragperf mock` that is the mocks' own cost; in-process it includes the
    /// harness, so the harness reports its `mock-*` threads instead.
    #[serde(default)]
    pub process_cpu_s: f64,
    /// Connections of both servers since the last reset.
    #[serde(default)]
    pub connections: ConnectionsSnapshot,
    /// The mocks' effective configuration, with the keys and units of a scenario file's mock
    /// sections (`time_scale`, `seed`, `qdrant`, `bedrock`, `embedding`, `faults`,
    /// `connections`): a run can check that an external mock models what it expects.
    #[serde(default, deserialize_with = "lenient_settings")]
    pub settings: Option<MockConfig>,
}

/// CPU time (user + system) of this process so far, seconds.
pub fn process_cpu_s() -> f64 {
    // SAFETY: getrusage only writes the struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_snapshot() {
        let s = MockStats::default();
        s.request(Operation::Embed);
        s.request(Operation::Embed);
        s.outcome(Operation::Embed, "ok");
        s.outcome(Operation::Embed, "throttle");
        s.injected(Operation::Embed, Duration::from_millis(25));
        {
            let _g = s.stream_opened();
            let _h = s.stream_opened();
            assert_eq!(s.streams_open(), 2);
            let mut r = StreamRecorder::default();
            r.token(None, Duration::from_micros(300));
            r.token(Some(Duration::from_millis(30)), Duration::from_micros(200));
            s.merge_stream(&r);
        }
        let snap = s.snapshot();
        let e = &snap.operations["embed"];
        assert_eq!(e.requests, 2);
        assert_eq!(e.outcomes["ok"], 1);
        assert_eq!(e.outcomes["throttle"], 1);
        assert!((e.injected_ms.p50 - 25.0).abs() < 0.1);
        assert_eq!(snap.tokens_sent, 2);
        assert_eq!(snap.streams_open, 0);
        assert_eq!(snap.streams_peak, 2);
        assert_eq!(snap.injected_itl_ms.count, 1);
        assert_eq!(snap.timer_lateness_ms.count, 2);
        let h = hist::decode_b64(&e.injected_hist).unwrap();
        assert_eq!(h.len(), 1);

        s.reset();
        let snap = s.snapshot();
        assert_eq!(snap.operations["embed"].requests, 0);
        assert_eq!(snap.tokens_sent, 0);
    }
}
