//! X4: async keeps scaling only while CPU per request × throughput stays under one core.
//!
//! One event loop runs one request's Python at a time (with the GIL, one thread's Python at a
//! time in the whole process), so a worker completes at most `1 / CPU per request` requests per
//! second however many users wait. Its throughput is `min(users / latency, 1 / CPU per
//! request)`: it tracks the users up to the knee `users ≈ latency / CPU per request`, then stays
//! flat while every user's time to first token grows. Measured on the seed's real stack in
//! `docs/fastapi-rag.md`: the `async def` endpoint as the seed writes it spends ~115 ms of CPU per
//! request (LlamaIndex's Bedrock classes open a new aioboto3 client on every call) and stopped at
//! ~9-10 req/s from 50 users on; with one shared client, ~17 ms per request and ~50-56 req/s.
//!
//! Here `async-single` (one event-loop thread, `gil = true`) runs with those two CPU costs, scaled
//! with the time scale (CPU ÷ backend wait as on the real stack, where one request waited ~0.95 s
//! on its backends), at a load below the knee of both and one above the knee of the client-per-
//! call cost.

use std::time::Duration;

use anyhow::Result;

use super::timeline::timeline_chart;
use crate::pipeline::VariantKind;
use crate::scenario::Scenario;
use crate::tour::chart::{BarChart, BarSeries, PAIR, RefLine};
use crate::tour::measure;
use crate::tour::model::{self, Mode, Step};
use crate::tour::verdict::{Check, Role, num, ratio, reading};
use crate::tour::{ChartSource, ChartSpec, Experiment, Finding, Measured, Table, ms_text};

/// The X4 experiment.
pub fn experiment() -> Experiment {
    Experiment {
        id: "X4",
        aliases: &["cpu-scaling", "client-per-call"],
        slug: "x4-cpu-scaling",
        title: "Async keeps scaling only while CPU per request × throughput stays under one core",
        seed: "\"Async: … scales to thousands of connections\" (Q7); the async endpoint of Q13 \
               and Q15 creates its LlamaIndex clients as it goes and calls RAG \"all I/O-bound\" \
               (Q6).",
        claim: "An event-loop worker serves min(users / latency, 1 / CPU per request): it scales \
                with the users only until its CPU per request × throughput reaches one core; \
                beyond that throughput stays flat and every user's first token waits. Creating \
                a client per call (the seed's code as written) costs ~7× the CPU of one shared \
                client, and so ~7× the requests a worker can serve.",
        steps,
        analyse,
    }
}

/// Users below the knee of both costs.
pub const LOW: usize = 4;
/// Users above the knee of the client-per-call cost, below the shared client's.
pub const HIGH: usize = 48;

/// What one request of the real stack waited on its backends, ms (`docs/fastapi-rag.md`).
pub const REAL_WAIT_MS: f64 = 950.0;
/// CPU per request of the real `async def` endpoint as the seed writes it (a new aioboto3
/// client per call), ms (`docs/fastapi-rag.md`: ~110-140 ms).
pub const REAL_PER_CALL_CPU_MS: f64 = 115.0;
/// CPU per request of the same endpoint with one shared client, ms (~16-22 ms).
pub const REAL_SHARED_CPU_MS: f64 = 17.0;

/// The two CPU costs: (label, real CPU per request in ms).
const COSTS: [(&str, f64); 2] = [
    ("a new client per call", REAL_PER_CALL_CPU_MS),
    ("one shared client", REAL_SHARED_CPU_MS),
];

/// The steps: (name, index into [`COSTS`], users).
const STEPS: [(&str, usize, usize); 4] = [
    ("per-call-low", 0, LOW),
    ("per-call-high", 0, HIGH),
    ("shared-low", 1, LOW),
    ("shared-high", 1, HIGH),
];

/// The real stack's CPU per request scaled to this scenario: the same share of the request's
/// backend wait, µs of real computation.
pub fn scaled_cpu_us(real_cpu_ms: f64, s: &Scenario) -> u64 {
    let wait_ms = model::model_request_ms(s) * s.time_scale;
    (real_cpu_ms * wait_ms / REAL_WAIT_MS * 1000.0).round() as u64
}

