//! Findings a person should not have to dig out of the table: which variant wins at each load
//! point, and the reasons the numbers show (queueing for a worker, missed ideal, failures, the
//! latency knee of a sweep, threads). Each line is a plain fact computed from the result, in
//! Markdown (`code` in backticks), shared by `summary.md` and `index.html`.

use super::describe::{ms, pct, rate};
use crate::result::query::{self as data, cell, mean};
use crate::result::{LoadPoint, RunResult, VariantRun};

/// Queue time counts as "waited for a worker" above this share of the median e2e latency…
const QUEUE_SHARE: f64 = 0.2;
/// …and above this many milliseconds (timer noise on a busy machine is ~1 ms).
const QUEUE_FLOOR_MS: f64 = 2.0;
/// Below this share of the Little's-law ideal a variant is called out.
const LOW_EFFICIENCY: f64 = 0.8;
/// Differences below this share (5 %) are noise on a shared 2-core machine: "about the same".
const SAME_SHARE: f64 = 0.05;
/// Tokens found already buffered when their stream was read are called out from this share on.
const BUFFERED_SHARE: f64 = 0.1;
/// A model's GIL held idle by its cap is called out from this share of the window on.
const GIL_IDLE_SHARE: f64 = 0.05;
/// A p99 this many times the lightest point's is the sweep's knee.
const KNEE_FACTOR: f64 = 2.0;

/// The findings, in three groups of Markdown lines (without the leading `- `).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Highlights {
    /// Per load point: who served most, who had the lowest tail, who needed fewest threads.
    pub winners: Vec<String>,
    /// Per variant × point, only where something stands out: a capacity below the load,
    /// queueing for a worker, a missed ideal, failures.
    pub reasons: Vec<String>,
    /// Per variant, in a sweep: the load at which its e2e p99 turns up.
    pub knees: Vec<String>,
}

impl Highlights {
    /// The groups that have lines, with their headings.
    pub fn sections(&self) -> Vec<(&'static str, &[String])> {
        [
            ("Who wins where", self.winners.as_slice()),
            ("Why: what stands out", self.reasons.as_slice()),
            ("Where latency turns up", self.knees.as_slice()),
        ]
        .into_iter()
        .filter(|(_, lines)| !lines.is_empty())
        .collect()
    }
}

/// Every finding of `result`.
pub fn highlights(result: &RunResult) -> Highlights {
    let mut out = Highlights::default();
    let variants = data::variants(result);
    let points = data::points(result);
    for point in &points {
        if let Some(line) = winners(result, &variants, point) {
            out.winners.push(line);
        }
    }
    for point in &points {
        for v in &variants {
            let runs = cell(result, v, point);
            if let Some(run) = runs.first() {
                observations(run, &runs, &mut out.reasons);
            }
        }
    }
    if points.len() >= 2 {
        for v in &variants {
            if let Some(line) = knee(result, v, &points) {
                out.knees.push(line);
            }
        }
    }
    if out.reasons.is_empty() && !result.runs.is_empty() {
        out.reasons
            .push("Nothing stands out: no variant queued, missed its ideal or failed.".into());
    }
    out
}

/// One variant's figures at one point, for the winners line.
struct Row {
    variant: String,
    requests_per_s: f64,
    efficiency: f64,
    /// e2e p99, ms; None when no request finished.
    p99: Option<f64>,
    threads: f64,
}

/// Names in backticks, joined: `` `a`, `b` and `c` ``.
fn names(rows: &[&Row]) -> String {
    let n: Vec<String> = rows.iter().map(|r| format!("`{}`", r.variant)).collect();
    match n.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => n.join(""),
    }
}

/// `At c=32: …served the most…; lowest e2e p99…; threads from … to …`. Variants within
/// [`SAME_SHARE`] of the best share the win: on a shared machine that is noise.
fn winners(result: &RunResult, variants: &[String], point: &LoadPoint) -> Option<String> {
    let rows = winner_rows(result, variants, point);
    if rows.len() < 2 {
        return None;
    }
    let mut line = format!("**At {}**: ", point.label());
    throughput_clause(&rows, &mut line);
    p99_clause(&rows, &mut line);
    let fewest = rows.iter().min_by(|a, b| a.threads.total_cmp(&b.threads))?;
    let most = rows.iter().max_by(|a, b| a.threads.total_cmp(&b.threads))?;
    if most.threads > fewest.threads {
        line.push_str(&format!(
            "; threads: from {:.0} (`{}`) to {:.0} (`{}`)",
            fewest.threads, fewest.variant, most.threads, most.variant
        ));
    }
    line.push('.');
    Some(line)
}

