use super::*;

/// The service at its two probes (the seed's async endpoint, 64 users, time scale 1).
fn service() -> Vec<Figures> {
    vec![
        Figures {
            tokens: 20,
            requests_per_s: 19.6,
            e2e_p50_ms: Some(3170.0),
            ttft_p50_ms: Some(2360.0),
        },
        Figures {
            tokens: 120,
            requests_per_s: 10.8,
            e2e_p50_ms: Some(5860.0),
            ttft_p50_ms: Some(2240.0),
        },
    ]
}

/// The model at `aim` running `speed` times as fast as the service there: `speed` × its
/// throughput, its latencies ÷ `speed` (Little's law at a fixed number of users).
fn at_speed(aim: &Figures, speed: f64) -> Figures {
    Figures {
        tokens: aim.tokens,
        requests_per_s: aim.requests_per_s * speed,
        e2e_p50_ms: aim.e2e_p50_ms.map(|v| v / speed),
        ttft_p50_ms: aim.ttft_p50_ms.map(|v| v / speed),
    }
}

/// A model whose speed against the service falls linearly with the share under the GIL:
/// `fast` × the service at none, `slow` × at all of the off-loop CPU (`off`), at every probe.
fn linear(fast: f64, slow: f64, off: f64) -> impl FnMut(f64) -> Result<Trial> {
    move |offloop: f64| {
        let speed = fast + (slow - fast) * offloop / off;
        let aims = service();
        let runs = aims.iter().map(|a| at_speed(a, speed)).collect();
        Ok(Trial::of(offloop, off - offloop, runs, &aims))
    }
}

fn measured(offloop: f64, parallel: f64) -> CpuPlacement {
    CpuPlacement { offloop, parallel }
}

#[test]
fn excess_is_the_mean_log_ratio_with_the_latencies_the_other_way_round() {
    let aim = service()[1];
    // As fast as the service: 0.
    assert!(excess(&at_speed(&aim, 1.0), &aim).abs() < 1e-12);
    // Twice the throughput, half the latencies: ln 2.
    assert!((excess(&at_speed(&aim, 2.0), &aim) - 2f64.ln()).abs() < 1e-12);
    // A latency the model lacks is left out, not counted as 0.
    let mut no_ttft = at_speed(&aim, 2.0);
    no_ttft.ttft_p50_ms = None;
    assert!((excess(&no_ttft, &aim) - 2f64.ln()).abs() < 1e-12);
    // Serving nothing is slower than anything.
    let mut nothing = at_speed(&aim, 1.0);
    nothing.requests_per_s = 0.0;
    assert_eq!(excess(&nothing, &aim), f64::NEG_INFINITY);
}

#[test]
fn a_trial_is_the_mean_over_its_probes_each_against_its_own() {
    let aims = service();
    // 20 % faster at the short answers, 10 % slower at the long ones.
    let runs = vec![at_speed(&aims[0], 1.2), at_speed(&aims[1], 0.9)];
    let t = Trial::of(0.2, 0.4, runs, &aims);
    assert!((t.runs[0].excess - 1.2f64.ln()).abs() < 1e-12, "{t:?}");
    assert!((t.runs[1].excess - 0.9f64.ln()).abs() < 1e-12, "{t:?}");
    assert!(
        (t.excess - (1.2f64.ln() + 0.9f64.ln()) / 2.0).abs() < 1e-12,
        "{t:?}"
    );
    // A run at an answer length no probe had cannot be judged: it counts as slowest.
    let stray = vec![Figures {
        tokens: 500,
        ..at_speed(&aims[0], 1.0)
    }];
    assert_eq!(Trial::of(0.0, 0.6, stray, &aims).excess, f64::NEG_INFINITY);
    assert_eq!(Trial::of(0.0, 0.6, vec![], &aims).excess, f64::NEG_INFINITY);
}

#[test]
fn the_share_under_the_gil_is_found_where_the_model_runs_as_fast_as_the_service() {
    // The seed's async endpoint: 68 % off the loop, none of it under the GIL as measured;
    // the model 1.3× the service then, 0.75× with all of it.
    let (chosen, trials, how) =
        search(measured(0.0, 0.68), linear(1.3, 0.75, 0.68)).expect("no run fails");
    let truth = 0.68 * (1.3 - 1.0) / (1.3 - 0.75);
    // Within the tolerance: 3 % of speed is ~0.04 of share on this slope.
    assert!(
        (chosen.offloop - truth).abs() < 0.05,
        "{chosen:?} vs {truth}"
    );
    assert!(
        (chosen.offloop + chosen.parallel - 0.68).abs() < 1e-9,
        "{chosen:?}"
    );
    assert!(trials.len() <= MAX_TRIALS, "{trials:?}");
    // The bracket's ends come first: as measured, then all of it.
    assert_eq!(trials[0].offloop, 0.0);
    assert_eq!(trials[1].offloop, 0.68);
    assert!(trials.iter().all(|t| t.runs.len() == 2), "{trials:?}");
    assert!(how.contains("under the GIL"), "{how}");
}

