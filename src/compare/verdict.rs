//! The decision for one metric of one variant × load point.
//!
//! The estimate is the change between the medians of the repetitions. With at least
//! [`MIN_REPETITIONS`] repetitions on both sides, a change counts only when it is both *large*
//! (beyond the metric's limit) and *sure* (the bootstrap interval of the median change lies
//! entirely on that side of zero); otherwise it is "within noise". With fewer repetitions there
//! is no spread to judge sureness by, and the limit alone decides.

use serde::Serialize;

use super::gates::Limit;
use super::metric::Direction;
use super::stats::ChangeKind;
use super::stats::bootstrap::{self, Settings};
use super::stats::median::median;

/// Repetitions per side needed for the bootstrap (with fewer: the limit alone).
pub const MIN_REPETITIONS: usize = 3;

/// What happened to a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Worse by more than the limit (and surely so, with repetitions).
    Regressed,
    /// Better by more than the limit (and surely so, with repetitions).
    Improved,
    /// Neither.
    WithinNoise,
    /// No value on one side or both.
    NotCompared,
}

impl Verdict {
    /// How the Markdown table says it: plain words (no emoji, which render as empty boxes
    /// without an emoji font). An ungated row only moved beyond the noise limit: it is
    /// "worse"/"better", never "regressed", which is what gates decide.
    pub fn label(self, gated: bool) -> &'static str {
        match (self, gated) {
            (Verdict::Regressed, true) => "REGRESSED",
            (Verdict::Improved, true) => "improved",
            (Verdict::Regressed, false) => "worse (not gated)",
            (Verdict::Improved, false) => "better (not gated)",
            (Verdict::WithinNoise, _) => "within noise",
            (Verdict::NotCompared, _) => "not compared",
        }
    }
}

/// Why the verdict is what it is.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Evidence {
    /// Bootstrap interval of the median change.
    Bootstrap {
        /// Lower end (change units).
        low: f64,
        /// Upper end.
        high: f64,
        /// Confidence level of the interval.
        confidence: f64,
        /// Share of resamples on the worse side of zero (a bootstrap estimate of how sure
        /// "it got worse" is).
        share_worse: f64,
    },
    /// Too few repetitions for an interval: the limit alone.
    Threshold,
    /// Nothing to compare, and why.
    Missing {
        /// Why.
        reason: String,
    },
}

/// The decision.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    /// The verdict.
    pub verdict: Verdict,
    /// Median of the baseline repetitions.
    pub baseline: Option<f64>,
    /// Median of the current repetitions.
    pub current: Option<f64>,
    /// The change (a fraction when relative, metric units when absolute).
    pub change: Option<f64>,
    /// How `change` is measured.
    pub change_kind: ChangeKind,
    /// The evidence (flattened: `method` and its fields).
    #[serde(flatten)]
    pub evidence: Evidence,
}

/// Decides for samples `base` and `cur` (one value per repetition).
pub fn decide(
    base: &[f64],
    cur: &[f64],
    direction: Direction,
    limit: Limit,
    settings: &Settings,
    seed: u64,
) -> Decision {
    let (kind, allowed) = match limit {
        Limit::Change { kind, amount } => (kind, amount),
        // An ungated row is still described, against no limit.
        Limit::Off => (ChangeKind::Relative, f64::INFINITY),
    };
    let (mb, mc) = (median(base), median(cur));
    let (b, c) = match (mb, mc) {
        (Some(b), Some(c)) => (b, c),
        _ => return not_compared(mb, mc, kind),
    };
    let change = kind.change(b, c);
    // Positive = worse, whichever way the metric goes.
    let worse = match direction {
        Direction::LowerIsBetter => 1.0,
        Direction::HigherIsBetter => -1.0,
    };
    let badness = change * worse;
    let (verdict, evidence) = if base.len() >= MIN_REPETITIONS && cur.len() >= MIN_REPETITIONS {
        match bootstrap::median_change(base, cur, kind, settings, seed) {
            Some(i) => {
                let (worse_low, worse_high, share_worse) = if worse > 0.0 {
                    (i.low, i.high, i.share_above_zero)
                } else {
                    (-i.high, -i.low, i.share_below_zero)
                };
                let verdict = if badness > allowed && worse_low > 0.0 {
                    Verdict::Regressed
                } else if -badness > allowed && worse_high < 0.0 {
                    Verdict::Improved
                } else {
                    Verdict::WithinNoise
                };
                let evidence = Evidence::Bootstrap {
                    low: i.low,
                    high: i.high,
                    confidence: settings.confidence,
                    share_worse,
                };
                (verdict, evidence)
            }
            None => (Verdict::WithinNoise, Evidence::Threshold),
        }
    } else {
        (by_threshold(badness, allowed), Evidence::Threshold)
    };
    Decision {
        verdict,
        baseline: Some(b),
        current: Some(c),
        change: Some(change),
        change_kind: kind,
        evidence,
    }
}

