//! Q1/Q3 and Q7: how many OS threads (and how much memory) each design needs.
//!
//! - **Q1/Q3**: the seed's table — sync retrieval + sync generation uses a thread per request;
//!   sync retrieval + async generation "1-2 threads"; fully async "1 thread handles many" —
//!   filled with the threads and peak memory measured for 2 and for N concurrent requests. The
//!   async designs run on one event-loop thread here (`async-single`, and `hybrid` with one
//!   runtime worker), as Python's asyncio does.
//! - **Q7**: async "scales to thousands of connections": at thousands of concurrent streams
//!   async keeps up on a handful of threads, while sync needs a thread — and its memory — per
//!   stream.

use std::time::Duration;

use anyhow::Result;

use crate::pipeline::VariantKind;
use crate::plot::{Chart, ChartKind, WIDE};
use crate::result::RunResult;
use crate::tour::chart::{BarChart, BarSeries, RefLine};
use crate::tour::measure;
use crate::tour::model::{self, Mode, Step};
use crate::tour::verdict::{Check, Role, num, reading};
use crate::tour::{ChartSource, ChartSpec, Experiment, Finding, Measured, Table, ms_text};

/// The Q1/Q3 experiment.
pub fn per_request() -> Experiment {
    Experiment {
        id: "Q1/Q3",
        aliases: &["Q1", "Q3", "Q2"],
        slug: "q1-q3-threads",
        title: "Threads per design, for 2 and for many concurrent requests",
        seed: "Sync retrieval + sync generation: \"1 thread per request\", 2 threads for 2 \
               requests, \"parallel but wasteful\"; sync retrieval + async generation: \"1-2 \
               threads\", partial benefit; async + async: \"1 thread handles many\" (Q1, Q3).",
        claim: "A sync request occupies one OS thread from retrieval to the last token, so \
                threads grow one per concurrent request; an event loop serves every request \
                on one thread; the hybrid needs the loop plus a thread only while a blocking \
                call runs.",
        steps: per_request_steps,
        analyse: per_request_analyse,
    }
}

/// The seed's three rows: (variant, the seed's name for it, what the seed says).
const ROWS: [(&str, &str, &str); 3] = [
    (
        "sync",
        "sync retrieval + sync generation",
        "1 thread per request",
    ),
    ("hybrid", "sync retrieval + async generation", "1-2 threads"),
    (
        "async-single",
        "async retrieval + async generation",
        "1 thread handles many",
    ),
];

fn many(mode: Mode) -> usize {
    mode.pick(64, 256)
}

fn per_request_steps(mode: Mode) -> Vec<Step> {
    // Slow enough that one event-loop thread is not CPU-bound at the large load (64 users at
    // 150 ms, 256 at 1.5 s: a few hundred requests per second).
    let mut s = model::seed_scenario(mode.pick(0.05, 0.5));
    model::by_duration(
        &mut s,
        mode.pick(Duration::from_millis(500), Duration::from_secs(3)),
    );
    // One event-loop thread, as Python's asyncio: `hybrid` gets one runtime worker.
    s.load.worker_threads = Some(1);
    vec![model::step(
        "threads",
        format!(
            "Each design at 2 and at {} concurrent users (the async ones on one event-loop \
             thread, as in Python)",
            many(mode)
        ),
        model::plan(
            s,
            // Least memory-hungry first, so a later variant does not start on another's heap.
            &[
                VariantKind::AsyncSingle,
                VariantKind::Hybrid,
                VariantKind::Sync,
            ],
            vec![model::closed(2), model::closed(many(mode))],
        ),
    )]
}

/// Threads and memory of one variant at one load.
#[derive(Clone, Debug, PartialEq)]
pub struct Cost {
    /// Peak threads of the variant.
    pub threads: u64,
    /// Distinct threads that started a request (from the timeline).
    pub request_threads: usize,
    /// Peak resident memory of the process, MiB.
    pub rss_peak_mib: f64,
    /// Peak resident memory above the start of the window, MiB.
    pub rss_growth_mib: f64,
    /// Measured / ideal throughput.
    pub efficiency: f64,
    /// Failed requests.
    pub failed: u64,
    /// Requests/s.
    pub rps: f64,
    /// p99 end-to-end, ms.
    pub e2e_p99_ms: f64,
    /// Own CPU ([`crate::metrics::catalogue::own_cpu_s`]): the process minus the mocks and sampler, s.
    pub cpu_s: f64,
}

