//! Q16: mixing sync and async with `asyncio.to_thread` (here `spawn_blocking`). At low load the
//! hybrid (blocking retrieval in a thread pool, async streaming) performs like fully async; when
//! more requests need a blocking call at once than the pool has threads, they queue for the
//! pool and throughput caps at `pool threads / retrieval time`, while fully async goes on.

use std::time::Duration;

use anyhow::Result;

use super::timeline::timeline_chart;
use crate::pipeline::VariantKind;
use crate::tour::chart::{BarChart, BarSeries, RefLine, variant_color};
use crate::tour::measure;
use crate::tour::model::{self, Mode, Step};
use crate::tour::verdict::{Check, Role, num, ratio, reading};
use crate::tour::{ChartSource, ChartSpec, Experiment, Finding, Measured, Table, ms_text};

/// The Q16 experiment.
pub fn experiment() -> Experiment {
    Experiment {
        id: "Q16",
        aliases: &["hybrid", "to_thread"],
        slug: "q16-hybrid",
        title: "Hybrid (to_thread) vs fully async",
        seed: "Mix sync and async \"using `asyncio.to_thread()` for sync operations\"; \"useful \
               when some components don't have async versions\" (Q16).",
        claim: "Running the blocking part of a request in a thread pool costs nothing at low \
                load, but the pool is a hidden limit: when more requests need it at once than \
                it has threads, they queue and throughput caps at pool threads / blocking time.",
        steps,
        analyse,
    }
}

/// Users of the low-load step.
pub const LOW: usize = 4;
/// Users of the high-load step.
pub const HIGH: usize = 64;
/// Blocking-pool threads in the high-load step.
pub const POOL: usize = 1;

fn steps(mode: Mode) -> Vec<Step> {
    let mut s = model::seed_scenario(mode.pick(0.1, 0.25));
    model::by_duration(
        &mut s,
        mode.pick(Duration::from_millis(1000), Duration::from_secs(4)),
    );
    let mut small = s.clone();
    small.load.max_blocking_threads = Some(POOL);
    vec![
        model::step(
            "low-load",
            format!("Low load: {LOW} users, tokio's default blocking pool"),
            model::plan(
                s,
                &[VariantKind::Async, VariantKind::Hybrid],
                vec![model::closed(LOW)],
            ),
        ),
        model::step(
            "small-pool",
            format!("High load: {HIGH} users, a blocking pool of {POOL} thread"),
            model::plan(
                small,
                &[VariantKind::Async, VariantKind::Hybrid],
                vec![model::closed(HIGH)],
            ),
        ),
    ]
}

/// One variant's figures at one load.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Side {
    /// Requests/s.
    pub rps: f64,
    /// Measured / ideal.
    pub efficiency: f64,
    /// Median end-to-end, ms.
    pub e2e_p50_ms: f64,
    /// Median wait before the request started, ms.
    pub queue_p50_ms: f64,
    /// Peak threads.
    pub threads: u64,
}

/// What Q16 measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Hybrid {
    /// Retrieval (the blocking part) at this time scale, ms.
    pub retrieval_ms: f64,
    /// One request, ms.
    pub service_ms: f64,
    /// Blocking-pool threads at high load.
    pub pool: usize,
    /// Low load: async, hybrid.
    pub low: (Side, Side),
    /// High load with the small pool: async, hybrid.
    pub high: (Side, Side),
}

impl Hybrid {
    /// The most the small pool can serve: threads / retrieval time, requests/s.
    pub fn pool_cap_rps(&self) -> f64 {
        ratio(self.pool as f64 * 1000.0, self.retrieval_ms)
    }
}

fn side(m: &Measured, step: &str, variant: &str, users: usize) -> Result<Side> {
    let run = measure::run(m.get(step)?, variant, users)?;
    Ok(Side {
        rps: run.throughput.requests_per_s,
        efficiency: run.ideal.efficiency,
        e2e_p50_ms: measure::ms(run, "e2e", |p| p.p50),
        queue_p50_ms: measure::ms(run, "queue", |p| p.p50),
        threads: run.process.threads_peak,
    })
}

