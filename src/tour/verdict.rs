//! The verdict of a claim, computed from measured numbers and nothing else.
//!
//! An experiment turns its measurements into [`Check`]s: one comparison each ("sequential took at
//! least 1.8× one request"), with the measured value, the bound it was held to and a [`Role`].
//! [`decide`] folds them into a [`Verdict`]:
//!
//! - every check passes → **confirmed**;
//! - every *core* check passes but a *detail* fails → **qualified** (the heart of the claim holds,
//!   a part of it does not, as measured here);
//! - any core check fails → **not confirmed**.
//!
//! Bounds are generous on purpose (a loaded 2-core laptop must not flip a verdict), and each is
//! derived from the injected latency model, never from a figure measured once and pasted in.
//! Everything here is pure, so tests feed it fixture numbers.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What the measurements say about a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Every check passed.
    #[serde(rename = "confirmed")]
    Confirmed,
    /// The core of the claim holds; a detail of it does not.
    #[serde(rename = "qualified")]
    Qualified,
    /// A core check failed.
    #[serde(rename = "not confirmed")]
    NotConfirmed,
}

impl Verdict {
    /// `confirmed`, `qualified` or `not confirmed`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Confirmed => "confirmed",
            Verdict::Qualified => "qualified",
            Verdict::NotConfirmed => "not confirmed",
        }
    }

    /// The label in capitals, for terminal output.
    pub fn shout(self) -> &'static str {
        match self {
            Verdict::Confirmed => "CONFIRMED",
            Verdict::Qualified => "QUALIFIED",
            Verdict::NotConfirmed => "NOT CONFIRMED",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// How much a check weighs in the verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// The heart of the claim: failing it means "not confirmed".
    #[serde(rename = "core")]
    Core,
    /// A part or a consequence of the claim: failing it means "qualified".
    #[serde(rename = "detail")]
    Detail,
}

/// One measured comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// What is checked, in words ("sequential takes the sum of both requests").
    pub what: String,
    /// The measured value, formatted with its unit.
    pub measured: String,
    /// The bound it was held to, formatted with its unit ("≥ 270 ms").
    pub expected: String,
    /// Core or detail.
    pub role: Role,
    /// Whether the measurement met the bound.
    pub pass: bool,
}

impl Check {
    /// A check whose outcome was computed by the caller.
    pub fn new(
        what: impl Into<String>,
        measured: impl Into<String>,
        expected: impl Into<String>,
        role: Role,
        pass: bool,
    ) -> Check {
        Check {
            what: what.into(),
            measured: measured.into(),
            expected: expected.into(),
            role,
            pass,
        }
    }

    /// `value ≥ bound`, both shown with `unit` (a non-finite value fails).
    pub fn at_least(what: &str, value: f64, bound: f64, unit: &str, role: Role) -> Check {
        Check::new(
            what,
            format!("{}{unit}", num(value)),
            format!("≥ {}{unit}", num(bound)),
            role,
            value.is_finite() && value >= bound,
        )
    }

    /// `value ≤ bound`, both shown with `unit` (a non-finite value fails).
    pub fn at_most(what: &str, value: f64, bound: f64, unit: &str, role: Role) -> Check {
        Check::new(
            what,
            format!("{}{unit}", num(value)),
            format!("≤ {}{unit}", num(bound)),
            role,
            value.is_finite() && value <= bound,
        )
    }

    /// `lo ≤ value ≤ hi`.
    pub fn within(what: &str, value: f64, lo: f64, hi: f64, unit: &str, role: Role) -> Check {
        Check::new(
            what,
            format!("{}{unit}", num(value)),
            format!("{}–{}{unit}", num(lo), num(hi)),
            role,
            value.is_finite() && value >= lo && value <= hi,
        )
    }
}

/// Folds checks into a verdict (see the module doc). No checks at all is "not confirmed": a
/// claim nothing was measured for is not confirmed by anything.
pub fn decide(checks: &[Check]) -> Verdict {
    if checks.is_empty() || checks.iter().any(|c| c.role == Role::Core && !c.pass) {
        Verdict::NotConfirmed
    } else if checks.iter().all(|c| c.pass) {
        Verdict::Confirmed
    } else {
        Verdict::Qualified
    }
}

