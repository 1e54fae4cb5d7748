//! Q30: one event-loop thread serves many concurrent streams.

use std::time::Duration;

use anyhow::Result;

use super::q22_held_thread::pct;
use super::timeline::timeline_chart;
use crate::pipeline::VariantKind;
use crate::tour::measure::{self, ThreadUse};
use crate::tour::model::{self, Mode, Step};
use crate::tour::verdict::{Check, Role, num, ratio, reading};
use crate::tour::{Experiment, Finding, Measured, Table, ms_text};

/// The Q30 experiment.
pub fn one_thread() -> Experiment {
    Experiment {
        id: "Q30",
        aliases: &["event-loop", "Q19"],
        slug: "q30-one-thread",
        title: "One thread interleaving many users",
        seed: "\"Event Loop (single thread)\": user A and user B each wait for chunks, and \
               \"every 'wait' is an opportunity for the thread to do other work\" (Q30).",
        claim: "A single event-loop thread serves many users at once by switching to another \
                request at every wait, so their requests overlap in time on one OS thread \
                without slowing each other down.",
        steps: one_thread_steps,
        analyse: one_thread_analyse,
    }
}

/// Users of Q30.
pub const LOOP_USERS: usize = 8;

fn one_thread_steps(mode: Mode) -> Vec<Step> {
    let mut s = model::seed_scenario(mode.pick(0.05, 0.25));
    model::by_duration(
        &mut s,
        mode.pick(Duration::from_millis(600), Duration::from_secs(3)),
    );
    vec![model::step(
        "loop",
        format!("{LOOP_USERS} users on `async-single` (one current-thread runtime)"),
        model::plan(
            s,
            &[VariantKind::AsyncSingle],
            vec![model::closed(LOOP_USERS)],
        ),
    )]
}

/// What Q30 measured.
#[derive(Clone, Debug, PartialEq)]
pub struct OneThread {
    /// From the timeline.
    pub usage: ThreadUse,
    /// Peak threads of the variant.
    pub threads: u64,
    /// Users.
    pub users: usize,
    /// One request, ms.
    pub service_ms: f64,
    /// Median end-to-end, ms.
    pub e2e_p50_ms: f64,
    /// Measured / ideal throughput.
    pub efficiency: f64,
}

/// Reads Q30's figures.
pub fn one_thread_figures(m: &Measured) -> Result<OneThread> {
    let run = measure::run(m.get("loop")?, "async-single", LOOP_USERS)?;
    Ok(OneThread {
        usage: measure::thread_use(&run.timeline),
        threads: run.process.threads_peak,
        users: LOOP_USERS,
        service_ms: run.ideal.expected_service_s * 1000.0,
        e2e_p50_ms: measure::ms(run, "e2e", |p| p.p50),
        efficiency: run.ideal.efficiency,
    })
}

/// Q30's checks.
pub fn one_thread_checks(f: &OneThread) -> Vec<Check> {
    vec![
        Check::at_most(
            "every request ran on the same OS thread (threads in the timeline)",
            f.usage.threads as f64,
            1.0,
            "",
            Role::Core,
        ),
        Check::at_least(
            "the thread interleaved the users (most requests in progress at once)",
            f.usage.max_per_thread as f64,
            (0.75 * f.users as f64).floor(),
            "",
            Role::Core,
        ),
        Check::at_most(
            "interleaving did not slow a request (e2e p50 / one request)",
            ratio(f.e2e_p50_ms, f.service_ms),
            1.15,
            "×",
            Role::Core,
        ),
        Check::at_least(
            "throughput as if every user had a thread (efficiency)",
            f.efficiency,
            0.8,
            "",
            Role::Detail,
        ),
    ]
}

fn one_thread_analyse(m: &Measured) -> Result<Finding> {
    Ok(one_thread_finding(&one_thread_figures(m)?, m))
}

/// The finding of Q30's figures (`m` only sizes the timeline chart).
pub fn one_thread_finding(f: &OneThread, m: &Measured) -> Finding {
    let checks = one_thread_checks(f);
    let mut table = Table::new(&[
        "OS threads",
        "requests in the timeline",
        "most at once on the thread",
        "e2e p50",
        "one request",
        "efficiency",
    ]);
    table.row(vec![
        f.usage.threads.to_string(),
        f.usage.requests.to_string(),
        f.usage.max_per_thread.to_string(),
        ms_text(f.e2e_p50_ms),
        ms_text(f.service_ms),
        pct(f.efficiency),
    ]);
    Finding {
        headline: format!(
            "{} thread(s), up to {} requests at once on one, e2e p50 {}× one request",
            f.usage.threads,
            f.usage.max_per_thread,
            num(ratio(f.e2e_p50_ms, f.service_ms))
        ),
        table,
        explanation: one_thread_explanation(f, &checks),
        checks,
        charts: vec![timeline_chart(
            "loop",
            "async-single",
            LOOP_USERS,
            &format!("Request timeline: async-single, {LOOP_USERS} users"),
            &format!(
                "Each row is a request, labelled with the OS thread that ran it ({} thread(s) \
                 here, up to {} requests at once on one); purple is the wait for the first \
                 token, green the stream.",
                f.usage.threads, f.usage.max_per_thread
            ),
            m,
        )],
    }
}

/// The explanation: threads, overlap and latency as measured, then why only when the checks
/// support it.
pub fn one_thread_explanation(f: &OneThread, checks: &[Check]) -> String {
    let facts = format!(
        "The {} recorded requests of {} users ran on {} OS thread(s), with up to {} of them in \
         progress at the same moment on one thread. Each took {} at the median — {}× the {} \
         the latency model needs — and together they reached {} of the throughput {} threads \
         would.",
        f.usage.requests,
        f.users,
        f.usage.threads,
        f.usage.max_per_thread,
        ms_text(f.e2e_p50_ms),
        num(ratio(f.e2e_p50_ms, f.service_ms)),
        ms_text(f.service_ms),
        pct(f.efficiency),
        f.users,
    );
    let why = "While one request waited for Qdrant or for its next token, the thread ran \
               another. The timeline below is the seed's picture, measured: every row says T1, \
               and the bars overlap.";
    format!("{facts} {}", reading(checks, why))
}