/// Reads Q16's figures.
pub fn figures(m: &Measured) -> Result<Hybrid> {
    let r = m.get("small-pool")?;
    let scale = r.scenario.time_scale;
    let retrieval_ms =
        (r.scenario.embedding.latency_ms.mean() + r.scenario.qdrant.search_ms.mean()) * scale;
    Ok(Hybrid {
        retrieval_ms,
        service_ms: measure::run(r, "async", HIGH)?.ideal.expected_service_s * 1000.0,
        pool: r.scenario.load.max_blocking_threads.unwrap_or(POOL),
        low: (
            side(m, "low-load", "async", LOW)?,
            side(m, "low-load", "hybrid", LOW)?,
        ),
        high: (
            side(m, "small-pool", "async", HIGH)?,
            side(m, "small-pool", "hybrid", HIGH)?,
        ),
    })
}

/// Q16's checks.
pub fn checks(f: &Hybrid) -> Vec<Check> {
    let (a, h) = (f.low.0, f.low.1);
    let (ha, hh) = (f.high.0, f.high.1);
    vec![
        Check::within(
            "low load: hybrid's median latency matches async's (hybrid / async)",
            ratio(h.e2e_p50_ms, a.e2e_p50_ms),
            0.9,
            1.1,
            "",
            Role::Core,
        ),
        Check::within(
            "low load: hybrid's throughput matches async's (hybrid / async)",
            ratio(h.rps, a.rps),
            0.9,
            1.1,
            "",
            Role::Core,
        ),
        Check::at_least(
            "small pool: requests queue for the pool (median wait, ms)",
            hh.queue_p50_ms,
            0.5 * f.retrieval_ms,
            "",
            Role::Core,
        ),
        Check::at_least(
            "small pool: async serves more (async / hybrid throughput)",
            ratio(ha.rps, hh.rps),
            1.5,
            "×",
            Role::Core,
        ),
        Check::at_most(
            "small pool: hybrid caps near pool threads / retrieval time (req/s)",
            hh.rps,
            1.2 * f.pool_cap_rps(),
            "",
            Role::Detail,
        ),
    ]
}

fn analyse(m: &Measured) -> Result<Finding> {
    Ok(finding(&figures(m)?, m))
}

/// The finding of Q16's figures (`m` only sizes the timeline chart).
pub fn finding(f: &Hybrid, m: &Measured) -> Finding {
    let checks = checks(f);
    Finding {
        headline: format!(
            "low load: hybrid {}× async's latency; pool of {} at {HIGH} users: {} vs {} req/s",
            num(ratio(f.low.1.e2e_p50_ms, f.low.0.e2e_p50_ms)),
            f.pool,
            num(f.high.1.rps),
            num(f.high.0.rps)
        ),
        table: table(f),
        explanation: explanation(f, &checks),
        checks,
        charts: vec![
            ChartSpec {
                name: "efficiency".into(),
                caption: format!(
                    "Throughput as a share of what the latency model allows: at {LOW} users \
                     async {}% and hybrid {}%; at {HIGH} users with a pool of {} async {}% and \
                     hybrid {}%. The dashed line is the small pool's cap.",
                    num(100.0 * f.low.0.efficiency),
                    num(100.0 * f.low.1.efficiency),
                    f.pool,
                    num(100.0 * f.high.0.efficiency),
                    num(100.0 * f.high.1.efficiency)
                ),
                source: ChartSource::Bars(efficiency_chart(f)),
            },
            timeline_chart(
                "small-pool",
                "hybrid",
                HIGH,
                &format!("Request timeline: hybrid, {HIGH} users, blocking pool of {POOL}"),
                &format!(
                    "Grey is time waiting, here for the blocking pool (median {}); blue is \
                     retrieval on the pool thread, green streaming on the event loop.",
                    ms_text(f.high.1.queue_p50_ms)
                ),
                m,
            ),
        ],
    }
}

