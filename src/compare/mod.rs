//! `ragperf compare BASELINE CURRENT`: regression verdicts for CI (docs/design.md §1, issue 5).
//!
//! Reads two `result.json` files, pairs their runs by variant and load point ([`pairing`]),
//! reads every shown metric from every repetition ([`metric`]), and decides per metric whether
//! the current side regressed, improved or stayed within noise ([`verdict`]): with ≥ 3
//! repetitions per side by a seeded bootstrap interval of the median change ([`stats`]), else
//! by the limit alone. Only gated metrics ([`gates`]) decide the exit code: 0 no gated
//! regression, 1 a gated regression, 2 a usage error, an unreadable file, a schema mismatch or a
//! variant missing from the current file. [`markdown`] renders the PR comment; `--json` prints
//! [`Comparison`] itself. [`baseline`] writes the slim baseline file CI compares against.

pub(crate) mod baseline;
pub(crate) mod gates;
pub(crate) mod markdown;
pub(crate) mod metric;
pub(crate) mod pairing;
pub(crate) mod stats;
pub(crate) mod verdict;

use std::path::Path;

use serde::Serialize;

use gates::GateSet;
use metric::{Direction, Metric};
use stats::bootstrap::Settings;
use stats::rng::seed_of;
use verdict::{Decision, Evidence, Verdict};

use crate::result::RunResult;

/// Seed of every bootstrap ("ragperf!" in ASCII), mixed with each row's key.
pub const BOOTSTRAP_SEED: u64 = 0x7261_6770_6572_6621;

/// Schema of `--json` output.
pub const COMPARE_SCHEMA: &str = "ragperf.compare.v1";

/// Why there is no comparison (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// A file could not be read or is not a result of this schema.
    #[error("{0}")]
    Input(String),
    /// A flag or the thresholds file is wrong.
    #[error("{0}")]
    Usage(String),
    /// The files do not hold the same variants and points.
    #[error("{message}")]
    Missing {
        /// What is missing, naming the file.
        message: String,
    },
}

/// One side of the comparison.
#[derive(Clone, Debug, Serialize)]
pub struct Side {
    /// The file.
    pub path: String,
    /// When it was measured.
    pub created_at: String,
    /// Most repetitions of any variant × point.
    pub repetitions: usize,
}

/// One metric of one variant × load point.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Variant name.
    pub variant: String,
    /// Load point label.
    pub point: String,
    /// Metric name.
    pub metric: String,
    /// Unit of the values.
    pub unit: &'static str,
    /// Which way is better.
    pub direction: Direction,
    /// The limit, written in the bad direction (`+10%`), or the noise limit when not gated.
    pub limit: String,
    /// Whether this row can fail the comparison.
    pub gated: bool,
    /// Every baseline repetition's value.
    pub baseline_samples: Vec<f64>,
    /// Every current repetition's value.
    pub current_samples: Vec<f64>,
    /// Medians, change, verdict and evidence.
    #[serde(flatten)]
    pub decision: Decision,
}

/// The whole comparison (`--json`).
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// Always [`COMPARE_SCHEMA`].
    pub schema: &'static str,
    /// The reference.
    pub baseline: Side,
    /// The run judged.
    pub current: Side,
    /// The bootstrap settings.
    pub bootstrap: Settings,
    /// Repetitions per side needed for the bootstrap.
    pub min_repetitions: usize,
    /// Where the gates came from.
    pub gates: String,
    /// Every row, by variant × point, then metric.
    pub rows: Vec<Row>,
    /// Gated rows that regressed.
    pub regressions: usize,
    /// Rows (gated or not) that improved.
    pub improvements: usize,
    /// Things a reader should know (differing scenarios, extra variants, partial files).
    pub notes: Vec<String>,
    /// True when no gated metric regressed.
    pub passed: bool,
}

/// What to compare and how.
#[derive(Clone, Debug)]
pub struct Options {
    /// Gates and the noise limit.
    pub gates: GateSet,
    /// Metrics to show (gated ones are added).
    pub metrics: Vec<Metric>,
    /// Only these variants (empty: all).
    pub variants: Vec<String>,
    /// Bootstrap settings.
    pub bootstrap: Settings,
}

/// Reads a result file, mapping errors to exit-code-2 errors that name the file and its role.
pub fn read(path: &Path, role: &str) -> Result<RunResult, CompareError> {
    RunResult::read(path).map_err(|e| CompareError::Input(format!("{role}: {e}")))
}

