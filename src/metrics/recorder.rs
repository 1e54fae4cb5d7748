//! Folding request records into HdrHistograms and counters (docs/design.md §6).
//!
//! Records arrive on one channel and are folded here by the collector thread. The hot path inside
//! a request only pushes token gaps into the request's own `Vec` (no lock, no shared state); the
//! histogram work happens once per request on the collector, which at 400k token events/s costs a
//! few milliseconds of CPU per second. This replaces per-thread recorders merged at the end: it is
//! equally uncontended and keeps one code path for thread-, task- and loop-based variants.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use mock_services::hist::{self, Percentiles};
use serde::{Deserialize, Serialize};

use crate::pipeline::record::{Outcome, RequestRecord};

/// Histogram names (contract) and the extra phases we keep.
pub const HISTOGRAMS: [&str; 9] = [
    "e2e", "queue", "embed", "retrieve", "cpu", "ttft", "itl", "tpot", "generate",
];

/// Service-level objective for goodput: a request counts as "good" when it succeeded and met
/// every given bound.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Slo {
    /// Time to first token bound, ms.
    pub ttft_ms: Option<f64>,
    /// End-to-end bound, ms.
    pub e2e_ms: Option<f64>,
    /// Time per output token bound, ms.
    pub tpot_ms: Option<f64>,
}

impl Slo {
    /// Parses `ttft=1s,e2e=6s,tpot=50ms`.
    pub fn parse(s: &str) -> Result<Slo, String> {
        let mut slo = Slo::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                return Err(format!(
                    "`{part}` is not key=duration; write e.g. ttft=1s,e2e=6s"
                ));
            };
            let d = humantime::parse_duration(v.trim())
                .map_err(|e| format!("`{v}` in --slo is not a duration ({e}); write e.g. 500ms"))?;
            let ms = Some(d.as_secs_f64() * 1000.0);
            match k.trim() {
                "ttft" => slo.ttft_ms = ms,
                "e2e" => slo.e2e_ms = ms,
                "tpot" => slo.tpot_ms = ms,
                other => {
                    return Err(format!(
                        "unknown SLO metric `{other}`: use ttft, e2e or tpot"
                    ));
                }
            }
        }
        Ok(slo)
    }

    /// True when no bound is set.
    pub fn is_empty(&self) -> bool {
        self.ttft_ms.is_none() && self.e2e_ms.is_none() && self.tpot_ms.is_none()
    }
}

/// One request on the timeline chart (µs since the run epoch).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TimelineEntry {
    /// Request id.
    pub id: u64,
    /// Thread that started it.
    pub tid: i32,
    /// Intended start.
    pub intended_us: u64,
    /// Start on a worker.
    pub started_us: u64,
    /// Embedding done.
    pub embed_done_us: Option<u64>,
    /// Retrieval done.
    pub retrieve_done_us: Option<u64>,
    /// CPU step done.
    pub cpu_done_us: Option<u64>,
    /// First token.
    pub first_token_us: Option<u64>,
    /// Finished.
    pub finished_us: u64,
    /// Succeeded.
    pub ok: bool,
}

/// Running totals for one variant at one load point.
#[derive(Debug)]
pub struct Recorder {
    histograms: BTreeMap<&'static str, Histogram<u64>>,
    slo: Slo,
    timeline_cap: usize,
    /// Measured requests that finished (ok or failed).
    pub completed: u64,
    /// Measured requests that succeeded.
    pub ok: u64,
    /// Measured failures by error kind.
    pub failed: BTreeMap<String, u64>,
    /// Retries spent by measured requests.
    pub retries: u64,
    /// Tokens received by measured requests (including failed ones' partial streams).
    pub tokens: u64,
    /// Successful requests whose citations did not match the retrieved passages.
    pub citation_mismatches: u64,
    /// Successful requests that met the SLO.
    pub good: u64,
    /// Warm-up requests that finished (not counted anywhere else).
    pub warmup_completed: u64,
    /// Per-request phases for the timeline chart (the first `timeline_cap` measured requests).
    pub timeline: Vec<TimelineEntry>,
    /// Finish times (µs since epoch) of every successful request, warm-up included: throughput
    /// counts whatever finished inside the measured window, like wrk, so requests that started
    /// during the warm-up but finish inside the window are not lost (a closed loop would
    /// otherwise under-count its first service time).
    pub ok_finish_us: Vec<u64>,
    /// Tokens per successful request, aligned with `ok_finish_us`.
    pub ok_tokens: Vec<u32>,
}

