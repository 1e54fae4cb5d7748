//! The tour's shared setup: the seed's latency model as fixed numbers, the two sizes of the tour
//! (`--quick` and full), how one experiment step becomes a [`RunPlan`], and the setup text a
//! report prints for it.
//!
//! Every experiment uses the same request, taken from the seed: retrieval "blocks ~100 ms"
//! (embedding 20 ms + Qdrant search 80 ms), generation "blocks ~2-5 s" (first token after 400 ms,
//! then 11 tokens 250 ms apart), so one request "waits 3 s" (Q5). Latencies are fixed, not
//! drawn, so the expected figures are exact sums and a verdict's bound can be derived from them.
//! The seconds are then shrunk by a time scale (0.05 turns 3 s into 150 ms) so a tour fits in a
//! minute; every report states the scale and converts back to the seed's time where it helps.
//! Few, widely spaced tokens keep the token-event rate (the CPU cost of streaming) low enough
//! that two cores measure concurrency, not the parser.

use std::time::Duration;

use mock_services::latency::Dist;

use crate::pipeline::VariantKind;
use crate::result::LoadPoint;
use crate::run::RunPlan;
use crate::scenario::Scenario;

/// Embedding call, model ms.
pub const EMBED_MS: f64 = 20.0;
/// Qdrant search, model ms.
pub const SEARCH_MS: f64 = 80.0;
/// Time to the first token, model ms.
pub const TTFT_MS: f64 = 400.0;
/// Gap between tokens, model ms.
pub const ITL_MS: f64 = 250.0;
/// Tokens per answer.
pub const TOKENS: f64 = 11.0;
/// Prompt building, µs of real CPU work (not scaled: CPU does not shrink with the time scale).
pub const CPU_US: u64 = 200;

/// One request of the seed model, model ms (3,000: the seed's "waits 3s").
pub fn request_ms() -> f64 {
    EMBED_MS + SEARCH_MS + TTFT_MS + ITL_MS * (TOKENS - 1.0)
}

/// One request of scenario `s` in model ms (before the time scale), CPU work left out.
pub fn model_request_ms(s: &Scenario) -> f64 {
    s.embedding.latency_ms.mean()
        + s.qdrant.search_ms.mean()
        + s.bedrock.ttft_ms.mean()
        + s.bedrock.itl_ms.mean() * (s.bedrock.output_tokens.mean() - 1.0).max(0.0)
}

/// The retrieval part of a request (embedding + search), model ms: what `hybrid` runs in its
/// blocking pool.
pub fn retrieval_ms() -> f64 {
    EMBED_MS + SEARCH_MS
}

/// The two sizes of the tour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    /// `--quick`: small time scales and request counts; under a minute on two cores.
    #[serde(rename = "quick")]
    Quick,
    /// The full tour: slower scales (up to the seed's own seconds), more load; a few minutes.
    #[serde(rename = "full")]
    Full,
}

impl Mode {
    /// `quick` or `full`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Quick => "quick",
            Mode::Full => "full",
        }
    }

    /// `quick` when `q`, else `full`.
    pub fn pick<T>(self, quick: T, full: T) -> T {
        match self {
            Mode::Quick => quick,
            Mode::Full => full,
        }
    }
}

/// One run of an experiment: a name (its folder in the report) and the plan.
#[derive(Clone, Debug)]
pub struct Step {
    /// File-safe name, e.g. `pool`; the result goes to `<experiment>/<name>/result.json`.
    pub name: &'static str,
    /// What this step is, for the setup text ("CPU-bound, with the GIL").
    pub label: String,
    /// The plan.
    pub plan: RunPlan,
}

/// The seed model at `time_scale`: fixed latencies, no warm-up, no ramp, 200 µs of CPU work.
/// Experiments change the load section from here.
pub fn seed_scenario(time_scale: f64) -> Scenario {
    let mut s = Scenario {
        time_scale,
        ..Scenario::default()
    };
    s.embedding.latency_ms = Dist::fixed(EMBED_MS);
    s.qdrant.search_ms = Dist::fixed(SEARCH_MS);
    s.bedrock.ttft_ms = Dist::fixed(TTFT_MS);
    s.bedrock.itl_ms = Dist::fixed(ITL_MS);
    s.bedrock.output_tokens = Dist::fixed(TOKENS);
    s.request.cpu_work_us = CPU_US;
    // Thousands of connections take a moment to open on two cores.
    s.client.connect_timeout_ms = 10_000;
    s.load.warmup = Some(Duration::ZERO);
    s.load.ramp = Some(Duration::ZERO);
    s.load.duration = None;
    s.load.requests = None;
    s
}

/// Spreads every injected wait uniformly over ±50 % of its mean (same means, so the same
/// expected request): real networks jitter, and with perfectly fixed waits a closed loop of
/// users settles into a schedule where their CPU sections never collide.
pub fn jittered(s: &mut Scenario) {
    let spread = |d: &Dist| {
        let m = d.mean();
        Dist::Uniform {
            min: 0.5 * m,
            max: 1.5 * m,
        }
    };
    s.embedding.latency_ms = spread(&s.embedding.latency_ms);
    s.qdrant.search_ms = spread(&s.qdrant.search_ms);
    s.bedrock.ttft_ms = spread(&s.bedrock.ttft_ms);
    s.bedrock.itl_ms = spread(&s.bedrock.itl_ms);
}