#[test]
fn a_model_not_faster_than_the_service_keeps_the_measured_split() {
    let m = measured(0.1, 0.5);
    let (chosen, trials, how) = search(m, linear(0.95, 0.7, 0.6)).expect("runs");
    assert_eq!(chosen, m);
    assert_eq!(trials.len(), 1, "{trials:?}");
    assert!(how.contains("slower") && how.contains("kept"), "{how}");
    // Within the tolerance above it: kept too.
    let (chosen, trials, _) = search(m, linear(1.02, 0.7, 0.6)).expect("runs");
    assert_eq!((chosen, trials.len()), (m, 1));
}

#[test]
fn a_model_too_fast_with_all_of_it_under_the_gil_puts_all_of_it_there() {
    let (chosen, trials, how) = search(measured(0.0, 0.4), linear(1.6, 1.3, 0.4)).expect("runs");
    assert_eq!(trials.len(), 2, "{trials:?}");
    assert!(
        (chosen.offloop - 0.4).abs() < 1e-9 && chosen.parallel == 0.0,
        "{chosen:?}"
    );
    assert!(how.contains("still ran") && how.contains("faster"), "{how}");
}

#[test]
fn a_trial_inside_the_tolerance_ends_the_search() {
    let mut splits = 0;
    let mut model = linear(1.3, 0.7, 0.6);
    let (chosen, trials, _) = search(measured(0.0, 0.6), |x| {
        splits += 1;
        model(x)
    })
    .expect("runs");
    // 0, 0.6, then 0.3 runs exactly as fast as the service.
    assert_eq!(splits, 3);
    assert_eq!(trials.len(), 3);
    assert!((chosen.offloop - 0.3).abs() < 1e-9, "{chosen:?}");
}

#[test]
fn a_failing_run_is_an_error_not_a_split() {
    let err = search(measured(0.0, 0.5), |_| anyhow::bail!("mock down"))
        .expect_err("the run's error comes back");
    assert!(err.to_string().contains("mock down"));
}

#[test]
fn the_probes_are_those_that_served_shortest_answers_first() {
    let at = |c, tokens, probe, rps| Observation {
        concurrency: c,
        tokens_setting: tokens,
        probe,
        requests_per_s: rps,
        ..Observation::default()
    };
    let obs = [
        at(8, 120, false, 2.0),
        at(64, 120, true, 10.8),
        at(64, 20, true, 19.6),
    ];
    let (users, aims) = probes_of(&obs).expect("two probes");
    assert_eq!(users, 64);
    assert_eq!(
        aims.iter().map(|a| a.tokens).collect::<Vec<_>>(),
        vec![20, 120]
    );
    let none_served = [at(64, 20, true, 19.0), at(64, 120, true, 0.0)];
    let (_, aims) = probes_of(&none_served).expect("one probe");
    assert_eq!(aims.len(), 1);
    assert!(probes_of(&[at(8, 120, false, 2.0)]).is_none());
}

#[test]
fn a_check_outside_the_goal_is_said_per_figure() {
    let aims = service();
    // 30 % faster at the long answers (req/s 0.77, e2e 1.30: both outside), on the mark at the
    // short ones (nothing to say); TTFT 1.30 is inside its wider band.
    let runs = vec![at_speed(&aims[0], 1.0), at_speed(&aims[1], 1.3)];
    let t = Trial::of(0.0, 0.68, runs, &aims);
    let check = ProbeFit {
        users: 64,
        measured: aims,
        measured_placement: measured(0.0, 0.68),
        how: checked(&t),
        trials: vec![t],
        chosen: measured(0.0, 0.68),
        fitted: false,
    };
    let w = check.outside_goal();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].contains("120 tokens") && w[0].contains("req/s measured / model = 0.77"),
        "{w:?}"
    );
    assert!(w[1].contains("e2e p50 measured / model = 1.30"), "{w:?}");
    assert!(
        check.how.contains("faster") && check.how.contains("checked"),
        "{}",
        check.how
    );
}