impl Recorder {
    /// An empty recorder; keeps up to `timeline_cap` requests for the timeline.
    pub fn new(slo: Slo, timeline_cap: usize) -> Self {
        Recorder {
            histograms: HISTOGRAMS.iter().map(|n| (*n, hist::new_us())).collect(),
            slo,
            timeline_cap,
            completed: 0,
            ok: 0,
            failed: BTreeMap::new(),
            retries: 0,
            tokens: 0,
            citation_mismatches: 0,
            good: 0,
            warmup_completed: 0,
            timeline: Vec::new(),
            ok_finish_us: Vec::new(),
            ok_tokens: Vec::new(),
        }
    }

    fn rec(&mut self, name: &str, us: u64) {
        if let Some(h) = self.histograms.get_mut(name) {
            hist::record_us(h, us);
        }
    }

    /// Folds one finished request in.
    pub fn record(&mut self, r: &RequestRecord) {
        if r.is_ok() {
            self.ok_finish_us.push(r.finished_us);
            self.ok_tokens.push(r.tokens);
        }
        if !r.measured {
            self.warmup_completed += 1;
            return;
        }
        self.completed += 1;
        self.retries += u64::from(r.retries);
        self.tokens += u64::from(r.tokens);
        if self.timeline.len() < self.timeline_cap {
            self.timeline.push(TimelineEntry {
                id: r.id,
                tid: r.start_tid,
                intended_us: r.intended_us,
                started_us: r.started_us,
                embed_done_us: r.embed_done_us,
                retrieve_done_us: r.retrieve_done_us,
                cpu_done_us: r.cpu_done_us,
                first_token_us: r.first_token_us,
                finished_us: r.finished_us,
                ok: r.is_ok(),
            });
        }
        // Queueing happened whatever the outcome.
        self.rec("queue", r.queue_us());
        if let Outcome::Failed { kind, .. } = &r.outcome {
            *self.failed.entry(kind.clone()).or_default() += 1;
            return;
        }
        self.ok += 1;
        if !r.citations_ok {
            self.citation_mismatches += 1;
        }
        let e2e = r.e2e_us();
        self.rec("e2e", e2e);
        if let Some(e) = r.embed_done_us {
            self.rec("embed", e.saturating_sub(r.started_us));
            if let Some(q) = r.retrieve_done_us {
                self.rec("retrieve", q.saturating_sub(e));
                if let Some(c) = r.cpu_done_us {
                    self.rec("cpu", c.saturating_sub(q));
                    self.rec("generate", r.finished_us.saturating_sub(c));
                }
            }
        }
        let mut tpot_ms = None;
        if let Some(first) = r.first_token_us {
            self.rec("ttft", first.saturating_sub(r.intended_us));
            for g in &r.token_gaps_us {
                self.rec("itl", u64::from(*g));
            }
            if r.tokens > 1 {
                let tpot = r.finished_us.saturating_sub(first) / u64::from(r.tokens - 1);
                self.rec("tpot", tpot);
                tpot_ms = Some(tpot as f64 / 1000.0);
            }
        }
        let ttft_ms = r
            .first_token_us
            .map(|f| f.saturating_sub(r.intended_us) as f64 / 1000.0);
        let meets = |bound: Option<f64>, value: Option<f64>| match (bound, value) {
            (None, _) => true,
            (Some(b), Some(v)) => v <= b,
            (Some(_), None) => false,
        };
        if meets(self.slo.e2e_ms, Some(e2e as f64 / 1000.0))
            && meets(self.slo.ttft_ms, ttft_ms)
            && meets(self.slo.tpot_ms, tpot_ms)
        {
            self.good += 1;
        }
    }

