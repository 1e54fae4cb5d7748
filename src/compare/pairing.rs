//! Pairing the runs of two result files: every variant × load point of the baseline must be in
//! the current file (else the comparison would silently skip it), and its repetitions become
//! the samples of each metric.

use crate::result::{RunResult, VariantRun};

use super::CompareError;

/// One variant at one load point, with its repetitions on both sides.
#[derive(Debug)]
pub struct Pair<'a> {
    /// Variant name.
    pub variant: String,
    /// Load point label (`c=16`, `r=100/s`).
    pub point: String,
    /// Baseline repetitions.
    pub base: Vec<&'a VariantRun>,
    /// Current repetitions.
    pub cur: Vec<&'a VariantRun>,
}

/// Runs of `result` grouped by (variant, point), in first-appearance order.
fn groups<'a>(
    result: &'a RunResult,
    only: &[String],
) -> Vec<(String, String, Vec<&'a VariantRun>)> {
    let mut out: Vec<(String, String, Vec<&VariantRun>)> = Vec::new();
    for run in &result.runs {
        if !only.is_empty() && !only.iter().any(|v| v == &run.variant) {
            continue;
        }
        let point = run.point.label();
        match out
            .iter_mut()
            .find(|(v, p, _)| *v == run.variant && *p == point)
        {
            Some((_, _, runs)) => runs.push(run),
            None => out.push((run.variant.clone(), point, vec![run])),
        }
    }
    out
}

/// Pairs the baseline's groups with the current file's. `only` restricts to some variants.
/// Returns the pairs and notes about groups only the current file has.
pub fn pair<'a>(
    base: &'a RunResult,
    base_path: &str,
    cur: &'a RunResult,
    cur_path: &str,
    only: &[String],
) -> Result<(Vec<Pair<'a>>, Vec<String>), CompareError> {
    for v in only {
        let in_base = base.runs.iter().any(|r| &r.variant == v);
        if !in_base {
            return Err(CompareError::Missing {
                message: format!(
                    "--variants names `{v}`, but the baseline {base_path} has no runs of it \
                     (it has: {})",
                    variant_list(base)
                ),
            });
        }
    }
    let base_groups = groups(base, only);
    if base_groups.is_empty() {
        return Err(CompareError::Missing {
            message: format!("the baseline {base_path} has no runs to compare"),
        });
    }
    let mut cur_groups = groups(cur, only);
    let mut pairs = Vec::new();
    for (variant, point, base_runs) in base_groups {
        let found = cur_groups
            .iter()
            .position(|(v, p, _)| *v == variant && *p == point);
        let Some(i) = found else {
            let points: Vec<String> = cur_groups
                .iter()
                .filter(|(v, _, _)| *v == variant)
                .map(|(_, p, _)| p.clone())
                .collect();
            let message = if points.is_empty() {
                format!(
                    "the current result {cur_path} has no runs of variant `{variant}`, which \
                     the baseline {base_path} has at {point} (current variants: {}); run it \
                     with the baseline's variants, or compare a subset with --variants",
                    variant_list(cur)
                )
            } else {
                format!(
                    "the current result {cur_path} has variant `{variant}` only at {}, but the \
                     baseline {base_path} has it at {point}; run the same load points",
                    points.join(", ")
                )
            };
            return Err(CompareError::Missing { message });
        };
        let (_, _, cur_runs) = cur_groups.remove(i);
        pairs.push(Pair {
            variant,
            point,
            base: base_runs,
            cur: cur_runs,
        });
    }
    let notes = cur_groups
        .into_iter()
        .map(|(v, p, _)| format!("`{v}` at {p} is only in the current result: not compared"))
        .collect();
    Ok((pairs, notes))
}

fn variant_list(r: &RunResult) -> String {
    let mut names: Vec<&str> = Vec::new();
    for run in &r.runs {
        if !names.contains(&run.variant.as_str()) {
            names.push(&run.variant);
        }
    }
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}
