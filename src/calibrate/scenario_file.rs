//! The calibrated scenario: the model as a [`Scenario`] and as the commented TOML file
//! `ragperf calibrate` writes (its header is the evidence: every point measured and the reasons).

use anyhow::{Context, Result};

use super::{Calibration, placement};
use crate::pipeline::VariantKind;
use crate::scenario::Scenario;

impl Calibration {
    /// The scenario that reproduces the service: the calibration's own mocks and time scale,
    /// the fitted CPU (under the GIL when `gil`), the detected variant and pool; no `[target]`.
    pub fn scenario(&self, base: &Scenario, gil: bool) -> Scenario {
        let mut s = base.clone();
        s.target = None;
        s.request.cpu_work_us = self.cpu.per_request_us.round() as u64;
        s.request.cpu_per_token_us = self.cpu.per_token_us.round() as u64;
        s.request.cpu_per_read_us = self.cpu.per_read_us.round() as u64;
        s.request.cpu_steps = self.cpu_steps;
        // Two decimals: the figures are measurements, not exact to the last bit (rounded down
        // so the two never add up to more than 1).
        let two = |v: f64| (v * 100.0).floor() / 100.0;
        s.request.cpu_offloop_share = two(self.cpu_placement.offloop);
        s.request.cpu_parallel_share = two(self.cpu_placement.parallel);
        let loop_shares = self.loop_shares.unwrap_or_default();
        s.request.cpu_request_loop_share = two(loop_shares.request);
        s.request.cpu_token_loop_share = two(loop_shares.token);
        s.request.cpu_outside_gil_share = if gil {
            two(self.outside_gil_share)
        } else {
            0.0
        };
        // One core in all when saturated, split as the service splits it: the lock at most the
        // rest of each second ([`placement::saturated_cores`] shows the probes' own).
        s.request.gil_max_busy = if s.request.cpu_outside_gil_share > 0.0 {
            ((1.0 - s.request.cpu_outside_gil_share) * 100.0).round() / 100.0
        } else {
            1.0
        };
        s.request.gil = gil;
        s.load.variants = vec![self.shape.variant.name().to_string()];
        // The calibration's warm-up was for its low loads; a prediction at higher ones gets
        // ragperf's own, which covers a CPU-bound point's start-up burst.
        s.load.warmup = None;
        s.load.max_blocking_threads = match self.shape.variant {
            VariantKind::AsyncSingle => self.offloop_threads,
            _ => base.load.max_blocking_threads,
        };
        s.load.workers = match self.shape.variant {
            VariantKind::Sync | VariantKind::SyncStream => self.shape.workers,
            _ => None,
        };
        s
    }

    /// How the off-loop CPU was split, for the header.
    fn gil_source(&self) -> String {
        match placement::gil_off_busiest_share(&self.observations) {
            Some(share) => format!(
                "measured with py-spy: the other threads held the GIL in {:.1} % of its samples",
                100.0 * share
            ),
            None => "what ran beyond one core, a lower bound; --py-spy measures it".into(),
        }
    }

    /// Where the off-loop split came from: the fit at the probe, or what was measured.
    fn placement_source(&self) -> String {
        match &self.model_at_probes {
            Some(fit) if fit.chosen != fit.measured_placement => format!(
                "fitted by running the model at the probes, below; as measured {:.0} % and {:.0} %, {}",
                100.0 * fit.measured_placement.offloop,
                100.0 * fit.measured_placement.parallel,
                self.gil_source()
            ),
            _ => self.gil_source(),
        }
    }

