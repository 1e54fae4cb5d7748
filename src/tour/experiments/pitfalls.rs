//! What the seed leaves out: the two ways an event loop stops interleaving.
//!
//! - **X1, blocking calls inside async code**: an `async def` endpoint that calls `requests` or
//!   `boto3` directly freezes its event-loop thread for the whole call, so every other user on
//!   that thread waits; with one loop thread the service is back to one request at a time.
//! - **X2, CPU work on the event loop**: while the loop computes (building a prompt, parsing,
//!   re-ranking), no other request on it makes progress, so each request's CPU lands on
//!   everyone's latency and on every stream's token gaps.

use std::time::Duration;

use anyhow::Result;

use super::pool::timeline_chart;
use crate::pipeline::VariantKind;
use crate::tour::chart::{BarChart, BarSeries, PAIR};
use crate::tour::measure;
use crate::tour::model::{self, Mode, Step};
use crate::tour::verdict::{Check, Role, num, ratio};
use crate::tour::{ChartSource, ChartSpec, Experiment, Finding, Measured, Table, ms_text};

/// The X1 experiment.
pub fn blocking_in_async() -> Experiment {
    Experiment {
        id: "X1",
        aliases: &["blocking-in-async", "blocking"],
        slug: "x1-blocking-in-async",
        title: "Left out by the seed: a blocking call inside async code",
        seed: "The seed says the whole I/O chain must be async for `await` to work (Q21), but \
               not what happens when a sync client is called inside an `async def` anyway: it \
               runs, and nothing warns.",
        claim: "A blocking call inside an async task freezes its event-loop thread for the \
                whole call, so every user on that thread waits: with one loop thread, requests \
                run one at a time, as if there were no async at all.",
        steps: blocking_steps,
        analyse: blocking_analyse,
    }
}

/// Users of X1.
pub const X1_USERS: usize = 8;

fn blocking_steps(mode: Mode) -> Vec<Step> {
    let mut s = model::seed_scenario(mode.pick(0.02, 0.1));
    model::by_requests(&mut s, mode.pick(16, 24));
    s.load.worker_threads = Some(1);
    vec![model::step(
        "one-loop",
        format!(
            "{X1_USERS} users, one event-loop thread: `async` (async clients) vs \
             `blocking-in-async` (blocking clients called inside the async tasks)"
        ),
        model::plan(
            s,
            &[VariantKind::Async, VariantKind::BlockingInAsync],
            vec![model::closed(X1_USERS)],
        ),
    )]
}

/// What X1 measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Blocking {
    /// One request, ms.
    pub service_ms: f64,
    /// Event-loop threads.
    pub loop_threads: usize,
    /// `async`: requests/s.
    pub async_rps: f64,
    /// `async`: median end-to-end, ms.
    pub async_e2e_p50_ms: f64,
    /// `blocking-in-async`: requests/s.
    pub blocking_rps: f64,
    /// `blocking-in-async`: median end-to-end, ms.
    pub blocking_e2e_p50_ms: f64,
    /// `blocking-in-async`: peak threads.
    pub blocking_threads: u64,
}

/// Reads X1's figures.
pub fn blocking_figures(m: &Measured) -> Result<Blocking> {
    let r = m.get("one-loop")?;
    let a = measure::run(r, "async", X1_USERS)?;
    let b = measure::run(r, "blocking-in-async", X1_USERS)?;
    Ok(Blocking {
        service_ms: a.ideal.expected_service_s * 1000.0,
        loop_threads: r.scenario.load.worker_threads.unwrap_or(1),
        async_rps: a.throughput.requests_per_s,
        async_e2e_p50_ms: measure::ms(a, "e2e", |p| p.p50),
        blocking_rps: b.throughput.requests_per_s,
        blocking_e2e_p50_ms: measure::ms(b, "e2e", |p| p.p50),
        blocking_threads: b.process.threads_peak,
    })
}

/// X1's checks.
pub fn blocking_checks(f: &Blocking) -> Vec<Check> {
    let serial = ratio(f.loop_threads as f64 * 1000.0, f.service_ms);
    vec![
        Check::at_most(
            "blocking inside async serves one request per loop thread at a time (req/s)",
            f.blocking_rps,
            1.3 * serial,
            "",
            Role::Core,
        ),
        Check::at_least(
            "real async on the same thread serves far more (async / blocking throughput)",
            ratio(f.async_rps, f.blocking_rps),
            3.0,
            "×",
            Role::Core,
        ),
        Check::at_least(
            "every user waits: median latency (blocking / async)",
            ratio(f.blocking_e2e_p50_ms, f.async_e2e_p50_ms),
            3.0,
            "×",
            Role::Detail,
        ),
    ]
}

