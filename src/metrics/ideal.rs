//! The latency model's own lower bound on service time, and the throughput it allows
//! (Little's law), so a measured figure can be read as a fraction of what was possible.
//!
//! Expected service time of one request with no queueing and no overhead:
//! `E[embed] + E[search] + cpu + E[ttft] + E[itl] · (E[tokens] − 1) + E[tokens] · cpu_per_token`,
//! every model latency multiplied by the time scale (the CPU terms are not scaled). `E[tokens]` is the mean answer length the run actually
//! received when known: the mock draws each prompt's length once (answers are deterministic per
//! prompt), so over a handful of questions the realised mean can differ from the configured
//! distribution's, and the bound must follow what was generated. Closed loop: `ideal = min(concurrency, capacity) / (E[S] + think)`.
//! Open loop: the offered rate, capped by `capacity / E[S]`. `capacity` is what the variant can
//! have in progress at once (1 for `sequential`, `--workers` for a bounded `sync` pool).
//!
//! `sync-stream` is the one variant whose capacity depends on the latencies: its requests share
//! `W` pool threads token by token, so any number can be in progress, but each needs at least
//! [`min_thread_s`] of thread time (the blocking embed and search, the prompt CPU, the CPU of
//! every token — the token *waits* can overlap with other requests' work while the request sits
//! in the queue). The pool therefore sustains at most `W / min_thread_s` requests/s, which is
//! `W · E[S] / min_thread_s` requests in progress, and its capacity is the smaller of that and
//! the offered load. It is a lower bound on thread time (an idle pool still blocks a thread for
//! every token wait), so the ideal it gives is an upper bound, like every ideal here. With an
//! event loop in front of the pool (`cpu_request_loop_share`, `cpu_token_loop_share`), the
//! loop's CPU is not pool-thread time but runs on one thread: [`loop_s`] per request allows at
//! most `E[S] / loop_s` requests in progress.

use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;

/// The mean answer length: the observed one when known, else the configured distribution's,
/// capped by `max_tokens`.
fn tokens(s: &Scenario, observed_tokens: Option<f64>) -> f64 {
    observed_tokens
        .filter(|t| t.is_finite() && *t >= 1.0)
        .unwrap_or_else(|| s.bedrock.output_tokens.mean().round())
        .clamp(1.0, f64::from(s.request.max_tokens))
}

/// The CPU one request spends (prompt step + every token event), seconds.
fn cpu_s(s: &Scenario, tokens: f64) -> f64 {
    (s.request.cpu_work_us as f64 + tokens * s.request.cpu_per_token_us as f64) / 1e6
}

/// How long a closed loop of `concurrency` users takes to pass every user once through the CPU,
/// seconds: their CPU (prompt + token events) on the cores that can run it — one under the GIL
/// or on a single-threaded event loop (`single_thread`), else `cores`. When this exceeds one
/// service time the point is CPU-bound, and its start-up burst lasts about this long: the
/// warm-up must cover it or the window opens before steady state.
/// With `cpu_parallel_share`, that share of the per-request CPU runs beside the lock on the
/// other cores, so the one lock carries only the rest (or the cores all of it, if that is
/// longer), and of that only what `cpu_outside_gil_share` leaves it, at `gil_max_busy` of each
/// second at most; without the GIL an event loop also sheds `cpu_offloop_share`.
pub fn cpu_cycle_s(s: &Scenario, concurrency: usize, single_thread: bool, cores: usize) -> f64 {
    let cores = cores.max(1) as f64;
    let total = cpu_s(s, tokens(s, None));
    let work = s.request.cpu_work_us as f64 / 1e6;
    let per_request = if s.request.gil {
        let held = 1.0 - s.request.cpu_outside_gil_share.clamp(0.0, 1.0);
        let busy = s.request.gil_max_busy.clamp(0.01, 1.0);
        ((total - work * s.request.cpu_parallel_share) * held / busy).max(total / cores)
    } else if single_thread {
        let shed = s.request.cpu_parallel_share + s.request.cpu_offloop_share;
        (total - work * shed).max(total / cores)
    } else {
        total / cores
    };
    concurrency as f64 * per_request
}

/// Expected service time of one request, seconds; `observed_tokens` is the mean answer length
/// received (None = the configured distribution's mean).
pub fn expected_service_s(s: &Scenario, observed_tokens: Option<f64>) -> f64 {
    let tokens = tokens(s, observed_tokens);
    let ms = s.embedding.latency_ms.mean()
        + s.qdrant.search_ms.mean()
        + s.bedrock.ttft_ms.mean()
        + s.bedrock.itl_ms.mean() * (tokens - 1.0);
    ms * s.time_scale / 1000.0 + cpu_s(s, tokens)
}

