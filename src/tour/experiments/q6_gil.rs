//! Q6: the GIL. With `gil = true` every CPU section runs under one global lock, as CPython's
//! bytecode does. The same `sync` service runs with 1 and with 4 concurrent users, four ways:
//! CPU-bound (tens of ms of real computation per request, almost no I/O) or I/O-bound (the
//! seed's request), each with and without the lock. The speed-up from 1 to 4 threads says
//! whether threads helped.

use anyhow::Result;
use mock_services::latency::Dist;

use crate::pipeline::VariantKind;
use crate::tour::chart::{BarChart, BarSeries, RefLine, variant_color};
use crate::tour::measure;
use crate::tour::model::{self, Mode, Step};
use crate::tour::verdict::{Check, Role, num, ratio, reading};
use crate::tour::{ChartSource, ChartSpec, Experiment, Finding, Measured, Table};

/// The Q6 experiment.
pub fn experiment() -> Experiment {
    Experiment {
        id: "Q6",
        aliases: &["gil"],
        slug: "q6-gil",
        title: "The GIL: CPU-bound vs I/O-bound work on threads",
        seed: "\"CPU-bound tasks: threads don't speed up\"; \"I/O-bound tasks: threads work fine \
               because GIL releases during I/O wait\"; for RAG apps \"all operations are \
               I/O-bound, so GIL isn't a bottleneck\" (Q6).",
        claim: "Under a global interpreter lock, four threads do CPU-bound work no faster than \
                one, but I/O-bound work (a RAG request) about four times faster; without the \
                lock (Rust), CPU-bound work also speeds up, up to the number of cores.",
        steps,
        analyse,
    }
}

/// The four configurations: (step name, label, CPU-bound, GIL).
const CONFIGS: [(&str, &str, bool, bool); 4] = [
    ("cpu-gil", "CPU-bound, with the GIL", true, true),
    ("cpu-free", "CPU-bound, no GIL (Rust)", true, false),
    ("io-gil", "I/O-bound, with the GIL", false, true),
    ("io-free", "I/O-bound, no GIL (Rust)", false, false),
];

/// Threads of the parallel point.
pub const THREADS: usize = 4;

fn steps(mode: Mode) -> Vec<Step> {
    CONFIGS
        .iter()
        .map(|&(name, label, cpu_bound, gil)| {
            let mut s = if cpu_bound {
                // No injected waits and a one-token answer: the bare HTTP round trips
                // (well under a millisecond) against 20 ms of computation. (Scaling the seed's
                // waits down instead would still leave ~1 ms per token: the timer's tick.)
                let mut s = model::seed_scenario(1.0);
                s.embedding.latency_ms = Dist::fixed(0.0);
                s.qdrant.search_ms = Dist::fixed(0.0);
                s.bedrock.ttft_ms = Dist::fixed(0.0);
                s.bedrock.itl_ms = Dist::fixed(0.0);
                s.bedrock.output_tokens = Dist::fixed(1.0);
                s.request.cpu_work_us = 20_000;
                model::by_requests(&mut s, mode.pick(24, 80));
                s
            } else {
                let mut s = model::seed_scenario(mode.pick(0.02, 0.05));
                model::by_requests(&mut s, mode.pick(16, 40));
                s
            };
            s.request.gil = gil;
            model::step(
                name,
                format!("{label}: `sync` with 1 and with {THREADS} users"),
                model::plan(
                    s,
                    &[VariantKind::Sync],
                    vec![model::closed(1), model::closed(THREADS)],
                ),
            )
        })
        .collect()
}

/// Throughput with 1 and with [`THREADS`] threads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Speedup {
    /// Requests/s with one user.
    pub one: f64,
    /// Requests/s with [`THREADS`] users.
    pub many: f64,
}

impl Speedup {
    /// `many / one`.
    pub fn factor(&self) -> f64 {
        ratio(self.many, self.one)
    }
}

/// What Q6 measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Gil {
    /// Cores of the machine.
    pub cores: u64,
    /// CPU work per request in the CPU-bound runs, µs.
    pub cpu_work_us: u64,
    /// CPU-bound, with the lock.
    pub cpu_gil: Speedup,
    /// CPU-bound, without.
    pub cpu_free: Speedup,
    /// I/O-bound, with the lock.
    pub io_gil: Speedup,
    /// I/O-bound, without.
    pub io_free: Speedup,
}

/// Reads Q6's figures.
pub fn figures(m: &Measured) -> Result<Gil> {
    let speedup = |step: &str| -> Result<Speedup> {
        let r = m.get(step)?;
        Ok(Speedup {
            one: measure::run(r, "sync", 1)?.throughput.requests_per_s,
            many: measure::run(r, "sync", THREADS)?.throughput.requests_per_s,
        })
    };
    let cpu = m.get("cpu-gil")?;
    Ok(Gil {
        cores: cpu.machine.cores,
        cpu_work_us: cpu.scenario.request.cpu_work_us,
        cpu_gil: speedup("cpu-gil")?,
        cpu_free: speedup("cpu-free")?,
        io_gil: speedup("io-gil")?,
        io_free: speedup("io-free")?,
    })
}