/// The checks that failed (of `role`, or all when None), each quoted with what was measured
/// and the bound it missed: `“what”: measured 1.9×, bound ≤ 1.3×`, joined by "; ".
pub fn failed_text(checks: &[Check], role: Option<Role>) -> String {
    let quoted: Vec<String> = checks
        .iter()
        .filter(|c| !c.pass && role.is_none_or(|r| c.role == r))
        .map(|c| {
            format!(
                "\u{201c}{}\u{201d}: measured {}, bound {}",
                c.what, c.measured, c.expected
            )
        })
        .collect();
    quoted.join("; ")
}

/// How an explanation reads the numbers it has just quoted, by the verdict the checks give:
///
/// - **confirmed**: `why`, the claim's mechanism written from the numbers;
/// - **qualified**: `why`, then the details that did not hold, quoted with value and bound;
/// - **not confirmed**: never `why`: the failed core checks, quoted, and that this run does
///   not show the claimed effect.
///
/// So an explanation tells the expected story only when this run's numbers support it.
pub fn reading(checks: &[Check], why: &str) -> String {
    match decide(checks) {
        Verdict::Confirmed => why.to_string(),
        Verdict::Qualified => format!(
            "{why} Not every part of the claim held here: {}.",
            failed_text(checks, Some(Role::Detail))
        ),
        Verdict::NotConfirmed if checks.is_empty() => {
            "Nothing was measured that could confirm the claim.".to_string()
        }
        Verdict::NotConfirmed => format!(
            "These numbers do not confirm the claim: {}. The mechanism the claim describes \
             would have produced different numbers, so it is not offered as their explanation; \
             the machine's load during the experiment (above) or a different setup can produce \
             results like these.",
            failed_text(checks, Some(Role::Core))
        ),
    }
}

/// `a / b`, or NaN when `b` is not a positive number (a ratio of nothing fails every check).
pub fn ratio(a: f64, b: f64) -> f64 {
    if b.is_finite() && b > 0.0 && a.is_finite() {
        a / b
    } else {
        f64::NAN
    }
}

/// A number for text: three significant figures at most, no trailing zeros, `n/a` when it is
/// not finite.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let a = v.abs();
    let s = if a >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(role: Role, pass: bool) -> Check {
        Check::new("x", "1", "≥ 1", role, pass)
    }

    #[test]
    fn all_pass_is_confirmed() {
        let c = [check(Role::Core, true), check(Role::Detail, true)];
        assert_eq!(decide(&c), Verdict::Confirmed);
    }

    #[test]
    fn a_failed_detail_qualifies() {
        let c = [check(Role::Core, true), check(Role::Detail, false)];
        assert_eq!(decide(&c), Verdict::Qualified);
    }

    #[test]
    fn a_failed_core_check_wins() {
        let c = [check(Role::Core, false), check(Role::Detail, true)];
        assert_eq!(decide(&c), Verdict::NotConfirmed);
        assert_eq!(decide(&[]), Verdict::NotConfirmed);
    }

    #[test]
    fn bounds_and_nan() {
        assert!(Check::at_least("a", 2.0, 2.0, "", Role::Core).pass);
        assert!(!Check::at_least("a", f64::NAN, 0.0, "", Role::Core).pass);
        assert!(!Check::at_most("a", f64::NAN, 10.0, "", Role::Core).pass);
        assert!(Check::within("a", 1.5, 1.0, 2.0, "", Role::Core).pass);
        assert!(!Check::within("a", 2.5, 1.0, 2.0, "", Role::Core).pass);
        assert!(ratio(1.0, 0.0).is_nan());
        assert_eq!(num(1234.6), "1235");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(2.0), "2");
        assert_eq!(num(0.1234), "0.123");
        assert_eq!(num(f64::INFINITY), "n/a");
    }
}
