//! From what one measurement left behind ([`Measured`]) to a [`VariantRun`]: throughput over
//! the measured window, the Little's-law ideal, the offered rate, the settings as run, and the
//! mocks' own figures.

use std::collections::BTreeMap;
use std::time::SystemTime;

use mock_services::hist::Percentiles;
use mock_services::stats::StatsSnapshot;

use super::super::{RunPlan, Subject};
use super::At;
use super::policy::Phases;
use crate::load::DriveOutcome;
use crate::metrics::ideal::{self, Ideal};
use crate::metrics::process::ProcessFigures;
use crate::metrics::recorder::{Recorder, WindowWork};
use crate::metrics::server::ServerFigures;
use crate::pipeline::VariantKind;
use crate::result::{Counters, MockSide, TargetInfo, Throughput, VariantRun, WarmupCounters};
use crate::shard::WindowClock;

/// What a run of one subject at one point left behind, before it is summarised.
pub(super) struct Measured {
    pub(super) outcome: DriveOutcome,
    pub(super) recorder: Recorder,
    pub(super) process: ProcessFigures,
    pub(super) server: Option<ServerFigures>,
    pub(super) mock_stats: Option<StatsSnapshot>,
    pub(super) mock_cpu_before: Option<f64>,
    /// The wall clock at the run's epoch (the monotonic → wall-clock mapping).
    pub(super) epoch_wall: SystemTime,
    /// A model's GIL with a cap: the wall time it stood held and idle to keep under it, s.
    pub(super) gil_cap_idle_s: Option<f64>,
}

/// Rates over the measured window, all from one population: the successful work done inside
/// the window ([`Recorder::ok_within`]), whatever phase issued it.
pub(super) fn throughput(
    plan: &RunPlan,
    work: &WindowWork,
    window_s: f64,
    recorder: &Recorder,
) -> Throughput {
    let per_s = |n: f64| if window_s > 0.0 { n / window_s } else { 0.0 };
    let requests_per_s = per_s(work.requests);
    let good_share = if recorder.ok > 0 {
        recorder.good as f64 / recorder.ok as f64
    } else {
        0.0
    };
    Throughput {
        window_s,
        requests_per_s,
        tokens_per_s: per_s(work.tokens),
        goodput_per_s: (!plan.slo.is_empty()).then_some(requests_per_s * good_share),
    }
}

/// The ideal: the latency model's (variants), or the backends' injected wait per request when
/// a target's backends are ragperf mocks (no ideal otherwise: nothing to bound it with).
pub(super) fn ideal_of(at: &At, m: &Measured, requests_per_s: f64, work: &WindowWork) -> Ideal {
    let s = &at.plan.scenario;
    let r = &m.recorder;
    let (service_s, capacity) = match at.subject {
        Subject::Variant(kind) => {
            let observed_tokens = r.ok_tokens_mean();
            let hint = Phases::of(at).concurrency_hint;
            let service = ideal::expected_service_s(s, observed_tokens);
            let share = ideal::min_thread_s(s, observed_tokens) / service.max(1e-9);
            let on_loop = ideal::loop_s(s, observed_tokens) / service.max(1e-9);
            (
                Some(service),
                kind.capacity(hint, s.load.workers, share, on_loop),
            )
        }
        Subject::Target(_) => {
            let finished = r.ok + r.failed_total() + r.warmup_completed;
            let injected = m.mock_stats.as_ref().map(|st| {
                st.operations
                    .values()
                    .map(|o| o.injected_total_s)
                    .sum::<f64>()
            });
            let service = injected
                .filter(|t| *t > 0.0 && finished > 0)
                .map(|t| t / finished as f64);
            let offered = at.point.max_in_flight.unwrap_or(at.point.concurrency);
            (service, offered.max(1))
        }
    };
    let Some(service_s) = service_s else {
        return Ideal::default();
    };
    match at.point.rate {
        None => Ideal::closed(
            service_s,
            s.scaled_ms(s.load.think_time_ms).as_secs_f64(),
            at.point.concurrency,
            capacity,
        ),
        Some(rate) => Ideal::open(
            service_s,
            offered_rate(at, &m.outcome, rate),
            match at.subject {
                Subject::Target(_) => at.point.max_in_flight.unwrap_or(usize::MAX),
                Subject::Variant(_) => capacity,
            },
        ),
    }
    .with_measured(requests_per_s, work.relative_error())
}

/// The rate an open loop really offered inside a time-bounded window (its schedule's arrivals
/// there, sent or held back), so that a Poisson schedule that happened to offer more than
/// `--rate` does not read as more than 100 %; the configured rate otherwise.
pub(super) fn offered_rate(at: &At, outcome: &DriveOutcome, rate: f64) -> f64 {
    let window_s = outcome.window_s();
    if at.plan.scenario.measured_duration().is_some() && !outcome.interrupted && window_s > 0.0 {
        outcome.measured_issued as f64 / window_s
    } else {
        rate
    }
}