fn steps(mode: Mode) -> Vec<Step> {
    // 300 ms (quick) or 750 ms (full) of backend wait per request: 36 or 91 ms of CPU for the
    // client-per-call cost.
    let mut s = model::seed_scenario(mode.pick(0.1, 0.25));
    model::jittered(&mut s);
    s.request.gil = true;
    // The full run's window is 8 s: with 4 s, the high-load step of the client-per-call cost
    // read 12.3 and 12.6 req/s in two runs against a 1 / CPU cap of 10.9 — the share of the
    // requests straddling the window's edges, a transient of 48 users whose loop rounds take
    // 4.4 s; 20 s after a 10 s warm-up read 11.1.
    model::by_duration(
        &mut s,
        mode.pick(Duration::from_millis(1000), Duration::from_secs(8)),
    );
    STEPS
        .iter()
        .map(|&(name, cost, users)| {
            let (label, real) = COSTS[cost];
            let mut c = s.clone();
            c.request.cpu_work_us = scaled_cpu_us(real, &c);
            // A CPU-bound loop starts with every user's first CPU step queued at once: let two
            // rounds of them pass before the window opens, so it opens near steady state (the
            // users start in step; the first rounds are bursts).
            let round = Duration::from_micros(c.request.cpu_work_us) * users as u32 * 2;
            let warmup = c.load.warmup.unwrap_or_default();
            c.load.warmup = Some(warmup.max(round));
            model::step(
                name,
                format!(
                    "`async-single` under the GIL, {users} users, {label}: {} of CPU per \
                     request (the real stack's {} × {} / {} of backend wait)",
                    ms_text(c.request.cpu_work_us as f64 / 1000.0),
                    ms_text(real),
                    ms_text(model::model_request_ms(&c) * c.time_scale),
                    ms_text(REAL_WAIT_MS),
                ),
                model::plan(c, &[VariantKind::AsyncSingle], vec![model::closed(users)]),
            )
        })
        .collect()
}

/// One CPU cost at one load.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Users.
    pub users: usize,
    /// Requests/s.
    pub rps: f64,
    /// Median time to first token, ms.
    pub ttft_p50_ms: f64,
    /// Median end-to-end, ms.
    pub e2e_p50_ms: f64,
    /// Median wall time of the CPU step, ms: its CPU work when the loop has a core, more when
    /// the machine is busy with other work.
    pub cpu_wall_p50_ms: f64,
}

/// One CPU cost at both loads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cost {
    /// CPU per request, ms.
    pub cpu_ms: f64,
    /// One request with no waiting for the loop (backend waits + CPU), ms.
    pub latency_ms: f64,
    /// Below the knee.
    pub low: Point,
    /// Above the knee (of the client-per-call cost).
    pub high: Point,
}

impl Cost {
    /// How long one request's CPU step held the loop, ms: the CPU work, or the step's median
    /// wall time at low load when the machine stretched it (a busy machine gives the loop less
    /// than a core, and the rule holds for the cost as it ran).
    pub fn step_ms(&self) -> f64 {
        let wall = self.low.cpu_wall_p50_ms;
        if wall.is_finite() {
            self.cpu_ms.max(wall)
        } else {
            self.cpu_ms
        }
    }

    /// The most one core completes: 1 / CPU per request, req/s.
    pub fn cpu_cap_rps(&self) -> f64 {
        ratio(1000.0, self.step_ms())
    }

    /// What `users` ask for: users / latency, req/s.
    pub fn wanted_rps(&self, users: usize) -> f64 {
        ratio(
            users as f64 * 1000.0,
            self.latency_ms - self.cpu_ms + self.step_ms(),
        )
    }

    /// The rule: min(users / latency, 1 / CPU per request), req/s.
    pub fn predicted_rps(&self, users: usize) -> f64 {
        self.wanted_rps(users).min(self.cpu_cap_rps())
    }

    /// Users at which the two meet: latency / CPU per request.
    pub fn knee_users(&self) -> f64 {
        ratio(
            self.latency_ms - self.cpu_ms + self.step_ms(),
            self.step_ms(),
        )
    }

    /// Share of one core the CPU work took at `p`: throughput × CPU per request.
    pub fn busy(&self, p: &Point) -> f64 {
        p.rps * self.step_ms() / 1000.0
    }

