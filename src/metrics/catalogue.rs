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
    /// Title in charts and prose.
    pub title: &'static str,
    /// Its column heading in tables (the terminal table, summary.md, index.html): short, with
    /// the unit of the values shown under it (`%` for a ratio).
    pub short: &'static str,
    /// How it is computed, in a line.
    pub how: &'static str,
    /// Which way is better.
    pub direction: Direction,
    /// Unit.
    pub unit: &'static str,
    /// Reads it from a run (None when the run does not have it).
    pub read: fn(&VariantRun) -> Option<f64>,
}

/// The latency histograms, with their titles (charts, prose) and their short labels (table
/// headings). Every latency is in [`LATENCY_UNIT`].
pub const LATENCIES: [(&str, &str, &str); 9] = [
    ("e2e", "End-to-end latency", "e2e"),
    ("queue", "Queue time", "queue"),
    ("embed", "Embedding latency", "embed"),
    ("retrieve", "Retrieval latency", "retrieve"),
    ("cpu", "CPU section time", "CPU section"),
    ("ttft", "Time to first token", "TTFT"),
    ("itl", "Inter-token gap", "ITL"),
    ("tpot", "Time per output token", "TPOT"),
    ("generate", "Generation time", "generate"),
];

/// The unit of every latency figure (`result.json`'s `latency_ms`, the tables, the charts).
pub const LATENCY_UNIT: &str = "ms";

/// A latency histogram's title (`Latency` for a name that is not one).
pub fn latency_title(name: &str) -> &'static str {
    LATENCIES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map_or("Latency", |(_, t, _)| t)
}

/// A table heading for statistics of a latency histogram, with the unit:
/// `latency_heading("ttft", "p50/p99")` is `TTFT p50/p99 ms`.
pub fn latency_heading(name: &str, stats: &str) -> String {
    let short = LATENCIES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map_or(name, |(_, _, s)| s);
    format!("{short} {stats} {LATENCY_UNIT}")
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
    own_cpu_of(&r.process)
}

/// [`own_cpu_s`] of one process's figures (a shard's, before merging).
pub fn own_cpu_of(p: &crate::metrics::process::ProcessFigures) -> f64 {
    (p.cpu_user_s + p.cpu_sys_s - p.mock_cpu_s - p.sampler_cpu_s).max(0.0)
}

/// `requests_per_s`: successful requests per second over the measured window.
pub const REQUESTS_PER_S: Figure = Figure {
    name: "requests_per_s",
    title: "Throughput",
    short: "req/s",
    how: "successful requests per second over the measured window",
    direction: Direction::HigherIsBetter,
    unit: "req/s",
    read: |r| Some(r.throughput.requests_per_s),
};

/// `tokens_per_s`: output tokens per second over the measured window.
pub const TOKENS_PER_S: Figure = Figure {
    name: "tokens_per_s",
    title: "Token rate",
    short: "tok/s",
    how: "output tokens per second over the measured window",
    direction: Direction::HigherIsBetter,
    unit: "tok/s",
    read: |r| Some(r.throughput.tokens_per_s),
};

/// `goodput_per_s`: requests per second that met every --slo bound.
pub const GOODPUT_PER_S: Figure = Figure {
    name: "goodput_per_s",
    title: "Goodput",
    short: "good req/s",
    how: "requests per second that met every --slo bound",
    direction: Direction::HigherIsBetter,
    unit: "req/s",
    read: |r| r.throughput.goodput_per_s,
};

/// `efficiency`: throughput over the Little's-law ideal.
pub const EFFICIENCY: Figure = Figure {
    name: "efficiency",
    title: "Efficiency",
    short: "eff %",
    how: "throughput over the Little's-law ideal",
    direction: Direction::HigherIsBetter,
    unit: "ratio",
    read: |r| (r.ideal.ideal_requests_per_s > 0.0).then_some(r.ideal.efficiency),
};