/// Bounds a step by a request count (and no time limit).
pub fn by_requests(s: &mut Scenario, n: u64) {
    s.load.requests = Some(n);
    s.load.duration = None;
}

/// Bounds a step by time, after a ramp and warm-up of one service time (users out of phase, as
/// in steady state).
pub fn by_duration(s: &mut Scenario, duration: Duration) {
    let service = Duration::from_secs_f64(request_ms() * s.time_scale / 1000.0);
    s.load.ramp = Some(service);
    s.load.warmup = Some(service);
    s.load.duration = Some(duration);
    s.load.requests = None;
}

/// A closed-loop load point of `users`.
pub fn closed(users: usize) -> LoadPoint {
    LoadPoint::closed(users)
}

/// A plan of `variants` × `points` against embedded mocks, sampling the OS every 10 ms (fine
/// enough to see a thread per 60 ms request), without progress bars.
pub fn plan(scenario: Scenario, variants: &[VariantKind], points: Vec<LoadPoint>) -> RunPlan {
    RunPlan::new("tour", scenario, variants, points)
}

/// A step.
pub fn step(name: &'static str, label: impl Into<String>, plan: RunPlan) -> Step {
    Step {
        name,
        label: label.into(),
        plan,
    }
}

/// The setup of one step in words (Markdown): variants, load, latencies, bounds.
pub fn describe(step: &Step) -> String {
    let p = &step.plan;
    let s = &p.scenario;
    let variants: Vec<String> = p
        .variants
        .iter()
        .map(|v| format!("`{}`", v.name()))
        .collect();
    let points: Vec<String> = p.points.iter().map(|pt| pt.label()).collect();
    let ms = |d: &Dist| d.mean() * s.time_scale;
    let num = super::verdict::num;
    let mut out = format!(
        "**{}**: {} at {}; ",
        step.label,
        variants.join(", "),
        points.join(" and ")
    );
    if model_request_ms(s) < 1.0 {
        out.push_str("no injected network wait, a one-token answer");
    } else {
        out.push_str(&format!(
            "one request = embed {} ms + search {} ms + first token {} ms + {} tokens {} ms \
             apart = {} (the seed's {} s × time scale {})",
            num(ms(&s.embedding.latency_ms)),
            num(ms(&s.qdrant.search_ms)),
            num(ms(&s.bedrock.ttft_ms)),
            num(s.bedrock.output_tokens.mean()),
            num(ms(&s.bedrock.itl_ms)),
            super::ms_text(model_request_ms(s) * s.time_scale),
            num(model_request_ms(s) / 1000.0),
            s.time_scale,
        ));
        if !matches!(s.bedrock.itl_ms, Dist::Fixed { .. }) {
            out.push_str(", each wait drawn uniformly within ±50 % of its mean");
        }
    }
    out.push_str(&format!(
        ", {} µs of CPU work{}",
        s.request.cpu_work_us,
        if s.request.gil { " under a GIL" } else { "" }
    ));
    let mut knobs = Vec::new();
    if let Some(w) = s.load.workers {
        knobs.push(format!("`--workers {w}`"));
    }
    if let Some(w) = s.load.worker_threads {
        knobs.push(format!("`--worker-threads {w}`"));
    }
    if let Some(b) = s.load.max_blocking_threads {
        knobs.push(format!("`--max-blocking-threads {b}`"));
    }
    if !knobs.is_empty() {
        out.push_str(&format!("; {}", knobs.join(", ")));
    }
    match (s.load.requests, s.load.duration) {
        (Some(n), _) => out.push_str(&format!("; {n} requests per variant and point.")),
        (None, Some(d)) => out.push_str(&format!(
            "; {} measured after a {} warm-up per variant and point.",
            humantime::format_duration(d),
            humantime::format_duration(s.load.warmup.unwrap_or_default())
        )),
        (None, None) => out.push('.'),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_request_takes_three_seconds() {
        assert_eq!(request_ms(), 3000.0);
        assert_eq!(retrieval_ms(), 100.0);
        let s = seed_scenario(0.05);
        s.validate().unwrap();
        let service = crate::metrics::ideal::expected_service_s(&s, None);
        assert!((service - 0.1502).abs() < 1e-6, "{service}");
    }

    #[test]
    fn setup_text_names_what_runs() {
        let mut s = seed_scenario(0.05);
        s.load.workers = Some(4);
        by_requests(&mut s, 2);
        let st = step(
            "pool",
            "a pool",
            plan(s, &[VariantKind::Sync], vec![closed(2)]),
        );
        let text = describe(&st);
        assert!(text.contains("`sync` at c=2"), "{text}");
        assert!(text.contains("`--workers 4`"), "{text}");
        assert!(text.contains("2 requests"), "{text}");
        assert!(text.contains("seed's 3 s"), "{text}");
    }
}
