//! One measured point read into an [`Observation`], again from a saved phase
//! ([`reobserve`]), and every point's CPU put at one machine speed ([`at_reference_speed`]).

use std::collections::BTreeMap;

use anyhow::Result;

use super::model::Observation;
use super::phase_label;
use crate::result::VariantRun;

/// `calibrate --from`: each saved observation read again from its phase's result (`read` gets
/// the phase's label and returns its result, or None when it was not kept), so a model derived
/// again also follows a change in how a point is read (such as the CPU of the measured window
/// in place of the whole run's). An observation whose phase has no result, or no run at its
/// users, is kept as saved. Returns the observations and how many were read again.
pub fn reobserve(
    saved: Vec<Observation>,
    burst: bool,
    read: &mut impl FnMut(&str) -> Result<Option<crate::result::RunResult>>,
) -> Result<(Vec<Observation>, usize)> {
    let mut phases: BTreeMap<String, Option<crate::result::RunResult>> = BTreeMap::new();
    let mut again = 0;
    let mut out = Vec::with_capacity(saved.len());
    for o in saved {
        let label = phase_label(o.tokens_setting, burst);
        if !phases.contains_key(&label) {
            let result = read(&label)?;
            phases.insert(label.clone(), result);
        }
        let run = phases
            .get(&label)
            .and_then(Option::as_ref)
            .and_then(|r| r.runs.iter().find(|r| r.point.concurrency == o.concurrency));
        match run {
            Some(r) => {
                again += 1;
                out.push(observe(r, o.tokens_setting, o.probe));
            }
            None => out.push(o),
        }
    }
    Ok((out, again))
}

/// One point's figures.
pub(super) fn observe(r: &VariantRun, tokens: u32, probe: bool) -> Observation {
    let c = &r.counters;
    let p = |k: &str| r.latency_ms.get(k).filter(|p| p.count > 0).map(|p| p.p50);
    let generations = r.mock.as_ref().map(|m| {
        m.requests.get("converse_stream").copied().unwrap_or(0)
            + m.requests.get("converse").copied().unwrap_or(0)
    });
    let tokens_per_request = match (&r.mock, generations) {
        (Some(m), Some(g)) if g > 0 && m.tokens_sent > 0 => Some(m.tokens_sent as f64 / g as f64),
        // Whole answers (`Converse`): the mock counts streamed tokens only, and every answer
        // of a phase has the fixed length the phase set.
        (Some(_), Some(g)) if g > 0 => Some(tokens as f64),
        _ => (c.ok > 0).then(|| c.tokens as f64 / c.ok as f64),
    };
    let calls_per_request = match (&r.mock, generations) {
        (Some(m), Some(g)) if g > 0 => m
            .requests
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(op, n)| (op.clone(), *n as f64 / g as f64))
            .collect(),
        _ => BTreeMap::new(),
    };
    let (threads_start, threads_peak) = r
        .server
        .as_ref()
        .map(|s| (s.threads_start, s.threads_peak))
        .unwrap_or((0, 0));
    let (cpu_per_request_ms, speed) = cpu_per_answer_ms(r, generations);
    Observation {
        concurrency: r.point.concurrency,
        tokens_setting: tokens,
        probe,
        ok: c.ok,
        failed: c.failed,
        requests_per_s: r.throughput.requests_per_s,
        e2e_p50_ms: p("e2e"),
        ttft_p50_ms: p("ttft"),
        cpu_per_request_ms,
        speed,
        tokens_per_request,
        threads_start,
        threads_peak,
        calls_per_request,
        busiest_thread_share: r.server.as_ref().and_then(|s| {
            let busiest = s.cpu_busiest_thread_s?;
            (s.cpu_s() > 0.0).then(|| (busiest / s.cpu_s()).clamp(0.0, 1.0))
        }),
        server_cores: r.server.as_ref().and_then(|s| s.cores()),
        gil_off_busiest_share: r
            .server
            .as_ref()
            .and_then(|s| s.gil.as_ref())
            .and_then(|g| g.off_busiest_share()),
    }
}