    /// The histogram `name` (µs).
    pub fn histogram(&self, name: &str) -> Option<&Histogram<u64>> {
        self.histograms.get(name)
    }

    /// Percentiles of every histogram, ms.
    pub fn percentiles(&self) -> BTreeMap<String, Percentiles> {
        self.histograms
            .iter()
            .map(|(k, h)| (k.to_string(), Percentiles::of_us(h)))
            .collect()
    }

    /// Every histogram, serialised (V2 + deflate, base64).
    pub fn encoded(&self) -> BTreeMap<String, String> {
        self.histograms
            .iter()
            .map(|(k, h)| (k.to_string(), hist::encode_b64(h)))
            .collect()
    }

    /// Failed measured requests.
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }

    /// Successful requests and their tokens that finished within `[from_us, to_us]`.
    pub fn ok_within(&self, from_us: u64, to_us: u64) -> (u64, u64) {
        let mut n = 0;
        let mut tokens = 0;
        for (f, t) in self.ok_finish_us.iter().zip(&self.ok_tokens) {
            if *f >= from_us && *f <= to_us {
                n += 1;
                tokens += u64::from(*t);
            }
        }
        (n, tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: u64, ok: bool, measured: bool) -> RequestRecord {
        RequestRecord {
            id,
            measured,
            user: None,
            intended_us: 1_000,
            started_us: 3_000,
            embed_done_us: Some(13_000),
            retrieve_done_us: Some(113_000),
            cpu_done_us: Some(114_000),
            first_token_us: Some(614_000),
            finished_us: 914_000,
            token_gaps_us: vec![100_000, 100_000, 100_000],
            tokens: 4,
            retries: 1,
            citations_ok: true,
            citations: vec!["doc-1".into()],
            start_tid: 7,
            stream_tid: 7,
            outcome: if ok {
                Outcome::Ok
            } else {
                Outcome::Failed {
                    kind: "throttled".into(),
                    phase: "generate".into(),
                    message: "429".into(),
                }
            },
        }
    }

    #[test]
    fn phases_land_in_their_histograms() {
        let mut r = Recorder::new(Slo::default(), 10);
        r.record(&record(1, true, true));
        let p = r.percentiles();
        let near = |a: f64, b: f64| (a - b).abs() / b < 0.01;
        assert!(near(p["e2e"].p50, 913.0), "{}", p["e2e"].p50);
        assert!(near(p["queue"].p50, 2.0));
        assert!(near(p["embed"].p50, 10.0));
        assert!(near(p["retrieve"].p50, 100.0));
        assert!(near(p["ttft"].p50, 613.0));
        assert_eq!(p["itl"].count, 3);
        assert!(near(p["tpot"].p50, 100.0));
        assert_eq!((r.ok, r.completed, r.tokens, r.retries), (1, 1, 4, 1));
        assert_eq!(r.timeline.len(), 1);
    }

    #[test]
    fn failures_and_warmup_are_counted_apart() {
        let mut r = Recorder::new(Slo::default(), 0);
        r.record(&record(1, false, true));
        r.record(&record(2, true, false));
        assert_eq!(r.failed["throttled"], 1);
        assert_eq!(r.ok, 0);
        assert_eq!(r.warmup_completed, 1);
        assert_eq!(r.percentiles()["e2e"].count, 0);
        assert_eq!(r.percentiles()["queue"].count, 1);
        assert!(r.timeline.is_empty());
    }

    #[test]
    fn slo_decides_goodput() {
        let mut tight = Recorder::new(Slo::parse("ttft=500ms").unwrap(), 0);
        tight.record(&record(1, true, true));
        assert_eq!(tight.good, 0);
        let mut loose = Recorder::new(Slo::parse("ttft=1s,e2e=2s").unwrap(), 0);
        loose.record(&record(1, true, true));
        assert_eq!(loose.good, 1);
        assert!(Slo::parse("latency=3s").unwrap_err().contains("ttft"));
        assert!(Slo::parse("ttft=fast").unwrap_err().contains("duration"));
    }
}
