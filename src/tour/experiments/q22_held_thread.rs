//! Q22: a sync streaming endpoint holds a thread for the whole stream, mostly waiting.

use std::time::Duration;

use anyhow::Result;

use super::timeline::timeline_chart;
use crate::pipeline::VariantKind;
use crate::result::VariantRun;
use crate::tour::chart::{BarChart, BarSeries, PAIR};
use crate::tour::measure::{self, ThreadUse};
use crate::tour::model::{self, Mode, Step};
use crate::tour::verdict::{Check, Role, num, ratio, reading};
use crate::tour::{ChartSource, ChartSpec, Experiment, Finding, Measured, Table, ms_text};

/// The Q22 experiment.
pub fn held_thread() -> Experiment {
    Experiment {
        id: "Q22",
        aliases: &["Q20", "async-for"],
        slug: "q22-held-thread",
        title: "A sync stream holds its thread for the whole stream",
        seed: "\"Sync streaming - thread blocks while waiting for each chunk … Between chunks, \
               thread is BLOCKED\"; \"Async streaming - thread released while waiting for each \
               chunk\" (Q22, also Q2, Q20).",
        claim: "Iterating a stream synchronously keeps the OS thread for the whole stream, \
                idle between chunks; an async stream costs its thread only the moments it \
                handles a chunk, so one thread carries many streams.",
        steps: held_steps,
        analyse: held_analyse,
    }
}

/// Users of Q22.
pub const HELD_USERS: usize = 16;

fn held_steps(mode: Mode) -> Vec<Step> {
    let mut s = model::seed_scenario(mode.pick(0.05, 0.25));
    model::by_duration(
        &mut s,
        mode.pick(Duration::from_millis(1000), Duration::from_secs(4)),
    );
    vec![model::step(
        "streams",
        format!("{HELD_USERS} streaming users: `sync` vs `async-single` (one event loop)"),
        model::plan(
            s,
            &[VariantKind::AsyncSingle, VariantKind::Sync],
            vec![model::closed(HELD_USERS)],
        ),
    )]
}

/// One variant's use of its threads.
#[derive(Clone, Debug, PartialEq)]
pub struct HeldSide {
    /// From the timeline.
    pub usage: ThreadUse,
    /// Peak threads of the variant.
    pub threads: u64,
    /// CPU time of the harness side (process minus mocks and sampler) over thread-seconds the
    /// variant's threads existed: how busy the threads were.
    pub busy_share: f64,
}

fn held_side(run: &VariantRun) -> HeldSide {
    let p = &run.process;
    let cpu = crate::metrics::catalogue::own_cpu_s(run);
    HeldSide {
        usage: measure::thread_use(&run.timeline),
        threads: p.threads_peak,
        busy_share: ratio(cpu, p.threads_peak as f64 * p.window_s),
    }
}

/// What Q22 measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Held {
    /// `sync`.
    pub sync: HeldSide,
    /// `async-single`.
    pub single: HeldSide,
}

/// Reads Q22's figures.
pub fn held_figures(m: &Measured) -> Result<Held> {
    let r = m.get("streams")?;
    Ok(Held {
        sync: held_side(measure::run(r, "sync", HELD_USERS)?),
        single: held_side(measure::run(r, "async-single", HELD_USERS)?),
    })
}

/// Q22's checks.
pub fn held_checks(f: &Held) -> Vec<Check> {
    let s = &f.sync.usage;
    let a = &f.single.usage;
    vec![
        Check::at_most(
            "sync: a thread carries one stream at a time (most requests at once on a thread)",
            s.max_per_thread as f64,
            1.0,
            "",
            Role::Core,
        ),
        Check::at_least(
            "sync: the thread is held for the whole stream (thread time per request / stream)",
            ratio(s.thread_ms_per_request, s.stream_ms),
            1.0,
            "×",
            Role::Core,
        ),
        Check::at_most(
            "async: the thread is released between chunks (thread time per request, × sync's)",
            ratio(a.thread_ms_per_request, s.thread_ms_per_request),
            0.5,
            "×",
            Role::Core,
        ),
        Check::at_least(
            "async: one thread carries many streams at once (most requests on one thread)",
            a.max_per_thread as f64,
            2.0,
            "",
            Role::Core,
        ),
        Check::at_most(
            "sync: the held threads sat idle, \"wasteful\" (CPU / thread time)",
            f.sync.busy_share,
            0.1,
            "",
            Role::Detail,
        ),
    ]
}

pub(super) fn pct(v: f64) -> String {
    format!("{}%", num(100.0 * v))
}

