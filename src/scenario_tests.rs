//! Unit tests of `src/scenario.rs` (parsing, defaults and the field-naming validation), kept
//! apart so the module stays a readable size.

use super::*;

#[test]
fn default_is_valid() {
    Scenario::default().validate().unwrap();
}

#[test]
fn empty_file_is_the_default() {
    assert_eq!(Scenario::from_toml("").unwrap(), Scenario::default());
}

#[test]
fn sections_parse() {
    let s = Scenario::from_toml(
        r#"
        time_scale = 0.01
        [request]
        cpu_work_us = 1000
        cpu_per_token_us = 400
        cpu_steps = 3
        cpu_parallel_share = 0.25
        gil = true
        [load]
        concurrency = 8
        duration = "3s"
        arrivals = "gamma:2.5"
        rate = 100
        [faults.qdrant]
        throttle = 0.1
        "#,
    )
    .unwrap();
    assert_eq!(s.time_scale, 0.01);
    assert!(s.request.gil);
    assert_eq!(s.request.cpu_per_token_us, 400);
    assert_eq!(
        (s.request.cpu_steps, s.request.cpu_parallel_share),
        (3, 0.25)
    );
    let variants = Scenario::from_toml("[load]\nvariants = [\"sync-stream\"]").unwrap();
    assert_eq!(variants.load.variants, ["sync-stream"]);
    assert_eq!(s.load.duration, Some(Duration::from_secs(3)));
    assert_eq!(s.load.arrivals, Arrivals::Gamma(2.5));
    assert_eq!(s.faults.qdrant.throttle, 0.1);
}

fn err(toml: &str) -> String {
    Scenario::from_toml(toml).unwrap_err().to_string()
}

#[test]
fn errors_name_the_field() {
    assert!(err("[load]\nconcurency = 3").contains("concurency"));
    assert!(err("[load]\nconcurrency = 0").contains("load.concurrency"));
    assert!(err("[load]\nduration = \"ten\"").contains("duration"));
    assert!(err("[bedrock]\nitl_ms = -3").contains(">= 0"));
    assert!(err("[load]\nvariants = [\"fast\"]").contains("unknown variant `fast`"));
    assert!(
        err("[faults.converse_stream]\nthrottle = 2").contains("faults.converse_stream.throttle")
    );
    assert!(err("[request]\nembed_dimensions = 512").contains("qdrant.dimensions"));
    assert!(err("[load]\narrivals = \"bursty\"").contains("constant"));
    assert!(err("[request]\ncpu_per_token_us = 1000001").contains("request.cpu_per_token_us"));
    assert!(err("[request]\ncpu_per_read_us = 1000001").contains("request.cpu_per_read_us"));
    assert!(err("[request]\ncpu_steps = 0").contains("request.cpu_steps"));
    assert!(err("[request]\ncpu_steps = 4").contains("request.cpu_steps"));
    assert!(err("[request]\ncpu_parallel_share = 1.5").contains("request.cpu_parallel_share"));
    assert!(err("[request]\ncpu_parallel_share = nan").contains("request.cpu_parallel_share"));
    assert!(err("[request]\ncpu_offloop_share = -0.1").contains("request.cpu_offloop_share"));
    assert!(err("[request]\ncpu_token_loop_share = 1.2").contains("request.cpu_token_loop_share"));
    assert!(
        err("[request]\ncpu_outside_gil_share = 1.5").contains("request.cpu_outside_gil_share")
    );
    // A share outside a lock that is not there: refused, naming the field and the fix.
    let e = err("[request]\ncpu_outside_gil_share = 0.25");
    assert!(
        e.contains("request.cpu_outside_gil_share") && e.contains("request.gil = true"),
        "{e}"
    );
    assert!(Scenario::from_toml("[request]\ngil = true\ncpu_outside_gil_share = 0.25").is_ok());
    // A cap on the GIL: a share of each second, and only with the GIL.
    for bad in ["0", "1.5", "nan", "-0.5"] {
        let e = err(&format!("[request]\ngil = true\ngil_max_busy = {bad}"));
        assert!(
            e.contains("request.gil_max_busy") && e.contains("0.01 to 1"),
            "{e}"
        );
    }
    let e = err("[request]\ngil_max_busy = 0.8");
    assert!(
        e.contains("request.gil_max_busy") && e.contains("request.gil = true"),
        "{e}"
    );
    assert!(Scenario::from_toml("[request]\ngil = true\ngil_max_busy = 0.8").is_ok());
    assert!(Scenario::from_toml("[request]\ngil_max_busy = 1").is_ok());
    assert!(
        err("[request]\ncpu_request_loop_share = -1").contains("request.cpu_request_loop_share")
    );
    assert!(
        err("[request]\ncpu_offloop_share = 0.6\ncpu_parallel_share = 0.5")
            .contains("add up to at most 1")
    );
}

#[test]
fn temperature_is_a_number_from_0_to_1() {
    // `nan` was accepted, sent as `null` and written to result.json as `null`, which
    // `report` and `compare` then could not read (found by the scenario fuzz target).
    for bad in ["nan", "inf", "-inf", "-0.1", "1.5"] {
        let e = err(&format!("[request]\ntemperature = {bad}"));
        assert!(e.contains("request.temperature"), "{bad}: {e}");
        assert!(e.contains("from 0 to 1"), "{bad}: {e}");
    }
    for ok in ["0", "0.0", "0.7", "1"] {
        let s = Scenario::from_toml(&format!("[request]\ntemperature = {ok}")).unwrap();
        assert_eq!(s.request.temperature, ok.parse::<f64>().unwrap());
    }
}