/// One row per load and variant.
fn table(f: &Hybrid) -> Table {
    let mut table = Table::new(&[
        "load",
        "variant",
        "req/s",
        "efficiency",
        "e2e p50",
        "queue p50",
        "threads",
    ]);
    for (load, (a, h)) in [
        (format!("{LOW} users"), f.low),
        (format!("{HIGH} users, pool of {}", f.pool), f.high),
    ] {
        for (name, s) in [("async", a), ("hybrid", h)] {
            table.row(vec![
                load.clone(),
                format!("`{name}`"),
                num(s.rps),
                format!("{}%", num(100.0 * s.efficiency)),
                ms_text(s.e2e_p50_ms),
                ms_text(s.queue_p50_ms),
                s.threads.to_string(),
            ]);
        }
    }
    table
}

/// The explanation: both loads as measured, then why only when the checks support it.
pub fn explanation(f: &Hybrid, checks: &[Check]) -> String {
    let facts = format!(
        "At {LOW} users the hybrid's median request took {} against async's {} ({}×), at {} vs \
         {} req/s. At {HIGH} users with a pool of {} thread(s), each request needed the pool \
         for its {} retrieval; the pool can finish at most {} × 1000 / {} = {} retrievals per \
         second, and the users wanted about {} per second ({HIGH} / {}). The median wait for \
         the pool was {}; the hybrid served {} req/s and async {} ({}% of its ideal).",
        ms_text(f.low.1.e2e_p50_ms),
        ms_text(f.low.0.e2e_p50_ms),
        num(ratio(f.low.1.e2e_p50_ms, f.low.0.e2e_p50_ms)),
        num(f.low.1.rps),
        num(f.low.0.rps),
        f.pool,
        ms_text(f.retrieval_ms),
        f.pool,
        num(f.retrieval_ms),
        num(f.pool_cap_rps()),
        num(ratio(HIGH as f64 * 1000.0, f.service_ms)),
        ms_text(f.service_ms),
        ms_text(f.high.1.queue_p50_ms),
        num(f.high.1.rps),
        num(f.high.0.rps),
        num(100.0 * f.high.0.efficiency),
    );
    let why = "Handing blocking retrieval to a pool thread costs a thread hop, not throughput, \
               while the pool has a free thread; once the users want more retrievals than the \
               pool can finish, requests queue for it, and async, which needs no pool, serves \
               more. The same happens with Python's default `to_thread` pool of min(32, cores \
               + 4) threads once more blocking calls overlap than it has threads.";
    format!("{facts} {}", reading(checks, why))
}

/// Both variants' share of the ideal throughput at both loads.
fn efficiency_chart(f: &Hybrid) -> BarChart {
    BarChart {
        title: "Hybrid vs async: share of the ideal throughput".into(),
        x_label: "load".into(),
        y_label: "throughput / Little's-law ideal (%)".into(),
        groups: vec![
            format!("{LOW} users, default pool"),
            format!("{HIGH} users, blocking pool of {}", f.pool),
        ],
        series: vec![
            BarSeries {
                name: "async".into(),
                color: variant_color("async"),
                values: vec![100.0 * f.low.0.efficiency, 100.0 * f.high.0.efficiency],
            },
            BarSeries {
                name: "hybrid".into(),
                color: variant_color("hybrid"),
                values: vec![100.0 * f.low.1.efficiency, 100.0 * f.high.1.efficiency],
            },
        ],
        lines: vec![RefLine {
            value: 100.0 * ratio(f.pool_cap_rps(), ratio(HIGH as f64 * 1000.0, f.service_ms)),
            label: "the small pool's cap".into(),
        }],
    }
}
