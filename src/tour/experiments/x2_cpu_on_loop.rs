//! X2: CPU work on the event loop delays every other request on it.

use std::time::Duration;

use anyhow::Result;

use crate::pipeline::VariantKind;
use crate::tour::chart::{BarChart, BarSeries, PAIR};
use crate::tour::measure;
use crate::tour::model::{self, Mode, Step};
use crate::tour::verdict::{Check, Role, num, ratio, reading};
use crate::tour::{ChartSource, ChartSpec, Experiment, Finding, Measured, Table, ms_text};

/// The X2 experiment.
pub fn cpu_on_loop() -> Experiment {
    Experiment {
        id: "X2",
        aliases: &["cpu-on-loop", "cpu"],
        slug: "x2-cpu-on-loop",
        title: "Left out by the seed: CPU work on the event loop",
        seed: "The seed calls RAG \"all I/O-bound\" (Q6) and the event loop free to \"do other \
               work\" during waits (Q30); it does not say what the loop's own computing costs \
               the other users.",
        claim: "While the event loop computes, no other request on it moves: each request's \
                CPU work (prompt building, parsing) is added to the latency of the others and \
                stalls every stream's next token.",
        steps: cpu_steps,
        analyse: cpu_analyse,
    }
}

/// Users of X2.
pub const X2_USERS: usize = 16;

/// The heavy CPU work: enough that the loop would compute ~75% of the time if every user kept
/// its pace (busy enough that CPU sections queue behind each other).
fn heavy_cpu_us(time_scale: f64) -> u64 {
    (0.75 * model::request_ms() * time_scale * 1000.0 / X2_USERS as f64).round() as u64
}

fn cpu_steps(mode: Mode) -> Vec<Step> {
    let scale = mode.pick(0.05, 0.25);
    let mut light = model::seed_scenario(scale);
    model::jittered(&mut light);
    model::by_duration(
        &mut light,
        mode.pick(Duration::from_millis(1000), Duration::from_secs(4)),
    );
    let mut heavy = light.clone();
    heavy.request.cpu_work_us = heavy_cpu_us(scale);
    let label = |s: &crate::scenario::Scenario, what: &str| {
        format!(
            "{what}: {} µs of CPU per request on `async-single`, {X2_USERS} users",
            s.request.cpu_work_us
        )
    };
    vec![
        model::step(
            "light",
            label(&light, "Light CPU"),
            model::plan(
                light.clone(),
                &[VariantKind::AsyncSingle],
                vec![model::closed(X2_USERS)],
            ),
        ),
        model::step(
            "heavy",
            label(&heavy, "Heavy CPU"),
            model::plan(
                heavy,
                &[VariantKind::AsyncSingle],
                vec![model::closed(X2_USERS)],
            ),
        ),
    ]
}

/// One side of X2.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Load {
    /// CPU work per request, ms.
    pub cpu_ms: f64,
    /// Mean end-to-end, ms.
    pub e2e_mean_ms: f64,
    /// Median end-to-end, ms.
    pub e2e_p50_ms: f64,
    /// p99 end-to-end, ms.
    pub e2e_p99_ms: f64,
    /// p99 time to first token, ms.
    pub ttft_p99_ms: f64,
    /// p99 gap between tokens, ms.
    pub itl_p99_ms: f64,
    /// Requests/s.
    pub rps: f64,
}

/// What X2 measured.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuOnLoop {
    /// Light CPU work.
    pub light: Load,
    /// Heavy CPU work.
    pub heavy: Load,
}

/// Reads X2's figures.
pub fn cpu_figures(m: &Measured) -> Result<CpuOnLoop> {
    let load = |step: &str| -> Result<Load> {
        let r = m.get(step)?;
        let run = measure::run(r, "async-single", X2_USERS)?;
        Ok(Load {
            cpu_ms: r.scenario.request.cpu_work_us as f64 / 1000.0,
            e2e_mean_ms: measure::ms(run, "e2e", |p| p.mean),
            e2e_p50_ms: measure::ms(run, "e2e", |p| p.p50),
            e2e_p99_ms: measure::ms(run, "e2e", |p| p.p99),
            ttft_p99_ms: measure::ms(run, "ttft", |p| p.p99),
            itl_p99_ms: measure::ms(run, "itl", |p| p.p99),
            rps: run.throughput.requests_per_s,
        })
    };
    Ok(CpuOnLoop {
        light: load("light")?,
        heavy: load("heavy")?,
    })
}