fn side(path: &str, r: &RunResult, pairs: &[pairing::Pair<'_>], baseline: bool) -> Side {
    let repetitions = pairs
        .iter()
        .map(|p| if baseline { p.base.len() } else { p.cur.len() })
        .max()
        .unwrap_or(0);
    Side {
        path: path.into(),
        created_at: r.created_at.clone(),
        repetitions,
    }
}

/// Compares `cur` against `base`.
pub fn compare(
    base: &RunResult,
    base_path: &str,
    cur: &RunResult,
    cur_path: &str,
    opts: &Options,
) -> Result<Comparison, CompareError> {
    let (pairs, mut notes) = pairing::pair(base, base_path, cur, cur_path, &opts.variants)?;
    notes.extend(context_notes(base, base_path, cur, cur_path));
    let mut shown = opts.metrics.clone();
    for m in opts.gates.gated_metrics() {
        if !shown.contains(&m) {
            shown.push(m);
        }
    }
    let mut rows = Vec::new();
    for p in &pairs {
        for metric in &shown {
            let values = |runs: &[&crate::result::VariantRun]| -> Vec<f64> {
                runs.iter().filter_map(|r| metric.value(r)).collect()
            };
            let (b, c) = (values(&p.base), values(&p.cur));
            let gate = opts.gates.gate_for(&p.variant, metric);
            let limit = gate.unwrap_or(opts.gates.noise);
            let key = format!("{} {} {}", p.variant, p.point, metric);
            let seed = opts.bootstrap.seed ^ seed_of(&key);
            let mut decision =
                verdict::decide(&b, &c, metric.direction(), limit, &opts.bootstrap, seed);
            // A gated value that disappeared (e.g. no request succeeded, so no latency) is
            // a regression, not a skipped row.
            if gate.is_some() && !b.is_empty() && c.is_empty() {
                decision.verdict = Verdict::Regressed;
                decision.evidence = Evidence::Missing {
                    reason: "the current result has no value (no successful request?)".into(),
                };
            }
            rows.push(Row {
                variant: p.variant.clone(),
                point: p.point.clone(),
                metric: metric.name(),
                unit: metric.unit(),
                direction: metric.direction(),
                limit: limit.display(metric.direction()),
                gated: gate.is_some(),
                baseline_samples: b,
                current_samples: c,
                decision,
            });
        }
    }
    let regressions = rows
        .iter()
        .filter(|r| r.gated && r.decision.verdict == Verdict::Regressed)
        .count();
    let improvements = rows
        .iter()
        .filter(|r| r.decision.verdict == Verdict::Improved)
        .count();
    Ok(Comparison {
        schema: COMPARE_SCHEMA,
        baseline: side(base_path, base, &pairs, true),
        current: side(cur_path, cur, &pairs, false),
        bootstrap: opts.bootstrap,
        min_repetitions: verdict::MIN_REPETITIONS,
        gates: opts.gates.source.clone(),
        rows,
        regressions,
        improvements,
        notes,
        passed: regressions == 0,
    })
}

/// Differences that make a comparison less meaningful, said once.
fn context_notes(
    base: &RunResult,
    base_path: &str,
    cur: &RunResult,
    cur_path: &str,
) -> Vec<String> {
    let mut notes = Vec::new();
    for (r, path) in [(base, base_path), (cur, cur_path)] {
        if r.partial {
            notes.push(format!(
                "{path} is partial (interrupted or failed): it lacks some planned runs"
            ));
        }
    }
    let sections = |r: &RunResult| serde_json::to_value(&r.scenario).ok();
    if let (Some(serde_json::Value::Object(a)), Some(serde_json::Value::Object(b))) =
        (sections(base), sections(cur))
    {
        // Which variants ran is the pairing's business, not a scenario difference.
        let strip = |v: Option<&serde_json::Value>| {
            v.cloned().map(|mut v| {
                if let Some(o) = v.as_object_mut() {
                    o.remove("variants");
                }
                v
            })
        };
        let differ: Vec<&str> = a
            .iter()
            .filter(|(k, v)| strip(Some(v)) != strip(b.get(k.as_str())))
            .map(|(k, _)| k.as_str())
            .collect();
        if !differ.is_empty() {
            notes.push(format!(
                "the scenarios differ in: {} (intended if that is the change under test)",
                differ.join(", ")
            ));
        }
    }
    if base.backends.mode != cur.backends.mode {
        notes.push(format!(
            "backends differ: {} in the baseline, {} in the current result",
            base.backends.mode, cur.backends.mode
        ));
    }
    let (bm, cm) = (&base.machine, &cur.machine);
    if !bm.build_profile.is_empty()
        && !cm.build_profile.is_empty()
        && bm.build_profile != cm.build_profile
    {
        notes.push(format!(
            "build profiles differ: the baseline was measured with a {} build, the current result \
             with a {} build; CPU and latency figures are not comparable (record both with the \
             same build)",
            bm.build_profile, cm.build_profile
        ));
    }
    if bm.cores != cm.cores || bm.cpu_model != cm.cpu_model {
        notes.push(format!(
            "machines differ: {} cores {} vs {} cores {}; wall-clock metrics are not comparable",
            bm.cores, bm.cpu_model, cm.cores, cm.cpu_model
        ));
    }
    notes
}
