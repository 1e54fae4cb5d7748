//! X3: Starlette's 40 threads cap `def` endpoints that return a whole answer, not ones that
//! stream.
//!
//! FastAPI runs a `def` endpoint in a bounded thread pool (anyio's 40-token limiter). Returning
//! the whole answer, a request holds a thread from its first byte to its last token, so the pool
//! completes at most `workers / latency` requests per second and the other users queue before
//! their first token (`sync --workers N`). Returning `StreamingResponse(generator)`, Starlette
//! iterates the generator with `iterate_in_threadpool`: every `next()` is its own call on the same
//! pool, so a stream holds a thread only while it waits for one token and many more streams than
//! threads progress at once (`sync-stream --workers N`). Measured on the seed's real stack in
//! `docs/fastapi-rag.md`: the whole-answer endpoint flattened at ~35 req/s (40 threads ÷ ~1.14 s),
//! the streaming one kept a short time to first token up to 200 users and was bound by Python's
//! CPU instead.
//!
//! Both variants run with the same pool at an unloaded point (2 users) and at four users per
//! pool thread.

use std::time::Duration;

use anyhow::Result;

use super::timeline::timeline_chart;
use crate::pipeline::VariantKind;
use crate::result::VariantRun;
use crate::tour::chart::{BarChart, BarSeries, RefLine, variant_color};
use crate::tour::measure;
use crate::tour::model::{self, Mode, Step};
use crate::tour::verdict::{Check, Role, num, ratio, reading};
use crate::tour::{ChartSource, ChartSpec, Experiment, Finding, Measured, Table, ms_text};

/// The X3 experiment.
pub fn experiment() -> Experiment {
    Experiment {
        id: "X3",
        aliases: &["stream-pool", "sync-stream"],
        slug: "x3-stream-pool",
        title: "A bounded pool caps `def` endpoints that return a whole answer, not ones that \
                stream",
        seed: "The seed says sync endpoints run in a thread pool and a `ThreadPoolExecutor` \
               bounds them (Q4, Q5); it does not say that FastAPI's `StreamingResponse` over a \
               sync generator uses the same pool one token at a time.",
        claim: "A `def` endpoint that returns the whole answer holds a pool thread for the whole \
                request, so with more users than threads throughput caps at threads / latency \
                and users queue before their first token; the same pool serving \
                `StreamingResponse(generator)` is called once per token, so it carries many more \
                streams than threads, with a first token as quick as unloaded.",
        steps,
        analyse,
    }
}

/// Users of the unloaded step.
pub const UNLOADED: usize = 2;
/// Users per pool thread at the loaded step.
pub const USERS_PER_THREAD: usize = 4;

/// Pool threads (`--workers`): 8 in the quick tour, Starlette's 40 in the full one.
pub fn workers(mode: Mode) -> usize {
    mode.pick(8, 40)
}

fn steps(mode: Mode) -> Vec<Step> {
    let n = workers(mode);
    // 300 ms (quick) or 1.5 s (full) per request: ~110 streams of 11 tokens per second at the
    // loaded point, which two cores carry without the harness becoming the limit.
    let mut s = model::seed_scenario(mode.pick(0.1, 0.5));
    s.load.workers = Some(n);
    let mut unloaded = s.clone();
    model::by_duration(
        &mut unloaded,
        mode.pick(Duration::from_millis(800), Duration::from_secs(4)),
    );
    model::by_duration(
        &mut s,
        mode.pick(Duration::from_millis(1500), Duration::from_secs(6)),
    );
    let variants = [VariantKind::Sync, VariantKind::SyncStream];
    vec![
        model::step(
            "unloaded",
            format!(
                "Unloaded: {UNLOADED} users, `sync` (whole answer) and `sync-stream` \
                 (`StreamingResponse`), both with a pool of {n} threads"
            ),
            model::plan(unloaded, &variants, vec![model::closed(UNLOADED)]),
        ),
        model::step(
            "loaded",
            format!(
                "Loaded: {} users ({USERS_PER_THREAD} per pool thread), the same two variants \
                 and pool",
                USERS_PER_THREAD * n
            ),
            model::plan(s, &variants, vec![model::closed(USERS_PER_THREAD * n)]),
        ),
    ]
}