/// `error_rate`: (failed + unfinished) / sent measured requests.
pub const ERROR_RATE: Figure = Figure {
    name: "error_rate",
    title: "Error rate",
    short: "errors %",
    how: "(failed + unfinished) / sent measured requests",
    direction: Direction::LowerIsBetter,
    unit: "ratio",
    read: |r| {
        let c = &r.counters;
        (c.sent > 0).then(|| (c.failed + c.abandoned) as f64 / c.sent as f64)
    },
};

/// `cpu_per_request_ms`: own_cpu_s x 1000 / finished_requests.
pub const CPU_PER_REQUEST_MS: Figure = Figure {
    name: "cpu_per_request_ms",
    title: "CPU per request",
    short: "CPU ms/req",
    how: "own_cpu_s x 1000 / finished_requests",
    direction: Direction::LowerIsBetter,
    unit: "ms",
    read: |r| finished_requests(r).map(|n| own_cpu_s(r) * 1000.0 / n),
};

/// `cpu_s`: user + system CPU of the whole process, mocks included.
pub const CPU_S: Figure = Figure {
    name: "cpu_s",
    title: "Process CPU",
    short: "process CPU s",
    how: "user + system CPU of the whole process, mocks included",
    direction: Direction::LowerIsBetter,
    unit: "s",
    read: |r| Some(r.process.cpu_user_s + r.process.cpu_sys_s),
};

/// `mock_cpu_s`: CPU of the in-process mocks' threads.
pub const MOCK_CPU_S: Figure = Figure {
    name: "mock_cpu_s",
    title: "Mock CPU",
    short: "mock CPU s",
    how: "CPU of the in-process mocks' threads",
    direction: Direction::LowerIsBetter,
    unit: "s",
    read: |r| Some(r.process.mock_cpu_s),
};

/// `ctx_switches_per_request`: voluntary + involuntary / finished_requests.
pub const CTX_SWITCHES_PER_REQUEST: Figure = Figure {
    name: "ctx_switches_per_request",
    title: "Context switches per request",
    short: "ctx switches/req",
    how: "voluntary + involuntary / finished_requests",
    direction: Direction::LowerIsBetter,
    unit: "count",
    read: |r| {
        let p = &r.process;
        finished_requests(r)
            .map(|n| (p.ctx_switches_voluntary + p.ctx_switches_involuntary) as f64 / n)
    },
};

/// `threads_peak`: peak threads named by the variant.
pub const THREADS_PEAK: Figure = Figure {
    name: "threads_peak",
    title: "Variant threads",
    short: "threads",
    how: "peak threads named by the variant",
    direction: Direction::LowerIsBetter,
    unit: "threads",
    read: |r| Some(r.process.threads_peak as f64),
};

/// `process_threads_peak`: peak threads of the process.
pub const PROCESS_THREADS_PEAK: Figure = Figure {
    name: "process_threads_peak",
    title: "Process threads",
    short: "process threads",
    how: "peak threads of the process",
    direction: Direction::LowerIsBetter,
    unit: "threads",
    read: |r| Some(r.process.process_threads_peak as f64),
};

/// `rss_peak_mib`: peak resident memory, MiB.
pub const RSS_PEAK_MIB: Figure = Figure {
    name: "rss_peak_mib",
    title: "Peak RSS",
    short: "RSS MiB",
    how: "peak resident memory, MiB",
    direction: Direction::LowerIsBetter,
    unit: "MiB",
    read: |r| Some(r.process.rss_peak_bytes as f64 / (1024.0 * 1024.0)),
};

/// `overhead_mean_ms`: mean time the mocks added beyond the injected latency.
pub const OVERHEAD_MEAN_MS: Figure = Figure {
    name: "overhead_mean_ms",
    title: "Mock overhead",
    short: "mock overhead ms",
    how: "mean time the mocks added beyond the injected latency",
    direction: Direction::LowerIsBetter,
    unit: "ms",
    read: |r| r.mock.as_ref().map(|m| m.overhead_mean_ms),
};

// `--target` runs that sample the server (`--target-pid`, `--target-cmd`).