pub(super) fn cost(r: &RunResult, variant: &str, users: usize) -> Result<Cost> {
    let run = measure::run(r, variant, users)?;
    let p = &run.process;
    Ok(Cost {
        threads: p.threads_peak,
        request_threads: measure::thread_use(&run.timeline).threads,
        rss_peak_mib: measure::rss_peak_mib(run),
        rss_growth_mib: measure::rss_growth_mib(run),
        efficiency: run.ideal.efficiency,
        failed: run.counters.failed + run.counters.abandoned,
        rps: run.throughput.requests_per_s,
        e2e_p99_ms: measure::ms(run, "e2e", |p| p.p99),
        cpu_s: crate::metrics::catalogue::own_cpu_s(run),
    })
}

/// What Q1/Q3 measured: per variant, the cost at 2 users and at `many` users.
#[derive(Clone, Debug, PartialEq)]
pub struct PerRequest {
    /// The large load.
    pub many: usize,
    /// `sync` at 2 and at `many`.
    pub sync: (Cost, Cost),
    /// `hybrid` at 2 and at `many`.
    pub hybrid: (Cost, Cost),
    /// `async-single` at 2 and at `many`.
    pub single: (Cost, Cost),
}

/// Reads Q1/Q3's figures.
pub fn per_request_figures(m: &Measured) -> Result<PerRequest> {
    let r = m.get("threads")?;
    let many = r
        .plan
        .points
        .iter()
        .map(|p| p.concurrency)
        .max()
        .unwrap_or(2);
    let pair = |v: &str| -> Result<(Cost, Cost)> { Ok((cost(r, v, 2)?, cost(r, v, many)?)) };
    Ok(PerRequest {
        many,
        sync: pair("sync")?,
        hybrid: pair("hybrid")?,
        single: pair("async-single")?,
    })
}

/// Q1/Q3's checks.
pub fn per_request_checks(f: &PerRequest) -> Vec<Check> {
    let n = f.many as f64;
    vec![
        Check::at_least(
            "sync: a thread per request with 2 requests (threads)",
            f.sync.0.threads as f64,
            2.0,
            "",
            Role::Core,
        ),
        Check::at_least(
            &format!(
                "sync: a thread per request with {} requests (threads)",
                f.many
            ),
            f.sync.1.threads as f64,
            (0.8 * n).floor(),
            "",
            Role::Core,
        ),
        Check::at_most(
            &format!("async: one thread handles all {} (threads)", f.many),
            f.single.1.threads as f64,
            1.0,
            "",
            Role::Core,
        ),
        Check::at_least(
            &format!("async: …at full concurrency with {} (efficiency)", f.many),
            f.single.1.efficiency,
            0.8,
            "",
            Role::Core,
        ),
        Check::within(
            "hybrid: 1-2 threads for 2 requests (threads)",
            f.hybrid.0.threads as f64,
            1.0,
            2.0,
            "",
            Role::Detail,
        ),
        Check::at_most(
            &format!(
                "hybrid: partial benefit, at most half of sync's threads at {} (threads)",
                f.many
            ),
            f.hybrid.1.threads as f64,
            (0.5 * f.sync.1.threads as f64).floor(),
            "",
            Role::Detail,
        ),
    ]
}

/// Peak threads, with the threads that ran requests when fewer.
fn threads_cell(c: &Cost) -> String {
    if (c.request_threads as u64) < c.threads {
        format!("{} ({} ran requests)", c.threads, c.request_threads)
    } else {
        c.threads.to_string()
    }
}

fn per_request_analyse(m: &Measured) -> Result<Finding> {
    Ok(per_request_finding(&per_request_figures(m)?))
}

/// The finding of Q1/Q3's figures.
pub fn per_request_finding(f: &PerRequest) -> Finding {
    let checks = per_request_checks(f);
    Finding {
        headline: format!(
            "threads for 2 / {}: sync {}/{}, hybrid {}/{}, async {}/{}",
            f.many,
            f.sync.0.threads,
            f.sync.1.threads,
            f.hybrid.0.threads,
            f.hybrid.1.threads,
            f.single.0.threads,
            f.single.1.threads
        ),
        table: per_request_table(f),
        explanation: per_request_explanation(f, &checks),
        checks,
        charts: vec![
            ChartSpec {
                name: "threads".into(),
                caption: "Peak OS threads of each design (its workers, blocking pool and \
                          event loop; never the mocks' or the harness's)."
                    .into(),
                source: ChartSource::Bars(threads_chart(f)),
            },
            ChartSpec {
                name: "os_cost".into(),
                caption: "Threads and peak resident memory against load (log scale).".into(),
                source: ChartSource::Plot {
                    step: "threads".into(),
                    chart: Chart {
                        name: "os_cost".into(),
                        title: "OS cost vs load".into(),
                        size: WIDE,
                        kind: ChartKind::OsCost,
                    },
                },
            },
        ],
    }
}

