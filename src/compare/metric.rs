//! The metrics `compare` knows: their names (what `--fail-on` and `--metrics` accept), which
//! direction is better, their unit, and how each is read from one [`VariantRun`].
//!
//! Latency metrics are `<histogram>.<statistic>` (`e2e.p99`, `ttft.p50`, `queue.mean`, …) over
//! the recorder's histograms. The others are throughput, the Little's-law efficiency, error rate,
//! and the process figures, some normalised per request so runs of different length compare:
//! The non-latency figures, and how each is computed, are the catalogue's
//! ([`crate::metrics::catalogue`]): `compare` adds the `<histogram>.<statistic>` names.

use std::fmt;

pub use crate::metrics::catalogue::Direction;
use crate::metrics::catalogue::FIGURES as SIMPLE;
use crate::metrics::recorder::HISTOGRAMS;
use crate::result::VariantRun;

/// Statistics of a latency histogram (`Percentiles` fields, ms).
pub const LATENCY_STATS: [&str; 7] = ["p50", "p90", "p99", "p999", "mean", "min", "max"];

/// What a metric reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// Index into [`SIMPLE`].
    Simple(usize),
    /// A histogram's statistic.
    Latency {
        hist: &'static str,
        stat: &'static str,
    },
}

/// One comparable metric, by its public name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metric {
    source: Source,
}

impl Metric {
    /// Parses a metric name (`requests_per_s`, `e2e.p99`, …); the error lists what exists.
    pub fn parse(name: &str) -> Result<Metric, String> {
        let name = name.trim();
        if let Some(i) = SIMPLE.iter().position(|s| s.name == name) {
            return Ok(Metric {
                source: Source::Simple(i),
            });
        }
        if let Some((h, s)) = name.split_once('.') {
            let hist = HISTOGRAMS.iter().find(|x| **x == h);
            let stat = LATENCY_STATS.iter().find(|x| **x == s);
            match (hist, stat) {
                (Some(hist), Some(stat)) => {
                    return Ok(Metric {
                        source: Source::Latency { hist, stat },
                    });
                }
                (None, _) => {
                    return Err(format!(
                        "unknown histogram `{h}` in metric `{name}`: use one of {}",
                        HISTOGRAMS.join(", ")
                    ));
                }
                (_, None) => {
                    return Err(format!(
                        "unknown statistic `{s}` in metric `{name}`: use one of {}",
                        LATENCY_STATS.join(", ")
                    ));
                }
            }
        }
        Err(format!(
            "unknown metric `{name}`: use {}, or <histogram>.<statistic> such as e2e.p99 \
             (histograms: {}; statistics: {})",
            Metric::simple_names().join(", "),
            HISTOGRAMS.join(", "),
            LATENCY_STATS.join(", ")
        ))
    }

    /// The names of the non-latency metrics.
    pub fn simple_names() -> Vec<&'static str> {
        SIMPLE.iter().map(|s| s.name).collect()
    }

    /// The public name.
    pub fn name(&self) -> String {
        match self.source {
            Source::Simple(i) => SIMPLE[i].name.to_string(),
            Source::Latency { hist, stat } => format!("{hist}.{stat}"),
        }
    }

    /// Which way is better.
    pub fn direction(&self) -> Direction {
        match self.source {
            Source::Simple(i) => SIMPLE[i].direction,
            Source::Latency { .. } => Direction::LowerIsBetter,
        }
    }

    /// The unit of its values.
    pub fn unit(&self) -> &'static str {
        match self.source {
            Source::Simple(i) => SIMPLE[i].unit,
            Source::Latency { .. } => "ms",
        }
    }

    /// Its value in one run; `None` when the run has none (no successful request for a
    /// latency, no `--slo` for goodput, no mock statistics for the overhead).
    pub fn value(&self, run: &VariantRun) -> Option<f64> {
        let v = match self.source {
            Source::Simple(i) => (SIMPLE[i].read)(run)?,
            Source::Latency { hist, stat } => {
                let p = run.latency_ms.get(hist)?;
                if p.count == 0 {
                    return None;
                }
                match stat {
                    "p50" => p.p50,
                    "p90" => p.p90,
                    "p99" => p.p99,
                    "p999" => p.p999,
                    "mean" => p.mean,
                    "min" => p.min,
                    _ => p.max,
                }
            }
        };
        v.is_finite().then_some(v)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_directions() {
        for n in Metric::simple_names() {
            assert_eq!(Metric::parse(n).unwrap().name(), n);
        }
        let p99 = Metric::parse("e2e.p99").unwrap();
        assert_eq!(p99.name(), "e2e.p99");
        assert_eq!(p99.direction(), Direction::LowerIsBetter);
        assert_eq!(p99.unit(), "ms");
        let rps = Metric::parse(" requests_per_s ").unwrap();
        assert_eq!(rps.direction(), Direction::HigherIsBetter);
    }

    #[test]
    fn unknown_names_say_what_exists() {
        assert!(Metric::parse("latency").unwrap_err().contains("e2e.p99"));
        assert!(Metric::parse("e2e.p95").unwrap_err().contains("p999"));
        assert!(Metric::parse("e3e.p99").unwrap_err().contains("ttft"));
    }
}
