//! Open-loop arrival schedules: when each request is *intended* to start.
//!
//! `constant` spaces arrivals exactly 1/rate apart; `poisson` draws exponential gaps;
//! `gamma:B` draws gamma gaps with shape `B` and mean 1/rate, as vLLM's benchmark does
//! (`B` = 1 is Poisson, below 1 burstier, above 1 more regular).

use std::fmt;
use std::time::Duration;

use rand::Rng;
use rand_distr::{Distribution, Exp, Gamma};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Inter-arrival pattern of an open loop.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Arrivals {
    /// Exactly 1/rate apart.
    #[default]
    Constant,
    /// Exponential gaps (a Poisson process).
    Poisson,
    /// Gamma gaps with this shape ("burstiness").
    Gamma(f64),
}

impl Arrivals {
    /// Parses `constant`, `poisson` or `gamma:<burstiness>`.
    pub fn parse(s: &str) -> Result<Arrivals, String> {
        match s.trim() {
            "constant" => Ok(Arrivals::Constant),
            "poisson" => Ok(Arrivals::Poisson),
            other => {
                let Some(b) = other.strip_prefix("gamma:") else {
                    return Err(format!(
                        "unknown arrivals `{other}`: use constant, poisson or gamma:<burstiness> (e.g. gamma:0.5)"
                    ));
                };
                match b.parse::<f64>() {
                    Ok(b) if b.is_finite() && b > 0.0 => Ok(Arrivals::Gamma(b)),
                    _ => Err(format!(
                        "gamma burstiness must be a number > 0 (1 = Poisson, < 1 burstier), got `{b}`"
                    )),
                }
            }
        }
    }

    /// Draws the gap to the next arrival at `rate` requests per second.
    pub fn next_gap<R: Rng + ?Sized>(&self, rate: f64, rng: &mut R) -> Duration {
        let mean = 1.0 / rate;
        let secs = match *self {
            Arrivals::Constant => mean,
            Arrivals::Poisson => Exp::new(rate).map(|d| d.sample(rng)).unwrap_or(mean),
            Arrivals::Gamma(shape) => Gamma::new(shape, mean / shape)
                .map(|d| d.sample(rng))
                .unwrap_or(mean),
        };
        Duration::from_secs_f64(secs.clamp(0.0, 3600.0))
    }
}

impl fmt::Display for Arrivals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arrivals::Constant => f.write_str("constant"),
            Arrivals::Poisson => f.write_str("poisson"),
            Arrivals::Gamma(b) => write!(f, "gamma:{b}"),
        }
    }
}

impl Serialize for Arrivals {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Arrivals {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Arrivals::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn mean_gap(a: Arrivals, n: usize) -> (f64, f64) {
        let mut rng = StdRng::seed_from_u64(9);
        let gaps: Vec<f64> = (0..n)
            .map(|_| a.next_gap(100.0, &mut rng).as_secs_f64())
            .collect();
        let m = gaps.iter().sum::<f64>() / n as f64;
        let var = gaps.iter().map(|g| (g - m).powi(2)).sum::<f64>() / n as f64;
        (m, var.sqrt() / m)
    }

    #[test]
    fn every_pattern_keeps_the_rate() {
        for a in [
            Arrivals::Constant,
            Arrivals::Poisson,
            Arrivals::Gamma(0.5),
            Arrivals::Gamma(4.0),
        ] {
            let (m, _) = mean_gap(a, 40_000);
            assert!((m - 0.01).abs() < 0.0005, "{a}: mean gap {m}");
        }
    }

    #[test]
    fn burstiness_orders_the_spread() {
        let (_, cv_const) = mean_gap(Arrivals::Constant, 20_000);
        let (_, cv_poisson) = mean_gap(Arrivals::Poisson, 20_000);
        let (_, cv_bursty) = mean_gap(Arrivals::Gamma(0.25), 20_000);
        assert!(cv_const < 1e-9);
        assert!((cv_poisson - 1.0).abs() < 0.05);
        assert!(cv_bursty > 1.5);
    }

    #[test]
    fn parse_errors_say_what_to_write() {
        assert_eq!(Arrivals::parse("gamma:2").unwrap(), Arrivals::Gamma(2.0));
        assert!(Arrivals::parse("gamma:-1").unwrap_err().contains("> 0"));
        assert!(Arrivals::parse("bursty").unwrap_err().contains("poisson"));
    }
}