    /// The calibrated scenario as TOML, headed by what was measured and how to use it.
    pub fn scenario_toml(&self, base: &Scenario, gil: bool, target: &str) -> Result<String> {
        let s = self.scenario(base, gil);
        let body = toml::to_string(&s).context("writing the calibrated scenario")?;
        let mut head = String::new();
        head.push_str(&format!(
            "# Written by `ragperf calibrate` (ragperf {}) from {target}.\n",
            env!("CARGO_PKG_VERSION")
        ));
        head.push_str("# Predict higher loads without the service:\n#   ragperf sweep --scenario THIS_FILE -c 50,100,200\n");
        head.push_str(&format!(
            "#\n# Model: `{}`{}, CPU {:.0} us per request + {:.0} us per token event{}{} (from the {}).\n",
            self.shape.variant.name(),
            self.shape
                .workers
                .map(|w| format!(" with a pool of {w}"))
                .unwrap_or_default(),
            self.cpu.per_request_us,
            self.cpu.per_token_us,
            if self.cpu.per_read_us > 0.0 {
                format!(
                    " + {:.0} us per socket read of the stream (a token not already buffered)",
                    self.cpu.per_read_us
                )
            } else {
                String::new()
            },
            if gil {
                ", under one lock (the GIL)"
            } else {
                ""
            },
            match self.cpu_from.as_str() {
                "probe" => "probes, the loaded points",
                "loop" => "probes, the loaded points; fitted on the event loop's thread, which bounds it: its CPU per answer (the busiest thread's) against the answer length, plus the CPU off it per request",
                "burst" if self.cpu.per_read_us > 0.0 => "probes, the loaded points; per token event and per read told apart by a burst: answers sent at once",
                "burst" => "probes, the loaded points; a burst (answers sent at once) found no CPU per read to tell apart",
                _ => "low levels",
            }
        ));
        if let (Some(low), "probe" | "burst" | "loop") = (self.cpu_low, self.cpu_from.as_str()) {
            head.push_str(&format!(
                "#   (at the low levels: {:.0} us per request + {:.0} us per token event)\n",
                low.per_request_us, low.per_token_us
            ));
        }
        head.push_str(&format!(
            "#   The per-request CPU is spread over {} point(s) before the stream (one per backend \
             call before the generation, plus the prompt).\n",
            self.cpu_steps
        ));
        head.push_str(&if self.shape.variant == VariantKind::AsyncSingle {
            format!(
                "#   Off the event loop's thread (the server's CPU beyond its busiest thread): \
                 {:.0} % of it under the GIL, {:.0} % in parallel ({}){}.\n",
                100.0 * self.cpu_placement.offloop,
                100.0 * self.cpu_placement.parallel,
                self.placement_source(),
                self.offloop_threads
                    .map(|n| format!(
                        ", on at most {n} threads (its threads beyond those it started with: \
                         max_blocking_threads)"
                    ))
                    .unwrap_or_default()
            )
        } else if s.request.cpu_outside_gil_share > 0.0 {
            format!(
                "#   Where it ran is not split for a thread pool (its threads share one GIL), but \
                 {:.0} % of every CPU section runs outside the GIL, before taking it: the kernel's \
                 share of the server's CPU at the {} (its system time: CPython releases the GIL \
                 for its system calls; cpu_outside_gil_share).\n",
                100.0 * s.request.cpu_outside_gil_share,
                if self.observations.iter().any(|o| o.probe) {
                    "probes"
                } else {
                    "low levels"
                }
            ) + &format!(
                "#   The GIL is held at most {:.0} % of each second of sustained use (gil_max_busy, \
                 1 - that share): one core in all when saturated, split as the service splits it \
                 (CPython's GIL stands free while it passes between threads){}.\n",
                100.0 * s.request.gil_max_busy,
                match placement::saturated_cores(&self.observations) {
                    Some((cores, user)) => format!(
                        "; the saturated probes used {cores:.2} cores, {user:.2} of them user time"
                    ),
                    None => "; no probe was saturated (one core or more) to show it".into(),
                }
            )
        } else {
            "#   Where it ran is not split for a thread pool: its threads share one GIL.\n".into()
        });
        if let Some(fit) = &self.model_at_probes {
            head.push_str(&probe_fit_lines(fit));
        }
        if let Some(shares) = self.loop_shares {
            head.push_str(&format!(
                "#   On the event loop (its busiest thread, fitted like the whole server): {:.0} % \
                 of the CPU per request ({:.0} us: reading it, dispatching its body; \
                 cpu_request_loop_share) and {:.0} % of the CPU per token event ({:.0} us: \
                 sending the chunk, dispatching the next `next()`; cpu_token_loop_share), \
                 serially on that one thread.\n",
                100.0 * shares.request,
                shares.request * self.cpu.per_request_us,
                100.0 * shares.token,
                shares.token * self.cpu.per_token_us
            ));
        }
        for r in &self.shape.reasons {
            head.push_str(&format!("#   - {r}\n"));
        }
        head.push_str(
            "#\n# Measured (server CPU per answer inside each point's measured window; over the whole run, \
             per generation the mock served, where the window could not be read; cores: the server's \
             CPU per second of the point):\n",
        );
        if let Some(d) = &self.deeper_probe {
            head.push_str(&format!(
                "#   (probe \"first\": the first pass's probes at {} users, which did not saturate the \
                 event loop; the levels and the probe were measured again with {} users, under \
                 probe-{}/, the rows the model takes)\n",
                d.first_users, d.users, d.users
            ));
        }
        if let Some(speed) = self.machine_speed {
            head.push_str(&format!(
                "#   (speed: the machine's, in rounds of ragperf's work function per us of CPU, \
                 read beside the server's CPU; the fits take each point's CPU x its speed / \
                 {speed:.3}, the median: the CPU it would have spent at one speed)\n"
            ));
        }
        head.push_str(
            "#   users  tokens  probe   req/s  e2e p50 ms  ttft p50 ms  cpu ms/req  cores  tokens/req  threads",
        );
        head.push_str(if self.machine_speed.is_some() {
            "  speed\n"
        } else {
            "\n"
        });
        // The first pass's probes (a deeper probe measured the pass again), then the model's.
        let first = self.deeper_probe.iter().flat_map(|d| &d.first_pass);
        let rows = first.filter(|o| o.probe).map(|o| (o, "first"));
        let rows = rows.chain(self.observations.iter().map(|o| (o, "")));
        for (o, kind) in rows.chain(self.bursts.iter().map(|o| (o, "burst"))) {
            let speed = match self.machine_speed {
                Some(_) => format!("  {:>5}", opt(o.speed, 3)),
                None => String::new(),
            };
            head.push_str(&format!(
                "#   {:>5}  {:>6}  {:>5}  {:>6.1}  {:>10}  {:>11}  {:>10}  {:>5}  {:>10}  {:>7}{speed}\n",
                o.concurrency,
                o.tokens_setting,
                match (kind, o.probe) {
                    ("", true) => "yes",
                    (k, _) => k,
                },
                o.requests_per_s,
                opt(o.e2e_p50_ms, 0),
                opt(o.ttft_p50_ms, 0),
                opt(o.cpu_per_request_ms, 1),
                opt(o.server_cores, 2),
                opt(o.tokens_per_request, 1),
                o.threads_peak
            ));
        }
        for o in self
            .observations
            .iter()
            .filter(|o| o.window_cpu_ms.len() > 1)
        {
            let cpu: Vec<String> = o.window_cpu_ms.iter().map(|c| format!("{c:.1}")).collect();
            let starts = match o.window_starts {
                0 => String::new(),
                1 => " of one start of the service".to_string(),
                n => format!(" on {n} starts of the service"),
            };
            head.push_str(&format!(
                "#   (the probe at {} users, {} tokens, in {} windows{starts}: CPU per answer {} ms; its row is the median window)\n",
                o.concurrency,
                o.tokens_setting,
                o.window_cpu_ms.len(),
                cpu.join(", ")
            ));
        }
        if !self.calls_per_request.is_empty() {
            let calls: Vec<String> = self
                .calls_per_request
                .iter()
                .map(|(op, n)| format!("{op} {n:.2}"))
                .collect();
            head.push_str(&format!(
                "# Backend calls per request: {}\n",
                calls.join(", ")
            ));
        }
        if let Some(line) = super::waits::waits_line(&self.backend_waits) {
            head.push_str(&format!(
                "# Backend waits the service saw (the mocks' statistics, every point): {line}\n"
            ));
        }
        for w in &self.warnings {
            head.push_str(&format!("# Note: {w}\n"));
        }
        head.push('\n');
        Ok(head + &body)
    }
}