/// One variant's figures at one load.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Side {
    /// Requests/s.
    pub rps: f64,
    /// Median time to first token (from the intended start: queueing included), ms.
    pub ttft_p50_ms: f64,
    /// Median end-to-end, ms.
    pub e2e_p50_ms: f64,
    /// Median wait for a pool thread before the request started, ms.
    pub queue_p50_ms: f64,
    /// Peak threads of the variant (its pool, counted by thread name).
    pub threads: u64,
    /// CPU of the whole process outside the mocks during the window, share of one core.
    pub cpu_share: f64,
}

/// What X3 measured.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamPool {
    /// Pool threads (`--workers`).
    pub workers: usize,
    /// Users at the loaded point.
    pub users: usize,
    /// One request at this time scale, CPU included, ms.
    pub service_ms: f64,
    /// Time to first token of one request with no queueing, from the latency model, ms.
    pub model_ttft_ms: f64,
    /// CPU per streamed token (`cpu_per_token_us`), ms.
    pub cpu_per_token_ms: f64,
    /// Unloaded: `sync`, `sync-stream`.
    pub unloaded: (Side, Side),
    /// Loaded: `sync`, `sync-stream`.
    pub loaded: (Side, Side),
}

impl StreamPool {
    /// Little's law for a pool whose threads are held for the whole request: workers / latency.
    pub fn cap_rps(&self) -> f64 {
        ratio(self.workers as f64 * 1000.0, self.service_ms)
    }

    /// What the loaded point's users ask for: users / latency.
    pub fn wanted_rps(&self) -> f64 {
        ratio(self.users as f64 * 1000.0, self.service_ms)
    }
}

fn side(run: &VariantRun) -> Side {
    let p = &run.process;
    let cpu = p.cpu_user_s + p.cpu_sys_s - p.mock_cpu_s;
    Side {
        rps: run.throughput.requests_per_s,
        ttft_p50_ms: measure::ms(run, "ttft", |p| p.p50),
        e2e_p50_ms: measure::ms(run, "e2e", |p| p.p50),
        queue_p50_ms: measure::ms(run, "queue", |p| p.p50),
        threads: p.threads_peak,
        cpu_share: ratio(cpu.max(0.0), p.window_s),
    }
}

/// Reads X3's figures.
pub fn figures(m: &Measured) -> Result<StreamPool> {
    let low = m.get("unloaded")?;
    let high = m.get("loaded")?;
    let sync = measure::only(high, "sync")?;
    let s = &high.scenario;
    let model_ttft_ms =
        (s.embedding.latency_ms.mean() + s.qdrant.search_ms.mean() + s.bedrock.ttft_ms.mean())
            * s.time_scale
            + s.request.cpu_work_us as f64 / 1000.0;
    Ok(StreamPool {
        workers: s
            .load
            .workers
            .unwrap_or(crate::pipeline::sync_stream::DEFAULT_WORKERS),
        users: sync.point.concurrency,
        service_ms: sync.ideal.expected_service_s * 1000.0,
        model_ttft_ms,
        cpu_per_token_ms: s.request.cpu_per_token_us as f64 / 1000.0,
        unloaded: (
            side(measure::only(low, "sync")?),
            side(measure::only(low, "sync-stream")?),
        ),
        loaded: (side(sync), side(measure::only(high, "sync-stream")?)),
    })
}

/// X3's checks.
pub fn checks(f: &StreamPool) -> Vec<Check> {
    let (us, uss) = f.unloaded;
    let (ls, lss) = f.loaded;
    let n = f.workers as f64;
    let threads_ok = |t: u64| t as f64 >= 0.75 * n && t as f64 <= n + 1.0;
    vec![
        Check::at_most(
            "whole answer: `sync` caps at workers / latency (req/s)",
            ls.rps,
            1.2 * f.cap_rps(),
            "",
            Role::Core,
        ),
        Check::at_least(
            "whole answer: users queue before their first token (TTFT p50, loaded / unloaded)",
            ratio(ls.ttft_p50_ms, us.ttft_p50_ms),
            3.0,
            "×",
            Role::Core,
        ),
        Check::at_least(
            "streaming: the same pool serves more (`sync-stream` / `sync` throughput)",
            ratio(lss.rps, ls.rps),
            2.0,
            "×",
            Role::Core,
        ),
        Check::at_most(
            "streaming: the first token stays near unloaded (TTFT p50, loaded / unloaded)",
            ratio(lss.ttft_p50_ms, uss.ttft_p50_ms),
            2.0,
            "×",
            Role::Core,
        ),
        Check::at_least(
            "streaming: throughput near users / latency (req/s)",
            lss.rps,
            0.7 * f.wanted_rps(),
            "",
            Role::Detail,
        ),
        Check::new(
            "both ran on about `--workers` pool threads (peak threads, `sync` / `sync-stream`)",
            format!("{} / {}", ls.threads, lss.threads),
            format!("{}–{} each", num(0.75 * n), num(n + 1.0)),
            Role::Detail,
            threads_ok(ls.threads) && threads_ok(lss.threads),
        ),
    ]
}

