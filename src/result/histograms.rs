//! Reading the serialised histograms back out of a [`RunResult`], with errors that name the
//! variant, load point and metric, so a damaged result file still renders everything else.
//!
//! The `.hgrm` files and the spectrum and distribution charts need the full histograms; the
//! tables need only the percentiles already stored beside them. [`check`] decodes every
//! histogram once so a missing or corrupt one is reported once, whichever outputs are written.

use hdrhistogram::Histogram;
use mock_services::hist;

use crate::metrics::recorder::HISTOGRAMS;
use crate::result::{RunResult, VariantRun};

/// Percentile ticks per half distance to 100%, as HdrHistogram's tools default to (the `.hgrm`
/// files and the spectrum charts).
pub const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// A histogram of a result that could not be used.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum HistogramError {
    /// The result has no histogram of this name for this run.
    #[error(
        "histogram `{metric}` of variant `{variant}` at {point} (repetition {repetition}) is missing from the result file; charts and .hgrm files leave it out"
    )]
    Missing {
        /// Variant name.
        variant: String,
        /// Load point label (`c=8`).
        point: String,
        /// Repetition index.
        repetition: u32,
        /// Histogram name (`e2e`, `ttft`, …).
        metric: String,
    },
    /// The histogram is there but does not decode.
    #[error(
        "histogram `{metric}` of variant `{variant}` at {point} (repetition {repetition}) is corrupt ({reason}); charts and .hgrm files leave it out"
    )]
    Corrupt {
        /// Variant name.
        variant: String,
        /// Load point label.
        point: String,
        /// Repetition index.
        repetition: u32,
        /// Histogram name.
        metric: String,
        /// The decoder's message.
        reason: String,
    },
}

impl HistogramError {
    /// A short name of the broken histogram, e.g. `histogram sync c=8 e2e`.
    pub fn what(&self) -> String {
        match self {
            HistogramError::Missing {
                variant,
                point,
                metric,
                ..
            }
            | HistogramError::Corrupt {
                variant,
                point,
                metric,
                ..
            } => format!("histogram {variant} {point} {metric}"),
        }
    }
}

/// Decodes histogram `metric` (µs) of one run.
pub fn decode(run: &VariantRun, metric: &str) -> Result<Histogram<u64>, HistogramError> {
    let encoded = run
        .histograms
        .get(metric)
        .ok_or_else(|| HistogramError::Missing {
            variant: run.variant.clone(),
            point: run.point.label(),
            repetition: run.repetition,
            metric: metric.to_string(),
        })?;
    let corrupt = |reason: String| HistogramError::Corrupt {
        variant: run.variant.clone(),
        point: run.point.label(),
        repetition: run.repetition,
        metric: metric.to_string(),
        reason,
    };
    let h = hist::decode_b64(encoded).map_err(|e| corrupt(e.to_string()))?;
    // The decoder saturates the total at u64::MAX; counts that add up to more than that make
    // every percentile walk overflow (a panic in debug builds, nonsense in release). No run
    // records 2^64 values, so such a payload is corrupt (found by the `result` fuzz target).
    if h.len() == u64::MAX {
        return Err(corrupt("its counts add up to 2^64 or more".into()));
    }
    Ok(h)
}

/// Histogram `metric` of several runs (the repetitions of one variant at one point) merged into
/// one; runs whose histogram is missing or corrupt are left out ([`check`] reports them). None
/// when no run had a usable, non-empty histogram.
pub fn merged(runs: &[&VariantRun], metric: &str) -> Option<Histogram<u64>> {
    let mut out: Option<Histogram<u64>> = None;
    for run in runs {
        let Ok(h) = decode(run, metric) else { continue };
        match out.as_mut() {
            None => out = Some(h),
            // Both come from `hist::new_us` with auto-resize on, so adding cannot overflow the
            // range; a failure would only drop this repetition.
            Some(acc) => {
                let _ = acc.add(&h);
            }
        }
    }
    out.filter(|h| !h.is_empty())
}

/// Every histogram the recorder writes (`e2e`, `queue`, … `generate`) of every run, decoded once:
/// the missing and corrupt ones.
pub fn check(result: &RunResult) -> Vec<HistogramError> {
    let mut problems = Vec::new();
    for run in &result.runs {
        let mut names: Vec<&str> = HISTOGRAMS.to_vec();
        for extra in run.histograms.keys() {
            if !names.contains(&extra.as_str()) {
                names.push(extra);
            }
        }
        for metric in names {
            if let Err(e) = decode(run, metric) {
                problems.push(e);
            }
        }
    }
    problems
}
