//! `result.json` (contract, docs/design.md §7): schema `ragperf.result.v1`.
//!
//! One file per run or sweep: the scenario and plan as run, the machine, and one [`VariantRun`]
//! per variant × load point (× repetition) with counters, throughput, percentiles, process
//! figures, the Little's-law ideal, the mocks' own figures and every histogram serialised
//! losslessly (HdrHistogram V2 + deflate, base64). `compare`, `merge` and `report` read only this
//! file. The JSON Schema is `schema/result.v1.schema.json`; a test validates real output with it.
//!
//! Beside the types: [`files`] (the one atomic writer, the rendered-file type), [`histograms`]
//! (decoding the serialised histograms), [`query`] (what plot, export, compare and tour read:
//! variants and points in order, a cell of repetitions, a percentile) and [`slim`].

pub(crate) mod files;
pub mod histograms;
pub mod query;
pub(crate) mod slim;

use std::collections::BTreeMap;
use std::path::Path;

use mock_services::hist::Percentiles;
use serde::{Deserialize, Serialize};

use crate::load::DriveOutcome;
use crate::metrics::ideal::Ideal;
use crate::metrics::machine::MachineInfo;
use crate::metrics::process::ProcessFigures;
use crate::metrics::recorder::{Slo, TimelineEntry};
use crate::metrics::server::ServerFigures;
use crate::scenario::Scenario;

/// The schema identifier of this version.
pub const SCHEMA: &str = "ragperf.result.v1";

/// A whole result file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunResult {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// ragperf version that wrote it.
    pub ragperf_version: String,
    /// When the run started, RFC 3339 (UTC).
    pub created_at: String,
    /// True when the run did not finish every planned point (interrupted or failed).
    pub partial: bool,
    /// The machine it ran on.
    pub machine: MachineInfo,
    /// The scenario as run (after CLI overrides).
    pub scenario: Scenario,
    /// What was planned.
    pub plan: PlanInfo,
    /// Where the backends were.
    pub backends: Backends,
    /// Every variant × load point measured, in run order.
    pub runs: Vec<VariantRun>,
    /// The host and build that measured it (absent in older results and in merged ones, whose
    /// `merged` lists every shard's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<crate::shard::Origin>,
    /// `--shard` runs: which shard of how many, and the whole load it took a share of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::shard::ShardInfo>,
    /// `ragperf merge` output: the shards it was merged from and the missing ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<crate::merge::MergeInfo>,
}

/// The plan as run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PlanInfo {
    /// `run` or `sweep`.
    pub command: String,
    /// Variant names, in run order.
    pub variants: Vec<String>,
    /// The load points, in run order.
    pub points: Vec<LoadPoint>,
    /// Goodput SLO.
    pub slo: Slo,
    /// Repetitions of each point.
    pub repeat: u32,
    /// Open files limit before/after raising it.
    pub fd_limit: (u64, u64),
    /// Calibrated CPU-work rounds per µs on this machine.
    pub cpu_rounds_per_us: f64,
}

/// Where the services were.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Backends {
    /// `embedded` (in-process mocks) or `external`.
    pub mode: String,
    /// Qdrant base URL.
    pub qdrant_url: String,
    /// Bedrock Runtime base URL.
    pub bedrock_url: String,
    /// Worker threads of the embedded mocks (0 when external).
    pub mock_threads: usize,
    /// What the check of external backends before the load found: nothing answering, swapped
    /// URLs, mock settings that differ from the run's scenario (empty when all is as expected).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One point of load.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LoadPoint {
    /// `closed` or `open`.
    pub mode: String,
    /// Closed loop: users. Open loop: 0.
    pub concurrency: usize,
    /// Open loop: offered requests/s.
    pub rate: Option<f64>,
    /// Open loop: arrival pattern.
    pub arrivals: Option<String>,
    /// Open loop: in-flight cap.
    pub max_in_flight: Option<usize>,
}

impl LoadPoint {
    /// A closed-loop point of `concurrency` users.
    pub fn closed(concurrency: usize) -> LoadPoint {
        LoadPoint {
            mode: "closed".into(),
            concurrency,
            rate: None,
            arrivals: None,
            max_in_flight: None,
        }
    }

