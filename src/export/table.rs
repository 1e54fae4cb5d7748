//! The comparison table printed at the end of `run` and `sweep`.

use std::fmt::Write;

use super::describe::{ms_num, optional};
use crate::metrics::catalogue::{self as cat, latency_heading};
use crate::result::{RunResult, VariantRun};

/// Share of its runtime threads' capacity above which the load generator may be the bottleneck.
pub const DRIVER_BUSY_WARNING: f64 = 0.8;

/// How busy ragperf's own process was during a `--target` run: CPU seconds over the window per
/// runtime thread (1.0 = every thread busy all the time), and the thread count. The in-process
/// mocks' and the sampler's CPU are left out; the collector and driver threads are counted, so
/// it errs on the side of warning.
pub fn driver_load(result: &RunResult, r: &VariantRun) -> Option<(f64, u64)> {
    if let Some(merged) = &result.merged {
        // Merged shards: the busiest host's own figure (CPU summed over every host, over one
        // host's threads, would overstate it N times).
        return r
            .shards
            .iter()
            .filter_map(|part| {
                let host = merged.shards.iter().find(|s| s.index == part.index)?;
                process_load(&part.process, r, host.machine.cores)
            })
            .max_by(|a, b| a.0.total_cmp(&b.0));
    }
    process_load(&r.process, r, result.machine.cores)
}

/// [`driver_load`] of one process on a machine of `cores` cores.
fn process_load(
    p: &crate::metrics::process::ProcessFigures,
    r: &VariantRun,
    cores: u64,
) -> Option<(f64, u64)> {
    if p.window_s <= 0.0 {
        return None;
    }
    let threads = match r.settings.get("worker_threads").map(String::as_str) {
        Some("cores") | None => cores.max(1),
        Some(n) => n.parse().ok()?,
    };
    Some((cat::own_cpu_of(p) / p.window_s / threads as f64, threads))
}

/// The name a run is shown under: the variant, or `target <name>`.
pub fn subject_label(r: &VariantRun) -> String {
    match &r.target {
        Some(t) => format!("target {}", t.name),
        None => r.variant.clone(),
    }
}

/// Efficiency in percent (the column is headed `eff %`), with its stated error when that is 5
/// points or more: `97`, `97±6`.
pub fn efficiency_label(r: &VariantRun) -> String {
    let Some(eff) = (cat::EFFICIENCY.read)(r) else {
        return "—".into();
    };
    let eff = eff * 100.0;
    let err = r.ideal.efficiency_error * 100.0;
    if err >= 5.0 {
        format!("{eff:.0}±{err:.0}")
    } else {
        format!("{eff:.0}")
    }
}

/// The warm-up's requests: succeeded / came due.
fn warmup_cell(r: &VariantRun) -> String {
    let w = &r.counters.warmup;
    format!("{}/{}", w.ok, w.due)
}

fn row(r: &VariantRun, slo: bool, repeated: bool) -> Vec<String> {
    // A histogram with no sample has no percentile: "—", never 0.
    let pair = |k: &str| match r.latency_ms.get(k).filter(|p| p.count > 0) {
        Some(p) => format!("{}/{}", ms_num(p.p50), ms_num(p.p99)),
        None => "—".into(),
    };
    let c = &r.counters;
    let mut cells = vec![
        subject_label(r),
        if repeated {
            format!("{} #{}", r.point.label(), r.repetition + 1)
        } else {
            r.point.label()
        },
        format!("{}/{}", c.ok, c.sent),
        optional((cat::REQUESTS_PER_S.read)(r), |v| format!("{v:.1}")),
    ];
    if slo {
        cells.push(optional((cat::GOODPUT_PER_S.read)(r), |v| {
            format!("{v:.1}")
        }));
    }
    cells.extend([
        optional((cat::TOKENS_PER_S.read)(r), |v| format!("{v:.0}")),
        pair("e2e"),
        pair("ttft"),
        pair("itl"),
        match r.latency_ms.get("queue").filter(|p| p.count > 0) {
            Some(p) => ms_num(p.p99),
            None => "—".into(),
        },
        optional((cat::THREADS_PEAK.read)(r), |v| format!("{v:.0}")),
        optional((cat::RSS_PEAK_MIB.read)(r), |v| format!("{v:.0}")),
        optional((cat::CPU_PER_REQUEST_MS.read)(r), ms_num),
        efficiency_label(r),
        c.failed.to_string(),
        c.abandoned.to_string(),
        c.never_sent.to_string(),
        warmup_cell(r),
    ]);
    cells
}

/// Lays out `rows` under `header`, the first two columns left-aligned.
fn grid(header: &[&str], rows: &[Vec<String>], out: &mut String) {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain(std::iter::once(header[i].len()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>, out: &mut String| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                let pad = w.saturating_sub(c.chars().count());
                if i < 2 {
                    format!("{c}{}", " ".repeat(pad))
                } else {
                    format!("{}{c}", " ".repeat(pad))
                }
            })
            .collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(header.to_vec(), out);
    for r in rows {
        line(r.iter().map(String::as_str).collect(), out);
    }
}

