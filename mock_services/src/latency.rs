//! Latency and count distributions shared by both mocks.
//!
//! A [`Dist`] is written in a scenario file either as a bare number (a fixed value) or as a table
//! tagged by `dist`:
//!
//! ```toml
//! search_ms     = 100                                          # fixed
//! ttft_ms       = { dist = "lognormal", median = 400, p99 = 1500 }
//! itl_ms        = { dist = "normal", mean = 30, stddev = 5 }  # truncated at 0
//! output_tokens = { dist = "uniform", min = 60, max = 150 }
//! slow_ms       = { dist = "pareto", scale = 20, shape = 1.5 }
//! ```
//!
//! The unit lives in the key's name (`_ms`, `_tokens`), never in the distribution itself, so one
//! type serves latencies and counts. Every field is validated while the file is parsed, so a
//! mistake is reported with the key path (by the TOML parser) and the fix (by this module).

use std::fmt;
use std::time::Duration;

use rand::Rng;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// z-score of the 99th percentile of the standard normal distribution.
const Z_P99: f64 = 2.326_347_874_040_841;

/// A distribution of non-negative values: a latency in milliseconds or a count.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "dist", rename_all = "lowercase")]
pub enum Dist {
    /// Always `value`.
    Fixed {
        /// The value.
        value: f64,
    },
    /// Uniform on `[min, max]`.
    Uniform {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// Normal with `mean` and `stddev`, truncated at 0 (negative draws are drawn again).
    Normal {
        /// Mean before truncation.
        mean: f64,
        /// Standard deviation before truncation.
        stddev: f64,
    },
    /// Log-normal given its median and its 99th percentile (`p99 >= median`).
    Lognormal {
        /// The median (50th percentile).
        median: f64,
        /// The 99th percentile.
        p99: f64,
    },
    /// Pareto (type I): never below `scale`, tail index `shape` (smaller is heavier).
    Pareto {
        /// The minimum value `x_m`.
        scale: f64,
        /// The tail index `alpha` (> 0; the mean is finite only when > 1).
        shape: f64,
    },
}

/// A distribution that failed validation, with the fix.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct DistError(pub String);

impl Dist {
    /// A fixed value.
    pub const fn fixed(value: f64) -> Self {
        Dist::Fixed { value }
    }

    /// Checks every parameter; the error says which one and how to fix it.
    pub fn validate(&self) -> Result<(), DistError> {
        let finite_non_negative = |name: &str, v: f64| {
            if !v.is_finite() || v < 0.0 {
                Err(DistError(format!(
                    "`{name}` must be a finite number >= 0, got {v}"
                )))
            } else {
                Ok(())
            }
        };
        match *self {
            Dist::Fixed { value } => finite_non_negative("value", value),
            Dist::Uniform { min, max } => {
                finite_non_negative("min", min)?;
                finite_non_negative("max", max)?;
                if min > max {
                    return Err(DistError(format!(
                        "uniform needs `min <= max`, got min = {min}, max = {max}: swap them"
                    )));
                }
                Ok(())
            }
            Dist::Normal { mean, stddev } => {
                finite_non_negative("mean", mean)?;
                finite_non_negative("stddev", stddev)
            }
            Dist::Lognormal { median, p99 } => {
                finite_non_negative("median", median)?;
                finite_non_negative("p99", p99)?;
                if median <= 0.0 {
                    return Err(DistError(
                        "lognormal needs `median > 0`; for a constant use a bare number".into(),
                    ));
                }
                if p99 < median {
                    return Err(DistError(format!(
                        "lognormal needs `p99 >= median`, got median = {median}, p99 = {p99}"
                    )));
                }
                Ok(())
            }
            Dist::Pareto { scale, shape } => {
                finite_non_negative("scale", scale)?;
                if !shape.is_finite() || shape <= 0.0 {
                    return Err(DistError(format!(
                        "pareto needs `shape > 0` (1.1 to 3 is typical), got {shape}"
                    )));
                }
                Ok(())
            }
        }
    }