/// The decision when a side has no value: not compared, saying which side lacks one.
fn not_compared(mb: Option<f64>, mc: Option<f64>, kind: ChangeKind) -> Decision {
    let reason = match (mb, mc) {
        (None, None) => "no value on either side",
        (None, _) => "no value in the baseline",
        _ => "no value in the current result",
    };
    Decision {
        verdict: Verdict::NotCompared,
        baseline: mb,
        current: mc,
        change: None,
        change_kind: kind,
        evidence: Evidence::Missing {
            reason: reason.into(),
        },
    }
}

/// The verdict from the change alone (too few repetitions for a bootstrap): `badness` is the
/// change signed so that positive is worse.
fn by_threshold(badness: f64, allowed: f64) -> Verdict {
    if badness > allowed {
        Verdict::Regressed
    } else if -badness > allowed {
        Verdict::Improved
    } else {
        Verdict::WithinNoise
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Settings = Settings {
        confidence: 0.95,
        resamples: 10_000,
        seed: 3,
    };
    const TEN: Limit = Limit::Change {
        kind: ChangeKind::Relative,
        amount: 0.10,
    };

    #[test]
    fn single_runs_use_the_limit() {
        let d = decide(&[100.0], &[130.0], Direction::LowerIsBetter, TEN, &S, 1);
        assert_eq!(d.verdict, Verdict::Regressed);
        assert_eq!(d.evidence, Evidence::Threshold);
        let d = decide(&[100.0], &[105.0], Direction::LowerIsBetter, TEN, &S, 1);
        assert_eq!(d.verdict, Verdict::WithinNoise);
        // Throughput down 20 %: regressed; up 20 %: improved.
        let d = decide(&[100.0], &[80.0], Direction::HigherIsBetter, TEN, &S, 1);
        assert_eq!(d.verdict, Verdict::Regressed);
        let d = decide(&[100.0], &[120.0], Direction::HigherIsBetter, TEN, &S, 1);
        assert_eq!(d.verdict, Verdict::Improved);
    }

    #[test]
    fn repetitions_need_a_sure_and_large_change() {
        let base = [100.0, 103.0, 98.0];
        let d = decide(
            &base,
            &[130.0, 127.0, 135.0],
            Direction::LowerIsBetter,
            TEN,
            &S,
            1,
        );
        assert_eq!(d.verdict, Verdict::Regressed);
        assert!(
            matches!(d.evidence, Evidence::Bootstrap { share_worse, .. } if share_worse == 1.0)
        );
        // Large median change, overlapping repetitions: not sure.
        let d = decide(
            &[100.0, 130.0, 90.0],
            &[120.0, 95.0, 135.0],
            Direction::LowerIsBetter,
            TEN,
            &S,
            1,
        );
        assert_eq!(d.verdict, Verdict::WithinNoise);
        // Sure but small: within noise.
        let d = decide(
            &base,
            &[104.0, 106.0, 105.0],
            Direction::LowerIsBetter,
            TEN,
            &S,
            1,
        );
        assert_eq!(d.verdict, Verdict::WithinNoise);
        // Throughput up, surely and largely.
        let d = decide(
            &base,
            &[130.0, 127.0, 135.0],
            Direction::HigherIsBetter,
            TEN,
            &S,
            1,
        );
        assert_eq!(d.verdict, Verdict::Improved);
    }

    #[test]
    fn missing_values_are_not_compared() {
        let d = decide(&[1.0], &[], Direction::LowerIsBetter, TEN, &S, 1);
        assert_eq!(d.verdict, Verdict::NotCompared);
        assert!(
            matches!(d.evidence, Evidence::Missing { ref reason } if reason.contains("current"))
        );
    }
}
