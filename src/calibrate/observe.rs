//! One measured point read into an [`Observation`] (a probe's several windows into one,
//! [`median_window`]), again from a saved phase ([`reobserve`]), and every point's CPU put at
//! one machine speed ([`at_reference_speed`]).

use std::collections::BTreeMap;

use anyhow::Result;

use super::model::Observation;
use super::phase_label;
use crate::result::VariantRun;

/// `calibrate --from`: each saved observation read again from its phase's result (`read` gets
/// the phase's label and returns its result, or None when it was not kept), so a model derived
/// again also follows a change in how a point is read (such as the CPU of the measured window
/// in place of the whole run's). An observation whose phase has no result, or no run at its
/// users, is kept as saved. The phases are under `dir` (`""`, or a deeper probe's `probe-U/`).
/// Returns the observations and how many were read again.
pub fn reobserve(
    saved: Vec<Observation>,
    burst: bool,
    dir: &str,
    read: &mut impl FnMut(&str) -> Result<Option<crate::result::RunResult>>,
) -> Result<(Vec<Observation>, usize)> {
    let mut phases: BTreeMap<String, Option<crate::result::RunResult>> = BTreeMap::new();
    let mut again = 0;
    let mut out = Vec::with_capacity(saved.len());
    for o in saved {
        let label = format!("{dir}{}", phase_label(o.tokens_setting, burst));
        if !phases.contains_key(&label) {
            let result = read(&label)?;
            phases.insert(label.clone(), result);
        }
        let runs: Vec<&VariantRun> = phases
            .get(&label)
            .and_then(Option::as_ref)
            .map(|r| {
                r.runs
                    .iter()
                    .filter(|r| r.point.concurrency == o.concurrency)
                    .collect()
            })
            .unwrap_or_default();
        let again_o = match (o.probe, runs.first()) {
            (true, Some(_)) => observe_windows(&runs, o.tokens_setting),
            (false, Some(r)) => Some(observe(r, o.tokens_setting, false)),
            (_, None) => None,
        };
        match again_o {
            Some(a) => {
                again += 1;
                out.push(a);
            }
            None => out.push(o),
        }
    }
    Ok((out, again))
}

/// A phase's points: each low level, then its probe (`probe`'s users; several windows of it made
/// one by [`median_window`]).
pub(super) fn observe_phase(
    runs: &[VariantRun],
    tokens: u32,
    probe: Option<usize>,
) -> Vec<Observation> {
    let (probes, low): (Vec<&VariantRun>, Vec<&VariantRun>) = runs
        .iter()
        .partition(|r| Some(r.point.concurrency) == probe);
    low.iter()
        .map(|r| observe(r, tokens, false))
        .chain(observe_windows(&probes, tokens))
        .collect()
}

/// A probe's windows (the runs at its users) as one observation.
fn observe_windows(runs: &[&VariantRun], tokens: u32) -> Option<Observation> {
    let mut o = median_window(runs.iter().map(|r| observe(r, tokens, true)).collect())?;
    // The starts of the service they measured (`--probe-starts`: one each), by its pid.
    let pids: std::collections::BTreeSet<u32> = runs
        .iter()
        .filter_map(|r| r.server.as_ref().map(|s| s.pid))
        .collect();
    o.window_starts = if runs.len() > 1 { pids.len() } else { 0 };
    Some(o)
}

