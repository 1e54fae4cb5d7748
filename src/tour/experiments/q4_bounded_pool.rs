//! Q4: a bounded thread pool queues requests beyond its size.

use std::time::Duration;

use anyhow::Result;

use crate::pipeline::VariantKind;
use crate::tour::chart::{BarChart, BarSeries, PAIR, RefLine, variant_color};
use crate::tour::measure;
use crate::tour::model::{self, Mode, Step};
use crate::tour::verdict::{Check, Role, num, ratio, reading};
use crate::tour::{ChartSource, ChartSpec, Experiment, Finding, Measured, Table, ms_text};

/// The Q4 experiment.
pub fn bounded() -> Experiment {
    Experiment {
        id: "Q4",
        aliases: &["max_workers"],
        slug: "q4-bounded-pool",
        title: "A bounded pool: max_workers=4 with 16 requests",
        seed: "`ThreadPoolExecutor(max_workers=4)` runs sync code in parallel across threads \
               (Q4).",
        claim: "A pool runs at most `max_workers` requests at once: with 16 concurrent users and \
                4 workers, 12 wait in the pool's queue, and throughput caps at workers / latency \
                however many users come.",
        steps: bounded_steps,
        analyse: bounded_analyse,
    }
}

/// Users of Q4.
pub const Q4_USERS: usize = 16;
/// Workers of Q4.
pub const Q4_WORKERS: usize = 4;

fn bounded_steps(mode: Mode) -> Vec<Step> {
    let scale = mode.pick(0.02, 0.1);
    let duration = mode.pick(Duration::from_millis(1200), Duration::from_secs(6));
    let mut capped = model::seed_scenario(scale);
    model::by_duration(&mut capped, duration);
    let mut free = capped.clone();
    capped.load.workers = Some(Q4_WORKERS);
    free.load.workers = None;
    vec![
        model::step(
            "bounded",
            "`sync` with `--workers 4` (`max_workers=4`), 16 users",
            model::plan(capped, &[VariantKind::Sync], vec![model::closed(Q4_USERS)]),
        ),
        model::step(
            "unbounded",
            "`sync` with a thread per request, 16 users (for comparison)",
            model::plan(free, &[VariantKind::Sync], vec![model::closed(Q4_USERS)]),
        ),
    ]
}

/// What Q4 measured.
#[derive(Clone, Debug, PartialEq)]
pub struct BoundedPool {
    /// Expected time of one request, ms.
    pub service_ms: f64,
    /// Pool size.
    pub workers: usize,
    /// Concurrent users.
    pub users: usize,
    /// Bounded pool: requests/s.
    pub bounded_rps: f64,
    /// Bounded pool: median wait for a worker, ms.
    pub bounded_queue_p50_ms: f64,
    /// Bounded pool: median end-to-end, ms.
    pub bounded_e2e_p50_ms: f64,
    /// Bounded pool: peak threads the OS saw (workers plus any short-lived helper thread).
    pub bounded_threads: u64,
    /// Bounded pool: distinct threads that ran requests (from the timeline).
    pub bounded_request_threads: usize,
    /// Thread per request: requests/s.
    pub free_rps: f64,
    /// Thread per request: median wait, ms.
    pub free_queue_p50_ms: f64,
    /// Thread per request: median end-to-end, ms.
    pub free_e2e_p50_ms: f64,
    /// Thread per request: peak threads.
    pub free_threads: u64,
    /// Thread per request: distinct threads that ran requests.
    pub free_request_threads: usize,
}

impl BoundedPool {
    /// Little's law: the most a pool of `workers` can serve, requests/s.
    pub fn cap_rps(&self) -> f64 {
        ratio(self.workers as f64 * 1000.0, self.service_ms)
    }
}