    /// A short label: `c=64` or `r=100/s`.
    pub fn label(&self) -> String {
        match self.rate {
            Some(r) => format!("r={r}/s"),
            None => format!("c={}", self.concurrency),
        }
    }
}

/// Counts of one variant at one point: the measured requests, and the warm-up apart.
///
/// Every request that came due ends in exactly one bucket:
/// `sent = ok + failed + abandoned + never_sent` (measured), and likewise in [`WarmupCounters`].
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Counters {
    /// Measured requests that came due (intended to start inside the measured phase), sent or
    /// held back by `--max-in-flight`.
    pub sent: u64,
    /// Requests that succeeded.
    pub ok: u64,
    /// Requests that failed.
    pub failed: u64,
    /// Failures by error kind (`throttled`, `stream_cut`, …).
    pub failed_by_kind: BTreeMap<String, u64>,
    /// Still running when the drain time ran out (neither ok nor failed).
    pub abandoned: u64,
    /// Due but never sent because `--max-in-flight` held them when the load stopped.
    pub never_sent: u64,
    /// Retries spent.
    pub retries: u64,
    /// Text deltas received.
    pub tokens: u64,
    /// Successful answers whose citations did not match the retrieved passages.
    pub citation_mismatches: u64,
    /// Socket reads of the answer streams (`sync-stream`: a `next()` that found no token left
    /// over from an earlier read, the one that reads the stream's end included; the other
    /// variants: every read that brought body bytes). A stream read later than its tokens'
    /// spacing reads several tokens at once. Absent in older results.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub stream_reads: u64,
    /// Warm-up requests completed (not measured).
    pub warmup_completed: u64,
    /// Where every warm-up request ended (all zero in older results, which lack it).
    #[serde(default)]
    pub warmup: WarmupCounters,
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

impl Counters {
    /// Measured requests accounted for in a bucket (ok, failed, unfinished, never sent): equal
    /// to `sent` in every run.
    pub fn accounted(&self) -> u64 {
        self.ok + self.failed + self.abandoned + self.never_sent
    }
}

/// Where the warm-up requests ended: `due = ok + failed + abandoned + never_sent`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct WarmupCounters {
    /// Warm-up requests that came due.
    pub due: u64,
    /// Succeeded.
    pub ok: u64,
    /// Failed (any kind).
    pub failed: u64,
    /// Still running when the drain time ran out.
    pub abandoned: u64,
    /// Held back by `--max-in-flight` and never sent.
    pub never_sent: u64,
}

/// Rates over the measured window.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Throughput {
    /// Measured window, seconds.
    pub window_s: f64,
    /// Successful requests per second.
    pub requests_per_s: f64,
    /// Tokens of successful requests per second.
    pub tokens_per_s: f64,
    /// Successful requests meeting the SLO per second (None without `--slo`).
    pub goodput_per_s: Option<f64>,
}

/// The mocks' side of one variant's run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MockSide {
    /// Injected latency per operation, ms (keys: embed, converse_stream, qdrant_search, …).
    pub injected_ms: BTreeMap<String, Percentiles>,
    /// Requests received per operation.
    pub requests: BTreeMap<String, u64>,
    /// Faults and outcomes per operation.
    pub outcomes: BTreeMap<String, BTreeMap<String, u64>>,
    /// Mean injected wait of one whole request (embed + search + stream), ms.
    pub injected_request_mean_ms: f64,
    /// Mean of (e2e − queue − injected waits − CPU step) over successful requests, ms: what the
    /// client, the runtime and the mocks added on top of the model.
    pub overhead_mean_ms: f64,
    /// How late token events left the mock vs their deadlines, ms.
    pub timer_lateness_ms: Percentiles,
    /// Token events the mock sent.
    pub tokens_sent: u64,
    /// Most streams open at once.
    pub streams_peak: u64,
    /// External mocks only (`ragperf mock` in another process): CPU seconds their process spent
    /// during this variant's run.
    pub process_cpu_s: Option<f64>,
    /// External mocks only: mock CPU per token event sent, µs (all of the mock's work divided by
    /// its token events: an upper bound on the cost of one event).
    pub cpu_per_token_us: Option<f64>,
}

