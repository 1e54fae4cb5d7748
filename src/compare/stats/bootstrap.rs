//! Percentile bootstrap of the change between two medians (Efron & Tibshirani, ch. 13).
//!
//! Each resample draws `n_base` values with replacement from the baseline repetitions and
//! `n_cur` from the current ones, takes both medians and the change between them. The
//! `(1 − confidence)/2` and `(1 + confidence)/2` quantiles of the resampled changes bound the
//! interval. With 3 repetitions per side the interval's ends are the extreme pairings (the
//! smallest current over the largest baseline and the reverse), so an interval that excludes
//! "no change" means every current repetition lies on one side of every baseline repetition:
//! a deliberately strict requirement for a shared, noisy machine.

use serde::Serialize;

use super::ChangeKind;
use super::median::median_in_place;
use super::rng::SplitMix64;

/// What the resamples say about the change.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Interval {
    /// Lower end of the interval (change units: a fraction for relative changes).
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// Share of resamples whose change is above zero.
    pub share_above_zero: f64,
    /// Share of resamples whose change is below zero.
    pub share_below_zero: f64,
}

/// The bootstrap settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Settings {
    /// Two-sided confidence level, e.g. 0.95.
    pub confidence: f64,
    /// Number of resamples.
    pub resamples: usize,
    /// Base seed (mixed with the row's key).
    pub seed: u64,
}

/// The interval of `kind`'s change from the median of `base` to the median of `cur`; `None`
/// when either side is empty.
pub fn median_change(
    base: &[f64],
    cur: &[f64],
    kind: ChangeKind,
    settings: &Settings,
    seed: u64,
) -> Option<Interval> {
    if base.is_empty() || cur.is_empty() || settings.resamples == 0 {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let mut b = vec![0.0; base.len()];
    let mut c = vec![0.0; cur.len()];
    let mut changes = Vec::with_capacity(settings.resamples);
    for _ in 0..settings.resamples {
        for x in b.iter_mut() {
            *x = base[rng.below(base.len())];
        }
        for x in c.iter_mut() {
            *x = cur[rng.below(cur.len())];
        }
        changes.push(kind.change(median_in_place(&mut b), median_in_place(&mut c)));
    }
    changes.sort_by(f64::total_cmp);
    let n = changes.len();
    let tail = (1.0 - settings.confidence.clamp(0.0, 1.0)) / 2.0;
    let at = |q: f64| changes[((q * (n - 1) as f64).round() as usize).min(n - 1)];
    let above = changes.iter().filter(|x| **x > 0.0).count();
    let below = changes.iter().filter(|x| **x < 0.0).count();
    Some(Interval {
        low: at(tail),
        high: at(1.0 - tail),
        share_above_zero: above as f64 / n as f64,
        share_below_zero: below as f64 / n as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Settings = Settings {
        confidence: 0.95,
        resamples: 10_000,
        seed: 1,
    };

    #[test]
    fn separated_samples_give_an_interval_away_from_zero() {
        let base = [100.0, 102.0, 98.0];
        let cur = [130.0, 128.0, 133.0];
        let i = median_change(&base, &cur, ChangeKind::Relative, &S, 7).unwrap();
        // The extreme pairings bound it: 128/102 − 1 and 133/98 − 1.
        assert!((i.low - (128.0 / 102.0 - 1.0)).abs() < 1e-9, "{i:?}");
        assert!((i.high - (133.0 / 98.0 - 1.0)).abs() < 1e-9, "{i:?}");
        assert_eq!(i.share_above_zero, 1.0);
    }

    #[test]
    fn overlapping_samples_straddle_zero() {
        let base = [100.0, 130.0, 90.0];
        let cur = [120.0, 95.0, 135.0];
        let i = median_change(&base, &cur, ChangeKind::Relative, &S, 7).unwrap();
        assert!(i.low < 0.0 && i.high > 0.0, "{i:?}");
        assert!(i.share_above_zero > 0.0 && i.share_below_zero > 0.0);
    }

    #[test]
    fn same_seed_same_interval() {
        let base = [1.0, 2.0, 3.0, 4.0, 5.0];
        let cur = [2.0, 3.0, 4.0, 5.0, 6.0];
        let a = median_change(&base, &cur, ChangeKind::Absolute, &S, 42);
        let b = median_change(&base, &cur, ChangeKind::Absolute, &S, 42);
        assert_eq!(a, b);
        assert!(median_change(&[], &cur, ChangeKind::Absolute, &S, 42).is_none());
    }
}