/// A probe measured in several windows as one: the window whose CPU per answer, put at its
/// machine speed, is the median (`--probe-runs` is odd: for an even count this takes the lower
/// of the middle two, the cheaper), so that its
/// req/s, latencies, threads and CPU stay one window's; its `ok` and `failed` count every
/// window's requests, and `window_cpu_ms` keeps every window's CPU per answer as measured. One
/// window is returned as it is; None for none. Four 10 s windows of the seed's services at a
/// 64-user probe moved by up to ×1.30 in CPU per answer in one start of the service, and four
/// fresh starts by up to ×1.28 (session 18): one window carries that into the whole model.
pub fn median_window(mut windows: Vec<Observation>) -> Option<Observation> {
    if windows.len() < 2 {
        return windows.pop();
    }
    let at_speed = |o: &Observation| o.cpu_per_request_ms.map(|c| c * o.speed.unwrap_or(1.0));
    let mut order: Vec<usize> = (0..windows.len())
        .filter(|i| at_speed(&windows[*i]).is_some_and(f64::is_finite))
        .collect();
    order.sort_by(|a, b| {
        at_speed(&windows[*a])
            .partial_cmp(&at_speed(&windows[*b]))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let pick = order
        .get(order.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(0);
    let window_cpu_ms = windows
        .iter()
        .filter_map(|o| o.cpu_per_request_ms)
        .filter(|c| c.is_finite())
        .collect();
    let (ok, failed) = windows
        .iter()
        .fold((0, 0), |(ok, failed), o| (ok + o.ok, failed + o.failed));
    let mut chosen = windows.swap_remove(pick);
    chosen.ok = ok;
    chosen.failed = failed;
    chosen.window_cpu_ms = window_cpu_ms;
    Some(chosen)
}

/// How far a probe measured in several windows moved between them, in CPU per answer: a note
/// for each probe whose largest window is more than [`WINDOW_SPREAD`] above its smallest.
pub(super) fn window_warnings(observations: &[Observation]) -> Vec<String> {
    observations
        .iter()
        .filter(|o| o.probe && o.window_cpu_ms.len() > 1)
        .filter_map(|o| {
            let lo = o.window_cpu_ms.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = o.window_cpu_ms.iter().copied().fold(0.0, f64::max);
            (lo > 0.0 && hi / lo > WINDOW_SPREAD).then(|| {
                format!(
                    "the probe at {} users and {} tokens spent {} ms of CPU per answer in its {} windows (×{:.2} from the least to the most): the model takes the median window, and predictions of loads near the probe carry that spread",
                    o.concurrency,
                    o.tokens_setting,
                    o.window_cpu_ms.iter().map(|c| format!("{c:.0}")).collect::<Vec<_>>().join(", "),
                    o.window_cpu_ms.len(),
                    hi / lo
                )
            })
        })
        .collect()
}

/// The spread of a probe's windows (largest over smallest CPU per answer) worth a note: the
/// prediction goal's own band (0.85–1.15) on req/s.
const WINDOW_SPREAD: f64 = 1.15;

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
        system_share: r.server.as_ref().and_then(|s| s.system_share()),
        window_cpu_ms: Vec::new(),
        window_starts: 0,
        backend_wait_ms: r
            .mock
            .as_ref()
            .map(|m| {
                m.injected_ms
                    .iter()
                    .filter(|(_, p)| p.count > 0)
                    .map(|(op, p)| {
                        let wait = super::waits::Wait {
                            calls: p.count,
                            mean_ms: p.mean,
                        };
                        (op.clone(), wait)
                    })
                    .collect()
            })
            .unwrap_or_default(),
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
    fn a_probe_in_several_windows_is_its_median_window() {
        let window = |cpu, speed, rps, failed| Observation {
            requests_per_s: rps,
            ok: 100,
            failed,
            probe: true,
            ..point(Some(cpu), Some(speed))
        };
        // The seed's async endpoint at its 64-user probe in one process (session 18): 114, 118,
        // 135 ms. At one speed the median is the 118 ms window, with its own req/s.
        let o = median_window(vec![
            window(135.0, 2.0, 10.6, 0),
            window(114.0, 2.0, 9.6, 1),
            window(118.0, 2.0, 9.8, 2),
        ])
        .expect("three windows");
        assert_eq!(o.cpu_per_request_ms, Some(118.0));
        assert_eq!(o.requests_per_s, 9.8);
        assert_eq!(
            o.window_cpu_ms,
            vec![135.0, 114.0, 118.0],
            "as measured, in order"
        );
        assert_eq!(
            (o.ok, o.failed),
            (300, 3),
            "every window's requests counted"
        );
        // Ranked at their speeds: 100 ms at 2.0 is 200, 150 ms at 1.0 is 150, 90 at 2.0 is 180.
        let o = median_window(vec![
            window(100.0, 2.0, 1.0, 0),
            window(150.0, 1.0, 2.0, 0),
            window(90.0, 2.0, 3.0, 0),
        ])
        .expect("three windows");
        assert_eq!(o.requests_per_s, 3.0, "the 180 window");
        // Two windows: the lower; a window without CPU is listed nowhere and never picked.
        let mut blind = window(0.0, 2.0, 5.0, 4);
        blind.cpu_per_request_ms = None;
        let o = median_window(vec![
            window(60.0, 2.0, 1.0, 0),
            blind,
            window(50.0, 2.0, 2.0, 0),
        ])
        .expect("windows");
        assert_eq!(o.cpu_per_request_ms, Some(50.0));
        assert_eq!(o.window_cpu_ms, vec![60.0, 50.0]);
        assert_eq!(o.failed, 4);
        // One window: as it is, with no window list.
        let one = median_window(vec![window(70.0, 2.0, 1.0, 0)]).expect("one");
        assert!(one.window_cpu_ms.is_empty());
        assert!(median_window(Vec::new()).is_none());
    }

    #[test]
    fn a_probe_whose_windows_moved_is_noted() {
        let probe = |windows: Vec<f64>| Observation {
            probe: true,
            concurrency: 64,
            tokens_setting: 120,
            window_cpu_ms: windows,
            ..Observation::default()
        };
        let w = window_warnings(&[probe(vec![114.0, 118.0, 135.0])]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("114, 118, 135 ms") && w[0].contains("×1.18"),
            "{w:?}"
        );
        // Within the band, one window, or a low level: nothing.
        assert!(window_warnings(&[probe(vec![100.0, 110.0])]).is_empty());
        assert!(window_warnings(&[probe(vec![100.0])]).is_empty());
        let mut low = probe(vec![50.0, 100.0]);
        low.probe = false;
        assert!(window_warnings(&[low]).is_empty());
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
