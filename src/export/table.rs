//! The comparison table printed at the end of `run` and `sweep`.

use std::fmt::Write;

use crate::result::{RunResult, VariantRun};

fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2}s", v / 1000.0)
    } else if v >= 10.0 {
        format!("{v:.0}ms")
    } else {
        format!("{v:.1}ms")
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.0}MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn row(r: &VariantRun) -> Vec<String> {
    let p = |k: &str| r.latency_ms.get(k).cloned().unwrap_or_default();
    let (e2e, ttft, itl, queue) = (p("e2e"), p("ttft"), p("itl"), p("queue"));
    let c = &r.counters;
    vec![
        r.variant.clone(),
        r.point.label(),
        format!("{}/{}", c.ok, c.sent),
        format!("{:.1}", r.throughput.requests_per_s),
        format!("{:.0}", r.throughput.tokens_per_s),
        format!("{}/{}", ms(e2e.p50), ms(e2e.p99)),
        format!("{}/{}", ms(ttft.p50), ms(ttft.p99)),
        format!("{}/{}", ms(itl.p50), ms(itl.p99)),
        ms(queue.p99),
        r.process.threads_peak.to_string(),
        mib(r.process.rss_peak_bytes),
        format!("{:.2}", r.process.cpu_user_s + r.process.cpu_sys_s),
        format!("{:.0}%", r.ideal.efficiency * 100.0),
        c.failed.to_string(),
        c.abandoned.to_string(),
    ]
}

/// A fixed-width table, one row per variant × point.
pub fn render(result: &RunResult) -> String {
    let header: Vec<String> = [
        "variant",
        "load",
        "ok/sent",
        "req/s",
        "tok/s",
        "e2e p50/p99",
        "ttft p50/p99",
        "itl p50/p99",
        "queue p99",
        "threads",
        "rss",
        "cpu s",
        "eff",
        "failed",
        "unfinished",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rows: Vec<Vec<String>> = result.runs.iter().map(row).collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain(std::iter::once(header[i].len()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |cells: &[String], out: &mut String| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i < 2 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(&header, &mut out);
    for r in &rows {
        line(r, &mut out);
    }
    if result.runs.iter().any(|r| r.counters.abandoned > 0) {
        out.push_str(
            "unfinished: measured requests still running (or queued) when the drain time ran \
             out; a variant that serves fewer requests at once than it is sent queues the rest \
             (their latency exceeds the run)\n",
        );
    }
    if result.partial {
        out.push_str("(partial: the run was interrupted or did not finish every point)\n");
    }
    out
}
