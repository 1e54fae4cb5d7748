//! `results.csv`: one row per variant × load point × repetition, for spreadsheets and scripts.
//!
//! Column names are stable (a contract like the result schema) and carry their unit as a
//! suffix: `_ms`, `_per_s`, `_s`, `_bytes`. Latency columns come for every histogram the
//! recorder keeps (`e2e`, `queue`, `embed`, `retrieve`, `cpu`, `ttft`, `itl`, `tpot`,
//! `generate`), each with count, mean, p50, p90, p99, p99.9 and max.

use std::fmt::Write;

use anyhow::Result;

use super::Exporter;
use crate::metrics::recorder::HISTOGRAMS;
use crate::result::{RunResult, VariantRun};

/// The CSV table.
pub struct CsvExporter;

impl Exporter for CsvExporter {
    fn file_name(&self) -> &'static str {
        "results.csv"
    }

    fn render(&self, result: &RunResult) -> Result<String> {
        Ok(render(result))
    }
}

/// Columns before the latency columns.
const LEAD: [&str; 20] = [
    "variant",
    "load_mode",
    "concurrency",
    "rate_per_s",
    "repetition",
    "sent",
    "ok",
    "failed",
    "abandoned",
    "never_sent",
    "retries",
    "tokens",
    "citation_mismatches",
    "window_s",
    "requests_per_s",
    "tokens_per_s",
    "goodput_per_s",
    "ideal_requests_per_s",
    "efficiency",
    "expected_service_ms",
];

/// Per-histogram statistics, in column order.
const STATS: [&str; 7] = [
    "count", "mean_ms", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms",
];

/// Columns after the latency columns.
const TAIL: [&str; 15] = [
    "threads_peak",
    "threads_baseline",
    "process_threads_peak",
    "rss_peak_bytes",
    "cpu_user_s",
    "cpu_sys_s",
    "mock_cpu_s",
    "ctx_switches_voluntary",
    "ctx_switches_involuntary",
    "peak_in_flight",
    "injected_request_mean_ms",
    "overhead_mean_ms",
    "timer_lateness_p99_ms",
    "partial",
    "failed_by_kind",
];

/// Every column name, in order.
pub fn columns() -> Vec<String> {
    let mut cols: Vec<String> = LEAD.iter().map(|s| s.to_string()).collect();
    for h in HISTOGRAMS {
        for s in STATS {
            cols.push(format!("{h}_{s}"));
        }
    }
    cols.extend(TAIL.iter().map(|s| s.to_string()));
    cols
}

/// Quotes a field when it holds a comma, quote or line break (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A float with a fixed number of decimals, so files diff cleanly.
fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        String::new()
    }
}

fn row(run: &VariantRun, partial: bool) -> Vec<String> {
    let c = &run.counters;
    let t = &run.throughput;
    let p = &run.process;
    let mut cells = vec![
        field(&run.variant),
        field(&run.point.mode),
        run.point.concurrency.to_string(),
        run.point.rate.map(num).unwrap_or_default(),
        run.repetition.to_string(),
        c.sent.to_string(),
        c.ok.to_string(),
        c.failed.to_string(),
        c.abandoned.to_string(),
        c.never_sent.to_string(),
        c.retries.to_string(),
        c.tokens.to_string(),
        c.citation_mismatches.to_string(),
        num(t.window_s),
        num(t.requests_per_s),
        num(t.tokens_per_s),
        t.goodput_per_s.map(num).unwrap_or_default(),
        num(run.ideal.ideal_requests_per_s),
        num(run.ideal.efficiency),
        num(run.ideal.expected_service_s * 1000.0),
    ];
    for h in HISTOGRAMS {
        match run.latency_ms.get(h) {
            // A histogram with no sample has no percentiles: empty cells, never 0 ms.
            Some(q) if q.count == 0 => {
                cells.push("0".into());
                cells.extend(std::iter::repeat_n(String::new(), STATS.len() - 1));
            }
            Some(q) => cells.extend([
                q.count.to_string(),
                num(q.mean),
                num(q.p50),
                num(q.p90),
                num(q.p99),
                num(q.p999),
                num(q.max),
            ]),
            None => cells.extend(std::iter::repeat_n(String::new(), STATS.len())),
        }
    }
    let mock = run.mock.as_ref();
    let kinds: Vec<String> = c
        .failed_by_kind
        .iter()
        .map(|(k, n)| format!("{k}={n}"))
        .collect();
    cells.extend([
        p.threads_peak.to_string(),
        p.threads_baseline.to_string(),
        p.process_threads_peak.to_string(),
        p.rss_peak_bytes.to_string(),
        num(p.cpu_user_s),
        num(p.cpu_sys_s),
        num(p.mock_cpu_s),
        p.ctx_switches_voluntary.to_string(),
        p.ctx_switches_involuntary.to_string(),
        run.drive.peak_in_flight.to_string(),
        mock.map(|m| num(m.injected_request_mean_ms))
            .unwrap_or_default(),
        mock.map(|m| num(m.overhead_mean_ms)).unwrap_or_default(),
        mock.map(|m| num(m.timer_lateness_ms.p99))
            .unwrap_or_default(),
        partial.to_string(),
        field(&kinds.join(";")),
    ]);
    cells
}

/// The whole file: a header line, then one line per run.
pub fn render(result: &RunResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", columns().join(","));
    for run in &result.runs {
        let _ = writeln!(out, "{}", row(run, result.partial).join(","));
    }
    out
}