/// Q6's checks.
pub fn checks(f: &Gil) -> Vec<Check> {
    let usable = f.cores.min(THREADS as u64);
    let mut out = vec![
        Check::at_most(
            "CPU-bound work under the GIL does not speed up with 4 threads (×)",
            f.cpu_gil.factor(),
            1.3,
            "×",
            Role::Core,
        ),
        Check::at_least(
            "I/O-bound work under the GIL does speed up with 4 threads (×)",
            f.io_gil.factor(),
            2.5,
            "×",
            Role::Core,
        ),
    ];
    if usable >= 2 {
        out.push(Check::at_least(
            &format!("without the lock, CPU-bound work speeds up (×; {usable} usable cores)"),
            f.cpu_free.factor(),
            // Well above the GIL's ~1×, well below the cores' ideal: other work on a shared
            // machine takes cores away from the four threads, never the lock.
            1.0 + 0.25 * (usable - 1) as f64,
            "×",
            Role::Core,
        ));
    } else {
        out.push(Check::new(
            "without the lock, CPU-bound work speeds up (needs 2 cores)",
            format!("{} core", f.cores),
            "≥ 2 cores",
            Role::Detail,
            false,
        ));
    }
    out.push(Check::at_least(
        "for an I/O-bound RAG request the GIL costs (almost) nothing (GIL / no-GIL throughput)",
        ratio(f.io_gil.many, f.io_free.many),
        0.9,
        "",
        Role::Detail,
    ));
    out
}

fn analyse(m: &Measured) -> Result<Finding> {
    Ok(finding(&figures(m)?))
}

/// The finding of Q6's figures: every sentence and caption from the numbers and the verdict.
pub fn finding(f: &Gil) -> Finding {
    let checks = checks(f);
    Finding {
        headline: format!(
            "4 threads: CPU-bound {}× with GIL, {}× without; I/O-bound {}× with GIL",
            num(f.cpu_gil.factor()),
            num(f.cpu_free.factor()),
            num(f.io_gil.factor())
        ),
        table: table(f),
        explanation: explanation(f, &checks),
        checks,
        charts: vec![ChartSpec {
            name: "speedup".into(),
            caption: format!(
                "Throughput with 4 threads divided by throughput with 1, as measured: \
                 CPU-bound {}× with the GIL and {}× without; I/O-bound {}× with the GIL and {}× \
                 without.",
                num(f.cpu_gil.factor()),
                num(f.cpu_free.factor()),
                num(f.io_gil.factor()),
                num(f.io_free.factor())
            ),
            source: ChartSource::Bars(speedup_chart(f)),
        }],
    }
}

/// One row per kind of work and lock.
fn table(f: &Gil) -> Table {
    let mut table = Table::new(&[
        "work",
        "lock",
        "req/s, 1 thread",
        "req/s, 4 threads",
        "speed-up",
    ]);
    let all = [f.cpu_gil, f.cpu_free, f.io_gil, f.io_free];
    for ((_, label, _, _), s) in CONFIGS.iter().zip(all) {
        let (work, lock) = label.split_once(", ").unwrap_or((label, ""));
        table.row(vec![
            work.into(),
            lock.into(),
            num(s.one),
            num(s.many),
            format!("{}×", num(s.factor())),
        ]);
    }
    table
}

/// The explanation: the measured speed-ups, then the GIL's mechanism only when the checks
/// support it (see [`reading`]).
pub fn explanation(f: &Gil, checks: &[Check]) -> String {
    let facts = format!(
        "With {} ms of computation per request, one thread managed {} req/s; four threads \
         under the GIL managed {} ({}×), and without the lock {} req/s ({}×) on a machine of \
         {} cores. The I/O-bound request went from {} to {} req/s with the GIL ({}×) and to {} \
         without it ({}×): the GIL cost {}% of the I/O-bound throughput here.",
        num(f.cpu_work_us as f64 / 1000.0),
        num(f.cpu_gil.one),
        num(f.cpu_gil.many),
        num(f.cpu_gil.factor()),
        num(f.cpu_free.many),
        num(f.cpu_free.factor()),
        f.cores,
        num(f.io_gil.one),
        num(f.io_gil.many),
        num(f.io_gil.factor()),
        num(f.io_free.many),
        num(f.io_free.factor()),
        num((100.0 * (1.0 - ratio(f.io_gil.many, f.io_free.many))).max(0.0)),
    );
    let why = "Under the lock the four CPU-bound threads took turns, so only one computed at a \
               time; without it they were bounded by the cores, not by a lock. The I/O-bound \
               request spends almost all its time waiting for the network with the lock \
               released, so its threads overlapped either way.";
    format!("{facts} {}", reading(checks, why))
}

/// The speed-up from 1 to 4 threads of each kind of work and lock.
fn speedup_chart(f: &Gil) -> BarChart {
    let all = [f.cpu_gil, f.cpu_free, f.io_gil, f.io_free];
    BarChart {
        title: "Speed-up from 1 to 4 threads".into(),
        x_label: "work and lock".into(),
        y_label: "throughput with 4 threads / with 1".into(),
        groups: CONFIGS.iter().map(|c| c.1.to_string()).collect(),
        series: vec![BarSeries {
            name: "speed-up".into(),
            color: variant_color("sync"),
            values: all.iter().map(Speedup::factor).collect(),
        }],
        lines: vec![
            RefLine {
                value: 1.0,
                label: "no speed-up".into(),
            },
            RefLine {
                value: f.cores.min(THREADS as u64) as f64,
                label: format!("{} cores", f.cores),
            },
            RefLine {
                value: THREADS as f64,
                label: format!("{THREADS} threads"),
            },
        ],
    }
}