    /// [`Cost::busy`] as a share of the time, for people: a loop cannot compute more than all
    /// the time, so a product above 100 % (the window's req/s estimate is a few % off) reads
    /// "100% (req/s × CPU: 103%)", never a bare 103 %.
    pub fn busy_text(&self, p: &Point) -> String {
        let pct = 100.0 * self.busy(p);
        if pct > 100.0 {
            format!("100% (req/s × CPU: {}%)", num(pct))
        } else {
            format!("{}%", num(pct))
        }
    }
}

/// What X4 measured.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuScaling {
    /// A new client per call.
    pub per_call: Cost,
    /// One shared client.
    pub shared: Cost,
}

/// Reads X4's figures.
pub fn figures(m: &Measured) -> Result<CpuScaling> {
    let point = |step: &str, users: usize| -> Result<(Point, f64, f64)> {
        let r = m.get(step)?;
        let run = measure::run(r, "async-single", users)?;
        Ok((
            Point {
                users,
                rps: run.throughput.requests_per_s,
                ttft_p50_ms: measure::ms(run, "ttft", |p| p.p50),
                e2e_p50_ms: measure::ms(run, "e2e", |p| p.p50),
                cpu_wall_p50_ms: measure::ms(run, "cpu", |p| p.p50),
            },
            r.scenario.request.cpu_work_us as f64 / 1000.0,
            run.ideal.expected_service_s * 1000.0,
        ))
    };
    let cost = |name: &str| -> Result<Cost> {
        let (low, cpu_ms, latency_ms) = point(&format!("{name}-low"), LOW)?;
        let (high, _, _) = point(&format!("{name}-high"), HIGH)?;
        Ok(Cost {
            cpu_ms,
            latency_ms,
            low,
            high,
        })
    };
    Ok(CpuScaling {
        per_call: cost("per-call")?,
        shared: cost("shared")?,
    })
}

/// X4's checks.
pub fn checks(f: &CpuScaling) -> Vec<Check> {
    let (a, b) = (&f.per_call, &f.shared);
    vec![
        Check::at_least(
            "below the knee, a client per call still tracks users / latency (measured / \
             min(users / latency, 1 / CPU))",
            ratio(a.low.rps, a.predicted_rps(a.low.users)),
            0.75,
            "",
            Role::Core,
        ),
        Check::at_least(
            "below the knee, a shared client tracks users / latency (measured / min(users / \
             latency, 1 / CPU))",
            ratio(b.low.rps, b.predicted_rps(b.low.users)),
            0.75,
            "",
            Role::Detail,
        ),
        Check::at_most(
            "above the knee, a client per call caps at 1 / CPU per request (req/s)",
            a.high.rps,
            1.15 * a.cpu_cap_rps(),
            "",
            Role::Core,
        ),
        Check::at_least(
            "above the knee, every user's first token waits (TTFT p50, high / low load)",
            ratio(a.high.ttft_p50_ms, a.low.ttft_p50_ms),
            3.0,
            "×",
            Role::Core,
        ),
        Check::at_least(
            "at the high load a shared client serves more (shared / per-call throughput)",
            ratio(b.high.rps, a.high.rps),
            3.0,
            "×",
            Role::Core,
        ),
        Check::at_least(
            "above the knee the CPU is the limit: the loop computes most of the time (share \
             of one core)",
            a.busy(&a.high),
            0.6,
            "",
            Role::Detail,
        ),
    ]
}

fn analyse(m: &Measured) -> Result<Finding> {
    Ok(finding(&figures(m)?, m))
}

/// The finding of X4's figures (`m` only sizes the timeline chart).
pub fn finding(f: &CpuScaling, m: &Measured) -> Finding {
    let checks = checks(f);
    let (a, b) = (&f.per_call, &f.shared);
    Finding {
        headline: headline(a, b),
        table: table(a, b),
        explanation: explanation(a, b, &checks),
        checks,
        charts: charts(a, b, m),
    }
}

/// The finding's one-line summary.
fn headline(a: &Cost, b: &Cost) -> String {
    format!(
        "{HIGH} users: {} CPU per request → {} req/s (1 / CPU = {}), {} → {} req/s; knee at \
         {} vs {} users",
        ms_text(a.cpu_ms),
        num(a.high.rps),
        num(a.cpu_cap_rps()),
        ms_text(b.cpu_ms),
        num(b.high.rps),
        num(a.knee_users()),
        num(b.knee_users())
    )
}

