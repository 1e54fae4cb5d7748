//! The statistics behind a verdict, one concept per file: the [`median`], a seeded [`rng`], the
//! [`bootstrap`] interval of a change between two medians, and how a change is measured
//! ([`ChangeKind`]).

pub(crate) mod bootstrap;
pub(crate) mod median;
pub(crate) mod rng;

use serde::Serialize;

/// How a change between a baseline and a current value is expressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// `current / baseline − 1` (a fraction; +0.10 is 10 % more).
    Relative,
    /// `current − baseline`, in the metric's unit.
    Absolute,
}

impl ChangeKind {
    /// The change from `base` to `cur`. A relative change from a zero baseline is 0 when the
    /// current value is zero too, else ±infinity (it appeared from nothing).
    pub fn change(self, base: f64, cur: f64) -> f64 {
        match self {
            ChangeKind::Absolute => cur - base,
            ChangeKind::Relative if base == 0.0 => {
                if cur == 0.0 {
                    0.0
                } else {
                    f64::INFINITY.copysign(cur)
                }
            }
            ChangeKind::Relative => cur / base - 1.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes() {
        assert!((ChangeKind::Relative.change(100.0, 130.0) - 0.3).abs() < 1e-12);
        assert!((ChangeKind::Relative.change(100.0, 95.0) + 0.05).abs() < 1e-12);
        assert_eq!(ChangeKind::Relative.change(0.0, 0.0), 0.0);
        assert_eq!(ChangeKind::Relative.change(0.0, 0.2), f64::INFINITY);
        assert!((ChangeKind::Absolute.change(0.01, 0.03) - 0.02).abs() < 1e-12);
    }
}
