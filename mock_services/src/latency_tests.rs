//! Unit tests of `src/latency.rs` (distributions, their parsing and sampling), kept apart so
//! the module stays a readable size.

use super::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn draws(d: &Dist, n: usize) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(7);
    let mut v: Vec<f64> = (0..n).map(|_| d.sample(&mut rng)).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn fixed_is_constant() {
    let v = draws(&Dist::fixed(12.5), 100);
    assert!(v.iter().all(|x| *x == 12.5));
}

#[test]
fn uniform_stays_in_bounds_and_centres() {
    let d = Dist::Uniform {
        min: 10.0,
        max: 30.0,
    };
    let v = draws(&d, 20_000);
    assert!(v[0] >= 10.0 && v[v.len() - 1] <= 30.0);
    assert!((mean(&v) - 20.0).abs() < 0.3, "mean {}", mean(&v));
}

#[test]
fn normal_is_truncated_at_zero_and_mean_matches_formula() {
    let d = Dist::Normal {
        mean: 5.0,
        stddev: 10.0,
    };
    let v = draws(&d, 50_000);
    assert!(v[0] >= 0.0);
    let expected = d.mean();
    assert!(expected > 5.0, "truncation raises the mean");
    assert!(
        (mean(&v) - expected).abs() / expected < 0.03,
        "{} vs {expected}",
        mean(&v)
    );
}

#[test]
fn lognormal_hits_median_and_p99() {
    let d = Dist::Lognormal {
        median: 100.0,
        p99: 400.0,
    };
    let v = draws(&d, 100_000);
    let p50 = quantile(&v, 0.5);
    let p99 = quantile(&v, 0.99);
    assert!((p50 - 100.0).abs() < 3.0, "p50 {p50}");
    assert!((p99 - 400.0).abs() < 25.0, "p99 {p99}");
    assert!((mean(&v) - d.mean()).abs() / d.mean() < 0.03);
}

#[test]
fn pareto_never_below_scale_and_mean_matches() {
    let d = Dist::Pareto {
        scale: 10.0,
        shape: 3.0,
    };
    let v = draws(&d, 100_000);
    assert!(v[0] >= 10.0);
    assert!((mean(&v) - 15.0).abs() < 0.5, "mean {}", mean(&v));
    assert!(
        Dist::Pareto {
            scale: 1.0,
            shape: 1.0
        }
        .mean()
        .is_infinite()
    );
}

#[test]
fn same_seed_same_draws() {
    let d = Dist::Lognormal {
        median: 50.0,
        p99: 90.0,
    };
    assert_eq!(draws(&d, 50), draws(&d, 50));
}

#[test]
fn duration_and_count_helpers() {
    let mut rng = StdRng::seed_from_u64(1);
    assert_eq!(
        Dist::fixed(100.0).sample_duration(&mut rng, 0.01),
        Duration::from_millis(1)
    );
    assert_eq!(Dist::fixed(0.2).sample_count(&mut rng, 1), 1);
    assert_eq!(Dist::fixed(41.6).sample_count(&mut rng, 1), 42);
}

#[derive(Deserialize, Debug)]
struct Holder {
    d: Dist,
}

fn parse(s: &str) -> Result<Dist, String> {
    toml::from_str::<Holder>(s)
        .map(|h| h.d)
        .map_err(|e| e.to_string())
}

#[test]
fn parses_number_and_tables() {
    assert_eq!(parse("d = 100").unwrap(), Dist::fixed(100.0));
    assert_eq!(parse("d = 2.5").unwrap(), Dist::fixed(2.5));
    assert_eq!(
        parse(r#"d = { dist = "lognormal", median = 80, p99 = 250 }"#).unwrap(),
        Dist::Lognormal {
            median: 80.0,
            p99: 250.0
        }
    );
    assert_eq!(
        parse(r#"d = { dist = "uniform", min = 1, max = 2 }"#).unwrap(),
        Dist::Uniform { min: 1.0, max: 2.0 }
    );
}

#[test]
fn bad_tables_name_the_problem() {
    let e = parse("d = -5").unwrap_err();
    assert!(e.contains(">= 0"), "{e}");
    let e = parse(r#"d = { dist = "lognormal", median = 80 }"#).unwrap_err();
    assert!(e.contains("missing p99"), "{e}");
    let e = parse(r#"d = { dist = "uniform", min = 5, max = 1 }"#).unwrap_err();
    assert!(e.contains("min <= max"), "{e}");
    let e = parse(r#"d = { dist = "weibull", value = 1 }"#).unwrap_err();
    assert!(e.contains("unknown dist `weibull`"), "{e}");
    let e = parse(r#"d = { dist = "fixed", value = 1, max = 3 }"#).unwrap_err();
    assert!(e.contains("remove max"), "{e}");
    let e = parse(r#"d = { dist = "fixed", vlue = 1 }"#).unwrap_err();
    assert!(e.contains("vlue"), "{e}");
}

#[test]
fn serialises_back_to_a_tagged_table() {
    let d = Dist::Lognormal {
        median: 80.0,
        p99: 250.0,
    };
    let s = serde_json::to_string(&d).unwrap();
    assert_eq!(s, r#"{"dist":"lognormal","median":80.0,"p99":250.0}"#);
    let back: Dist = serde_json::from_str(&s).unwrap();
    assert_eq!(back, d);
}