/// Reads Q4's figures.
pub fn bounded_figures(m: &Measured) -> Result<BoundedPool> {
    let b = measure::run(m.get("bounded")?, "sync", Q4_USERS)?;
    let f = measure::run(m.get("unbounded")?, "sync", Q4_USERS)?;
    Ok(BoundedPool {
        service_ms: b.ideal.expected_service_s * 1000.0,
        workers: m
            .get("bounded")?
            .scenario
            .load
            .workers
            .unwrap_or(Q4_WORKERS),
        users: Q4_USERS,
        bounded_rps: b.throughput.requests_per_s,
        bounded_queue_p50_ms: measure::ms(b, "queue", |p| p.p50),
        bounded_e2e_p50_ms: measure::ms(b, "e2e", |p| p.p50),
        bounded_threads: b.process.threads_peak,
        bounded_request_threads: measure::thread_use(&b.timeline).threads,
        free_rps: f.throughput.requests_per_s,
        free_queue_p50_ms: measure::ms(f, "queue", |p| p.p50),
        free_e2e_p50_ms: measure::ms(f, "e2e", |p| p.p50),
        free_threads: f.process.threads_peak,
        free_request_threads: measure::thread_use(&f.timeline).threads,
    })
}

/// Q4's checks.
pub fn bounded_checks(f: &BoundedPool) -> Vec<Check> {
    let cap = f.cap_rps();
    vec![
        Check::at_most(
            "throughput caps at workers / latency (req/s)",
            f.bounded_rps,
            1.15 * cap,
            "",
            Role::Core,
        ),
        Check::at_least(
            "queue time appears: median wait for a worker (ms)",
            f.bounded_queue_p50_ms,
            f.service_ms,
            "",
            Role::Core,
        ),
        Check::at_most(
            "no more than max_workers threads ran requests",
            f.bounded_request_threads as f64,
            f.workers as f64,
            "",
            Role::Core,
        ),
        Check::at_least(
            "the pool reaches its cap (req/s)",
            f.bounded_rps,
            0.7 * cap,
            "",
            Role::Detail,
        ),
        Check::at_least(
            "a thread per request lifts the cap (× the bounded pool's throughput)",
            ratio(f.free_rps, f.bounded_rps),
            2.5,
            "×",
            Role::Detail,
        ),
    ]
}

fn bounded_analyse(m: &Measured) -> Result<Finding> {
    Ok(bounded_finding(&bounded_figures(m)?))
}

/// The finding of Q4's figures.
pub fn bounded_finding(f: &BoundedPool) -> Finding {
    let checks = bounded_checks(f);
    let cap = f.cap_rps();
    Finding {
        headline: format!(
            "{} req/s (cap {}), median queue {} vs {} req/s unbounded",
            num(f.bounded_rps),
            num(cap),
            ms_text(f.bounded_queue_p50_ms),
            num(f.free_rps)
        ),
        table: bounded_table(f),
        explanation: bounded_explanation(f, &checks),
        checks,
        charts: vec![
            ChartSpec {
                name: "throughput".into(),
                caption: "Throughput of the bounded pool against its Little's-law cap \
                          (workers / latency), and with a thread per request."
                    .into(),
                source: ChartSource::Bars(throughput_chart(f)),
            },
            ChartSpec {
                name: "queue".into(),
                caption: format!(
                    "Median time waiting for a worker and median end-to-end time: {} of {} in \
                     the bounded pool, {} of {} with a thread per request.",
                    ms_text(f.bounded_queue_p50_ms),
                    ms_text(f.bounded_e2e_p50_ms),
                    ms_text(f.free_queue_p50_ms),
                    ms_text(f.free_e2e_p50_ms)
                ),
                source: ChartSource::Bars(latency_chart(f)),
            },
        ],
    }
}

/// The bounded pool's row and the thread-per-request row.
fn bounded_table(f: &BoundedPool) -> Table {
    let cap = f.cap_rps();
    let mut table = Table::new(&[
        "pool",
        "threads (peak)",
        "threads that ran requests",
        "req/s",
        "workers / latency",
        "queue p50",
        "e2e p50",
    ]);
    table.row(vec![
        format!("`max_workers={}`", f.workers),
        f.bounded_threads.to_string(),
        f.bounded_request_threads.to_string(),
        num(f.bounded_rps),
        num(cap),
        ms_text(f.bounded_queue_p50_ms),
        ms_text(f.bounded_e2e_p50_ms),
    ]);
    table.row(vec![
        "a thread per request".into(),
        f.free_threads.to_string(),
        f.free_request_threads.to_string(),
        num(f.free_rps),
        num(ratio(f.users as f64 * 1000.0, f.service_ms)),
        ms_text(f.free_queue_p50_ms),
        ms_text(f.free_e2e_p50_ms),
    ]);
    table
}

