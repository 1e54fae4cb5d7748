//! The metric catalogue: every figure of a run that is not a latency percentile, once, with
//! its name, title, unit, good direction, how it is computed and how it is read from a
//! [`VariantRun`]; the latency histograms with their titles; and the one definition of "own CPU"
//! ([`own_cpu_s`]). `compare` and `plot` read their names, titles and directions here, and the
//! tour reads own CPU here, so a new figure is added in one place.

use serde::Serialize;

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

/// One figure of a run.
pub struct Figure {
    /// Public name (`compare --metrics`, `--fail-on`).
    pub name: &'static str,
    /// Title in tables and charts.
    pub title: &'static str,
    /// How it is computed, in a line.
    pub how: &'static str,
    /// Which way is better.
    pub direction: Direction,
    /// Unit.
    pub unit: &'static str,
    /// Reads it from a run (None when the run does not have it).
    pub read: fn(&VariantRun) -> Option<f64>,
}

/// The latency histograms (ms), with their titles.
pub const LATENCIES: [(&str, &str); 9] = [
    ("e2e", "End-to-end latency"),
    ("queue", "Queue time"),
    ("embed", "Embedding latency"),
    ("retrieve", "Retrieval latency"),
    ("cpu", "CPU section time"),
    ("ttft", "Time to first token"),
    ("itl", "Inter-token gap"),
    ("tpot", "Time per output token"),
    ("generate", "Generation time"),
];

/// A latency histogram's title (`Latency` for a name that is not one).
pub fn latency_title(name: &str) -> &'static str {
    LATENCIES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("Latency", |(_, t)| t)
}

/// Requests that finished while the process sampler ran (its window spans warm-up, measured
/// phase and drain).
pub fn finished_requests(r: &VariantRun) -> Option<f64> {
    let c = &r.counters;
    let n = c.ok + c.failed + c.warmup_completed;
    (n > 0).then_some(n as f64)
}

/// "Own CPU": ragperf's process CPU time (user + system) minus the in-process mocks' and the
/// OS sampler's, seconds. The one definition; `cpu_per_request_ms` divides it by
/// [`finished_requests`], and the tour reads it as is.
pub fn own_cpu_s(r: &VariantRun) -> f64 {
    let p = &r.process;
    (p.cpu_user_s + p.cpu_sys_s - p.mock_cpu_s - p.sampler_cpu_s).max(0.0)
}

