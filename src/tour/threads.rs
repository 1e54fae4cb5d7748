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

use super::chart::{BarChart, BarSeries, RefLine};
use super::measure;
use super::model::{self, Mode, Step};
use super::verdict::{Check, Role, num, ratio};
use super::{ChartSource, ChartSpec, Experiment, Finding, Measured, Table, ms_text};
use crate::pipeline::VariantKind;
use crate::plot::{Chart, ChartKind, SIZE, WIDE};
use crate::result::RunResult;

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
    /// CPU time of the process (user + system) minus the mocks', seconds.
    pub cpu_s: f64,
}

fn cost(r: &RunResult, variant: &str, users: usize) -> Result<Cost> {
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
        cpu_s: (p.cpu_user_s + p.cpu_sys_s - p.mock_cpu_s).max(0.0),
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
    let f = per_request_figures(m)?;
    let checks = per_request_checks(&f);
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
    let hybrid_note = if f.hybrid.0.threads <= 2 {
        format!(
            "The hybrid used {} thread(s) for 2 requests, inside the seed's \"1-2\"",
            f.hybrid.0.threads
        )
    } else {
        format!(
            "The hybrid used {} threads for 2 requests, not the seed's \"1-2\": the event-loop \
             thread plus one blocking-pool thread for each retrieval that overlapped another",
            f.hybrid.0.threads
        )
    };
    let explanation = format!(
        "Sync used {} threads for 2 requests and {} for {}: one per request in flight, each \
         blocked through every network wait. The event loop (`async-single`) used {} thread \
         at both loads and still served {} users at {}% of the Little's-law ideal, because a \
         request needs the thread only between waits. {}; at {} users it peaked at {} threads \
         — the loop plus the blocking calls (retrieval is {} of a {} request) that were in \
         flight at once, and tokio keeps idle pool threads for a while. Peak memory at {} \
         users: sync +{} MiB, hybrid +{} MiB, async +{} MiB above where each started (the \
         in-process mocks' memory is in every figure).",
        f.sync.0.threads,
        f.sync.1.threads,
        f.many,
        f.single.1.threads,
        f.many,
        num(100.0 * f.single.1.efficiency),
        hybrid_note,
        f.many,
        f.hybrid.1.threads,
        ms_text(model::retrieval_ms()),
        ms_text(model::request_ms()),
        f.many,
        num(f.sync.1.rss_growth_mib),
        num(f.hybrid.1.rss_growth_mib),
        num(f.single.1.rss_growth_mib),
    );
    let explanation = if f.sync.0.threads > 2 || f.sync.1.threads > f.many as u64 {
        format!(
            "{explanation} Sync peaked slightly above one thread per request ({} and {}): its \
             pool keeps finished threads, and when a user's next request arrives in the \
             instant before the previous worker is back in the pool, it starts another \
             (Python's ThreadPoolExecutor does the same, up to max_workers); ureq also \
             resolves a new connection's host on a short-lived thread of its own.",
            f.sync.0.threads, f.sync.1.threads
        )
    } else {
        explanation
    };
    let bars = BarChart {
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
                color: super::chart::PAIR[0],
                values: vec![
                    f.sync.0.threads as f64,
                    f.hybrid.0.threads as f64,
                    f.single.0.threads as f64,
                ],
            },
            BarSeries {
                name: format!("{} concurrent requests", f.many),
                color: super::chart::PAIR[1],
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
    };
    Ok(Finding {
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
        table,
        checks,
        explanation,
        charts: vec![
            ChartSpec {
                name: "threads".into(),
                caption: "Peak OS threads of each design (its workers, blocking pool and \
                          event loop; never the mocks' or the harness's)."
                    .into(),
                source: ChartSource::Bars(bars),
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
    })
}

/// The Q7 experiment.
pub fn thousands() -> Experiment {
    Experiment {
        id: "Q7",
        aliases: &["thousands"],
        slug: "q7-thousands",
        title: "Thousands of concurrent streams",
        seed: "Use async retrieval + async generation for the streaming endpoint: it \"runs on \
               event loop, scales to thousands of connections\" (Q7).",
        claim: "An async service holds thousands of concurrent streams on a handful of \
                threads and keeps its latency; a sync service needs one thread per stream, so \
                its threads and memory grow with every user.",
        steps: thousands_steps,
        analyse: thousands_analyse,
    }
}

fn thousands_steps(mode: Mode) -> Vec<Step> {
    // Slow enough that N streams are a few thousand token events per second: concurrency,
    // not the event-stream parser, is what is measured.
    let mut s = model::seed_scenario(mode.pick(0.25, 1.0));
    model::by_duration(
        &mut s,
        mode.pick(Duration::from_millis(800), Duration::from_secs(4)),
    );
    let points: Vec<usize> = mode.pick(vec![50, 500], vec![100, 1000, 2000]);
    vec![model::step(
        "streams",
        "`async` (one worker per core) and `sync` (a thread per request), concurrent \
         streaming users",
        model::plan(
            s,
            &[VariantKind::Async, VariantKind::Sync],
            points.into_iter().map(model::closed).collect(),
        ),
    )]
}

/// What Q7 measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Thousands {
    /// Smallest load.
    pub low: usize,
    /// Largest load.
    pub high: usize,
    /// `async` at low and high.
    pub asyn: (Cost, Cost),
    /// `sync` at low and high.
    pub sync: (Cost, Cost),
}

/// Reads Q7's figures.
pub fn thousands_figures(m: &Measured) -> Result<Thousands> {
    let r = m.get("streams")?;
    let loads: Vec<usize> = r.plan.points.iter().map(|p| p.concurrency).collect();
    let low = loads.iter().copied().min().unwrap_or(1);
    let high = loads.iter().copied().max().unwrap_or(1);
    Ok(Thousands {
        low,
        high,
        asyn: (cost(r, "async", low)?, cost(r, "async", high)?),
        sync: (cost(r, "sync", low)?, cost(r, "sync", high)?),
    })
}

/// Q7's checks.
pub fn thousands_checks(f: &Thousands) -> Vec<Check> {
    let n = f.high;
    vec![
        Check::at_least(
            &format!("async keeps up with {n} streams (efficiency)"),
            f.asyn.1.efficiency,
            0.8,
            "",
            Role::Core,
        ),
        Check::at_most(
            &format!("async: no failed requests at {n} streams"),
            f.asyn.1.failed as f64,
            0.0,
            "",
            Role::Core,
        ),
        Check::at_most(
            &format!("async's threads stay flat from {} to {n} (threads)", f.low),
            f.asyn.1.threads as f64,
            f.asyn.0.threads as f64 + 2.0,
            "",
            Role::Core,
        ),
        Check::at_least(
            &format!("sync needs a thread per stream at {n} (threads)"),
            f.sync.1.threads as f64,
            (0.8 * n as f64).floor(),
            "",
            Role::Core,
        ),
        Check::at_least(
            &format!("sync's memory grows more than async's at {n} (× async's growth)"),
            ratio(f.sync.1.rss_growth_mib, f.asyn.1.rss_growth_mib.max(1.0)),
            1.5,
            "×",
            Role::Core,
        ),
        Check::at_most(
            &format!("async keeps its latency: p99 at {n} vs at {} (×)", f.low),
            ratio(f.asyn.1.e2e_p99_ms, f.asyn.0.e2e_p99_ms),
            1.25,
            "×",
            Role::Detail,
        ),
    ]
}

fn thousands_analyse(m: &Measured) -> Result<Finding> {
    let f = thousands_figures(m)?;
    let checks = thousands_checks(&f);
    let r = m.get("streams")?;
    let mut table = Table::new(&[
        "variant",
        "streams",
        "threads",
        "RSS growth",
        "req/s",
        "efficiency",
        "e2e p99",
        "CPU s (harness)",
        "failed",
    ]);
    let mut loads: Vec<usize> = r.plan.points.iter().map(|p| p.concurrency).collect();
    loads.sort_unstable();
    for variant in ["async", "sync"] {
        for &n in &loads {
            let c = cost(r, variant, n)?;
            table.row(vec![
                format!("`{variant}`"),
                n.to_string(),
                c.threads.to_string(),
                format!("{} MiB", num(c.rss_growth_mib)),
                num(c.rps),
                format!("{}%", num(100.0 * c.efficiency)),
                ms_text(c.e2e_p99_ms),
                num(c.cpu_s),
                c.failed.to_string(),
            ]);
        }
    }
    let extra_threads = f.sync.1.threads.saturating_sub(f.sync.0.threads) as f64;
    let per_thread_kib = ratio(
        (f.sync.1.rss_growth_mib - f.asyn.1.rss_growth_mib) * 1024.0,
        f.sync.1.threads as f64,
    );
    let sync_note = if f.sync.1.efficiency >= 0.8 {
        format!(
            "Sync still kept up here ({}% of the ideal): on Linux {} threads are affordable, \
             so its price is paid in threads, memory and CPU, not (yet) in throughput",
            num(100.0 * f.sync.1.efficiency),
            f.sync.1.threads
        )
    } else {
        format!(
            "Sync fell behind ({}% of the ideal): {} threads contended for {} cores",
            num(100.0 * f.sync.1.efficiency),
            f.sync.1.threads,
            r.machine.cores
        )
    };
    let explanation = format!(
        "At {} concurrent streams async served {} req/s ({}% of the Little's-law ideal) on \
         {} threads — the same {} it used for {} streams — with a p99 of {} against {} at {}. \
         Sync needed {} threads ({} more than at {}) and its peak memory grew {} MiB against \
         async's {} MiB, about {} KiB per thread beyond what async needed for the same \
         streams. It also burned {} CPU-seconds to async's {}. {}.",
        f.high,
        num(f.asyn.1.rps),
        num(100.0 * f.asyn.1.efficiency),
        f.asyn.1.threads,
        f.asyn.0.threads,
        f.low,
        ms_text(f.asyn.1.e2e_p99_ms),
        ms_text(f.asyn.0.e2e_p99_ms),
        f.low,
        f.sync.1.threads,
        num(extra_threads),
        f.low,
        num(f.sync.1.rss_growth_mib),
        num(f.asyn.1.rss_growth_mib),
        num(per_thread_kib),
        num(f.sync.1.cpu_s),
        num(f.asyn.1.cpu_s),
        sync_note,
    );
    Ok(Finding {
        headline: format!(
            "{} streams: async {} threads, {}% of ideal; sync {} threads, +{} MiB vs +{} MiB",
            f.high,
            f.asyn.1.threads,
            num(100.0 * f.asyn.1.efficiency),
            f.sync.1.threads,
            num(f.sync.1.rss_growth_mib),
            num(f.asyn.1.rss_growth_mib)
        ),
        table,
        checks,
        explanation,
        charts: vec![
            ChartSpec {
                name: "os_cost".into(),
                caption: "Threads of each variant and peak memory of the process against \
                          the number of concurrent streams (log scale)."
                    .into(),
                source: ChartSource::Plot {
                    step: "streams".into(),
                    chart: Chart {
                        name: "os_cost".into(),
                        title: "OS cost vs concurrent streams".into(),
                        size: WIDE,
                        kind: ChartKind::OsCost,
                    },
                },
            },
            ChartSpec {
                name: "throughput".into(),
                caption: "Throughput against concurrent streams with the Little's-law ideal \
                          (dashed): a design that keeps up follows it."
                    .into(),
                source: ChartSource::Plot {
                    step: "streams".into(),
                    chart: Chart {
                        name: "throughput".into(),
                        title: "Throughput vs concurrent streams".into(),
                        size: SIZE,
                        kind: ChartKind::Throughput,
                    },
                },
            },
        ],
    })
}