/// `at` when `value` is within 20 % of `bound` or below it, else `above`.
fn at_or_above(value: f64, bound: f64) -> &'static str {
    if value <= 1.2 * bound { "at" } else { "above" }
}

fn analyse(m: &Measured) -> Result<Finding> {
    Ok(finding(&figures(m)?, m))
}

/// The finding of X3's figures (`m` only sizes the timeline charts).
pub fn finding(f: &StreamPool, m: &Measured) -> Finding {
    let checks = checks(f);
    Finding {
        headline: headline(f),
        table: table(f),
        explanation: explanation(f, &checks),
        checks,
        charts: charts(f, m),
    }
}

/// The finding's one-line summary.
fn headline(f: &StreamPool) -> String {
    let (ls, lss) = f.loaded;
    format!(
        "pool of {}, {} users: whole answer {} req/s (cap {}), TTFT p50 {}; streaming {} \
         req/s, TTFT p50 {}",
        f.workers,
        f.users,
        num(ls.rps),
        num(f.cap_rps()),
        ms_text(ls.ttft_p50_ms),
        num(lss.rps),
        ms_text(lss.ttft_p50_ms)
    )
}

/// One row per load and variant.
fn table(f: &StreamPool) -> Table {
    let mut table = Table::new(&[
        "load",
        "variant",
        "req/s",
        "TTFT p50",
        "queue p50",
        "e2e p50",
        "pool threads",
        "CPU (process, no mocks)",
    ]);
    for (load, (a, b)) in [
        (format!("{UNLOADED} users"), f.unloaded),
        (format!("{} users", f.users), f.loaded),
    ] {
        for (name, s) in [("sync", a), ("sync-stream", b)] {
            table.row(vec![
                load.clone(),
                format!("`{name}`"),
                num(s.rps),
                ms_text(s.ttft_p50_ms),
                ms_text(s.queue_p50_ms),
                ms_text(s.e2e_p50_ms),
                s.threads.to_string(),
                format!("{}% of a core", num(100.0 * s.cpu_share)),
            ]);
        }
    }
    table
}

/// What the CPU per token cost, and whether it limited the streams.
fn cpu_sentence(f: &StreamPool) -> String {
    let lss = f.loaded.1;
    let cpu_verdict = if lss.cpu_share < 0.8 {
        "well under one core, so CPU did not limit these streams"
    } else {
        "close to a full core, so CPU may have limited these streams"
    };
    format!(
        "Each streamed token cost {} of CPU here (`cpu_per_token_us`), and the whole process \
         used {}% of a core serving `sync-stream`: {cpu_verdict}. A Python service spends CPU \
         on every token, and on the seed's stack that became the limit instead \
         (`docs/fastapi-rag.md`).",
        ms_text(f.cpu_per_token_ms),
        num(100.0 * lss.cpu_share)
    )
}

/// The explanation: both variants at both loads as measured, then why only when the checks
/// support it.
pub fn explanation(f: &StreamPool, checks: &[Check]) -> String {
    let (us, uss) = f.unloaded;
    let (ls, lss) = f.loaded;
    let facts = format!(
        "One request takes {} here and its first token comes {} after it starts; both \
         variants had a pool of {} threads, which can hold at most {} / {} = {} whole answers \
         per second. With {} users `sync` (a `def` endpoint returning the whole answer) served \
         {} req/s ({} that cap), with a median wait for a thread of {} and a median first \
         token of {} against {} unloaded ({}×). `sync-stream` (the same pool used as \
         Starlette's `StreamingResponse` uses it) served {} req/s — {}× `sync`, {}% of the {} \
         req/s that {} users at {} each ask for — on {} threads, with a median first token of \
         {} ({}× its unloaded {}).",
        ms_text(f.service_ms),
        ms_text(f.model_ttft_ms),
        f.workers,
        f.workers,
        ms_text(f.service_ms),
        num(f.cap_rps()),
        f.users,
        num(ls.rps),
        at_or_above(ls.rps, f.cap_rps()),
        ms_text(ls.queue_p50_ms),
        ms_text(ls.ttft_p50_ms),
        ms_text(us.ttft_p50_ms),
        num(ratio(ls.ttft_p50_ms, us.ttft_p50_ms)),
        num(lss.rps),
        num(ratio(lss.rps, ls.rps)),
        num(100.0 * ratio(lss.rps, f.wanted_rps())),
        num(f.wanted_rps()),
        f.users,
        ms_text(f.service_ms),
        lss.threads,
        ms_text(lss.ttft_p50_ms),
        num(ratio(lss.ttft_p50_ms, uss.ttft_p50_ms)),
        ms_text(uss.ttft_p50_ms),
    );
    let why = "A whole-answer request holds a thread to its last token, so users who find \
               every thread busy queue; a streaming endpoint makes one pool call for its body \
               and one per token read, so a stream holds a thread only while it waits for its \
               next token.";
    format!("{facts} {} {}", reading(checks, why), cpu_sentence(f))
}

