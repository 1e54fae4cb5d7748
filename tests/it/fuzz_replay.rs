//! Replays every committed fuzz seed (`fuzz/seeds/<target>/`) and every regression input
//! (`fuzz/regressions/<target>/`) through the fuzz harnesses, on stable and without libFuzzer,
//! so plain `cargo test` keeps the harnesses compiling and the fixed crashes fixed.

#[path = "../../fuzz/src/lib.rs"]
mod harness;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `dir` (none when it does not exist), sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// Runs `target` on every file of `dir`; the files that panicked, with the message.
fn replay(target: fn(&[u8]), dir: &Path) -> (usize, Vec<String>) {
    let inputs = files(dir);
    let mut failures = Vec::new();
    for path in &inputs {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| target(&data))) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{}: {message}", path.display()));
        }
    }
    (inputs.len(), failures)
}

#[test]
fn every_seed_and_regression_replays_without_a_panic() {
    let mut failures = Vec::new();
    for (name, target) in harness::TARGETS {
        let (seeds, mut failed) = replay(*target, &fuzz_dir().join("seeds").join(name));
        assert!(seeds > 0, "fuzz/seeds/{name}/ holds no seed");
        failures.append(&mut failed);
        let (_, mut failed) = replay(*target, &fuzz_dir().join("regressions").join(name));
        failures.append(&mut failed);
    }
    assert!(failures.is_empty(), "panicked:\n{}", failures.join("\n"));
}

#[test]
fn every_cargo_fuzz_target_has_a_harness_and_seeds() {
    let mut on_disk: Vec<String> = files(&fuzz_dir().join("fuzz_targets"))
        .iter()
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_string()))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = harness::TARGETS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "fuzz/fuzz_targets/*.rs and harness::TARGETS differ"
    );
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for name in &listed {
        assert!(
            manifest.contains(&format!("path = \"fuzz_targets/{name}.rs\"")),
            "fuzz/Cargo.toml has no [[bin]] for {name}"
        );
    }
}

#[test]
fn the_chunking_helper_covers_the_input_exactly() {
    // The harnesses compare chunked and whole decoding; a helper that dropped bytes would make
    // that comparison vacuous.
    let data: Vec<u8> = (0..=255).collect();
    for pattern in [&[0u8][..], &[3, 0, 255], &[]] {
        let joined: Vec<u8> = harness::chunks(&data, pattern).concat();
        assert_eq!(joined, data);
    }
}

#[test]
fn the_scenario_and_result_seeds_are_accepted_inputs() {
    // Seeds that the parsers reject would only exercise the error paths.
    for path in files(&fuzz_dir().join("seeds/scenario")) {
        let text = std::fs::read_to_string(&path).expect("seed");
        if let Err(e) = ragperf::scenario::Scenario::from_toml(&text) {
            panic!("{}: {e}", path.display());
        }
    }
    for path in files(&fuzz_dir().join("seeds/result")) {
        let text = std::fs::read_to_string(&path).expect("seed");
        if let Err(e) = ragperf::result::RunResult::parse(&text, "seed") {
            panic!("{}: {e}", path.display());
        }
    }
}

#[test]
fn the_mock_event_stream_seeds_decode_to_an_answer() {
    for path in files(&fuzz_dir().join("seeds/eventstream")) {
        if !path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("mock-"))
        {
            continue;
        }
        let data = std::fs::read(&path).expect("seed");
        let mut decoder = ragperf::client::eventstream::ConverseStreamDecoder::new();
        decoder.feed(&data[1..], &mut |_: &str| {}).expect("frames");
        let outcome = decoder.finish().expect("a complete stream");
        assert!(outcome.output_tokens > 0, "{}", path.display());
    }
}

#[test]
fn a_histogram_whose_counts_overflow_is_reported_corrupt() {
    // The regression input of the `result` target: its `e2e` histogram's counts add up to more
    // than 2^64, which made every percentile walk overflow.
    let path = fuzz_dir().join("regressions/result/histogram-counts-overflow-u64.json");
    let text = std::fs::read_to_string(&path).expect("regression file");
    let result = ragperf::result::RunResult::parse(&text, "regression").expect("loads");
    let e = ragperf::result::histograms::decode(&result.runs[0], "e2e").unwrap_err();
    assert!(e.to_string().contains("2^64"), "{e}");
    assert_eq!(ragperf::result::histograms::check(&result).len(), 1);
}