/// The target server's own figures, one row per run that sampled it.
fn server_rows(result: &RunResult, out: &mut String) {
    let runs: Vec<&VariantRun> = result.runs.iter().filter(|r| r.server.is_some()).collect();
    let Some(first) = runs.first().and_then(|r| r.server.as_ref()) else {
        return;
    };
    let _ = writeln!(
        out,
        "\ntarget server (pid {}: {}), sampled from /proc over each point (warm-up and drain included):",
        first.pid, first.command
    );
    let rows: Vec<Vec<String>> = runs
        .iter()
        .filter_map(|r| {
            let s = r.server.as_ref()?;
            Some(vec![
                subject_label(r),
                r.point.label(),
                format!("{}/{}", s.threads_start, s.threads_peak),
                s.processes_peak.to_string(),
                optional((cat::SERVER_RSS_PEAK_MIB.read)(r), |v| format!("{v:.0}")),
                format!("{:.2}/{:.2}", s.cpu_user_s, s.cpu_sys_s),
                crate::export::describe::core_share(s.cores()),
                crate::export::describe::core_share(s.busiest_thread_cores()),
                optional((cat::SERVER_CPU_PER_REQUEST_MS.read)(r), ms_num),
                format!(
                    "{}/{}",
                    s.ctx_switches_voluntary, s.ctx_switches_involuntary
                ),
                if s.exited {
                    "DIED".into()
                } else {
                    String::new()
                },
            ])
        })
        .collect();
    grid(
        &[
            "target",
            "load",
            "threads start/peak",
            "procs",
            cat::SERVER_RSS_PEAK_MIB.short,
            "cpu user/sys s",
            "cpu",
            "busiest thread",
            cat::SERVER_CPU_PER_REQUEST_MS.short,
            "ctx vol/invol",
            "",
        ],
        &rows,
        out,
    );
}

/// What a failure kind usually means, where the user can act on it.
pub fn failure_hint(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "connect" => "no connection: wrong port, or the backend is not running?",
        "not_found" => "404: URLs swapped, or a missing collection or model?",
        "bad_request" => "rejected as invalid: URLs swapped, or not the expected service?",
        "bad_response" => "an answer not understood: URLs swapped, or not the expected service?",
        "timeout" => "no answer in time: a stalled backend, or timeouts too short?",
        "throttled" | "server_error" | "unavailable" | "stream_exception" | "stream_cut" => {
            "injected faults or an overloaded backend"
        }
        _ => return None,
    })
}

/// The line above the table: what was run, at which time scale, and how to get the seed's
/// real latencies when they were scaled.
pub fn heading(result: &RunResult) -> String {
    let sc = &result.scenario;
    let points: Vec<String> = result.plan.points.iter().map(|p| p.label()).collect();
    let measured = match (sc.load.duration, sc.load.requests) {
        (Some(d), _) => format!("{} measured", humantime::format_duration(d)),
        (None, Some(n)) => format!("{n} measured requests"),
        (None, None) => "10s measured".into(),
    };
    let scale = if (sc.time_scale - 1.0).abs() < f64::EPSILON {
        "time scale 1 (the seed's real latencies)".to_string()
    } else {
        format!(
            "time scale {} (every injected latency x{}; --time-scale 1 for the seed's real \
             latencies)",
            sc.time_scale, sc.time_scale
        )
    };
    format!(
        "{}: {} subject(s) at {}, {measured} per subject after its warm-up, {scale}\n",
        result.plan.command,
        result.plan.variants.len(),
        points.join(", "),
    )
}

/// A fixed-width table, one row per variant × point.
pub fn render(result: &RunResult) -> String {
    let slo = !result.plan.slo.is_empty();
    let header = header(slo);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    // With --repeat, each row says which repetition it is (`c=8 #2`).
    let repeated = result.plan.repeat > 1;
    let rows: Vec<Vec<String>> = result.runs.iter().map(|r| row(r, slo, repeated)).collect();
    let mut out = String::new();
    out.push_str(&heading(result));
    grid(&header, &rows, &mut out);
    out.push_str(
        "ok/sent: measured requests (due after the warm-up); each ends in one bucket: ok + failed \
         + unfinished + never sent = sent. req/s, tok/s and eff count the successful work inside \
         the measured window (a request straddling an edge by its share inside it), whatever \
         phase sent it; eff ± its statistical error. CPU ms/req: ragperf's own CPU (the \
         process minus the in-process mocks and the sampler) per finished request. warm-up ok: \
         warm-up requests ok/due\n",
    );
    if slo {
        out.push_str("good req/s: successful requests per second that met every --slo bound\n");
    }
    for n in &result.backends.notes {
        let _ = writeln!(out, "warning: {n}");
    }
    for r in &result.runs {
        warmup_and_window_notes(r, &mut out);
    }
    bucket_legends(result, &mut out);
    failure_lines(result, &mut out);
    driver_notes(result, &mut out);
    server_rows(result, &mut out);
    if result.partial {
        out.push_str("(partial: the run was interrupted or did not finish every point)\n");
    }
    out
}