/// The least pool-thread time one `sync-stream` request needs, seconds: the blocking embed and
/// search calls and its CPU (prompt + tokens) but the event loop's part. Waits for tokens are
/// left out: a stream that queued long enough finds its next token already buffered.
pub fn min_thread_s(s: &Scenario, observed_tokens: Option<f64>) -> f64 {
    let tokens = tokens(s, observed_tokens);
    let ms = s.embedding.latency_ms.mean() + s.qdrant.search_ms.mean();
    ms * s.time_scale / 1000.0 + cpu_s(s, tokens) - loop_s(s, observed_tokens)
}

/// The CPU one `sync-stream` request spends on the event loop's one thread, seconds
/// (`cpu_request_loop_share` of the prompt CPU, `cpu_token_loop_share` of every token's): that
/// thread serves at most 1 / this requests per second.
pub fn loop_s(s: &Scenario, observed_tokens: Option<f64>) -> f64 {
    let tokens = tokens(s, observed_tokens);
    let r = &s.request;
    (r.cpu_work_us as f64 * r.cpu_request_loop_share.clamp(0.0, 1.0)
        + tokens * r.cpu_per_token_us as f64 * r.cpu_token_loop_share.clamp(0.0, 1.0))
        / 1e6
}

/// The ideal and how close the measurement came.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Ideal {
    /// Expected service time with no queueing or overhead, seconds.
    pub expected_service_s: f64,
    /// Requests the variant can have in progress at once at this load point.
    pub capacity: usize,
    /// Little's-law throughput bound, requests/s.
    pub ideal_requests_per_s: f64,
    /// Measured `requests_per_s` / `ideal_requests_per_s`.
    pub efficiency: f64,
    /// The stated error of `efficiency`, as a fraction (0.05 = ± 5 points): the statistical
    /// error of the work counted in a finite window (few requests, varying service times).
    /// A true efficiency never exceeds 1, so a measured one never exceeds `1 + efficiency_error`
    /// (0 in results written before this field existed).
    #[serde(default)]
    pub efficiency_error: f64,
}

impl Ideal {
    /// The bound for a closed loop of `concurrency` users (`capacity` of them served at once).
    pub fn closed(service_s: f64, think_s: f64, concurrency: usize, capacity: usize) -> Ideal {
        let cap = capacity.min(concurrency).max(1);
        let cycle = service_s + think_s;
        // With think time, users beyond `cap` still add load; the bound is whichever of the
        // servers or the users saturates first.
        let by_users = concurrency as f64 / cycle.max(1e-9);
        let by_servers = cap as f64 / service_s.max(1e-9);
        Ideal {
            expected_service_s: service_s,
            capacity: cap,
            ideal_requests_per_s: by_users.min(by_servers),
            efficiency: 0.0,
            efficiency_error: 0.0,
        }
    }

    /// The bound for an open loop offering `rate` requests/s.
    pub fn open(service_s: f64, rate: f64, capacity: usize) -> Ideal {
        Ideal {
            expected_service_s: service_s,
            capacity,
            ideal_requests_per_s: rate.min(capacity as f64 / service_s.max(1e-9)),
            efficiency: 0.0,
            efficiency_error: 0.0,
        }
    }

