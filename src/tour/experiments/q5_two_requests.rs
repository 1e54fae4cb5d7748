//! Q5: two concurrent requests to a sync endpoint run on two threads, in parallel.

use anyhow::Result;

use super::timeline::timeline_chart;
use crate::pipeline::VariantKind;
use crate::tour::chart::{BarChart, BarSeries, PAIR, RefLine};
use crate::tour::measure;
use crate::tour::model::{self, Mode, Step};
use crate::tour::verdict::{Check, Role, num, ratio, reading};
use crate::tour::{ChartSource, ChartSpec, Experiment, Finding, Measured, Table, ms_text};

/// The Q5 experiment.
pub fn two_requests() -> Experiment {
    Experiment {
        id: "Q5",
        aliases: &["Q4/Q5"],
        slug: "q5-two-requests",
        title: "Two requests: one after another vs a thread pool",
        seed: "Without threads, `sync_chat` twice \"waits 3s\" each: \"Total: 6s (sequential)\"; \
               with `ThreadPoolExecutor(max_workers=4)` the two run in parallel (Q4, Q5).",
        claim: "Plain sync code runs requests one after another, so two 3 s requests take 6 s; \
                a thread pool runs them at the same time, so they take about 3 s.",
        steps: two_requests_steps,
        analyse: two_requests_analyse,
    }
}

fn two_requests_steps(mode: Mode) -> Vec<Step> {
    let mut s = model::seed_scenario(mode.pick(0.05, 1.0));
    s.load.workers = Some(4);
    model::by_requests(&mut s, 2);
    vec![model::step(
        "two-requests",
        "Two requests at once, `sequential` (plain Python) vs `sync` with `--workers 4` \
         (`ThreadPoolExecutor(max_workers=4)`)",
        model::plan(
            s,
            &[VariantKind::Sequential, VariantKind::Sync],
            vec![model::closed(2)],
        ),
    )]
}

/// What Q5 measured.
#[derive(Clone, Debug, PartialEq)]
pub struct TwoRequests {
    /// Expected time of one request at this time scale, ms.
    pub service_ms: f64,
    /// The time scale (to convert back to the seed's seconds).
    pub time_scale: f64,
    /// Both requests, one after another: first intended start to last finish, ms.
    pub sequential_ms: f64,
    /// Both requests in the pool, ms.
    pub pool_ms: f64,
    /// Threads the pool used.
    pub pool_threads: u64,
}

/// Reads Q5's figures.
pub fn two_requests_figures(m: &Measured) -> Result<TwoRequests> {
    let r = m.get("two-requests")?;
    let seq = measure::run(r, "sequential", 2)?;
    let pool = measure::run(r, "sync", 2)?;
    Ok(TwoRequests {
        service_ms: pool.ideal.expected_service_s * 1000.0,
        time_scale: r.scenario.time_scale,
        sequential_ms: measure::makespan_ms(seq),
        pool_ms: measure::makespan_ms(pool),
        pool_threads: pool.process.threads_peak,
    })
}

/// Q5's checks.
pub fn two_requests_checks(f: &TwoRequests) -> Vec<Check> {
    vec![
        Check::at_least(
            "one after another, two requests take the sum of both (× one request)",
            ratio(f.sequential_ms, f.service_ms),
            1.8,
            "×",
            Role::Core,
        ),
        Check::at_most(
            "in the pool they overlap: both take about one request (× one request)",
            ratio(f.pool_ms, f.service_ms),
            1.35,
            "×",
            Role::Core,
        ),
        Check::at_most(
            "the pool is faster than one after another (pool / sequential)",
            ratio(f.pool_ms, f.sequential_ms),
            0.75,
            "",
            Role::Core,
        ),
        Check::at_least(
            "the pool ran each request on its own thread (threads)",
            f.pool_threads as f64,
            2.0,
            "",
            Role::Detail,
        ),
    ]
}

fn seed_s(ms: f64, scale: f64) -> String {
    format!("{} s", num(ms / scale / 1000.0))
}

fn two_requests_analyse(m: &Measured) -> Result<Finding> {
    Ok(two_requests_finding(&two_requests_figures(m)?, m))
}