/// The header's account of the runs of the model at the probes.
fn probe_fit_lines(fit: &super::probe_fit::ProbeFit) -> String {
    if !fit.fitted {
        return checked_lines(fit);
    }
    let served: Vec<String> = fit
        .measured
        .iter()
        .map(|a| {
            format!(
                "{} tokens: {:.1} req/s, e2e p50 {} ms, TTFT p50 {} ms",
                a.tokens,
                a.requests_per_s,
                opt(a.e2e_p50_ms, 0),
                opt(a.ttft_p50_ms, 0)
            )
        })
        .collect();
    let mut out = format!(
        "#   The model run at the probes ({} users), where the service did {}; {}:\n",
        fit.users,
        served.join("; "),
        fit.how
    );
    out.push_str("#     under the GIL  in parallel  per probe: tokens req/s e2e/ttft p50 ms  faster (mean log ratio)\n");
    for t in &fit.trials {
        let runs: Vec<String> = t
            .runs
            .iter()
            .map(|r| {
                format!(
                    "{:>4} {:>5.1} {}/{}",
                    r.at.tokens,
                    r.at.requests_per_s,
                    opt(r.at.e2e_p50_ms, 0),
                    opt(r.at.ttft_p50_ms, 0)
                )
            })
            .collect();
        out.push_str(&format!(
            "#     {:>11.0} %  {:>9.0} %  {}  {:>+7.3}\n",
            100.0 * t.offloop,
            100.0 * t.parallel,
            runs.join("  "),
            t.excess
        ));
    }
    out
}

/// The header's account of the model as calibrated, run at the probes: measured / model.
fn checked_lines(fit: &super::probe_fit::ProbeFit) -> String {
    let mut out = format!(
        "#   The model run at its probes ({} users), measured / model; {}:\n",
        fit.users, fit.how
    );
    let ratio = |s: Option<f64>, m: Option<f64>, digits: usize| match (s, m) {
        (Some(s), Some(m)) if m > 0.0 => format!("{s:.digits$} / {m:.digits$} = {:.2}", s / m),
        _ => "—".into(),
    };
    for run in fit.trials.iter().flat_map(|t| t.runs.iter().map(|r| &r.at)) {
        let Some(aim) = fit.measured.iter().find(|a| a.tokens == run.tokens) else {
            continue;
        };
        out.push_str(&format!(
            "#     {:>4} tokens: req/s {}, e2e p50 ms {}, TTFT p50 ms {}\n",
            run.tokens,
            ratio(Some(aim.requests_per_s), Some(run.requests_per_s), 1),
            ratio(aim.e2e_p50_ms, run.e2e_p50_ms, 0),
            ratio(aim.ttft_p50_ms, run.ttft_p50_ms, 0)
        ));
    }
    out
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "—".into())
}