/// One row per CPU cost and load.
fn table(a: &Cost, b: &Cost) -> Table {
    let mut table = Table::new(&[
        "CPU per request",
        "users",
        "users / latency",
        "1 / CPU",
        "predicted",
        "req/s",
        "loop computing",
        "CPU step (wall) p50",
        "TTFT p50",
        "e2e p50",
    ]);
    for (label, c) in [("a new client per call", a), ("one shared client", b)] {
        for p in [c.low, c.high] {
            table.row(vec![
                format!("{} ({label})", ms_text(c.cpu_ms)),
                p.users.to_string(),
                num(c.wanted_rps(p.users)),
                num(c.cpu_cap_rps()),
                num(c.predicted_rps(p.users)),
                num(p.rps),
                c.busy_text(&p),
                ms_text(p.cpu_wall_p50_ms),
                ms_text(p.ttft_p50_ms),
                ms_text(p.e2e_p50_ms),
            ]);
        }
    }
    table
}

/// How much of a core the loop got while it computed, in words.
fn machine_note(a: &Cost) -> String {
    // How much of a core the loop got while it computed: CPU work / its wall time at low load.
    let got = ratio(a.cpu_ms, a.low.cpu_wall_p50_ms).min(1.0);
    if got >= 0.75 {
        format!(
            "At {LOW} users the CPU step took {} of wall time for {} of work: the loop had a \
             core whenever it computed.",
            ms_text(a.low.cpu_wall_p50_ms),
            ms_text(a.cpu_ms)
        )
    } else {
        format!(
            "Careful: at {LOW} users the CPU step took {} of wall time for {} of work, so the \
             machine gave the loop only about {}% of a core (other programs were running); \
             the rule above used the CPU step as it ran ({}), and every figure is stretched by \
             the machine, not by the model.",
            ms_text(a.low.cpu_wall_p50_ms),
            ms_text(a.cpu_ms),
            num(100.0 * got),
            ms_text(a.step_ms())
        )
    }
}

/// The explanation: the rule and the knees the model predicts, what each cost served, then
/// why only when the checks support it.
pub fn explanation(a: &Cost, b: &Cost, checks: &[Check]) -> String {
    let above = |c: &Cost, users: usize| {
        if users as f64 > c.knee_users() {
            "above"
        } else {
            "below"
        }
    };
    let facts = format!(
        "One request waits on its backends and computes {} with a new client per call or {} \
         with one shared client ({}× less; the real stack's ~{} and ~{}, scaled to this run's \
         request). One event loop under the GIL computes for one request at a time, so the \
         model caps it at 1 / CPU per request: {} or {} req/s. Users ask for users / latency \
         ({} or {} per request), and the two meet at the knee: {} users for a client per call, \
         {} for a shared client. At {LOW} users ({} both knees) the two served {} and {} req/s, \
         {}% and {}% of users / latency. At {HIGH} users ({} the client-per-call knee) that \
         cost served {} req/s — {}% of its 1 / CPU cap of {}, while the users asked for {} — \
         with the loop computing {} of the time, and the median first token went from {} to \
         {} ({}×). One shared client served {} req/s at the same load, {}× more, with a median \
         first token of {}.",
        ms_text(a.cpu_ms),
        ms_text(b.cpu_ms),
        num(ratio(a.cpu_ms, b.cpu_ms)),
        ms_text(REAL_PER_CALL_CPU_MS),
        ms_text(REAL_SHARED_CPU_MS),
        num(a.cpu_cap_rps()),
        num(b.cpu_cap_rps()),
        ms_text(a.latency_ms),
        ms_text(b.latency_ms),
        num(a.knee_users()),
        num(b.knee_users()),
        if (LOW as f64) < a.knee_users().min(b.knee_users()) {
            "below"
        } else {
            "not below"
        },
        num(a.low.rps),
        num(b.low.rps),
        num(100.0 * ratio(a.low.rps, a.wanted_rps(LOW))),
        num(100.0 * ratio(b.low.rps, b.wanted_rps(LOW))),
        above(a, HIGH),
        num(a.high.rps),
        num(100.0 * ratio(a.high.rps, a.cpu_cap_rps())),
        num(a.cpu_cap_rps()),
        num(a.wanted_rps(HIGH)),
        a.busy_text(&a.high),
        ms_text(a.low.ttft_p50_ms),
        ms_text(a.high.ttft_p50_ms),
        num(ratio(a.high.ttft_p50_ms, a.low.ttft_p50_ms)),
        num(b.high.rps),
        num(ratio(b.high.rps, a.high.rps)),
        ms_text(b.high.ttft_p50_ms),
    );
    let why = format!(
        "Past the knee every request waited for everyone else's CPU. So \"async keeps \
         scaling\" holds while users × CPU per request ÷ latency stays under one core: about \
         {} users per worker for the client-per-call code, {} with a shared client.",
        num(a.knee_users().floor()),
        num(b.knee_users().floor()),
    );
    format!("{facts} {} {}", reading(checks, &why), machine_note(a))
}