/// The table's column names, the figures' headings from the metric catalogue; `good req/s`
/// only when the run had `--slo` bounds.
fn header(slo: bool) -> Vec<String> {
    let mut header: Vec<String> = vec![
        "variant".into(),
        "load".into(),
        "ok/sent".into(),
        cat::REQUESTS_PER_S.short.into(),
    ];
    if slo {
        header.push(cat::GOODPUT_PER_S.short.into());
    }
    header.extend([
        cat::TOKENS_PER_S.short.into(),
        latency_heading("e2e", "p50/p99"),
        latency_heading("ttft", "p50/p99"),
        latency_heading("itl", "p50/p99"),
        latency_heading("queue", "p99"),
        cat::THREADS_PEAK.short.into(),
        cat::RSS_PEAK_MIB.short.into(),
        cat::CPU_PER_REQUEST_MS.short.into(),
        cat::EFFICIENCY.short.into(),
        "failed".into(),
        "unfinished".into(),
        "never sent".into(),
        "warm-up ok".into(),
    ]);
    header
}

/// One run's warm-up breakdown (when the warm-up lost requests) and the note when the measured
/// window is shorter than one expected service time.
fn warmup_and_window_notes(r: &VariantRun, out: &mut String) {
    let w = &r.counters.warmup;
    if w.failed + w.abandoned + w.never_sent > 0 {
        let _ = writeln!(
            out,
            "warm-up of {} at {}: {} due = {} ok + {} failed + {} unfinished + {} never sent",
            subject_label(r),
            r.point.label(),
            w.due,
            w.ok,
            w.failed,
            w.abandoned,
            w.never_sent
        );
    }
    let service_s = r.ideal.expected_service_s;
    if r.throughput.window_s > 0.0 && service_s > r.throughput.window_s && r.counters.failed == 0 {
        let _ = writeln!(
            out,
            "note: {} at {}: the measured window ({:.1} s) is shorter than one expected \
             service time ({:.1} s), so few requests can finish inside it; use a longer -d \
             or a smaller --time-scale",
            subject_label(r),
            r.point.label(),
            r.throughput.window_s,
            service_s
        );
    }
}

/// The legends of the `unfinished` and `never sent` columns, each only when some run used it.
fn bucket_legends(result: &RunResult, out: &mut String) {
    if result.runs.iter().any(|r| r.counters.abandoned > 0) {
        out.push_str(
            "unfinished: measured requests still running (or queued) when the drain time ran \
             out; a variant that serves fewer requests at once than it is sent queues the rest \
             (their latency exceeds the run)\n",
        );
    }
    if result.runs.iter().any(|r| r.counters.never_sent > 0) {
        out.push_str(
            "never sent: requests that came due but were still held back by --max-in-flight when \
             the load stopped\n",
        );
    }
}

/// One line per run with failures: each failure kind, its count and a hint where one is known.
fn failure_lines(result: &RunResult, out: &mut String) {
    for r in result.runs.iter().filter(|r| r.counters.failed > 0) {
        let kinds: Vec<String> = r
            .counters
            .failed_by_kind
            .iter()
            .map(|(k, n)| match failure_hint(k) {
                Some(h) => format!("{k} {n} ({h})"),
                None => format!("{k} {n}"),
            })
            .collect();
        let _ = writeln!(
            out,
            "failed {} at {}: {}",
            subject_label(r),
            r.point.label(),
            kinds.join(", ")
        );
    }
}

/// The notes about ragperf's own load: a warning per point where the load generator was busy
/// enough to limit the measurement, and the legend of its own columns.
fn driver_notes(result: &RunResult, out: &mut String) {
    for r in result.runs.iter().filter(|r| r.target.is_some()) {
        if let Some((busy, threads)) = driver_load(result, r)
            && busy >= DRIVER_BUSY_WARNING
        {
            let _ = writeln!(
                out,
                "note: at {} ragperf itself used {:.0}% of its {threads} runtime thread(s): the \
                     load generator may be what limits this measurement (add --worker-threads, or \
                     run ragperf on another machine)",
                r.point.label(),
                busy * 100.0
            );
        }
    }
    if result.runs.iter().any(|r| r.target.is_some()) {
        out.push_str(
            "threads, RSS MiB, CPU ms/req: ragperf's own process (the load generator); eff: against the \
             backends' injected wait per request (— when the backends are not ragperf mocks)\n",
        );
    }
}