/// The finding of Q5's figures (`m` only sizes the timeline charts).
pub fn two_requests_finding(f: &TwoRequests, m: &Measured) -> Finding {
    let checks = two_requests_checks(f);
    let mut charts = vec![ChartSpec {
        name: "wall_time".into(),
        caption: format!(
            "Wall time from the moment both requests were due until the second answer's last \
             token: {} one after another, {} in the pool. The dashed lines are one and two \
             requests of the latency model.",
            ms_text(f.sequential_ms),
            ms_text(f.pool_ms)
        ),
        source: ChartSource::Bars(wall_time_chart(f)),
    }];
    for variant in ["sequential", "sync"] {
        charts.push(timeline_chart(
            "two-requests",
            variant,
            2,
            &format!("Request timeline: {variant}, two requests"),
            "One row per request, labelled with the OS thread (T1, T2) that ran it. Grey is \
             waiting; blue retrieval; purple waiting for the first token; green streaming.",
            m,
        ));
    }
    Finding {
        headline: format!(
            "sequential {} vs pool {} (seed time {} vs {})",
            ms_text(f.sequential_ms),
            ms_text(f.pool_ms),
            seed_s(f.sequential_ms, f.time_scale),
            seed_s(f.pool_ms, f.time_scale)
        ),
        table: two_requests_table(f),
        explanation: two_requests_explanation(f, &checks),
        checks,
        charts,
    }
}

/// One row per way of running the two requests.
fn two_requests_table(f: &TwoRequests) -> Table {
    let mut table = Table::new(&[
        "how",
        "both requests took",
        "in the seed's time",
        "× one request",
    ]);
    for (how, ms) in [
        ("one after another (`sequential`)", f.sequential_ms),
        ("thread pool (`sync --workers 4`)", f.pool_ms),
    ] {
        table.row(vec![
            how.into(),
            ms_text(ms),
            seed_s(ms, f.time_scale),
            num(ratio(ms, f.service_ms)),
        ]);
    }
    table
}

/// The explanation: the two wall times, then why only when the checks support it.
pub fn two_requests_explanation(f: &TwoRequests, checks: &[Check]) -> String {
    let facts = format!(
        "One request is {} here (the seed's 3 s × time scale {}). Run one after another, the \
         pair took {} — {}× one request. In the pool, on {} thread(s), the pair took {} — {}× \
         one request, {}× faster ({} vs {} in the seed's time).",
        ms_text(f.service_ms),
        f.time_scale,
        ms_text(f.sequential_ms),
        num(ratio(f.sequential_ms, f.service_ms)),
        f.pool_threads,
        ms_text(f.pool_ms),
        num(ratio(f.pool_ms, f.service_ms)),
        num(ratio(f.sequential_ms, f.pool_ms)),
        seed_s(f.sequential_ms, f.time_scale),
        seed_s(f.pool_ms, f.time_scale)
    );
    let why = "One after another, the second request waited for the first; in the pool each \
               thread sat in its own network waits at the same time. Nothing got faster: the \
               waits overlapped — the seed's \"6 s vs 3 s\".";
    format!("{facts} {}", reading(checks, why))
}

/// Wall time for both requests against one and two requests of the model.
fn wall_time_chart(f: &TwoRequests) -> BarChart {
    BarChart {
        title: "Two requests: how long until both are answered".into(),
        x_label: "how the two requests run".into(),
        y_label: "wall time for both (ms)".into(),
        groups: vec![
            "one after another (sequential)".into(),
            "thread pool, max_workers=4 (sync)".into(),
        ],
        series: vec![BarSeries {
            name: "both requests".into(),
            color: PAIR[1],
            values: vec![f.sequential_ms, f.pool_ms],
        }],
        lines: vec![
            RefLine {
                value: f.service_ms,
                label: format!("one request: {}", ms_text(f.service_ms)),
            },
            RefLine {
                value: 2.0 * f.service_ms,
                label: format!("two requests: {}", ms_text(2.0 * f.service_ms)),
            },
        ],
    }
}