    /// Draws one value (never negative).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let v = match *self {
            Dist::Fixed { value } => value,
            Dist::Uniform { min, max } => {
                if max > min {
                    rng.random_range(min..=max)
                } else {
                    min
                }
            }
            Dist::Normal { mean, stddev } => {
                // Truncation by rejection; after many misses (a mean far below 0) fall back to 0.
                let mut out = 0.0;
                for _ in 0..64 {
                    let x = mean + stddev * standard_normal(rng);
                    if x >= 0.0 {
                        out = x;
                        break;
                    }
                }
                out
            }
            Dist::Lognormal { median, p99 } => {
                let sigma = (p99 / median).ln() / Z_P99;
                median * (sigma * standard_normal(rng)).exp()
            }
            Dist::Pareto { scale, shape } => {
                // Inverse CDF: x_m / U^(1/alpha), U in (0, 1].
                let u: f64 = 1.0 - rng.random::<f64>();
                scale / u.powf(1.0 / shape)
            }
        };
        if v.is_finite() { v.max(0.0) } else { f64::MAX }
    }

    /// Draws a latency: the value is in milliseconds and multiplied by `time_scale`.
    pub fn sample_duration<R: Rng + ?Sized>(&self, rng: &mut R, time_scale: f64) -> Duration {
        ms_to_duration(self.sample(rng) * time_scale)
    }

    /// Draws a count, rounded to the nearest integer and at least `min`.
    pub fn sample_count<R: Rng + ?Sized>(&self, rng: &mut R, min: u32) -> u32 {
        let v = self.sample(rng).round();
        (v.min(u32::MAX as f64) as u32).max(min)
    }

    /// The expected value (infinite for a Pareto with `shape <= 1`). Used for the Little's-law
    /// ideal throughput.
    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Fixed { value } => value,
            Dist::Uniform { min, max } => (min + max) / 2.0,
            Dist::Normal { mean, stddev } => {
                if stddev == 0.0 {
                    return mean.max(0.0);
                }
                // Mean of a normal truncated below at 0.
                let alpha = -mean / stddev;
                let tail = 1.0 - normal_cdf(alpha);
                if tail <= 1e-12 {
                    0.0
                } else {
                    mean + stddev * normal_pdf(alpha) / tail
                }
            }
            Dist::Lognormal { median, p99 } => {
                let sigma = (p99 / median).ln() / Z_P99;
                median * (sigma * sigma / 2.0).exp()
            }
            Dist::Pareto { scale, shape } => {
                if shape <= 1.0 {
                    f64::INFINITY
                } else {
                    shape * scale / (shape - 1.0)
                }
            }
        }
    }

    /// Multiplies every value of the distribution by `factor` (e.g. a slow-response fault).
    pub fn scaled(&self, factor: f64) -> Dist {
        match *self {
            Dist::Fixed { value } => Dist::Fixed {
                value: value * factor,
            },
            Dist::Uniform { min, max } => Dist::Uniform {
                min: min * factor,
                max: max * factor,
            },
            Dist::Normal { mean, stddev } => Dist::Normal {
                mean: mean * factor,
                stddev: stddev * factor,
            },
            Dist::Lognormal { median, p99 } => Dist::Lognormal {
                median: median * factor,
                p99: p99 * factor,
            },
            Dist::Pareto { scale, shape } => Dist::Pareto {
                scale: scale * factor,
                shape,
            },
        }
    }
}

impl fmt::Display for Dist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Dist::Fixed { value } => write!(f, "{value}"),
            Dist::Uniform { min, max } => write!(f, "uniform({min}..{max})"),
            Dist::Normal { mean, stddev } => write!(f, "normal(mean {mean}, sd {stddev})"),
            Dist::Lognormal { median, p99 } => write!(f, "lognormal(median {median}, p99 {p99})"),
            Dist::Pareto { scale, shape } => write!(f, "pareto(scale {scale}, shape {shape})"),
        }
    }
}

/// Converts milliseconds (possibly fractional) to a `Duration`, saturating on absurd values.
pub fn ms_to_duration(ms: f64) -> Duration {
    if !ms.is_finite() || ms <= 0.0 {
        return if ms > 0.0 {
            Duration::from_secs(u32::MAX as u64)
        } else {
            Duration::ZERO
        };
    }
    Duration::from_secs_f64((ms / 1000.0).min(u32::MAX as f64))
}

/// A standard normal draw (Box-Muller; one of the pair is discarded for simplicity).
fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (std::f64::consts::TAU).sqrt()
}

/// Standard normal CDF via the Abramowitz-Stegun 7.1.26 approximation of erf (|error| < 1.5e-7).
fn normal_cdf(x: f64) -> f64 {
    let z = x / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    let erf = if z >= 0.0 { erf } else { -erf };
    0.5 * (1.0 + erf)
}