/// Each variant's throughput, efficiency, e2e p99 and threads at `point`; variants without
/// measurements are left out.
fn winner_rows(result: &RunResult, variants: &[String], point: &LoadPoint) -> Vec<Row> {
    variants
        .iter()
        .filter_map(|v| {
            let runs = cell(result, v, point);
            let finished: u64 = runs.iter().map(|r| pct(r, "e2e").count).sum();
            Some(Row {
                variant: v.clone(),
                requests_per_s: mean(&runs, |r| r.throughput.requests_per_s)?,
                efficiency: mean(&runs, |r| r.ideal.efficiency)?,
                p99: (finished > 0)
                    .then(|| mean(&runs, |r| pct(r, "e2e").p99))
                    .flatten(),
                threads: mean(&runs, |r| r.process.threads_peak as f64)?,
            })
        })
        .collect()
}

/// Who served the most (the leaders within `SAME_SHARE` of the best), against the rest.
fn throughput_clause(rows: &[Row], line: &mut String) {
    let best = rows.iter().map(|r| r.requests_per_s).fold(0.0, f64::max);
    let (leaders, rest): (Vec<&Row>, Vec<&Row>) = rows
        .iter()
        .partition(|r| r.requests_per_s >= best * (1.0 - SAME_SHARE));
    let low = leaders
        .iter()
        .map(|r| r.requests_per_s)
        .fold(f64::INFINITY, f64::min);
    if rest.is_empty() {
        line.push_str(&format!(
            "every variant served about the same, {}–{} req/s",
            rate(low),
            rate(best)
        ));
    } else {
        if let [one] = leaders.as_slice() {
            line.push_str(&format!(
                "{} served the most, {} req/s ({:.0}% of its Little's-law ideal)",
                names(&leaders),
                rate(best),
                one.efficiency * 100.0
            ));
        } else {
            line.push_str(&format!(
                "{} served the most, {}–{} req/s",
                names(&leaders),
                rate(low),
                rate(best)
            ));
        }
        let others: Vec<String> = rest
            .iter()
            .map(|r| format!("`{}` {}", r.variant, rate(r.requests_per_s)))
            .collect();
        line.push_str(&format!(", against {}", others.join(", ")));
    }
}

/// Whether the e2e p99s agree, else the lowest and the highest.
fn p99_clause(rows: &[Row], line: &mut String) {
    let with_p99: Vec<(&Row, f64)> = rows.iter().filter_map(|r| Some((r, r.p99?))).collect();
    let lowest = with_p99.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
    let highest = with_p99.iter().map(|r| r.1).fold(0.0, f64::max);
    if with_p99.len() >= 2 && highest <= lowest * (1.0 + 2.0 * SAME_SHARE) {
        line.push_str(&format!(
            "; e2e p99 within {:.0}% ({}–{})",
            (highest / lowest - 1.0) * 100.0,
            ms(lowest),
            ms(highest)
        ));
    } else if with_p99.len() >= 2 {
        let best: Vec<&Row> = with_p99
            .iter()
            .filter(|r| r.1 <= lowest * (1.0 + SAME_SHARE))
            .map(|r| r.0)
            .collect();
        let worst = with_p99
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(String::new(), |r| format!(" (`{}`)", r.0.variant));
        line.push_str(&format!(
            "; lowest e2e p99: {} ({}), highest {}{worst}",
            names(&best),
            ms(lowest),
            ms(highest)
        ));
    }
}

/// Threads from which a server at its thread peak reads as a thread pool: an event loop has a
/// handful of threads (the loop and its helpers), a thread-pool server tens (Starlette's 40).
const POOL_THREADS: u64 = 10;

