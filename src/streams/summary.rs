//! What one measurement found ([`StreamsSummary`], with the endpoint's own figures) and its
//! text form.

use std::collections::BTreeMap;

use mock_services::hist::Percentiles;
use serde::{Deserialize, Serialize};

/// What the endpoint's own statistics said about the window (ragperf mocks only).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct EndpointSide {
    /// How late the mock's token events left vs their deadlines, ms.
    pub timer_lateness_ms: Percentiles,
    /// Token events the mock counted as sent (streams that ended in the window).
    pub tokens_sent: u64,
    /// Most streams open at once.
    pub streams_peak: u64,
    /// An external mock process: its CPU seconds during the window.
    pub process_cpu_s: Option<f64>,
    /// An external mock process: CPU per token event received in the window, µs.
    pub cpu_per_token_us: Option<f64>,
}

/// The result of one `ragperf streams` measurement.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StreamsSummary {
    /// Streams held open.
    pub streams: usize,
    /// The endpoint measured (`embedded` or its URL).
    pub endpoint: String,
    /// Length of the measured window, s (shorter than asked when interrupted).
    pub window_s: f64,
    /// Ramp before the window, s.
    pub ramp_s: f64,
    /// The configured gap between tokens, ms.
    pub expected_gap_ms: f64,
    /// Token events a perfect server would deliver per second (N / mean stream length × tokens).
    pub expected_tokens_per_s: f64,
    /// Token events received in the window.
    pub tokens: u64,
    /// Token events received per second.
    pub tokens_per_s: f64,
    /// Gap between consecutive text deltas of a stream, as received, ms.
    pub itl_ms: Percentiles,
    /// Request sent to first text delta, ms.
    pub ttft_ms: Percentiles,
    /// p99 of the gap minus the configured gap, ms.
    pub gap_error_p99_ms: f64,
    /// The bound the verdict checks, ms.
    pub max_gap_error_ms: f64,
    /// No failures, and `gap_error_p99_ms` within the bound.
    pub on_time: bool,
    /// Streams that completed in the window.
    pub completed: u64,
    /// Failed streams by kind (`throttled`, `stream_cut`, `timeout`, `stalled`: silent when
    /// the window closed, …), whole run.
    pub failed: BTreeMap<String, u64>,
    /// A few failure messages, for diagnosis.
    pub failure_samples: Vec<String>,
    /// Client worker threads.
    pub client_threads: usize,
    /// CPU seconds of this process during the window (the embedded mocks included, if used).
    pub client_cpu_s: f64,
    /// `client_cpu_s` per token event, µs.
    pub client_cpu_per_token_us: f64,
    /// The endpoint's own figures, when it serves `/__ragperf/stats`.
    pub endpoint_side: Option<EndpointSide>,
    /// Ctrl-C ended the window early.
    pub interrupted: bool,
    /// `release` or `debug`: the CPU figures of the two are not comparable.
    pub build_profile: String,
    /// What the check of `--bedrock-url` before the streams found: nothing answering, a
    /// Qdrant where Bedrock should be, a mock with other settings (whose time scale and
    /// latencies were then adopted). Empty when all was as expected or the mock is embedded.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// What each failure kind usually means, where the user can act on it (the run table's
/// hints, [`crate::export::table::failure_hint`]; `http_404` is its `not_found`).
pub fn failure_hints(failed: &BTreeMap<String, u64>) -> Vec<(String, &'static str)> {
    failed
        .keys()
        .filter_map(|k| {
            let known = match k.as_str() {
                "http_404" => "not_found",
                "http_400" => "bad_request",
                other => other,
            };
            crate::export::table::failure_hint(known).map(|h| (k.clone(), h))
        })
        .collect()
}

/// The streams line: completed and failed by kind, each kind's hint, a few failure messages,
/// and the warnings of the check before the streams.
fn failures_text(o: &mut String, s: &StreamsSummary) {
    use std::fmt::Write;
    let failed: u64 = s.failed.values().sum();
    let _ = writeln!(
        o,
        "  streams            {} completed in the window, {failed} failed{}",
        s.completed,
        if failed > 0 {
            format!(
                " ({})",
                s.failed
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            String::new()
        }
    );
    for (kind, hint) in failure_hints(&s.failed) {
        let _ = writeln!(o, "    {kind}: {hint}");
    }
    for m in &s.failure_samples {
        let _ = writeln!(o, "    e.g. {m}");
    }
    for w in &s.warnings {
        let _ = writeln!(o, "  warning            {w}");
    }
}

/// The summary as text.
pub fn render(s: &StreamsSummary) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} streams against {} for {:.1} s (after a {:.1} s ramp; {} build){}",
        s.streams,
        s.endpoint,
        s.window_s,
        s.ramp_s,
        s.build_profile,
        if s.interrupted { ", interrupted" } else { "" }
    );
    let _ = writeln!(
        o,
        "  token events/s     {:>10.0}   (a perfect server: {:.0})",
        s.tokens_per_s, s.expected_tokens_per_s
    );
    let i = &s.itl_ms;
    let _ = writeln!(
        o,
        "  gap ms             p50 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}   (configured {:.1})",
        i.p50, i.p99, i.p999, i.max, s.expected_gap_ms
    );
    let _ = writeln!(
        o,
        "  first token ms     p50 {:.1}  p99 {:.1}",
        s.ttft_ms.p50, s.ttft_ms.p99
    );
    failures_text(&mut o, s);
    let failed: u64 = s.failed.values().sum();
    let _ = write!(
        o,
        "  CPU per token      client {:.1} µs",
        s.client_cpu_per_token_us
    );
    if let Some(e) = &s.endpoint_side {
        if let Some(c) = e.cpu_per_token_us {
            let _ = write!(o, ", server {c:.1} µs");
        }
        let _ = write!(
            o,
            "; server timer lateness p99 {:.1} ms",
            e.timer_lateness_ms.p99
        );
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "  verdict            {} (gap p99 − configured = {:.2} ms; bound {:.1} ms{})",
        if s.on_time { "ON TIME" } else { "LATE" },
        s.gap_error_p99_ms,
        s.max_gap_error_ms,
        if failed > 0 { "; failures" } else { "" }
    );
    o
}
