//! Findings a person should not have to dig out of the table: which variant wins at each load
//! point, and the reasons the numbers show (queueing for a worker, missed ideal, failures, the
//! latency knee of a sweep, threads). Each line is a plain fact computed from the result, in
//! Markdown (`code` in backticks), shared by `summary.md` and `index.html`.

use super::describe::{ms, pct, rate};
use crate::plot::data::{self, cell, mean};
use crate::result::{LoadPoint, RunResult, VariantRun};

/// Queue time counts as "waited for a worker" above this share of the median e2e latency…
const QUEUE_SHARE: f64 = 0.2;
/// …and above this many milliseconds (timer noise on a busy machine is ~1 ms).
const QUEUE_FLOOR_MS: f64 = 2.0;
/// Below this share of the Little's-law ideal a variant is called out.
const LOW_EFFICIENCY: f64 = 0.8;
/// Differences below this share (5 %) are noise on a shared 2-core machine: "about the same".
const SAME_SHARE: f64 = 0.05;
/// A p99 this many times the lightest point's is the sweep's knee.
const KNEE_FACTOR: f64 = 2.0;

/// Per-point winners, then observations, as Markdown lines (without the leading `- `).
pub fn highlights(result: &RunResult) -> Vec<String> {
    let mut out = Vec::new();
    let variants = data::variants(result);
    let points = data::points(result);
    for point in &points {
        if let Some(line) = winners(result, &variants, point) {
            out.push(line);
        }
    }
    for point in &points {
        for v in &variants {
            let runs = cell(result, v, point);
            if let Some(run) = runs.first() {
                observations(run, &runs, &mut out);
            }
        }
    }
    if points.len() >= 2 {
        for v in &variants {
            if let Some(line) = knee(result, v, &points) {
                out.push(line);
            }
        }
    }
    if out.is_empty() && !result.runs.is_empty() {
        out.push("Every variant ran without queueing or failures.".into());
    }
    out
}

/// `At c=32: most throughput …; lowest e2e p99 …; fewest threads …`.
fn winners(result: &RunResult, variants: &[String], point: &LoadPoint) -> Option<String> {
    let rows: Vec<(String, f64, f64, f64, f64)> = variants
        .iter()
        .filter_map(|v| {
            let runs = cell(result, v, point);
            Some((
                v.clone(),
                mean(&runs, |r| r.throughput.requests_per_s)?,
                mean(&runs, |r| r.ideal.efficiency)?,
                mean(&runs, |r| pct(r, "e2e").p99)?,
                mean(&runs, |r| r.process.threads_peak as f64)?,
            ))
        })
        .collect();
    if rows.len() < 2 {
        return None;
    }
    let best_tput = rows.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
    let best_p99 = rows
        .iter()
        .filter(|r| r.3 > 0.0)
        .min_by(|a, b| a.3.total_cmp(&b.3))?;
    let fewest = rows.iter().min_by(|a, b| a.4.total_cmp(&b.4))?;
    let most = rows.iter().max_by(|a, b| a.4.total_cmp(&b.4))?;
    let worst_tput = rows.iter().min_by(|a, b| a.1.total_cmp(&b.1))?;
    let worst_p99 = rows.iter().max_by(|a, b| a.3.total_cmp(&b.3))?;
    let mut line = format!("**At {}**: ", point.label());
    if worst_tput.1 >= best_tput.1 * (1.0 - SAME_SHARE) {
        line.push_str(&format!(
            "every variant served about the same, {}–{} req/s",
            rate(worst_tput.1),
            rate(best_tput.1)
        ));
    } else {
        line.push_str(&format!(
            "`{}` served the most, {} req/s ({:.0}% of its Little's-law ideal), against {} req/s for `{}`",
            best_tput.0,
            rate(best_tput.1),
            best_tput.2 * 100.0,
            rate(worst_tput.1),
            worst_tput.0
        ));
    }
    if worst_p99.3 <= best_p99.3 * (1.0 + 2.0 * SAME_SHARE) {
        line.push_str(&format!(
            "; e2e p99 within {:.0}% across variants ({}–{})",
            (worst_p99.3 / best_p99.3 - 1.0) * 100.0,
            ms(best_p99.3),
            ms(worst_p99.3)
        ));
    } else {
        line.push_str(&format!(
            "; lowest e2e p99: `{}` ({}), highest `{}` ({})",
            best_p99.0,
            ms(best_p99.3),
            worst_p99.0,
            ms(worst_p99.3)
        ));
    }
    if most.4 > fewest.4 {
        line.push_str(&format!(
            "; threads: `{}` needed {:.0}, `{}` {:.0}",
            fewest.0, fewest.4, most.0, most.4
        ));
    }
    line.push('.');
    Some(line)
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
            "it reached only {:.0}% of its Little's-law ideal ({} of {} req/s): the time went to \
             something the latency model does not inject, such as a blocked runtime thread or CPU",
            eff * 100.0,
            rate(eff * ideal),
            rate(ideal)
        ));
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