/// Both variants' bars at both loads, one value per load.
fn series(f: &StreamPool, pick: fn(&Side) -> f64) -> Vec<BarSeries> {
    let (us, uss) = f.unloaded;
    let (ls, lss) = f.loaded;
    vec![
        BarSeries {
            name: "sync (whole answer)".into(),
            color: variant_color("sync"),
            values: vec![pick(&us), pick(&ls)],
        },
        BarSeries {
            name: "sync-stream (StreamingResponse)".into(),
            color: variant_color("sync-stream"),
            values: vec![pick(&uss), pick(&lss)],
        },
    ]
}

/// The load groups of both bar charts.
fn groups(f: &StreamPool) -> Vec<String> {
    vec![
        format!("{UNLOADED} users"),
        format!("{} users, {} threads", f.users, f.workers),
    ]
}

/// Requests per second against the pool's cap and the users' demand.
fn throughput_chart(f: &StreamPool) -> BarChart {
    BarChart {
        title: format!(
            "The same pool of {} threads: whole answer vs streaming",
            f.workers
        ),
        x_label: "load".into(),
        y_label: "requests/s".into(),
        groups: groups(f),
        series: series(f, |s| s.rps),
        lines: vec![
            RefLine {
                value: f.cap_rps(),
                label: format!("workers / latency: {}", num(f.cap_rps())),
            },
            RefLine {
                value: f.wanted_rps(),
                label: format!("users / latency: {}", num(f.wanted_rps())),
            },
        ],
    }
}

/// Median time to first token against the unqueued one.
fn ttft_chart(f: &StreamPool) -> BarChart {
    BarChart {
        title: "Median time to first token".into(),
        x_label: "load".into(),
        y_label: "TTFT p50 (ms)".into(),
        groups: groups(f),
        series: series(f, |s| s.ttft_p50_ms),
        lines: vec![RefLine {
            value: f.model_ttft_ms,
            label: format!("no queueing: {}", ms_text(f.model_ttft_ms)),
        }],
    }
}

