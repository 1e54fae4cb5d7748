//! What the charts, the exporters, compare and the tour read from a [`RunResult`]: the variants and load
//! points in run order, and the runs of one variant at one point.
//!
//! Repetitions (`--repeat`) of a variant at a point form one cell: charts show the mean of a
//! cell's scalar figures and the merged histogram of its repetitions.

use mock_services::hist::Percentiles;

use crate::result::{LoadPoint, RunResult, VariantRun};

/// Variant names in plan order, then any other variant found in the runs.
pub fn variants(result: &RunResult) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let planned = result.plan.variants.iter();
    for v in planned.chain(result.runs.iter().map(|r| &r.variant)) {
        if !out.contains(v) && result.runs.iter().any(|r| &r.variant == v) {
            out.push(v.clone());
        }
    }
    out
}

/// The load points that have runs, in plan order then run order.
pub fn points(result: &RunResult) -> Vec<LoadPoint> {
    let mut out: Vec<LoadPoint> = Vec::new();
    for p in result
        .plan
        .points
        .iter()
        .chain(result.runs.iter().map(|r| &r.point))
    {
        let has_runs = result.runs.iter().any(|r| same_point(&r.point, p));
        if has_runs && !out.iter().any(|o| same_point(o, p)) {
            out.push(p.clone());
        }
    }
    out
}

/// Whether two load points are the same point of a sweep.
pub fn same_point(a: &LoadPoint, b: &LoadPoint) -> bool {
    a.label() == b.label()
}

/// The runs (repetitions) of `variant` at `point`.
pub fn cell<'a>(result: &'a RunResult, variant: &str, point: &LoadPoint) -> Vec<&'a VariantRun> {
    result
        .runs
        .iter()
        .filter(|r| r.variant == variant && same_point(&r.point, point))
        .collect()
}

/// Mean of `f` over `runs` (None when there are none).
pub fn mean(runs: &[&VariantRun], f: impl Fn(&VariantRun) -> f64) -> Option<f64> {
    if runs.is_empty() {
        return None;
    }
    Some(runs.iter().map(|r| f(r)).sum::<f64>() / runs.len() as f64)
}

/// The size of a load point: users in a closed loop, offered requests/s in an open one.
pub fn load_value(point: &LoadPoint) -> f64 {
    point.rate.unwrap_or(point.concurrency as f64)
}

/// A file-name-safe label of a point: `c32`, `r12.5`.
pub fn point_slug(point: &LoadPoint) -> String {
    match point.rate {
        Some(r) => format!("r{r}"),
        None => format!("c{}", point.concurrency),
    }
}

/// The point with the most load: the one per-point charts (timeline) show by default.
pub fn headline_point(result: &RunResult) -> Option<LoadPoint> {
    points(result)
        .into_iter()
        .max_by(|a, b| load_value(a).total_cmp(&load_value(b)))
}

/// The axis title of a sweep's load: closed-loop users or offered rate.
pub fn load_axis_title(points: &[LoadPoint]) -> &'static str {
    if points.iter().all(|p| p.rate.is_some()) {
        "offered load (requests/s, log scale)"
    } else {
        "concurrency (closed-loop users, log scale)"
    }
}

/// The percentiles of one histogram of a run (zeros when absent).
pub fn pct(run: &VariantRun, metric: &str) -> Percentiles {
    run.latency_ms.get(metric).cloned().unwrap_or_default()
}
