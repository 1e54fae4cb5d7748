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
    let mut line = format!(
        "**At {}**: `{}` served the most, {} req/s ({:.0}% of its Little's-law ideal)",
        point.label(),
        best_tput.0,
        rate(best_tput.1),
        best_tput.2 * 100.0
    );
    if worst_tput.1 < best_tput.1 * 0.9 {
        line.push_str(&format!(
            " against {} req/s for `{}`",
            rate(worst_tput.1),
            worst_tput.0
        ));
    }
    line.push_str(&format!(
        "; lowest e2e p99: `{}` ({})",
        best_p99.0,
        ms(best_p99.3)
    ));
    if most.4 > fewest.4 {
        line.push_str(&format!(
            "; threads: `{}` needed {:.0}, `{}` {:.0}",
            fewest.0, fewest.4, most.0, most.4
        ));
    }
    line.push('.');
    Some(line)
}

/// Why one cell's numbers look as they do: queueing, missed ideal, failures.
fn observations(run: &VariantRun, runs: &[&VariantRun], out: &mut Vec<String>) {
    let at = format!("`{}` at {}", run.variant, run.point.label());
    let e2e_p50 = mean(runs, |r| pct(r, "e2e").p50).unwrap_or(0.0);
    let queue_p99 = mean(runs, |r| pct(r, "queue").p99).unwrap_or(0.0);
    if queue_p99 > QUEUE_FLOOR_MS && queue_p99 > QUEUE_SHARE * e2e_p50 {
        out.push(format!(
            "{at}: requests waited up to {} (queue p99) before a worker picked them up: every \
             thread, pool slot or runtime worker was busy, and that wait is part of e2e.",
            ms(queue_p99)
        ));
    }
    let eff = mean(runs, |r| r.ideal.efficiency).unwrap_or(1.0);
    let ideal = mean(runs, |r| r.ideal.ideal_requests_per_s).unwrap_or(0.0);
    if ideal > 0.0 && eff < LOW_EFFICIENCY {
        out.push(format!(
            "{at}: {:.0}% of the Little's-law ideal ({} of {} req/s): time went to something \
             the latency model does not inject (queueing, a blocked runtime thread, CPU).",
            eff * 100.0,
            rate(eff * ideal),
            rate(ideal)
        ));
    }
    let failed: u64 = runs.iter().map(|r| r.counters.failed).sum();
    let abandoned: u64 = runs.iter().map(|r| r.counters.abandoned).sum();
    if failed > 0 || abandoned > 0 {
        let sent: u64 = runs.iter().map(|r| r.counters.sent).sum();
        out.push(format!(
            "{at}: {failed} of {sent} measured requests failed{}.",
            if abandoned > 0 {
                format!(" and {abandoned} were still running when the drain time ran out")
            } else {
                String::new()
            }
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
