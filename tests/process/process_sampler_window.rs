//! The sampler returns figures for a short window: levels, deltas and an ordered time series.

use std::time::Duration;

use ragperf::metrics::process::{MAX_SAMPLES, ProcessFigures, ProcessSampler};

const HELD_BYTES: usize = 32 << 20;

#[test]
fn short_window_yields_ordered_samples_and_figures() {
    let _turn = crate::serial();
    let sampler =
        ProcessSampler::start(Duration::from_millis(2), vec!["none-".into()]).expect("start");
    // Touch every page so the memory is resident, and hold it until after `stop`.
    let held = std::hint::black_box(vec![1u8; HELD_BYTES]);
    std::thread::sleep(Duration::from_millis(30));
    let figures = sampler.stop();
    drop(held);

    assert!(
        figures.snapshots >= 2,
        "start and stop snapshots at least: {figures:?}"
    );
    let samples = &figures.samples;
    assert!(samples.len() >= 2 && samples.len() <= MAX_SAMPLES);
    assert_eq!(samples[0].t_s, 0.0);
    assert!(
        samples.windows(2).all(|w| w[0].t_s < w[1].t_s),
        "{samples:?}"
    );
    assert!(figures.window_s >= 0.03 && figures.window_s >= samples[samples.len() - 1].t_s);
    assert!(figures.rss_peak_bytes >= HELD_BYTES as u64, "{figures:?}");
    assert!(figures.rss_peak_bytes >= figures.rss_start_bytes);
    assert!(
        samples
            .iter()
            .all(|s| s.rss_bytes <= figures.rss_peak_bytes)
    );
    assert_eq!(figures.threads_peak, 0);
    assert!(figures.process_threads_peak >= 1);
    assert!(figures.cpu_user_s >= 0.0 && figures.cpu_sys_s >= 0.0);
}

#[test]
fn figures_serialise_with_the_contract_names() {
    let _turn = crate::serial();
    let figures = ProcessSampler::start(Duration::from_millis(50), vec![])
        .expect("start")
        .stop();
    let json = serde_json::to_value(&figures).expect("serialise");
    for field in [
        "threads_peak",
        "process_threads_peak",
        "threads_baseline",
        "rss_start_bytes",
        "rss_peak_bytes",
        "cpu_user_s",
        "cpu_sys_s",
        "mock_cpu_s",
        "ctx_switches_voluntary",
        "ctx_switches_involuntary",
        "samples",
    ] {
        assert!(json.get(field).is_some(), "{field} missing from {json}");
    }
    let back: ProcessFigures = serde_json::from_value(json).expect("deserialise");
    assert_eq!(back, figures);
}