/// Throughput and TTFT bars, and the client-per-call timeline above the knee.
fn charts(a: &Cost, b: &Cost, m: &Measured) -> Vec<ChartSpec> {
    let groups = vec![format!("{LOW} users"), format!("{HIGH} users")];
    let series = |pick: fn(&Point) -> f64| {
        vec![
            BarSeries {
                name: format!("{} CPU: a new client per call", ms_text(a.cpu_ms)),
                color: PAIR[1],
                values: vec![pick(&a.low), pick(&a.high)],
            },
            BarSeries {
                name: format!("{} CPU: one shared client", ms_text(b.cpu_ms)),
                color: PAIR[0],
                values: vec![pick(&b.low), pick(&b.high)],
            },
        ]
    };
    let throughput = BarChart {
        title: "One event loop under the GIL: throughput against its CPU caps".into(),
        x_label: "load".into(),
        y_label: "requests/s".into(),
        groups: groups.clone(),
        series: series(|p| p.rps),
        lines: vec![
            RefLine {
                value: a.cpu_cap_rps(),
                label: format!("1 / CPU, client per call: {}", num(a.cpu_cap_rps())),
            },
            RefLine {
                value: b.cpu_cap_rps(),
                label: format!("1 / CPU, shared client: {}", num(b.cpu_cap_rps())),
            },
        ],
    };
    let ttft = BarChart {
        title: "Median time to first token".into(),
        x_label: "load".into(),
        y_label: "TTFT p50 (ms)".into(),
        groups,
        series: series(|p| p.ttft_p50_ms),
        lines: Vec::new(),
    };
    vec![
        ChartSpec {
            name: "throughput".into(),
            caption: format!(
                "Requests per second of one event loop with each CPU cost: at {HIGH} users {} \
                 req/s with a client per call (its 1 / CPU line: {}) and {} with a shared \
                 client.",
                num(a.high.rps),
                num(a.cpu_cap_rps()),
                num(b.high.rps)
            ),
            source: ChartSource::Bars(throughput),
        },
        ChartSpec {
            name: "ttft".into(),
            caption: format!(
                "Median time to first token: with a client per call {} at {LOW} users and {} \
                 at {HIGH}; with a shared client {} and {}.",
                ms_text(a.low.ttft_p50_ms),
                ms_text(a.high.ttft_p50_ms),
                ms_text(b.low.ttft_p50_ms),
                ms_text(b.high.ttft_p50_ms)
            ),
            source: ChartSource::Bars(ttft),
        },
        timeline(a, m),
    ]
}

/// The client-per-call timeline above the knee.
fn timeline(a: &Cost, m: &Measured) -> ChartSpec {
    timeline_chart(
        "per-call-high",
        "async-single",
        HIGH,
        &format!("Request timeline: a new client per call, {HIGH} users"),
        &format!(
            "Orange is each request's CPU step on the loop (median wall time {}), purple the \
             wait for the first token (median {}).",
            ms_text(a.high.cpu_wall_p50_ms),
            ms_text(a.high.ttft_p50_ms)
        ),
        m,
    )
}

#[cfg(test)]
#[path = "x4_cpu_scaling_tests.rs"]
mod tests;