    /// Fills in the efficiency of a measured throughput and its relative error.
    pub fn with_measured(mut self, requests_per_s: f64, relative_error: f64) -> Ideal {
        if self.ideal_requests_per_s > 0.0 {
            self.efficiency = requests_per_s / self.ideal_requests_per_s;
            self.efficiency_error = relative_error;
        } else {
            self.efficiency = 0.0;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mock_services::latency::Dist;

    #[test]
    fn cpu_cycle_is_every_user_once_through_the_cpu() {
        let mut s = Scenario::default();
        s.bedrock.output_tokens = Dist::fixed(100.0);
        s.request.cpu_work_us = 10_000;
        s.request.cpu_per_token_us = 1_000;
        // 110 ms per request: 200 users on one core (the GIL) take 22 s, on two cores 11 s.
        s.request.gil = true;
        assert!((cpu_cycle_s(&s, 200, false, 2) - 22.0).abs() < 1e-9);
        // A fifth of every section outside the lock: it carries 88 ms per request (17.6 s);
        // all but a tenth: the two cores' 11 s.
        s.request.cpu_outside_gil_share = 0.2;
        assert!((cpu_cycle_s(&s, 200, false, 2) - 17.6).abs() < 1e-9);
        // The lock held at most 0.8 of each second: its 88 ms take 110 ms (22 s).
        s.request.gil_max_busy = 0.8;
        assert!((cpu_cycle_s(&s, 200, false, 2) - 22.0).abs() < 1e-9);
        s.request.gil_max_busy = 1.0;
        s.request.cpu_outside_gil_share = 0.9;
        assert!((cpu_cycle_s(&s, 200, false, 2) - 11.0).abs() < 1e-9);
        s.request.cpu_outside_gil_share = 0.0;
        s.request.gil = false;
        assert!((cpu_cycle_s(&s, 200, false, 2) - 11.0).abs() < 1e-9);
        assert!((cpu_cycle_s(&s, 200, true, 2) - 22.0).abs() < 1e-9);
        // A quarter of the 10 ms request CPU beside the loop: the loop carries 107.5 ms per
        // request; all of it: 100 ms (the tokens' CPU stays on the loop).
        s.request.cpu_parallel_share = 0.25;
        assert!((cpu_cycle_s(&s, 200, true, 2) - 21.5).abs() < 1e-9);
        s.request.cpu_parallel_share = 1.0;
        assert!((cpu_cycle_s(&s, 200, true, 2) - 20.0).abs() < 1e-9);
        // Only the per-request CPU, all beside the loop: the two cores carry half each.
        s.request.cpu_per_token_us = 0;
        assert!((cpu_cycle_s(&s, 200, true, 2) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn service_time_adds_the_phases() {
        let mut s = Scenario::default();
        s.embedding.latency_ms = Dist::fixed(10.0);
        s.qdrant.search_ms = Dist::fixed(100.0);
        s.bedrock.ttft_ms = Dist::fixed(500.0);
        s.bedrock.itl_ms = Dist::fixed(20.0);
        s.bedrock.output_tokens = Dist::fixed(51.0);
        s.request.cpu_work_us = 1000;
        let e = expected_service_s(&s, None);
        assert!(
            (e - (0.010 + 0.100 + 0.500 + 1.0 + 0.001)).abs() < 1e-9,
            "{e}"
        );
        s.time_scale = 0.1;
        assert!((expected_service_s(&s, None) - (0.161 + 0.001)).abs() < 1e-9);
        assert!((expected_service_s(&s, Some(11.0)) - (0.081 + 0.001)).abs() < 1e-9);
        s.request.max_tokens = 11;
        assert!((expected_service_s(&s, None) - (0.081 + 0.001)).abs() < 1e-9);
        // 11 tokens x 100 µs of CPU each.
        s.request.cpu_per_token_us = 100;
        assert!((expected_service_s(&s, None) - (0.081 + 0.001 + 0.0011)).abs() < 1e-9);
        // The pool thread is needed for embed + search (11 ms scaled) and the CPU.
        assert!((min_thread_s(&s, None) - (0.011 + 0.001 + 0.0011)).abs() < 1e-9);
        assert_eq!(loop_s(&s, None), 0.0);
        // With an event loop, its share of the CPU leaves the pool threads for the loop's one.
        s.request.cpu_request_loop_share = 0.5;
        s.request.cpu_token_loop_share = 1.0;
        assert!((loop_s(&s, None) - (0.0005 + 0.0011)).abs() < 1e-9);
        assert!((min_thread_s(&s, None) - (0.011 + 0.0005)).abs() < 1e-9);
    }

    #[test]
    fn littles_law() {
        let i = Ideal::closed(2.0, 0.0, 100, 100);
        assert!((i.ideal_requests_per_s - 50.0).abs() < 1e-9);
        let seq = Ideal::closed(2.0, 0.0, 100, 1);
        assert!((seq.ideal_requests_per_s - 0.5).abs() < 1e-9);
        let thinking = Ideal::closed(1.0, 1.0, 10, 10);
        assert!((thinking.ideal_requests_per_s - 5.0).abs() < 1e-9);
        let open = Ideal::open(2.0, 30.0, 4);
        assert!((open.ideal_requests_per_s - 2.0).abs() < 1e-9);
        assert!((open.with_measured(1.0, 0.1).efficiency - 0.5).abs() < 1e-9);
    }
}