/// X2's checks.
pub fn cpu_checks(f: &CpuOnLoop) -> Vec<Check> {
    let own = f.heavy.cpu_ms - f.light.cpu_ms;
    vec![
        Check::at_least(
            "each request pays for the others' CPU (mean latency added / own CPU added)",
            ratio(f.heavy.e2e_mean_ms - f.light.e2e_mean_ms, own),
            1.5,
            "×",
            Role::Core,
        ),
        Check::at_least(
            "every stream's token gaps stall (ITL p99 added, ms)",
            f.heavy.itl_p99_ms - f.light.itl_p99_ms,
            0.5 * f.heavy.cpu_ms,
            "",
            Role::Core,
        ),
        Check::at_least(
            "time to first token waits behind others' CPU (TTFT p99 added, ms)",
            f.heavy.ttft_p99_ms - f.light.ttft_p99_ms,
            f.heavy.cpu_ms,
            "",
            Role::Detail,
        ),
    ]
}

fn cpu_analyse(m: &Measured) -> Result<Finding> {
    Ok(cpu_finding(&cpu_figures(m)?))
}

/// The finding of X2's figures.
pub fn cpu_finding(f: &CpuOnLoop) -> Finding {
    let checks = cpu_checks(f);
    let own = f.heavy.cpu_ms - f.light.cpu_ms;
    let added = f.heavy.e2e_mean_ms - f.light.e2e_mean_ms;
    Finding {
        headline: format!(
            "+{} CPU per request added {} to mean latency; ITL p99 {} → {}",
            ms_text(own),
            ms_text(added),
            ms_text(f.light.itl_p99_ms),
            ms_text(f.heavy.itl_p99_ms)
        ),
        table: cpu_table(f),
        explanation: cpu_explanation(f, &checks),
        checks,
        charts: vec![ChartSpec {
            name: "latency".into(),
            caption: "Latency of every user with light and with heavy CPU work per request on \
                      the same single-threaded event loop."
                .into(),
            source: ChartSource::Bars(latency_chart(f)),
        }],
    }
}

/// One row per CPU cost.
fn cpu_table(f: &CpuOnLoop) -> Table {
    let mut table = Table::new(&[
        "CPU per request",
        "e2e mean",
        "e2e p50",
        "e2e p99",
        "TTFT p99",
        "ITL p99",
        "req/s",
    ]);
    for l in [f.light, f.heavy] {
        table.row(vec![
            ms_text(l.cpu_ms),
            ms_text(l.e2e_mean_ms),
            ms_text(l.e2e_p50_ms),
            ms_text(l.e2e_p99_ms),
            ms_text(l.ttft_p99_ms),
            ms_text(l.itl_p99_ms),
            num(l.rps),
        ]);
    }
    table
}

/// The explanation: what the extra CPU added, then why only when the checks support it.
pub fn cpu_explanation(f: &CpuOnLoop, checks: &[Check]) -> String {
    let own = f.heavy.cpu_ms - f.light.cpu_ms;
    let added = f.heavy.e2e_mean_ms - f.light.e2e_mean_ms;
    let busy = f.heavy.rps * f.heavy.cpu_ms / 1000.0;
    let facts = format!(
        "Raising each request's CPU work from {} to {} added {} of computing to a request and \
         {} to its mean latency ({}× its own CPU); at {} req/s the loop computed about {}% of \
         the time. The p99 gap between tokens went from {} to {}, and p99 time to first token \
         from {} to {}.",
        ms_text(f.light.cpu_ms),
        ms_text(f.heavy.cpu_ms),
        ms_text(own),
        ms_text(added),
        num(ratio(added, own)),
        num(f.heavy.rps),
        num(100.0 * busy),
        ms_text(f.light.itl_p99_ms),
        ms_text(f.heavy.itl_p99_ms),
        ms_text(f.light.ttft_p99_ms),
        ms_text(f.heavy.ttft_p99_ms),
    );
    let why = "A request whose network answer had arrived waited for the loop to finish \
               someone else's prompt first, and streams felt it between every pair of tokens. \
               With a thread per request the OS would preempt the computing thread; on an event \
               loop nothing does, so CPU-heavy steps belong in a process or thread pool.";
    format!("{facts} {}", reading(checks, why))
}

/// Latency percentiles with light and with heavy CPU per request.
fn latency_chart(f: &CpuOnLoop) -> BarChart {
    let metrics = ["e2e p50", "e2e p99", "TTFT p99", "ITL p99"];
    let values = |l: &Load| vec![l.e2e_p50_ms, l.e2e_p99_ms, l.ttft_p99_ms, l.itl_p99_ms];
    BarChart {
        title: format!("{X2_USERS} users on one event loop: light vs heavy CPU per request"),
        x_label: "latency".into(),
        y_label: "ms".into(),
        groups: metrics.iter().map(|s| s.to_string()).collect(),
        series: vec![
            BarSeries {
                name: format!("{} CPU per request", ms_text(f.light.cpu_ms)),
                color: PAIR[0],
                values: values(&f.light),
            },
            BarSeries {
                name: format!("{} CPU per request", ms_text(f.heavy.cpu_ms)),
                color: PAIR[1],
                values: values(&f.heavy),
            },
        ],
        lines: Vec::new(),
    }
}