fn held_analyse(m: &Measured) -> Result<Finding> {
    Ok(held_finding(&held_figures(m)?, m))
}

/// The finding of Q22's figures (`m` only sizes the timeline chart).
pub fn held_finding(f: &Held, m: &Measured) -> Finding {
    let checks = held_checks(f);
    let (s, a) = (&f.sync.usage, &f.single.usage);
    Finding {
        headline: format!(
            "thread time per request: sync {} (stream {}), async {}",
            ms_text(s.thread_ms_per_request),
            ms_text(s.stream_ms),
            ms_text(a.thread_ms_per_request)
        ),
        table: held_table(f),
        explanation: held_explanation(f, &checks),
        checks,
        charts: vec![
            ChartSpec {
                name: "thread_time".into(),
                caption: "For each variant: how long a stream lasts, and how much thread time \
                          a request cost (per thread, the time it had any request in progress, \
                          divided by the requests)."
                    .into(),
                source: ChartSource::Bars(thread_time_chart(f)),
            },
            timeline_chart(
                "streams",
                "sync",
                HELD_USERS,
                &format!("Request timeline: sync, {HELD_USERS} streaming users"),
                &format!(
                    "Each row is a request, labelled with the OS thread that ran it ({} \
                     threads, at most {} request(s) at once on one); purple is the wait for \
                     the first token, green the stream.",
                    s.threads, s.max_per_thread
                ),
                m,
            ),
        ],
    }
}

/// One row per variant: its threads and the thread time a request cost.
fn held_table(f: &Held) -> Table {
    let mut table = Table::new(&[
        "variant",
        "threads",
        "most streams on one thread",
        "stream (first → last token)",
        "thread time per request",
        "threads busy (CPU / thread time)",
    ]);
    for (name, side) in [("sync", &f.sync), ("async-single", &f.single)] {
        table.row(vec![
            format!("`{name}`"),
            side.threads.to_string(),
            side.usage.max_per_thread.to_string(),
            ms_text(side.usage.stream_ms),
            ms_text(side.usage.thread_ms_per_request),
            pct(side.busy_share),
        ]);
    }
    table
}

/// The explanation: thread time against stream time for both variants, then why only when
/// the checks support it.
pub fn held_explanation(f: &Held, checks: &[Check]) -> String {
    let (s, a) = (&f.sync.usage, &f.single.usage);
    let facts = format!(
        "Sync ran its requests on {} threads for {HELD_USERS} users, at most {} request at \
         once per thread, at a thread time of {} per request while a stream (first to last \
         token) lasted {}; those threads computed for {} of the time they existed. The event \
         loop carried up to {} streams at once on {} thread, at {} of thread time per request \
         — {}× less than sync's — and was busy {} of the time.",
        f.sync.threads,
        s.max_per_thread,
        ms_text(s.thread_ms_per_request),
        ms_text(s.stream_ms),
        pct(f.sync.busy_share),
        a.max_per_thread,
        f.single.threads,
        ms_text(a.thread_ms_per_request),
        num(ratio(s.thread_ms_per_request, a.thread_ms_per_request)),
        pct(f.single.busy_share),
    );
    let why = "The sync thread waited through the first-token wait and every gap between \
               chunks; the event loop ran other requests in those gaps. Same streams, same \
               latency; what differs is who waits: a blocked thread, or nobody.";
    // Whatever the verdict, what `sync` stands for: a thread that iterates its stream itself.
    let scope = "This is a thread that iterates its stream itself, as ragperf's `sync` does; a \
                 FastAPI `def` endpoint returning a StreamingResponse does not hold one: \
                 Starlette iterates its generator one thread-pool call per chunk, and the \
                 thread goes back to the pool between chunks (`sync-stream`, experiment X3).";
    format!("{facts} {} {scope}", reading(checks, why))
}

/// Stream length and thread time per request of both variants.
fn thread_time_chart(f: &Held) -> BarChart {
    let (s, a) = (&f.sync.usage, &f.single.usage);
    BarChart {
        title: "Thread time a streaming request costs".into(),
        x_label: "variant".into(),
        y_label: "ms per request".into(),
        groups: vec!["sync".into(), "async-single".into()],
        series: vec![
            BarSeries {
                name: "stream: first to last token".into(),
                color: PAIR[0],
                values: vec![s.stream_ms, a.stream_ms],
            },
            BarSeries {
                name: "thread time per request".into(),
                color: PAIR[1],
                values: vec![s.thread_ms_per_request, a.thread_ms_per_request],
            },
        ],
        lines: Vec::new(),
    }
}