/// Every figure of a run that is not a latency percentile, by its public name (what
/// `compare --metrics/--fail-on` accept).
pub const FIGURES: [Figure; 18] = [
    Figure {
        name: "requests_per_s",
        title: "Throughput",
        how: "successful requests per second over the measured window",
        direction: Direction::HigherIsBetter,
        unit: "req/s",
        read: |r| Some(r.throughput.requests_per_s),
    },
    Figure {
        name: "tokens_per_s",
        title: "Token rate",
        how: "output tokens per second over the measured window",
        direction: Direction::HigherIsBetter,
        unit: "tok/s",
        read: |r| Some(r.throughput.tokens_per_s),
    },
    Figure {
        name: "goodput_per_s",
        title: "Goodput",
        how: "requests per second that met every --slo bound",
        direction: Direction::HigherIsBetter,
        unit: "req/s",
        read: |r| r.throughput.goodput_per_s,
    },
    Figure {
        name: "efficiency",
        title: "Efficiency",
        how: "throughput over the Little's-law ideal",
        direction: Direction::HigherIsBetter,
        unit: "ratio",
        read: |r| (r.ideal.ideal_requests_per_s > 0.0).then_some(r.ideal.efficiency),
    },
    Figure {
        name: "error_rate",
        title: "Error rate",
        how: "(failed + unfinished) / sent measured requests",
        direction: Direction::LowerIsBetter,
        unit: "ratio",
        read: |r| {
            let c = &r.counters;
            (c.sent > 0).then(|| (c.failed + c.abandoned) as f64 / c.sent as f64)
        },
    },
    Figure {
        name: "cpu_per_request_ms",
        title: "CPU per request",
        how: "own_cpu_s x 1000 / finished_requests",
        direction: Direction::LowerIsBetter,
        unit: "ms",
        read: |r| finished_requests(r).map(|n| own_cpu_s(r) * 1000.0 / n),
    },
    Figure {
        name: "cpu_s",
        title: "Process CPU",
        how: "user + system CPU of the whole process, mocks included",
        direction: Direction::LowerIsBetter,
        unit: "s",
        read: |r| Some(r.process.cpu_user_s + r.process.cpu_sys_s),
    },
    Figure {
        name: "mock_cpu_s",
        title: "Mock CPU",
        how: "CPU of the in-process mocks' threads",
        direction: Direction::LowerIsBetter,
        unit: "s",
        read: |r| Some(r.process.mock_cpu_s),
    },
    Figure {
        name: "ctx_switches_per_request",
        title: "Context switches per request",
        how: "voluntary + involuntary / finished_requests",
        direction: Direction::LowerIsBetter,
        unit: "count",
        read: |r| {
            let p = &r.process;
            finished_requests(r)
                .map(|n| (p.ctx_switches_voluntary + p.ctx_switches_involuntary) as f64 / n)
        },
    },
    Figure {
        name: "threads_peak",
        title: "Variant threads",
        how: "peak threads named by the variant",
        direction: Direction::LowerIsBetter,
        unit: "threads",
        read: |r| Some(r.process.threads_peak as f64),
    },
    Figure {
        name: "process_threads_peak",
        title: "Process threads",
        how: "peak threads of the process",
        direction: Direction::LowerIsBetter,
        unit: "threads",
        read: |r| Some(r.process.process_threads_peak as f64),
    },
    Figure {
        name: "rss_peak_mib",
        title: "Peak RSS",
        how: "peak resident memory, MiB",
        direction: Direction::LowerIsBetter,
        unit: "MiB",
        read: |r| Some(r.process.rss_peak_bytes as f64 / (1024.0 * 1024.0)),
    },
    Figure {
        name: "overhead_mean_ms",
        title: "Mock overhead",
        how: "mean time the mocks added beyond the injected latency",
        direction: Direction::LowerIsBetter,
        unit: "ms",
        read: |r| r.mock.as_ref().map(|m| m.overhead_mean_ms),
    },
    // `--target` runs that sample the server (`--target-pid`, `--target-cmd`).
    Figure {
        name: "server_cpu_per_request_ms",
        title: "Server CPU per request",
        how: "the --target server's CPU / its finished requests",
        direction: Direction::LowerIsBetter,
        unit: "ms",
        read: crate::metrics::server::cpu_per_request_ms,
    },
    Figure {
        name: "server_cpu_s",
        title: "Server CPU",
        how: "user + system CPU of the --target server's process tree",
        direction: Direction::LowerIsBetter,
        unit: "s",
        read: |r| r.server.as_ref().map(|s| s.cpu_user_s + s.cpu_sys_s),
    },
    Figure {
        name: "server_threads_peak",
        title: "Server threads",
        how: "peak threads of the --target server",
        direction: Direction::LowerIsBetter,
        unit: "threads",
        read: |r| r.server.as_ref().map(|s| s.threads_peak as f64),
    },
    Figure {
        name: "server_rss_peak_mib",
        title: "Server peak RSS",
        how: "peak resident memory of the --target server, MiB",
        direction: Direction::LowerIsBetter,
        unit: "MiB",
        read: |r| {
            r.server
                .as_ref()
                .map(|s| s.rss_peak_bytes as f64 / (1024.0 * 1024.0))
        },
    },
    Figure {
        name: "server_ctx_switches_per_request",
        title: "Server context switches per request",
        how: "the server's switches / finished_requests",
        direction: Direction::LowerIsBetter,
        unit: "count",
        read: |r| {
            let s = r.server.as_ref()?;
            finished_requests(r)
                .map(|n| (s.ctx_switches_voluntary + s.ctx_switches_involuntary) as f64 / n)
        },
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::recorder::HISTOGRAMS;

    #[test]
    fn names_are_unique_and_every_histogram_has_a_title() {
        let mut names: Vec<&str> = FIGURES.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FIGURES.len());
        let titled: Vec<&str> = LATENCIES.iter().map(|(n, _)| *n).collect();
        assert_eq!(titled, HISTOGRAMS);
        assert_eq!(latency_title("ttft"), "Time to first token");
        assert_eq!(latency_title("nope"), "Latency");
    }
}
