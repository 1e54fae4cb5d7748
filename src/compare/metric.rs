//! The metrics `compare` knows: their names (what `--fail-on` and `--metrics` accept), which
//! direction is better, their unit, and how each is read from one [`VariantRun`].
//!
//! Latency metrics are `<histogram>.<statistic>` (`e2e.p99`, `ttft.p50`, `queue.mean`, …) over
//! the recorder's histograms. The others are throughput, the Little's-law efficiency, error rate,
//! and the process figures, some normalised per request so runs of different length compare:
//! `cpu_per_request_ms` is the process CPU time minus the in-process mocks' and the sampler's,
//! divided by every request that finished while the sampler ran (warm-up included, because the
//! sampler's window includes it).

use std::fmt;

use serde::Serialize;

use crate::metrics::recorder::HISTOGRAMS;
use crate::result::VariantRun;

/// Which way is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Throughput, efficiency: up is good.
    HigherIsBetter,
    /// Latency, CPU, threads, memory, errors: up is bad.
    LowerIsBetter,
}

/// Statistics of a latency histogram (`Percentiles` fields, ms).
pub const LATENCY_STATS: [&str; 7] = ["p50", "p90", "p99", "p999", "mean", "min", "max"];

/// A metric that is not a latency percentile.
struct Simple {
    name: &'static str,
    direction: Direction,
    unit: &'static str,
    read: fn(&VariantRun) -> Option<f64>,
}

/// Requests that finished while the process sampler ran (its window spans warm-up, measured
/// phase and drain).
fn finished_requests(r: &VariantRun) -> Option<f64> {
    let c = &r.counters;
    let n = c.ok + c.failed + c.warmup_completed;
    (n > 0).then_some(n as f64)
}

fn own_cpu_s(r: &VariantRun) -> f64 {
    let p = &r.process;
    (p.cpu_user_s + p.cpu_sys_s - p.mock_cpu_s - p.sampler_cpu_s).max(0.0)
}

const SIMPLE: [Simple; 18] = [
    Simple {
        name: "requests_per_s",
        direction: Direction::HigherIsBetter,
        unit: "req/s",
        read: |r| Some(r.throughput.requests_per_s),
    },
    Simple {
        name: "tokens_per_s",
        direction: Direction::HigherIsBetter,
        unit: "tok/s",
        read: |r| Some(r.throughput.tokens_per_s),
    },
    Simple {
        name: "goodput_per_s",
        direction: Direction::HigherIsBetter,
        unit: "req/s",
        read: |r| r.throughput.goodput_per_s,
    },
    Simple {
        name: "efficiency",
        direction: Direction::HigherIsBetter,
        unit: "ratio",
        read: |r| (r.ideal.ideal_requests_per_s > 0.0).then_some(r.ideal.efficiency),
    },
    Simple {
        name: "error_rate",
        direction: Direction::LowerIsBetter,
        unit: "ratio",
        read: |r| {
            let c = &r.counters;
            (c.sent > 0).then(|| (c.failed + c.abandoned) as f64 / c.sent as f64)
        },
    },
    Simple {
        name: "cpu_per_request_ms",
        direction: Direction::LowerIsBetter,
        unit: "ms",
        read: |r| finished_requests(r).map(|n| own_cpu_s(r) * 1000.0 / n),
    },
    Simple {
        name: "cpu_s",
        direction: Direction::LowerIsBetter,
        unit: "s",
        read: |r| Some(r.process.cpu_user_s + r.process.cpu_sys_s),
    },
    Simple {
        name: "mock_cpu_s",
        direction: Direction::LowerIsBetter,
        unit: "s",
        read: |r| Some(r.process.mock_cpu_s),
    },
    Simple {
        name: "ctx_switches_per_request",
        direction: Direction::LowerIsBetter,
        unit: "count",
        read: |r| {
            let p = &r.process;
            finished_requests(r)
                .map(|n| (p.ctx_switches_voluntary + p.ctx_switches_involuntary) as f64 / n)
        },
    },
    Simple {
        name: "threads_peak",
        direction: Direction::LowerIsBetter,
        unit: "threads",
        read: |r| Some(r.process.threads_peak as f64),
    },
    Simple {
        name: "process_threads_peak",
        direction: Direction::LowerIsBetter,
        unit: "threads",
        read: |r| Some(r.process.process_threads_peak as f64),
    },
    Simple {
        name: "rss_peak_mib",
        direction: Direction::LowerIsBetter,
        unit: "MiB",
        read: |r| Some(r.process.rss_peak_bytes as f64 / (1024.0 * 1024.0)),
    },
    Simple {
        name: "overhead_mean_ms",
        direction: Direction::LowerIsBetter,
        unit: "ms",
        read: |r| r.mock.as_ref().map(|m| m.overhead_mean_ms),
    },
    // `--target` runs that sample the server (`--target-pid`, `--target-cmd`).
    Simple {
        name: "server_cpu_per_request_ms",
        direction: Direction::LowerIsBetter,
        unit: "ms",
        read: crate::metrics::server::cpu_per_request_ms,
    },
    Simple {
        name: "server_cpu_s",
        direction: Direction::LowerIsBetter,
        unit: "s",
        read: |r| r.server.as_ref().map(|s| s.cpu_user_s + s.cpu_sys_s),
    },
    Simple {
        name: "server_threads_peak",
        direction: Direction::LowerIsBetter,
        unit: "threads",
        read: |r| r.server.as_ref().map(|s| s.threads_peak as f64),
    },
    Simple {
        name: "server_rss_peak_mib",
        direction: Direction::LowerIsBetter,
        unit: "MiB",
        read: |r| {
            r.server
                .as_ref()
                .map(|s| s.rss_peak_bytes as f64 / (1024.0 * 1024.0))
        },
    },
    Simple {
        name: "server_ctx_switches_per_request",
        direction: Direction::LowerIsBetter,
        unit: "count",
        read: |r| {
            let s = r.server.as_ref()?;
            finished_requests(r)
                .map(|n| (s.ctx_switches_voluntary + s.ctx_switches_involuntary) as f64 / n)
        },
    },
];

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