/// One variant at one load point.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct VariantRun {
    /// Variant name.
    pub variant: String,
    /// The load point.
    pub point: LoadPoint,
    /// Repetition index (0-based).
    pub repetition: u32,
    /// Variant settings as run: workers, worker threads, blocking pool.
    pub settings: BTreeMap<String, String>,
    /// Counters.
    pub counters: Counters,
    /// Throughput.
    pub throughput: Throughput,
    /// Percentiles per histogram, ms.
    pub latency_ms: BTreeMap<String, Percentiles>,
    /// Every histogram (µs), HdrHistogram V2 + deflate, base64.
    pub histograms: BTreeMap<String, String>,
    /// OS figures sampled during the run.
    pub process: ProcessFigures,
    /// The Little's-law ideal.
    pub ideal: Ideal,
    /// The mocks' figures (None when the backends don't serve `/__ragperf/stats`).
    pub mock: Option<MockSide>,
    /// The driver's view: window, in-flight peak, interruption.
    pub drive: DriveOutcome,
    /// Phases of the first measured requests, for the timeline chart.
    pub timeline: Vec<TimelineEntry>,
    /// `--target` runs: the endpoint driven (absent for the built-in variants).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetInfo>,
    /// `--target` runs with `--target-pid` or `--target-cmd`: the server process's own OS
    /// figures, sampled from `/proc` during the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerFigures>,
    /// Where the measured window lies on the wall clock (absent in older results; in a merged
    /// result, the window common to every shard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<crate::shard::WindowClock>,
    /// A model whose GIL has a cap (`request.gil_max_busy` below 1): the wall time the lock
    /// stood held and idle to keep under it, seconds, over the OS sampler's window
    /// (`process.window_s`: warm-up and drain included). Absent without a cap, in older results
    /// and in a result merged from several shards (each host's lock is its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gil_cap_idle_s: Option<f64>,
    /// Merged results: each shard's own figures (host, counters, throughput, process, mocks),
    /// in shard order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<crate::merge::ShardPart>,
}

/// The endpoint of a `--target` run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TargetInfo {
    /// The label (`--target-name`, default the URL's path).
    pub name: String,
    /// The URL.
    pub url: String,
    /// `sse`, `openai` or `json`.
    pub protocol: String,
    /// The HTTP method.
    pub method: String,
}

/// Why a result file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ResultError {
    /// I/O.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not JSON of this schema.
    #[error("{path} is not a ragperf result: {message}")]
    Parse {
        /// The path.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl RunResult {
    /// Reads a result file, checking the schema identifier first so an old or foreign file gets
    /// a clear message.
    pub fn read(path: &Path) -> Result<RunResult, ResultError> {
        let text = std::fs::read_to_string(path).map_err(|source| ResultError::Read {
            path: path.display().to_string(),
            source,
        })?;
        RunResult::parse(&text, &path.display().to_string())
    }

    /// Parses the text of a result file (`path` only names it in errors): what
    /// [`RunResult::read`] does after reading the file. Public so the fuzz targets and their
    /// replay test (`fuzz/`, `tests/fuzz_replay.rs`) drive the loader without a file per input.
    pub fn parse(text: &str, path: &str) -> Result<RunResult, ResultError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ResultError::Parse {
                path: path.to_string(),
                message: format!(
                    "invalid JSON ({e}): pass the result.json `ragperf run` or `sweep` wrote"
                ),
            })?;
        let schema = value.get("schema").and_then(|s| s.as_str()).unwrap_or("");
        if schema != SCHEMA {
            return Err(ResultError::Parse {
                path: path.to_string(),
                message: format!(
                    "schema is `{schema}`, expected `{SCHEMA}`: pass a result.json written by \
                     `ragperf run` or `sweep` (or re-run it with this version)"
                ),
            });
        }
        serde_json::from_value(value).map_err(|e| ResultError::Parse {
            path: path.to_string(),
            message: format!(
                "{e}: the file was changed or cut short; re-run `ragperf run` to write it again"
            ),
        })
    }
}