/// Where the time beyond the ideal went, from what was measured: for a sampled target server its
/// CPU (near a full core: CPU-bound) or its threads (flat at their peak with CPU to spare: a
/// thread pool); otherwise what the latency model does not inject.
fn missed_ideal_because(run: &VariantRun) -> String {
    let c = &run.counters;
    if c.failed + c.abandoned + c.never_sent > 0 {
        // Requests that failed or never finished explain the gap; nothing says CPU was short.
        let kinds: Vec<String> = c
            .failed_by_kind
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        return format!(
            "{} of {} measured requests did not succeed ({}{}{})",
            c.failed + c.abandoned + c.never_sent,
            c.sent,
            kinds.join(", "),
            if c.abandoned > 0 {
                format!(
                    "{}{} unfinished",
                    if kinds.is_empty() { "" } else { ", " },
                    c.abandoned
                )
            } else {
                String::new()
            },
            if c.never_sent > 0 {
                format!(", {} never sent", c.never_sent)
            } else {
                String::new()
            }
        );
    }
    let Some((s, cpu_share)) = run.server.as_ref().and_then(|s| Some((s, s.cores()?))) else {
        return "the time went to something the latency model does not inject, such as a \
                blocked runtime thread or CPU"
            .into();
    };
    let per_request = crate::metrics::server::cpu_per_request_ms(run)
        .map_or(String::new(), |v| format!(", {v:.1} ms per request"));
    if cpu_share >= 0.9 {
        format!(
            "the server was CPU-bound ({:.0}% of one core{per_request})",
            cpu_share * 100.0
        )
    } else if s.threads_peak >= POOL_THREADS && s.threads_mean >= 0.9 * s.threads_peak as f64 {
        format!(
            "the server's threads stayed at their peak of {} with CPU to spare ({:.0}% of one \
             core): a thread pool of that size caps it",
            s.threads_peak,
            cpu_share * 100.0
        )
    } else {
        format!(
            "the server spent {:.0}% of one core{per_request}; the rest went to waiting the \
             backends' injected latency does not explain",
            cpu_share * 100.0
        )
    }
}

/// Why one cell's numbers look as they do, as one line: a capacity below the load, queueing
/// for a worker, a missed ideal, failures. Nothing when the cell is unremarkable.
fn observations(run: &VariantRun, runs: &[&VariantRun], out: &mut Vec<String>) {
    let mut facts: Vec<String> = Vec::new();
    let capacity = run.ideal.capacity;
    if run.point.rate.is_none() && capacity > 0 && capacity < run.point.concurrency {
        facts.push(format!(
            "it runs at most {capacity} request(s) at once, so its ideal is {} req/s",
            rate(mean(runs, |r| r.ideal.ideal_requests_per_s).unwrap_or(0.0))
        ));
    }
    let e2e_p50 = mean(runs, |r| pct(r, "e2e").p50).unwrap_or(0.0);
    let queue_p99 = mean(runs, |r| pct(r, "queue").p99).unwrap_or(0.0);
    if queue_p99 > QUEUE_FLOOR_MS && queue_p99 > QUEUE_SHARE * e2e_p50 {
        facts.push(format!(
            "requests waited up to {} for a free thread, pool slot or runtime worker (queue \
             p99; that wait is part of e2e)",
            ms(queue_p99)
        ));
    }
    let eff = mean(runs, |r| r.ideal.efficiency).unwrap_or(1.0);
    let ideal = mean(runs, |r| r.ideal.ideal_requests_per_s).unwrap_or(0.0);
    if ideal > 0.0 && eff < LOW_EFFICIENCY {
        facts.push(format!(
            "it reached only {:.0}% of its Little's-law ideal ({} of {} req/s): {}",
            eff * 100.0,
            rate(eff * ideal),
            rate(ideal),
            missed_ideal_because(run)
        ));
    }
    if let Some(fact) = buffered_tokens(runs) {
        facts.push(fact);
    }
    if let Some(fact) = gil_cap_idle(runs) {
        facts.push(fact);
    }
    let sent: u64 = runs.iter().map(|r| r.counters.sent).sum();
    let failed: u64 = runs.iter().map(|r| r.counters.failed).sum();
    if failed > 0 {
        facts.push(format!("{failed} of {sent} measured requests failed"));
    }
    let abandoned: u64 = runs.iter().map(|r| r.counters.abandoned).sum();
    if abandoned > 0 {
        facts.push(format!(
            "{abandoned} of {sent} were still running when the drain time ran out (abandoned)"
        ));
    }
    if !facts.is_empty() {
        out.push(format!(
            "`{}` at {}: {}.",
            run.variant,
            run.point.label(),
            facts.join("; ")
        ));
    }
}

