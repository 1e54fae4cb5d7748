//! X1: a blocking call inside async code stalls every request on that event-loop thread.

use anyhow::Result;

use super::timeline::timeline_chart;
use crate::pipeline::VariantKind;
use crate::tour::measure;
use crate::tour::model::{self, Mode, Step};
use crate::tour::verdict::{Check, Role, num, ratio, reading};
use crate::tour::{Experiment, Finding, Measured, Table, ms_text};

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
    Ok(blocking_finding(&blocking_figures(m)?, m))
}

/// The finding of X1's figures (`m` only sizes the timeline charts).
pub fn blocking_finding(f: &Blocking, m: &Measured) -> Finding {
    let checks = blocking_checks(f);
    let serial = ratio(f.loop_threads as f64 * 1000.0, f.service_ms);
    let mut table = Table::new(&[
        "variant",
        "req/s",
        "e2e p50",
        "one request at a time would be",
    ]);
    for (name, rps, e2e) in [
        ("`async`", f.async_rps, f.async_e2e_p50_ms),
        ("`blocking-in-async`", f.blocking_rps, f.blocking_e2e_p50_ms),
    ] {
        table.row(vec![
            name.into(),
            num(rps),
            ms_text(e2e),
            format!("{} req/s", num(serial)),
        ]);
    }
    Finding {
        headline: format!(
            "one loop thread: async {} req/s vs blocking-in-async {} req/s (median {} vs {})",
            num(f.async_rps),
            num(f.blocking_rps),
            ms_text(f.async_e2e_p50_ms),
            ms_text(f.blocking_e2e_p50_ms)
        ),
        table,
        explanation: blocking_explanation(f, &checks),
        checks,
        charts: vec![
            timeline_chart(
                "one-loop",
                "blocking-in-async",
                X1_USERS,
                &format!("Request timeline: blocking-in-async, {X1_USERS} users, one loop thread"),
                &format!(
                    "Each row is a request; grey is time waiting to start (median end to end \
                     {}, {} req/s).",
                    ms_text(f.blocking_e2e_p50_ms),
                    num(f.blocking_rps)
                ),
                m,
            ),
            timeline_chart(
                "one-loop",
                "async",
                X1_USERS,
                &format!("Request timeline: async, {X1_USERS} users, one loop thread"),
                &format!(
                    "The same users with async clients (median end to end {}, {} req/s). Both \
                     timelines share the time axis.",
                    ms_text(f.async_e2e_p50_ms),
                    num(f.async_rps)
                ),
                m,
            ),
        ],
    }
}

/// The explanation: both variants' throughput and latency, then why only when the checks
/// support it.
pub fn blocking_explanation(f: &Blocking, checks: &[Check]) -> String {
    let serial = ratio(f.loop_threads as f64 * 1000.0, f.service_ms);
    let facts = format!(
        "Both variants had {} event-loop thread and {X1_USERS} users. With async clients: {} \
         req/s, median {} (one request takes {}). With the blocking clients called inside the \
         same async tasks: {} req/s — {}% of the {} req/s that one request at a time allows — \
         and a median of {} ({}× async's).",
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
    let why = "The async clients let the loop interleave the users; each blocking network wait \
               froze the loop, so every user queued behind whoever held the thread. The code \
               looks async and never errors; only the numbers show it. Run blocking clients in \
               `asyncio.to_thread` (Q16) or use async clients.";
    format!("{facts} {}", reading(checks, why))
}
