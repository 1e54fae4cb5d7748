//! Plain-language pieces shared by `summary.md` and `index.html`: number formatting with units,
//! the comparison table's cells, and the scenario as run, as short lines a person can read.
//!
//! Everything here is Markdown-flavoured text (`code` in backticks); the HTML exporter turns the
//! backticks into `<code>`.

use mock_services::config::FaultSpec;

use crate::metrics::catalogue as cat;
use crate::result::{RunResult, VariantRun};

/// Milliseconds with a precision that suits their size: `0.42 ms`, `12.3 ms`, `245 ms`, `2.35 s`.
pub fn ms(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 1.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

/// Milliseconds as a bare number, for a column whose heading carries the unit: `0.42`, `12.3`,
/// `245`, `2350`.
pub fn ms_num(v: f64) -> String {
    if !v.is_finite() {
        "—".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A value that may be missing: formatted, or "—" (never a 0 that was not measured).
pub fn optional(v: Option<f64>, format: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "—".into(), format)
}

/// A rate with one decimal below 1,000 and none above.
pub fn rate(v: f64) -> String {
    if v >= 1000.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

pub use crate::result::query::pct;

/// Failed (by kind) and abandoned requests of a run, e.g. `3 (2 throttled, 1 stream_cut)`.
pub fn errors(run: &VariantRun) -> String {
    let c = &run.counters;
    let mut out = c.failed.to_string();
    if !c.failed_by_kind.is_empty() {
        let kinds: Vec<String> = c
            .failed_by_kind
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        out.push_str(&format!(" ({})", kinds.join(", ")));
    }
    if c.abandoned > 0 {
        out.push_str(&format!(" + {} abandoned", c.abandoned));
    }
    if c.never_sent > 0 {
        out.push_str(&format!(" + {} never sent", c.never_sent));
    }
    let w = &c.warmup;
    if w.failed + w.abandoned + w.never_sent > 0 {
        out.push_str(&format!(
            "; warm-up {} due: {} failed, {} unfinished, {} never sent",
            w.due, w.failed, w.abandoned, w.never_sent
        ));
    }
    out
}

/// Header of the comparison table (summary.md and index.html): the figures' headings and units
/// from the metric catalogue; a latency's p50 and p99 share one column.
pub fn table_header() -> Vec<String> {
    vec![
        "variant".into(),
        "load".into(),
        cat::REQUESTS_PER_S.short.into(),
        format!("ideal {}", cat::REQUESTS_PER_S.unit),
        cat::EFFICIENCY.short.into(),
        cat::TOKENS_PER_S.short.into(),
        cat::latency_heading("e2e", "p50/p99"),
        cat::latency_heading("ttft", "p50/p99"),
        cat::latency_heading("itl", "p50/p99"),
        cat::latency_heading("queue", "p99"),
        cat::THREADS_PEAK.short.into(),
        cat::RSS_PEAK_MIB.short.into(),
        cat::CPU_PER_REQUEST_MS.short.into(),
        "errors".into(),
    ]
}

/// One row of the comparison table, cells in [`table_header`] order.
pub fn table_row(run: &VariantRun, with_repetition: bool) -> Vec<String> {
    // A histogram with no values (nothing finished) shows a dash, not 0 ms.
    let pair = |name: &str| {
        let p = pct(run, name);
        if p.count == 0 {
            "—".to_string()
        } else {
            format!("{}/{}", ms_num(p.p50), ms_num(p.p99))
        }
    };
    let queue = pct(run, "queue");
    let mut load = run.point.label();
    if with_repetition {
        load.push_str(&format!(" #{}", run.repetition + 1));
    }
    let no_ideal = run.ideal.ideal_requests_per_s <= 0.0;
    vec![
        crate::export::table::subject_label(run),
        load,
        match run.throughput.goodput_per_s {
            // With --slo the rate that met it sits beside the rate.
            Some(good) => format!(
                "{} (good {})",
                rate(run.throughput.requests_per_s),
                rate(good)
            ),
            None => rate(run.throughput.requests_per_s),
        },
        if no_ideal {
            "—".into()
        } else {
            rate(run.ideal.ideal_requests_per_s)
        },
        if no_ideal {
            "—".into()
        } else {
            crate::export::table::efficiency_label(run)
        },
        optional((cat::TOKENS_PER_S.read)(run), |v| format!("{v:.0}")),
        pair("e2e"),
        pair("ttft"),
        pair("itl"),
        if queue.count == 0 {
            "—".into()
        } else {
            ms_num(queue.p99)
        },
        optional((cat::THREADS_PEAK.read)(run), |v| format!("{v:.0}")),
        optional((cat::RSS_PEAK_MIB.read)(run), |v| format!("{v:.1}")),
        optional((cat::CPU_PER_REQUEST_MS.read)(run), ms_num),
        errors(run),
    ]
}

/// Columns of the target server's table (`--target-pid`, `--target-cmd`).
pub const SERVER_HEADER: [&str; 10] = [
    "target",
    "load",
    "server threads start/peak",
    "processes",
    cat::SERVER_RSS_PEAK_MIB.short,
    "server CPU user/sys s",
    "server CPU (of one core)",
    "busiest thread (of one core)",
    cat::SERVER_CPU_PER_REQUEST_MS.short,
    "context switches vol/invol",
];

/// The target server's row of a run, cells in [`SERVER_HEADER`] order (None when the server was
/// not sampled).
pub fn server_row(run: &VariantRun, with_repetition: bool) -> Option<Vec<String>> {
    let s = run.server.as_ref()?;
    let mut load = run.point.label();
    if with_repetition {
        load.push_str(&format!(" #{}", run.repetition + 1));
    }
    Some(vec![
        crate::export::table::subject_label(run),
        load,
        format!("{}/{}", s.threads_start, s.threads_peak),
        s.processes_peak.to_string(),
        optional((cat::SERVER_RSS_PEAK_MIB.read)(run), |v| format!("{v:.1}")),
        format!("{:.2}/{:.2}", s.cpu_user_s, s.cpu_sys_s),
        core_share(s.cores()),
        core_share(s.busiest_thread_cores()),
        optional((cat::SERVER_CPU_PER_REQUEST_MS.read)(run), ms_num),
        format!(
            "{}/{}",
            s.ctx_switches_voluntary, s.ctx_switches_involuntary
        ),
    ])
}

/// Cores as a share of one ("–" when not measured): a server at ~100 % of one core on its
/// busiest thread has reached that thread's limit (an event loop, the thread holding the GIL).
pub fn core_share(cores: Option<f64>) -> String {
    cores.map_or_else(|| "–".into(), |c| format!("{:.0}%", 100.0 * c))
}

/// The `[target]` settings as run, for "Scenario as run".
fn target_line(result: &RunResult, t: &crate::target::config::TargetConfig) -> String {
    let info = result.runs.iter().find_map(|r| r.target.as_ref());
    let server = match (&t.pid, &t.cmd) {
        (Some(pid), _) => format!("the running process {pid}, sampled"),
        (None, Some(cmd)) => format!("started by ragperf (`{cmd}`), sampled"),
        (None, None) => "not sampled".into(),
    };
    format!(
        "**Target**: {} {} (protocol {}); body {}; server {server}; timeouts: {} ms to the \
         headers, {} ms of silence in a stream; no retries.",
        info.map_or("POST", |i| i.method.as_str()),
        t.url,
        info.map_or("sse", |i| i.protocol.as_str()),
        t.body
            .as_deref()
            .map_or("the protocol's default".to_string(), |b| format!("`{b}`")),
        result.scenario.client.request_timeout_ms,
        result.scenario.client.stream_idle_timeout_ms,
    )
}

/// Where the server figures come from, for a caption (None without a sampled server).
pub fn server_caption(result: &RunResult) -> Option<String> {
    let s = result.runs.iter().find_map(|r| r.server.as_ref())?;
    Some(
        format!(
            "The target server (pid {}: `{}`), its process and children, sampled from /proc over each \
         point (warm-up, measured phase and drain). CPU per request: its CPU over every request \
         that finished in that time.{}",
            s.pid,
            s.command,
            if result
                .runs
                .iter()
                .any(|r| r.server.as_ref().is_some_and(|s| s.exited))
            {
                " The server DIED during the run."
            } else {
                ""
            },
        ) + &gil_sentence(result),
    )
}

/// With `--py-spy`: who held the GIL at each point ("" without py-spy figures).
fn gil_sentence(result: &RunResult) -> String {
    let mut rate_hz = None;
    let points: Vec<String> = result
        .runs
        .iter()
        .filter_map(|r| {
            let g = r.server.as_ref()?.gil.as_ref()?;
            rate_hz.get_or_insert(g.rate_hz);
            let held = g.held_share()?;
            let thread = g
                .busiest_thread
                .split_once(": ")
                .map_or(g.busiest_thread.as_str(), |(_, name)| name);
            // No sample held it: no busiest holder to name.
            let whose = g.off_busiest_share().map_or_else(String::new, |off| {
                format!(" ({thread} {:.0} % of it)", 100.0 * (1.0 - off))
            });
            Some(format!("{} {:.0} %{whose}", r.point.label(), 100.0 * held))
        })
        .collect();
    if points.is_empty() {
        return String::new();
    }
    format!(
        " GIL held (py-spy, {} samples/s, over the same time): {}.",
        rate_hz.unwrap_or(crate::metrics::gil::RATE_HZ),
        points.join("; ")
    )
}

/// Whether any run is a second or later repetition (then rows say which).
pub fn has_repetitions(result: &RunResult) -> bool {
    result.runs.iter().any(|r| r.repetition > 0)
}

/// One line on where and when the result was measured.
pub fn provenance(result: &RunResult) -> String {
    let m = &result.machine;
    let backends = if result.backends.mode == "embedded" {
        format!(
            "embedded mocks ({} threads, sharing the CPU)",
            result.backends.mock_threads
        )
    } else {
        format!(
            "external services ({}, {})",
            result.backends.qdrant_url, result.backends.bedrock_url
        )
    };
    let mut line = format!(
        "`ragperf {}` at {} with ragperf {} on {} ({} cores, {}, {}); {}.",
        result.plan.command,
        result.created_at,
        result.ragperf_version,
        if m.hostname.is_empty() {
            "an unnamed host"
        } else {
            &m.hostname
        },
        m.cores,
        if m.cpu_model.is_empty() {
            "unknown CPU"
        } else {
            &m.cpu_model
        },
        if m.os.is_empty() { &m.kernel } else { &m.os },
        backends
    );
    if let Some(merged) = &result.merged {
        line.push_str(&format!(" {}", crate::merge::provenance(merged)));
    }
    if result.partial {
        line.push_str(
            " **Partial result**: the run was interrupted or did not finish every planned point.",
        );
    }
    line
}

/// The scenario as run, as bullet lines (without the leading `- `).
pub fn scenario_lines(result: &RunResult) -> Vec<String> {
    let s = &result.scenario;
    let mut out = vec![load_line(result), variants_line(result)];
    if let Some(t) = &s.target {
        out.push(target_line(result, t));
        out.push(mocks_line(result));
        return out;
    }
    out.push(latency_model_line(result));
    out.push(request_line(result));
    out.push(format!("**Faults**: {}.", faults(result)));
    out.push(format!(
        "**Client**: request timeout {} ms, up to {} attempts per call (retries with backoff).",
        s.client.request_timeout_ms, s.client.retry.max_attempts
    ));
    out.extend(variant_settings_line(result));
    out.extend(slo_line(result));
    out.push(format!(
        "**Seed** {}; scenario and every histogram are in `result.json`.",
        s.seed
    ));
    out
}

/// The load line: closed or open loop, the points, the per-variant bound and the repetitions.
fn load_line(result: &RunResult) -> String {
    let s = &result.scenario;
    let points: Vec<String> = result.plan.points.iter().map(|p| p.label()).collect();
    let bound = match (s.load.requests, s.load.duration) {
        (Some(n), Some(d)) => format!(
            "{n} measured requests or {} per variant, whichever comes first",
            humantime::format_duration(d)
        ),
        (Some(n), None) => format!("{n} measured requests per variant"),
        (None, Some(d)) => format!("{} measured per variant", humantime::format_duration(d)),
        (None, None) => "10s measured per variant".into(),
    };
    let mode = if s.load.rate.is_some() || result.plan.points.iter().any(|p| p.rate.is_some()) {
        let cap = s
            .load
            .max_in_flight
            .map_or(String::new(), |m| format!(", at most {m} in flight"));
        format!("open loop, {} arrivals{cap}", s.load.arrivals)
    } else {
        let think = if s.load.think_time_ms > 0.0 {
            format!(", think time {} (model time)", ms(s.load.think_time_ms))
        } else {
            String::new()
        };
        format!("closed loop{think}")
    };
    format!(
        "**Load**: {mode}; points {}; {bound}; repetitions {}.",
        points.join(", "),
        result.plan.repeat.max(1)
    )
}

/// The variants, in run order.
fn variants_line(result: &RunResult) -> String {
    format!(
        "**Variants**: {}.",
        result
            .plan
            .variants
            .iter()
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Against a target server: the mocks the server used, their latencies and faults.
fn mocks_line(result: &RunResult) -> String {
    let s = &result.scenario;
    format!(
        "**Mocks** the server used (when ragperf started them or read their statistics; ms, \
         before scaling by the time scale **{}**): embedding {}; Qdrant search {}; Bedrock \
         time to first token {}, inter-token gap {}, {} output tokens. Faults: {}.",
        s.time_scale,
        s.embedding.latency_ms,
        s.qdrant.search_ms,
        s.bedrock.ttft_ms,
        s.bedrock.itl_ms,
        s.bedrock.output_tokens,
        faults(result)
    )
}

/// The latency model and one request's expected service time.
fn latency_model_line(result: &RunResult) -> String {
    let s = &result.scenario;
    let service_ms = result
        .runs
        .first()
        .map_or(0.0, |r| r.ideal.expected_service_s * 1000.0);
    format!(
        "**Latency model** (ms, before scaling): embedding {}; Qdrant search {}; Bedrock time to first token {}, inter-token gap {}, {} output tokens. Every latency is multiplied by the time scale **{}**: one request's expected service time is {}.",
        s.embedding.latency_ms,
        s.qdrant.search_ms,
        s.bedrock.ttft_ms,
        s.bedrock.itl_ms,
        s.bedrock.output_tokens,
        s.time_scale,
        ms(service_ms)
    )
}

/// The request's shape: top-k, the CPU work and whether it runs under one global lock.
fn request_line(result: &RunResult) -> String {
    let s = &result.scenario;
    let r = &s.request;
    let sync_stream = s.load.variants.iter().any(|v| v == "sync-stream");
    let spread = if r.cpu_steps <= 1 && r.cpu_offloop_share <= 0.0 && r.cpu_parallel_share <= 0.0 {
        String::new()
    } else {
        format!(
            " (over {} point(s) before the stream; {:.0} % of it off the loop under the GIL, \
             {:.0} % in parallel outside it)",
            r.cpu_steps,
            100.0 * r.cpu_offloop_share,
            100.0 * r.cpu_parallel_share
        )
    };
    let on_loop = if r.cpu_request_loop_share > 0.0 && sync_stream {
        format!(
            " ({:.0} % of it on sync-stream's event loop before the body)",
            100.0 * r.cpu_request_loop_share
        )
    } else {
        String::new()
    };
    format!(
        "**Request**: top-k {}, {} µs of CPU work per request{on_loop}{spread}{}{}{}{}.",
        s.request.top_k,
        s.request.cpu_work_us,
        match (s.request.cpu_per_token_us, s.request.cpu_token_loop_share) {
            (0, _) => String::new(),
            (us, share) if share > 0.0 && sync_stream => {
                format!(
                    " and {us} µs per token event ({:.0} % of it on sync-stream's event loop)",
                    100.0 * share
                )
            }
            (us, _) => format!(" and {us} µs per token event"),
        },
        match s.request.cpu_per_read_us {
            0 => String::new(),
            us => format!(
                ", {us} µs more per socket read of the stream that brings a token (one not already buffered)"
            ),
        },
        match (s.request.gil, s.request.cpu_outside_gil_share) {
            (false, _) => String::new(),
            (true, share) if share > 0.0 => format!(
                ", every CPU section under one global lock (GIL on) but {:.0} % of each, spent \
                 before taking it (the kernel's part)",
                100.0 * share
            ),
            (true, _) => ", every CPU section under one global lock (GIL on)".into(),
        },
        match (s.request.gil, s.request.gil_max_busy) {
            (true, busy) if busy < 1.0 => format!(
                ", the lock held at most {:.0} % of each second of sustained use",
                100.0 * busy
            ),
            _ => String::new(),
        }
    )
}

/// Each variant's own settings, in run order; `None` when no variant has any.
fn variant_settings_line(result: &RunResult) -> Option<String> {
    let mut settings: Vec<String> = Vec::new();
    for v in &result.plan.variants {
        if let Some(run) = result.runs.iter().find(|r| &r.variant == v)
            && !run.settings.is_empty()
        {
            let kv: Vec<String> = run
                .settings
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            settings.push(format!("`{v}` {}", kv.join(", ")));
        }
    }
    if settings.is_empty() {
        return None;
    }
    Some(format!("**Variant settings**: {}.", settings.join("; ")))
}

/// The goodput SLO bounds; `None` without `--slo`.
fn slo_line(result: &RunResult) -> Option<String> {
    if result.plan.slo.is_empty() {
        return None;
    }
    let slo = &result.plan.slo;
    let parts: Vec<String> = [
        ("TTFT", slo.ttft_ms),
        ("e2e", slo.e2e_ms),
        ("TPOT", slo.tpot_ms),
    ]
    .iter()
    .filter_map(|(n, v)| v.map(|v| format!("{n} ≤ {}", ms(v))))
    .collect();
    Some(format!("**Goodput SLO**: {}.", parts.join(", ")))
}

/// The injected faults, or `none`.
fn faults(result: &RunResult) -> String {
    let f = &result.scenario.faults;
    let specs: [(&str, &FaultSpec); 4] = [
        ("embed", &f.embed),
        ("converse", &f.converse),
        ("converse_stream", &f.converse_stream),
        ("qdrant", &f.qdrant),
    ];
    let mut parts = Vec::new();
    for (name, spec) in specs {
        if spec.is_clean() {
            continue;
        }
        let mut p = Vec::new();
        for (label, v) in [
            ("throttle", spec.throttle),
            ("500", spec.server_error),
            ("503", spec.unavailable),
            ("slow", spec.slow),
            ("stream exception", spec.stream_exception),
            ("stream cut", spec.stream_cut),
        ] {
            if v > 0.0 {
                p.push(format!("{label} {}%", v * 100.0));
            }
        }
        if spec.max_concurrency > 0 {
            p.push(format!("at most {} concurrent", spec.max_concurrency));
        }
        parts.push(format!("`{name}` {}", p.join(", ")));
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join("; ")
    }
}