/// Streams that found their tokens already buffered (at least [`BUFFERED_SHARE`] of them): they
/// were read later than the tokens' spacing (in `sync-stream` a `next()` waited for a pool
/// thread; elsewhere the event loop, the reading thread or the GIL was busy), and one socket
/// read brought several tokens (`cpu_per_read_us` is paid per read).
fn buffered_tokens(runs: &[&VariantRun]) -> Option<String> {
    let reads: u64 = runs.iter().map(|r| r.counters.stream_reads).sum();
    let tokens: u64 = runs.iter().map(|r| r.counters.tokens).sum();
    if reads == 0 || tokens == 0 {
        return None;
    }
    let buffered = 1.0 - (reads as f64 / tokens as f64).min(1.0);
    let sync_stream = runs.iter().any(|r| r.variant == "sync-stream");
    (buffered >= BUFFERED_SHARE).then(|| {
        let (when, why) = if sync_stream {
            (
                "when their `next()` ran",
                "streams waited for a pool thread longer than the tokens' spacing",
            )
        } else {
            (
                "when their stream was read",
                "streams were read later than the tokens' spacing (the event loop, a thread or \
                 the GIL was busy)",
            )
        };
        format!(
            "{:.0}% of its streams' tokens were already buffered {when} ({reads} socket reads \
             for {tokens} tokens): {why}",
            100.0 * buffered
        )
    })
}

/// A model whose GIL stood held and idle to keep under its cap (`request.gil_max_busy`) for at
/// least [`GIL_IDLE_SHARE`] of its window: the cap, not the cores, bounded its Python — as a
/// CPython service's GIL, whose hand-offs leave it free while nobody runs Python.
fn gil_cap_idle(runs: &[&VariantRun]) -> Option<String> {
    let capped: Vec<(f64, f64)> = runs
        .iter()
        .filter_map(|r| Some((r.gil_cap_idle_s?, r.process.window_s)))
        .collect();
    let idle: f64 = capped.iter().map(|c| c.0).sum();
    let window: f64 = capped.iter().map(|c| c.1).sum();
    if window <= 0.0 {
        return None;
    }
    // One lock idles one hold at a time: at most the window (give or take its edges).
    let share = (idle / window).min(1.0);
    (share >= GIL_IDLE_SHARE).then(|| {
        format!(
            "its GIL stood held and idle {:.0}% of the time (warm-up and drain included) to keep \
             under its cap (`request.gil_max_busy`): the cap, not the cores, bounded its Python",
            100.0 * share
        )
    })
}

/// The sweep's knee: where a variant's e2e p99 first exceeds [`KNEE_FACTOR`] × its value at the
/// lightest point.
fn knee(result: &RunResult, variant: &str, points: &[LoadPoint]) -> Option<String> {
    let mut sorted: Vec<&LoadPoint> = points.iter().collect();
    sorted.sort_by(|a, b| data::load_value(a).total_cmp(&data::load_value(b)));
    let series: Vec<(&LoadPoint, f64)> = sorted
        .into_iter()
        .filter_map(|p| Some((p, mean(&cell(result, variant, p), |r| pct(r, "e2e").p99)?)))
        .filter(|(_, v)| *v > 0.0)
        .collect();
    let (first, base) = *series.first()?;
    let (at, value) = series
        .iter()
        .skip(1)
        .find(|(_, v)| *v > base * KNEE_FACTOR)?;
    Some(format!(
        "`{variant}`: e2e p99 grows from {} at {} to {} at {}: the knee where requests start \
         to wait for each other.",
        ms(base),
        first.label(),
        ms(*value),
        at.label()
    ))
}