/// The bars, and one request timeline per variant at the higher load.
fn charts(f: &StreamPool, m: &Measured) -> Vec<ChartSpec> {
    vec![
        ChartSpec {
            name: "throughput".into(),
            caption: format!(
                "Requests per second with the same bounded pool of {}: at {} users whole \
                 answers {} req/s, streams {} req/s; the dashed lines are workers / latency and \
                 users / latency.",
                f.workers,
                f.users,
                num(f.loaded.0.rps),
                num(f.loaded.1.rps)
            ),
            source: ChartSource::Bars(throughput_chart(f)),
        },
        ChartSpec {
            name: "ttft".into(),
            caption: format!(
                "Median time to first token, queueing included: at {} users {} for whole \
                 answers and {} for streams, against {} and {} unloaded.",
                f.users,
                ms_text(f.loaded.0.ttft_p50_ms),
                ms_text(f.loaded.1.ttft_p50_ms),
                ms_text(f.unloaded.0.ttft_p50_ms),
                ms_text(f.unloaded.1.ttft_p50_ms)
            ),
            source: ChartSource::Bars(ttft_chart(f)),
        },
        timeline_chart(
            "loaded",
            "sync",
            f.users,
            &format!(
                "Request timeline: sync, {} users, {} threads",
                f.users, f.workers
            ),
            &format!(
                "Each row is a request; grey is time waiting to start (median wait for a \
                 thread {}).",
                ms_text(f.loaded.0.queue_p50_ms)
            ),
            m,
        ),
        timeline_chart(
            "loaded",
            "sync-stream",
            f.users,
            &format!(
                "Request timeline: sync-stream, {} users, {} threads",
                f.users, f.workers
            ),
            &format!(
                "The same users and pool with streaming (median wait for a thread {}); green \
                 is the stream.",
                ms_text(f.loaded.1.queue_p50_ms)
            ),
            m,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tour::verdict::{Verdict, decide};

    fn side(rps: f64, ttft: f64, threads: u64) -> Side {
        Side {
            rps,
            ttft_p50_ms: ttft,
            e2e_p50_ms: ttft + 250.0,
            queue_p50_ms: 0.0,
            threads,
            cpu_share: 0.1,
        }
    }

    /// 8 threads, 32 users, 300 ms requests: cap 26.7 req/s, users ask for 107.
    fn fixture(loaded_sync: Side, loaded_stream: Side) -> StreamPool {
        StreamPool {
            workers: 8,
            users: 32,
            service_ms: 300.0,
            model_ttft_ms: 50.0,
            cpu_per_token_ms: 0.0,
            unloaded: (side(6.6, 51.0, 2), side(6.6, 52.0, 2)),
            loaded: (loaded_sync, loaded_stream),
        }
    }

    #[test]
    fn the_real_stack_shape_is_confirmed() {
        let f = fixture(side(26.5, 930.0, 8), side(104.0, 60.0, 8));
        assert_eq!(decide(&checks(&f)), Verdict::Confirmed, "{:?}", checks(&f));
    }

    #[test]
    fn a_stream_that_holds_its_thread_is_not_confirmed() {
        // sync-stream behaving like sync: capped, queued.
        let f = fixture(side(26.5, 930.0, 8), side(26.6, 920.0, 8));
        let c = checks(&f);
        assert_eq!(decide(&c), Verdict::NotConfirmed);
        let failed: Vec<&str> = c
            .iter()
            .filter(|c| !c.pass)
            .map(|c| c.what.as_str())
            .collect();
        assert!(
            failed.iter().any(|w| w.contains("serves more")),
            "{failed:?}"
        );
        assert!(
            failed.iter().any(|w| w.contains("first token stays")),
            "{failed:?}"
        );
    }

    #[test]
    fn an_uncapped_whole_answer_is_not_confirmed() {
        // sync above its cap and without queueing: the pool did not bound it.
        let f = fixture(side(100.0, 55.0, 32), side(104.0, 60.0, 8));
        let c = checks(&f);
        assert_eq!(decide(&c), Verdict::NotConfirmed);
        assert!(!c[0].pass && !c[1].pass, "{c:?}");
    }

    #[test]
    fn too_many_threads_or_slow_streams_only_qualify() {
        let f = fixture(side(26.5, 930.0, 8), side(70.0, 90.0, 12));
        let c = checks(&f);
        assert_eq!(decide(&c), Verdict::Qualified, "{c:?}");
        let failed: Vec<&str> = c
            .iter()
            .filter(|c| !c.pass)
            .map(|c| c.what.as_str())
            .collect();
        assert_eq!(failed.len(), 2, "{failed:?}");
    }

    #[test]
    fn nothing_measured_is_not_confirmed() {
        let nan = side(f64::NAN, f64::NAN, 0);
        assert_eq!(decide(&checks(&fixture(nan, nan))), Verdict::NotConfirmed);
    }

    #[test]
    fn the_prose_follows_the_verdict() {
        let m = Measured::default();
        let story = "holds a thread only while it waits";
        let f = finding(&fixture(side(26.5, 930.0, 8), side(104.0, 60.0, 8)), &m);
        assert_eq!(f.verdict(), Verdict::Confirmed);
        assert!(f.explanation.contains(story), "{}", f.explanation);
        let f = finding(&fixture(side(26.5, 930.0, 8), side(26.6, 920.0, 8)), &m);
        assert_eq!(f.verdict(), Verdict::NotConfirmed);
        let words = f.words();
        for s in [story, "streams go on towards", "shared token by token"] {
            assert!(!words.contains(s), "tells `{s}`:\n{words}");
        }
        assert!(words.contains("served 26.6 req/s"), "{words}");
        assert!(f.explanation.contains("do not confirm the claim"));
    }
}