/// `server_cpu_per_request_ms`: the --target server's CPU / its finished requests.
pub const SERVER_CPU_PER_REQUEST_MS: Figure = Figure {
    name: "server_cpu_per_request_ms",
    title: "Server CPU per request",
    short: "server CPU ms/req",
    how: "the --target server's CPU / its finished requests",
    direction: Direction::LowerIsBetter,
    unit: "ms",
    read: crate::metrics::server::cpu_per_request_ms,
};

/// `server_cpu_s`: user + system CPU of the --target server's process tree.
pub const SERVER_CPU_S: Figure = Figure {
    name: "server_cpu_s",
    title: "Server CPU",
    short: "server CPU s",
    how: "user + system CPU of the --target server's process tree",
    direction: Direction::LowerIsBetter,
    unit: "s",
    read: |r| r.server.as_ref().map(|s| s.cpu_s()),
};

/// `server_threads_peak`: peak threads of the --target server.
pub const SERVER_THREADS_PEAK: Figure = Figure {
    name: "server_threads_peak",
    title: "Server threads",
    short: "server threads",
    how: "peak threads of the --target server",
    direction: Direction::LowerIsBetter,
    unit: "threads",
    read: |r| r.server.as_ref().map(|s| s.threads_peak as f64),
};

/// `server_rss_peak_mib`: peak resident memory of the --target server, MiB.
pub const SERVER_RSS_PEAK_MIB: Figure = Figure {
    name: "server_rss_peak_mib",
    title: "Server peak RSS",
    short: "server RSS MiB",
    how: "peak resident memory of the --target server, MiB",
    direction: Direction::LowerIsBetter,
    unit: "MiB",
    read: |r| {
        r.server
            .as_ref()
            .map(|s| s.rss_peak_bytes as f64 / (1024.0 * 1024.0))
    },
};

/// `server_ctx_switches_per_request`: the server's switches / finished_requests.
pub const SERVER_CTX_SWITCHES_PER_REQUEST: Figure = Figure {
    name: "server_ctx_switches_per_request",
    title: "Server context switches per request",
    short: "server ctx switches/req",
    how: "the server's switches / finished_requests",
    direction: Direction::LowerIsBetter,
    unit: "count",
    read: |r| {
        let s = r.server.as_ref()?;
        finished_requests(r)
            .map(|n| (s.ctx_switches_voluntary + s.ctx_switches_involuntary) as f64 / n)
    },
};

/// Every figure of a run that is not a latency percentile, by its public name (what
/// `compare --metrics/--fail-on` accept).
pub static FIGURES: [Figure; 18] = [
    REQUESTS_PER_S,
    TOKENS_PER_S,
    GOODPUT_PER_S,
    EFFICIENCY,
    ERROR_RATE,
    CPU_PER_REQUEST_MS,
    CPU_S,
    MOCK_CPU_S,
    CTX_SWITCHES_PER_REQUEST,
    THREADS_PEAK,
    PROCESS_THREADS_PEAK,
    RSS_PEAK_MIB,
    OVERHEAD_MEAN_MS,
    SERVER_CPU_PER_REQUEST_MS,
    SERVER_CPU_S,
    SERVER_THREADS_PEAK,
    SERVER_RSS_PEAK_MIB,
    SERVER_CTX_SWITCHES_PER_REQUEST,
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
        let titled: Vec<&str> = LATENCIES.iter().map(|(n, _, _)| *n).collect();
        assert_eq!(titled, HISTOGRAMS);
        assert_eq!(latency_title("ttft"), "Time to first token");
        assert_eq!(latency_title("nope"), "Latency");
        assert_eq!(latency_heading("ttft", "p50/p99"), "TTFT p50/p99 ms");
    }

    #[test]
    fn every_short_heading_shows_the_unit_of_its_values() {
        for f in FIGURES.iter() {
            let shown = match f.unit {
                // A ratio is shown as a percentage; counts and threads need no unit.
                "ratio" => "%",
                "count" | "threads" => continue,
                unit => unit,
            };
            assert!(
                // `ms/req` shows ms per request.
                f.short
                    .split(' ')
                    .any(|word| word == shown || word.starts_with(&format!("{shown}/"))),
                "{}: heading `{}` does not show `{shown}`",
                f.name,
                f.short
            );
        }
    }
}