fn blocking_analyse(m: &Measured) -> Result<Finding> {
    let f = blocking_figures(m)?;
    let checks = blocking_checks(&f);
    let serial = ratio(f.loop_threads as f64 * 1000.0, f.service_ms);
    let mut table = Table::new(&[
        "variant",
        "req/s",
        "e2e p50",
        "one request at a time would be",
    ]);
    table.row(vec![
        "`async`".into(),
        num(f.async_rps),
        ms_text(f.async_e2e_p50_ms),
        format!("{} req/s", num(serial)),
    ]);
    table.row(vec![
        "`blocking-in-async`".into(),
        num(f.blocking_rps),
        ms_text(f.blocking_e2e_p50_ms),
        format!("{} req/s", num(serial)),
    ]);
    let explanation = format!(
        "Both variants had {} event-loop thread and {X1_USERS} users. With async clients the \
         loop interleaved them: {} req/s, median {} (one request takes {}). With the blocking \
         clients called inside the same async tasks, each network wait froze the loop: {} \
         req/s — {}% of the {} req/s that one request at a time allows — and a median of {} \
         ({}× async's), because every user queued behind whoever held the thread. The code \
         looks async and never errors; only the numbers show it. Run blocking clients in \
         `asyncio.to_thread` (Q16) or use async clients.",
        f.loop_threads,
        num(f.async_rps),
        ms_text(f.async_e2e_p50_ms),
        ms_text(f.service_ms),
        num(f.blocking_rps),
        num(100.0 * ratio(f.blocking_rps, serial)),
        num(serial),
        ms_text(f.blocking_e2e_p50_ms),
        num(ratio(f.blocking_e2e_p50_ms, f.async_e2e_p50_ms)),
    );
    Ok(Finding {
        headline: format!(
            "one loop thread: async {} req/s vs blocking-in-async {} req/s (median {} vs {})",
            num(f.async_rps),
            num(f.blocking_rps),
            ms_text(f.async_e2e_p50_ms),
            ms_text(f.blocking_e2e_p50_ms)
        ),
        table,
        checks,
        explanation,
        charts: vec![
            timeline_chart(
                "one-loop",
                "blocking-in-async",
                X1_USERS,
                &format!("Request timeline: blocking-in-async, {X1_USERS} users, one loop thread"),
                "Requests run one after another on the single thread; the grey bars are users \
                 waiting for the frozen loop.",
                m,
            ),
            timeline_chart(
                "one-loop",
                "async",
                X1_USERS,
                &format!("Request timeline: async, {X1_USERS} users, one loop thread"),
                "The same users with async clients: the requests overlap on the same thread. \
                 Both timelines share the time axis.",
                m,
            ),
        ],
    })
}

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
    let f = cpu_figures(m)?;
    let checks = cpu_checks(&f);
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
    let own = f.heavy.cpu_ms - f.light.cpu_ms;
    let added = f.heavy.e2e_mean_ms - f.light.e2e_mean_ms;
    let busy = f.heavy.rps * f.heavy.cpu_ms / 1000.0;
    let explanation = format!(
        "Raising each request's CPU work from {} to {} added {} of computing to a request, but \
         {} to its mean latency ({}× its own CPU): at {} req/s the loop computed about {}% of \
         the time, and a request whose network answer had arrived waited for the loop to \
         finish someone else's prompt first. Streams felt it between every pair of tokens: \
         the p99 gap went from {} to {}, and p99 time to first token from {} to {}. With a \
         thread per request the OS would preempt the computing thread; on an event loop \
         nothing does, so CPU-heavy steps belong in a process or thread pool.",
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
    let metrics = ["e2e p50", "e2e p99", "TTFT p99", "ITL p99"];
    let values = |l: &Load| vec![l.e2e_p50_ms, l.e2e_p99_ms, l.ttft_p99_ms, l.itl_p99_ms];
    let bars = BarChart {
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
    };
    Ok(Finding {
        headline: format!(
            "+{} CPU per request added {} to mean latency; ITL p99 {} → {}",
            ms_text(own),
            ms_text(added),
            ms_text(f.light.itl_p99_ms),
            ms_text(f.heavy.itl_p99_ms)
        ),
        table,
        checks,
        explanation,
        charts: vec![ChartSpec {
            name: "latency".into(),
            caption: "Latency of every user with light and with heavy CPU work per request on \
                      the same single-threaded event loop."
                .into(),
            source: ChartSource::Bars(bars),
        }],
    })
}
