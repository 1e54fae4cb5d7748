//! Q7: thousands of concurrent streams. An async service holds them on a handful of threads;
//! a sync service needs a thread per stream, so its threads and memory grow with every user.

use std::time::Duration;

use anyhow::Result;

use super::q1_q3_per_request::{Cost, cost};
use crate::pipeline::VariantKind;
use crate::plot::{Chart, ChartKind, SIZE, WIDE};
use crate::result::RunResult;
use crate::tour::model::{self, Mode, Step};
use crate::tour::verdict::{Check, Role, num, ratio, reading};
use crate::tour::{ChartSource, ChartSpec, Experiment, Finding, Measured, Table, ms_text};

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
    let r = m.get("streams")?;
    Ok(thousands_finding(
        &thousands_figures(m)?,
        thousands_table(r)?,
        r.machine.cores,
    ))
}

/// The finding of Q7's figures, with its table (every load) and the machine's `cores`.
pub fn thousands_finding(f: &Thousands, table: Table, cores: u64) -> Finding {
    let checks = thousands_checks(f);
    Finding {
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
        explanation: thousands_explanation(f, &checks, cores),
        checks,
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
    }
}

/// One row per variant and number of streams.
fn thousands_table(r: &RunResult) -> Result<Table> {
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
    Ok(table)
}

/// The explanation: threads, memory and CPU of both designs at the higher load, then why
/// only when the checks support it; `cores` are the machine's.
pub fn thousands_explanation(f: &Thousands, checks: &[Check], cores: u64) -> String {
    let extra_threads = f.sync.1.threads.saturating_sub(f.sync.0.threads) as f64;
    let per_thread_kib = ratio(
        (f.sync.1.rss_growth_mib - f.asyn.1.rss_growth_mib) * 1024.0,
        f.sync.1.threads as f64,
    );
    let facts = format!(
        "At {} concurrent streams async served {} req/s ({}% of the Little's-law ideal) on {} \
         threads ({} at {} streams), with a p99 of {} against {} at {} and {} failed requests. \
         Sync needed {} threads ({} more than at {}), served {}% of the ideal, and its peak \
         memory grew {} MiB against async's {} MiB, about {} KiB per thread beyond what async \
         needed. It burned {} CPU-seconds to async's {}, on {} cores.",
        f.high,
        num(f.asyn.1.rps),
        num(100.0 * f.asyn.1.efficiency),
        f.asyn.1.threads,
        f.asyn.0.threads,
        f.low,
        ms_text(f.asyn.1.e2e_p99_ms),
        ms_text(f.asyn.0.e2e_p99_ms),
        f.low,
        f.asyn.1.failed,
        f.sync.1.threads,
        num(extra_threads),
        f.low,
        num(100.0 * f.sync.1.efficiency),
        num(f.sync.1.rss_growth_mib),
        num(f.asyn.1.rss_growth_mib),
        num(per_thread_kib),
        num(f.sync.1.cpu_s),
        num(f.asyn.1.cpu_s),
        cores,
    );
    let sync_note = if f.sync.1.efficiency >= 0.8 {
        format!(
            "on Linux {} threads are affordable, so sync's price is paid in threads, memory \
             and CPU, not (yet) in throughput",
            f.sync.1.threads
        )
    } else {
        format!(
            "sync fell behind as its {} threads contended for {cores} cores",
            f.sync.1.threads
        )
    };
    let why = format!(
        "An async stream needs a thread only while a chunk is handled, so a handful of \
         threads carry them all; a sync stream holds its own thread, and its stack, to the \
         last token; {sync_note}."
    );
    format!("{facts} {}", reading(checks, &why))
}