/// The explanation: the queue and throughput of both pools, then why only when the checks
/// support it.
pub fn bounded_explanation(f: &BoundedPool, checks: &[Check]) -> String {
    let cap = f.cap_rps();
    let facts = format!(
        "With {} users and {} workers, the median request waited {} for a worker ({}× the {} a \
         request takes) and took {} end to end. Throughput was {} req/s against a Little's-law \
         cap of {} workers / {} = {} req/s ({}% of it). With a thread per request the same \
         load ran at {} req/s ({}× more) with a median wait of {}, on {} threads.",
        f.users,
        f.workers,
        ms_text(f.bounded_queue_p50_ms),
        num(ratio(f.bounded_queue_p50_ms, f.service_ms)),
        ms_text(f.service_ms),
        ms_text(f.bounded_e2e_p50_ms),
        num(f.bounded_rps),
        f.workers,
        ms_text(f.service_ms),
        num(cap),
        num(100.0 * ratio(f.bounded_rps, cap)),
        num(f.free_rps),
        num(ratio(f.free_rps, f.bounded_rps)),
        ms_text(f.free_queue_p50_ms),
        f.free_threads,
    );
    let mut why = format!(
        "Only {} requests can be in progress; the other {} wait in the pool's queue, each for \
         about {} others ahead of it to finish: the cap is the pool, not the network.",
        f.workers,
        f.users.saturating_sub(f.workers),
        num((f.users as f64 / f.workers as f64 - 1.0).max(0.0)),
    );
    if f.bounded_threads as usize > f.bounded_request_threads {
        why.push_str(&format!(
            " (The OS counted {} threads at the bounded pool's peak: the {} workers that ran \
             requests plus short-lived threads of the pool's, such as a host-name lookup ureq \
             runs on a thread of its own, which inherits the worker's name.)",
            f.bounded_threads, f.bounded_request_threads
        ));
    }
    format!("{facts} {}", reading(checks, &why))
}

/// The two pools, one bar group each.
fn groups(f: &BoundedPool) -> Vec<String> {
    vec![
        format!("max_workers={}", f.workers),
        "a thread per request".into(),
    ]
}

/// Throughput of both pools against the pool's cap and the users' demand.
fn throughput_chart(f: &BoundedPool) -> BarChart {
    let cap = f.cap_rps();
    BarChart {
        title: format!("{} users: throughput of a bounded pool", f.users),
        x_label: "sync pool".into(),
        y_label: "throughput (requests/s)".into(),
        groups: groups(f),
        series: vec![BarSeries {
            name: "throughput".into(),
            color: variant_color("sync"),
            values: vec![f.bounded_rps, f.free_rps],
        }],
        lines: vec![
            RefLine {
                value: cap,
                label: format!("workers / latency = {} req/s", num(cap)),
            },
            RefLine {
                value: ratio(f.users as f64 * 1000.0, f.service_ms),
                label: format!(
                    "users / latency = {} req/s",
                    num(ratio(f.users as f64 * 1000.0, f.service_ms))
                ),
            },
        ],
    }
}

/// Median queueing and end-to-end time of both pools.
fn latency_chart(f: &BoundedPool) -> BarChart {
    BarChart {
        title: format!("{} users: where the time goes", f.users),
        x_label: "sync pool".into(),
        y_label: "median (ms)".into(),
        groups: groups(f),
        series: vec![
            BarSeries {
                name: "waiting for a worker (queue p50)".into(),
                color: PAIR[0],
                values: vec![f.bounded_queue_p50_ms, f.free_queue_p50_ms],
            },
            BarSeries {
                name: "end to end (e2e p50)".into(),
                color: PAIR[1],
                values: vec![f.bounded_e2e_p50_ms, f.free_e2e_p50_ms],
            },
        ],
        lines: vec![RefLine {
            value: f.service_ms,
            label: format!("one request: {}", ms_text(f.service_ms)),
        }],
    }
}