/// The server's CPU per answer in the measured window: its CPU between the window's edges over
/// the window's successful requests per second
/// ([`window_cpu_per_request_ms`](crate::metrics::server::window_cpu_per_request_ms)), the
/// steady state a prediction's window is compared with. On the seed's service (the six
/// calibrations of one sitting on 2026-12-03) the whole run read from 4 % less to 10 % more at
/// the 64-user probes (17 % more at one of the next sitting's) and up to 34 % more at 2 users:
/// the warm-up's start (first connections, lazy imports, a pool's threads being made) and the
/// drain counted too.
///
/// Without samples covering the window, or with a failure in it (the window counts successes
/// only, and a failed request spent CPU too): the whole run's CPU per generation the mock
/// served over the same period (the mock's counters and the sampler both cover the warm-up,
/// the window and the drain; requests still in flight when a point ends spent CPU but never
/// finished, so dividing by finished requests would overstate the cost at loads that queue),
/// and without mock figures, per finished request.
fn cpu_per_answer_ms(r: &VariantRun, generations: Option<u64>) -> (Option<f64>, Option<f64>) {
    if r.counters.failed == 0
        && let Some(ms) = crate::metrics::server::window_cpu_per_request_ms(r)
    {
        return (Some(ms), crate::metrics::server::window_speed(r));
    }
    let whole_speed = r
        .server
        .as_ref()
        .and_then(|s| s.speed_between(0.0, f64::INFINITY));
    let ms = match (&r.server, generations) {
        (Some(s), Some(g)) if g > 0 => Some(s.cpu_s() * 1000.0 / g as f64),
        _ => crate::metrics::server::cpu_per_request_ms(r),
    };
    (ms, whole_speed)
}

/// Every point's CPU per answer put at one machine speed, the median of the points' (rounds
/// per µs of ragperf's work function, read beside the server's CPU: [`window_speed`]), so a
/// point measured while the shared machine ran slow does not make the model dearer: the CPU
/// it measured × its speed ÷ the reference. Returns the reference, or None — and the points
/// as they are — unless every point with a CPU figure has a speed (results from before the
/// speed was recorded).
///
/// [`window_speed`]: crate::metrics::server::window_speed
pub fn at_reference_speed(points: &mut [&mut Observation]) -> Option<f64> {
    let with_cpu = || points.iter().filter(|o| o.cpu_per_request_ms.is_some());
    if with_cpu().count() == 0 || with_cpu().any(|o| !o.speed.is_some_and(|v| v > 0.0)) {
        return None;
    }
    let mut speeds: Vec<f64> = with_cpu().filter_map(|o| o.speed).collect();
    speeds.sort_by(f64::total_cmp);
    let n = speeds.len();
    let reference = if n % 2 == 1 {
        speeds[n / 2]
    } else {
        (speeds[n / 2 - 1] + speeds[n / 2]) / 2.0
    };
    for o in points.iter_mut() {
        if let (Some(cpu), Some(speed)) = (o.cpu_per_request_ms, o.speed) {
            o.cpu_per_request_ms = Some(cpu * speed / reference);
        }
    }
    Some(reference)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(cpu_ms: Option<f64>, speed: Option<f64>) -> Observation {
        Observation {
            cpu_per_request_ms: cpu_ms,
            speed,
            ..Observation::default()
        }
    }

    #[test]
    fn every_point_is_put_at_the_median_speed() {
        // The same work measured at three speeds: 100 ms at 2.0, 125 at 1.6, 80 at 2.5 rounds/µs.
        let mut points = [
            point(Some(100.0), Some(2.0)),
            point(Some(125.0), Some(1.6)),
            point(Some(80.0), Some(2.5)),
            point(None, None),
        ];
        let mut refs: Vec<&mut Observation> = points.iter_mut().collect();
        assert_eq!(at_reference_speed(&mut refs), Some(2.0));
        for p in &points[..3] {
            let cpu = p.cpu_per_request_ms.expect("kept");
            assert!((cpu - 100.0).abs() < 1e-9, "{cpu}");
        }
        // An even count: the mean of the middle two.
        let mut two = [point(Some(10.0), Some(1.0)), point(Some(10.0), Some(3.0))];
        let mut refs: Vec<&mut Observation> = two.iter_mut().collect();
        assert_eq!(at_reference_speed(&mut refs), Some(2.0));
        assert_eq!(two[0].cpu_per_request_ms, Some(5.0));
        assert_eq!(two[1].cpu_per_request_ms, Some(15.0));
    }

    #[test]
    fn without_every_speed_the_cpu_stays_as_measured() {
        let mut points = [point(Some(100.0), Some(2.0)), point(Some(50.0), None)];
        let mut refs: Vec<&mut Observation> = points.iter_mut().collect();
        assert_eq!(at_reference_speed(&mut refs), None);
        assert_eq!(points[0].cpu_per_request_ms, Some(100.0));
        assert_eq!(points[1].cpu_per_request_ms, Some(50.0));
        let mut none: [Observation; 0] = [];
        let mut refs: Vec<&mut Observation> = none.iter_mut().collect();
        assert_eq!(at_reference_speed(&mut refs), None);
    }
}