/// One row per design: its threads and peak memory at both loads.
fn per_request_table(f: &PerRequest) -> Table {
    let mut table = Table::new(&[
        "design (seed)",
        "variant",
        "seed says",
        "threads, 2 requests",
        &format!("threads, {} requests", f.many),
        "peak RSS, 2",
        &format!("peak RSS, {}", f.many),
    ]);
    for (variant, name, says) in ROWS {
        let (a, b) = match variant {
            "sync" => &f.sync,
            "hybrid" => &f.hybrid,
            _ => &f.single,
        };
        table.row(vec![
            name.into(),
            format!("`{variant}`"),
            says.into(),
            threads_cell(a),
            threads_cell(b),
            format!("{} MiB", num(a.rss_peak_mib)),
            format!("{} MiB (+{})", num(b.rss_peak_mib), num(b.rss_growth_mib)),
        ]);
    }
    table
}

/// The explanation: threads and memory per design at both loads, then why only when the
/// checks support it.
pub fn per_request_explanation(f: &PerRequest, checks: &[Check]) -> String {
    let facts = format!(
        "Sync used {} threads for 2 requests and {} for {}. The event loop (`async-single`) \
         used {} and {} threads and served {} users at {}% of the Little's-law ideal. The \
         hybrid used {} threads for 2 requests (the seed says \"1-2\") and {} at {} users. \
         Peak memory at {} users: sync +{} MiB, hybrid +{} MiB, async +{} MiB above where each \
         started (the in-process mocks' memory is in every figure).",
        f.sync.0.threads,
        f.sync.1.threads,
        f.many,
        f.single.0.threads,
        f.single.1.threads,
        f.many,
        num(100.0 * f.single.1.efficiency),
        f.hybrid.0.threads,
        f.hybrid.1.threads,
        f.many,
        f.many,
        num(f.sync.1.rss_growth_mib),
        num(f.hybrid.1.rss_growth_mib),
        num(f.single.1.rss_growth_mib),
    );
    let mut why = format!(
        "A sync request keeps its thread through every network wait, so threads grow with the \
         requests in flight; an event-loop request needs the thread only between waits. The \
         hybrid's threads are the loop plus the blocking calls (retrieval is {} of a {} \
         request) in flight at once; tokio keeps idle pool threads for a while.",
        ms_text(model::retrieval_ms()),
        ms_text(model::request_ms()),
    );
    if f.sync.0.threads > 2 || f.sync.1.threads > f.many as u64 {
        why.push_str(
            " Sync peaked slightly above one thread per request: its pool keeps finished \
             threads, and when a user's next request arrives in the instant before the \
             previous worker is back in the pool, it starts another (Python's \
             ThreadPoolExecutor does the same, up to max_workers); ureq also resolves a new \
             connection's host on a short-lived thread of its own.",
        );
    }
    format!("{facts} {}", reading(checks, &why))
}

/// Peak OS threads per design at both loads.
fn threads_chart(f: &PerRequest) -> BarChart {
    BarChart {
        title: "OS threads per design".into(),
        x_label: "design (variant)".into(),
        y_label: "threads of the variant (peak)".into(),
        groups: ROWS
            .iter()
            .map(|(v, _, _)| match *v {
                "sync" => "sync + sync (sync)".to_string(),
                "hybrid" => "sync + async (hybrid)".to_string(),
                _ => "async + async (async-single)".to_string(),
            })
            .collect(),
        series: vec![
            BarSeries {
                name: "2 concurrent requests".into(),
                color: crate::tour::chart::PAIR[0],
                values: vec![
                    f.sync.0.threads as f64,
                    f.hybrid.0.threads as f64,
                    f.single.0.threads as f64,
                ],
            },
            BarSeries {
                name: format!("{} concurrent requests", f.many),
                color: crate::tour::chart::PAIR[1],
                values: vec![
                    f.sync.1.threads as f64,
                    f.hybrid.1.threads as f64,
                    f.single.1.threads as f64,
                ],
            },
        ],
        lines: vec![RefLine {
            value: f.many as f64,
            label: format!("{} requests", f.many),
        }],
    }
}