pub(super) fn settings(at: &At) -> BTreeMap<String, String> {
    let l = &at.plan.scenario.load;
    let mut settings = BTreeMap::new();
    let threads = || l.worker_threads.map_or("cores".into(), |w| w.to_string());
    match at.subject {
        Subject::Variant(kind) => {
            if kind == VariantKind::Sync {
                settings.insert(
                    "workers".into(),
                    l.workers.map_or("per request".into(), |w| w.to_string()),
                );
            }
            if kind == VariantKind::SyncStream {
                let w = l
                    .workers
                    .unwrap_or(crate::pipeline::sync_stream::DEFAULT_WORKERS);
                settings.insert("workers".into(), w.to_string());
            }
            if matches!(
                kind,
                VariantKind::Async | VariantKind::Hybrid | VariantKind::BlockingInAsync
            ) {
                settings.insert("worker_threads".into(), threads());
            }
            if let (VariantKind::AsyncSingle, Some(n)) = (kind, l.max_blocking_threads) {
                settings.insert("max_blocking_threads".into(), n.to_string());
            }
            if kind == VariantKind::Hybrid {
                settings.insert(
                    "max_blocking_threads".into(),
                    l.max_blocking_threads
                        .map_or("512".into(), |w| w.to_string()),
                );
            }
        }
        Subject::Target(_) => {
            settings.insert("worker_threads".into(), threads());
        }
    }
    settings
}

pub(super) fn summarise(at: &At, mut m: Measured) -> VariantRun {
    let window_s = m.outcome.window_s();
    let work = m.recorder.ok_within(m.outcome.window_end_us);
    let throughput = throughput(at.plan, &work, window_s, &m.recorder);
    let ideal = ideal_of(at, &m, throughput.requests_per_s, &work);
    let latency_ms = m.recorder.percentiles();
    let mock = m.mock_stats.as_ref().map(|st| {
        let mut side = mock_side(st, &latency_ms);
        if let Some(before) = m.mock_cpu_before {
            let cpu = (st.process_cpu_s - before).max(0.0);
            side.process_cpu_s = Some(cpu);
            side.cpu_per_token_us = (st.tokens_sent > 0).then(|| cpu * 1e6 / st.tokens_sent as f64);
        }
        if matches!(at.subject, Subject::Target(_)) && ideal.expected_service_s > 0.0 {
            // The target's requests are whatever the server makes of them: the injected wait
            // per request is what the mocks injected, divided by the requests that finished.
            side.injected_request_mean_ms = ideal.expected_service_s * 1000.0;
            if latency_ms.get("e2e").is_some_and(|p| p.count > 0) {
                let get = |k: &str| latency_ms.get(k).map_or(0.0, |p| p.mean);
                side.overhead_mean_ms = get("e2e") - get("queue") - side.injected_request_mean_ms;
            }
        }
        side
    });
    let r = &mut m.recorder;
    let target = match at.subject {
        Subject::Target(t) => Some(TargetInfo {
            name: t.spec.name.clone(),
            url: t.spec.url.to_string(),
            protocol: t.spec.protocol.name().to_string(),
            method: t.spec.method.to_string(),
        }),
        Subject::Variant(_) => None,
    };
    VariantRun {
        variant: at.subject.name().into(),
        point: at.point.clone(),
        repetition: at.repetition,
        settings: settings(at),
        counters: Counters {
            sent: m.outcome.measured_issued,
            ok: r.ok,
            failed: r.failed_total(),
            failed_by_kind: r.failed.clone(),
            abandoned: m.outcome.abandoned,
            never_sent: m.outcome.never_sent,
            retries: r.retries,
            tokens: r.tokens,
            citation_mismatches: r.citation_mismatches,
            stream_reads: r.stream_reads,
            warmup_completed: r.warmup_completed,
            warmup: WarmupCounters {
                due: m.outcome.warmup_due,
                ok: r.warmup_completed - r.warmup_failed,
                failed: r.warmup_failed,
                abandoned: m.outcome.warmup_abandoned,
                never_sent: m.outcome.warmup_never_sent,
            },
        },
        throughput,
        histograms: r.encoded(),
        latency_ms,
        process: m.process,
        ideal,
        mock,
        timeline: std::mem::take(&mut r.timeline),
        target,
        server: m.server,
        clock: Some(WindowClock::new(
            m.epoch_wall,
            m.outcome.window_start_us,
            m.outcome.window_end_us,
            at.plan.sharding.start_at,
        )),
        gil_cap_idle_s: m.gil_cap_idle_s,
        shards: Vec::new(),
        drive: m.outcome,
    }
}

/// The mocks' figures and the overhead they let us compute.
pub(super) fn mock_side(m: &StatsSnapshot, measured: &BTreeMap<String, Percentiles>) -> MockSide {
    let mut side = MockSide {
        timer_lateness_ms: m.timer_lateness_ms.clone(),
        tokens_sent: m.tokens_sent,
        streams_peak: m.streams_peak,
        ..MockSide::default()
    };
    for (op, s) in &m.operations {
        if s.requests == 0 {
            continue;
        }
        side.injected_ms.insert(op.clone(), s.injected_ms.clone());
        side.requests.insert(op.clone(), s.requests);
        side.outcomes.insert(op.clone(), s.outcomes.clone());
    }
    let mean = |op: &str| m.operations.get(op).map_or(0.0, |s| s.injected_ms.mean);
    side.injected_request_mean_ms = mean("embed") + mean("qdrant_search") + mean("converse_stream");
    let get = |k: &str| measured.get(k).map_or(0.0, |p| p.mean);
    if measured.get("e2e").is_some_and(|p| p.count > 0) {
        side.overhead_mean_ms =
            get("e2e") - get("queue") - get("cpu") - side.injected_request_mean_ms;
    }
    side
}