/// The table form as written in a file, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDist {
    dist: String,
    value: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    mean: Option<f64>,
    stddev: Option<f64>,
    median: Option<f64>,
    p99: Option<f64>,
    scale: Option<f64>,
    shape: Option<f64>,
}

impl RawDist {
    fn into_dist(self) -> Result<Dist, DistError> {
        let (needs, example) = fields_of(&self.dist)?;
        self.check_fields(needs, example)?;
        let g = |v: Option<f64>| v.unwrap_or_default();
        let dist = match self.dist.as_str() {
            "fixed" => Dist::Fixed {
                value: g(self.value),
            },
            "uniform" => Dist::Uniform {
                min: g(self.min),
                max: g(self.max),
            },
            "normal" => Dist::Normal {
                mean: g(self.mean),
                stddev: g(self.stddev),
            },
            "lognormal" => Dist::Lognormal {
                median: g(self.median),
                p99: g(self.p99),
            },
            _ => Dist::Pareto {
                scale: g(self.scale),
                shape: g(self.shape),
            },
        };
        dist.validate()?;
        Ok(dist)
    }

    /// The names of the parameters the table gives, in declaration order.
    fn given(&self) -> Vec<&'static str> {
        [
            ("value", self.value),
            ("min", self.min),
            ("max", self.max),
            ("mean", self.mean),
            ("stddev", self.stddev),
            ("median", self.median),
            ("p99", self.p99),
            ("scale", self.scale),
            ("shape", self.shape),
        ]
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| *k)
        .collect()
    }

    /// An error naming the missing and the extra parameters, with an example, unless the table
    /// gives exactly `needs`.
    fn check_fields(&self, needs: &[&str], example: &str) -> Result<(), DistError> {
        let given = self.given();
        let missing: Vec<&str> = needs
            .iter()
            .filter(|k| !given.contains(k))
            .copied()
            .collect();
        let extra: Vec<&str> = given
            .iter()
            .filter(|k| !needs.contains(k))
            .copied()
            .collect();
        if missing.is_empty() && extra.is_empty() {
            return Ok(());
        }
        let mut msg = format!(
            "dist = \"{}\" takes exactly {}",
            self.dist,
            needs.join(" and ")
        );
        if !missing.is_empty() {
            msg.push_str(&format!("; missing {}", missing.join(", ")));
        }
        if !extra.is_empty() {
            msg.push_str(&format!("; remove {}", extra.join(", ")));
        }
        msg.push_str(&format!(" (example: {example})"));
        Err(DistError(msg))
    }
}

/// The parameters a distribution takes, and an example table; an error for an unknown name.
fn fields_of(dist: &str) -> Result<(&'static [&'static str], &'static str), DistError> {
    Ok(match dist {
        "fixed" => (&["value"], r#"{ dist = "fixed", value = 100 }"#),
        "uniform" => (
            &["min", "max"],
            r#"{ dist = "uniform", min = 50, max = 150 }"#,
        ),
        "normal" => (
            &["mean", "stddev"],
            r#"{ dist = "normal", mean = 100, stddev = 20 }"#,
        ),
        "lognormal" => (
            &["median", "p99"],
            r#"{ dist = "lognormal", median = 100, p99 = 400 }"#,
        ),
        "pareto" => (
            &["scale", "shape"],
            r#"{ dist = "pareto", scale = 50, shape = 1.5 }"#,
        ),
        other => {
            return Err(DistError(format!(
                "unknown dist `{other}`: use one of fixed, uniform, normal, lognormal, pareto"
            )));
        }
    })
}

impl<'de> Deserialize<'de> for Dist {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DistVisitor;
        impl<'de> Visitor<'de> for DistVisitor {
            type Value = Dist;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a number (fixed value) or a table like { dist = \"lognormal\", median = 100, p99 = 400 }",
                )
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dist, E> {
                let d = Dist::Fixed { value: v };
                d.validate().map_err(E::custom)?;
                Ok(d)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dist, E> {
                self.visit_f64(v as f64)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dist, E> {
                self.visit_f64(v as f64)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Dist, A::Error> {
                let raw = RawDist::deserialize(de::value::MapAccessDeserializer::new(map))?;
                raw.into_dist().map_err(de::Error::custom)
            }
        }
        deserializer.deserialize_any(DistVisitor)
    }
}

#[cfg(test)]
#[path = "latency_tests.rs"]
mod tests;
