//! Gates: which metrics decide the exit code, and how much change each allows.
//!
//! A limit is written in the bad direction: `e2e.p99=+10%` fails when p99 grows by more than
//! 10 %, `requests_per_s=-5%` when throughput drops by more than 5 %. A `%` makes it relative;
//! a bare number is absolute in the metric's unit (`error_rate=+0.01`: one more failed request
//! in a hundred; `threads_peak=+2`). The sign may be left out; a sign pointing the good way is
//! an error, since it would fail on improvements. `off` disables a gate (per variant, in a file).
//!
//! Sources, in order: the default gates when neither `--fail-on` nor `--thresholds` is given;
//! else the file's gates, overridden metric by metric by `--fail-on`. A thresholds file:
//!
//! ```toml
//! noise = "10%"                          # limit for the informational (ungated) metrics
//! metrics = ["efficiency", "itl.p99"]     # extra metrics to show
//! [fail_on]
//! "e2e.p99" = "+25%"
//! requests_per_s = "-15%"
//! [variant.blocking-in-async]             # per-variant overrides
//! "e2e.p99" = "+50%"
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::metric::{Direction, Metric};
use super::stats::ChangeKind;

/// The gates of a plain `ragperf compare` (README "Performance regressions in CI").
pub const DEFAULT_GATES: &str = "requests_per_s=-10%,e2e.p50=+10%,e2e.p99=+20%,ttft.p99=+20%,\
                                 cpu_per_request_ms=+25%,error_rate=+0.01";

/// Metrics shown besides the gated ones unless `--metrics` says otherwise.
pub const DEFAULT_INFO_METRICS: [&str; 6] = [
    "efficiency",
    "ttft.p50",
    "ctx_switches_per_request",
    "threads_peak",
    "rss_peak_mib",
    "overhead_mean_ms",
];

/// Shown besides those when a result has the target server's figures (`--target-pid`/`-cmd`).
pub const SERVER_INFO_METRICS: [&str; 4] = [
    "server_cpu_per_request_ms",
    "server_threads_peak",
    "server_rss_peak_mib",
    "server_ctx_switches_per_request",
];

/// The limit of informational metrics unless set (`noise` in a file).
pub const DEFAULT_NOISE: Limit = Limit::Change {
    kind: ChangeKind::Relative,
    amount: 0.10,
};

/// How much a metric may move in its bad direction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Limit {
    /// At most `amount` (≥ 0) in the bad direction, relative (a fraction) or absolute.
    Change {
        /// Relative or absolute.
        kind: ChangeKind,
        /// The allowed amount, ≥ 0.
        amount: f64,
    },
    /// Not gated (a per-variant `off`).
    Off,
}

impl Limit {
    /// Parses `+10%`, `-5%`, `10%`, `+0.01`, `off` for a metric going `direction`.
    pub fn parse(text: &str, metric: &Metric) -> Result<Limit, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("off") {
            return Ok(Limit::Off);
        }
        let (sign, rest) = match t.chars().next() {
            Some('+') => (Some(1.0), &t[1..]),
            Some('-') => (Some(-1.0), &t[1..]),
            _ => (None, t),
        };
        let (kind, number) = match rest.trim().strip_suffix('%') {
            Some(n) => (ChangeKind::Relative, n),
            None => (ChangeKind::Absolute, rest),
        };
        let value: f64 = number.trim().parse().map_err(|_| {
            format!("`{t}` is not a limit: write e.g. +10% (relative) or +0.01 (absolute)")
        })?;
        if !value.is_finite() || value < 0.0 {
            return Err(format!("`{t}` must be a finite amount ≥ 0"));
        }
        let bad = match metric.direction() {
            Direction::LowerIsBetter => 1.0,
            Direction::HigherIsBetter => -1.0,
        };
        if sign.is_some_and(|s| s != bad) {
            let better = if bad > 0.0 { "lower" } else { "higher" };
            let fix = if bad > 0.0 { '+' } else { '-' };
            return Err(format!(
                "{better} is better for {metric}, so its limit is a change the other way: \
                 write {metric}={fix}{number}{}",
                if kind == ChangeKind::Relative {
                    "%"
                } else {
                    ""
                }
            ));
        }
        let amount = match kind {
            ChangeKind::Relative => value / 100.0,
            ChangeKind::Absolute => value,
        };
        Ok(Limit::Change { kind, amount })
    }

    /// Written in the bad direction of `direction` (`+10%`, `-5%`, `+0.01`, `off`).
    pub fn display(&self, direction: Direction) -> String {
        match *self {
            Limit::Off => "off".into(),
            Limit::Change { kind, amount } => {
                let sign = match direction {
                    Direction::LowerIsBetter => '+',
                    Direction::HigherIsBetter => '-',
                };
                match kind {
                    ChangeKind::Relative => format!("{sign}{}%", trim_float(amount * 100.0)),
                    ChangeKind::Absolute => format!("{sign}{}", trim_float(amount)),
                }
            }
        }
    }
}

/// `10` for 10.0, `2.5` for 2.5.
fn trim_float(x: f64) -> String {
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// One gate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gate {
    /// The metric.
    pub metric: Metric,
    /// Its limit.
    pub limit: Limit,
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={}",
            self.metric,
            self.limit.display(self.metric.direction())
        )
    }
}

/// Parses one `metric=limit` item.
pub fn parse_gate(item: &str) -> Result<Gate, String> {
    let Some((name, limit)) = item.split_once('=') else {
        return Err(format!(
            "`{item}` is not metric=limit; write e.g. e2e.p99=+10%"
        ));
    };
    let metric = Metric::parse(name)?;
    let limit = Limit::parse(limit, &metric).map_err(|e| format!("{}: {e}", metric))?;
    Ok(Gate { metric, limit })
}

/// Parses `a=+10%,b=-5%` (empty items are skipped).
pub fn parse_gates(spec: &str) -> Result<Vec<Gate>, String> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_gate)
        .collect()
}

/// A thresholds file as written.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsFile {
    /// Limit of the informational metrics, e.g. "10%".
    pub noise: Option<String>,
    /// Extra metrics to show.
    #[serde(default)]
    pub metrics: Vec<String>,
    /// Gates for every variant: metric name → limit.
    #[serde(default)]
    pub fail_on: BTreeMap<String, String>,
    /// Per-variant overrides: variant name → metric name → limit (or "off").
    #[serde(default)]
    pub variant: BTreeMap<String, BTreeMap<String, String>>,
}

/// Everything that decides what is shown and what fails.
#[derive(Clone, Debug, PartialEq)]
pub struct GateSet {
    /// Gates for every variant, in the order given.
    pub global: Vec<Gate>,
    /// Per-variant overrides.
    pub per_variant: BTreeMap<String, Vec<Gate>>,
    /// Limit of informational metrics.
    pub noise: Limit,
    /// Extra informational metrics (from the file).
    pub extra_metrics: Vec<Metric>,
    /// Where the gates came from, for the report.
    pub source: String,
}

impl GateSet {
    /// The built-in gates.
    pub fn defaults() -> GateSet {
        GateSet {
            // The constant is valid; a test checks it.
            global: parse_gates(DEFAULT_GATES).unwrap_or_default(),
            per_variant: BTreeMap::new(),
            noise: DEFAULT_NOISE,
            extra_metrics: Vec::new(),
            source: "default gates".into(),
        }
    }

    /// Reads a thresholds file; errors name the file and the key.
    pub fn from_file(path: &Path) -> Result<GateSet, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read thresholds file {}: {e}", path.display()))?;
        let file: ThresholdsFile = toml::from_str(&text)
            .map_err(|e| format!("thresholds file {}: {e}", path.display()))?;
        let at = |key: &str, e: String| format!("thresholds file {}: {key}: {e}", path.display());
        let gates = |map: &BTreeMap<String, String>, section: &str| {
            map.iter()
                .map(|(name, limit)| {
                    let metric = Metric::parse(name).map_err(|e| at(section, e))?;
                    let limit = Limit::parse(limit, &metric)
                        .map_err(|e| at(&format!("{section}.\"{name}\""), e))?;
                    Ok(Gate { metric, limit })
                })
                .collect::<Result<Vec<_>, String>>()
        };
        let global = gates(&file.fail_on, "[fail_on]")?;
        let mut per_variant = BTreeMap::new();
        for (variant, map) in &file.variant {
            per_variant.insert(
                variant.clone(),
                gates(map, &format!("[variant.{variant}]"))?,
            );
        }
        let noise = match &file.noise {
            None => DEFAULT_NOISE,
            Some(n) => {
                // Any lower-is-better metric gives the sign convention of a plain amount.
                let probe = Metric::parse("e2e.p50").map_err(|e| at("noise", e))?;
                match Limit::parse(n.trim_start_matches(['+', '-']), &probe) {
                    Ok(Limit::Off) | Err(_) => {
                        return Err(at("noise", format!("`{n}` is not an amount like 10%")));
                    }
                    Ok(l) => l,
                }
            }
        };
        let extra_metrics = file
            .metrics
            .iter()
            .map(|m| Metric::parse(m).map_err(|e| at("metrics", e)))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(GateSet {
            global,
            per_variant,
            noise,
            extra_metrics,
            source: format!("gates from {}", path.display()),
        })
    }

    /// Applies `--fail-on` gates over these (same metric: the flag wins).
    pub fn override_with(&mut self, gates: Vec<Gate>) {
        for g in gates {
            match self.global.iter_mut().find(|x| x.metric == g.metric) {
                Some(existing) => *existing = g,
                None => self.global.push(g),
            }
        }
    }

    /// The gate of `metric` for `variant`, if it is gated there.
    pub fn gate_for(&self, variant: &str, metric: &Metric) -> Option<Limit> {
        let specific = self
            .per_variant
            .get(variant)
            .and_then(|gs| gs.iter().find(|g| g.metric == *metric));
        let limit = specific
            .or_else(|| self.global.iter().find(|g| g.metric == *metric))
            .map(|g| g.limit)?;
        (limit != Limit::Off).then_some(limit)
    }

    /// Every gated metric, global first, then per-variant ones, without repeats.
    pub fn gated_metrics(&self) -> Vec<Metric> {
        let mut out: Vec<Metric> = Vec::new();
        let all = self
            .global
            .iter()
            .chain(self.per_variant.values().flatten());
        for g in all {
            if g.limit != Limit::Off && !out.contains(&g.metric) {
                out.push(g.metric);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str) -> Metric {
        Metric::parse(name).unwrap()
    }

    #[test]
    fn limits_parse_in_the_bad_direction() {
        let rel = |a: f64| Limit::Change {
            kind: ChangeKind::Relative,
            amount: a,
        };
        assert_eq!(Limit::parse("+10%", &m("e2e.p99")), Ok(rel(0.10)));
        assert_eq!(Limit::parse("10%", &m("e2e.p99")), Ok(rel(0.10)));
        assert_eq!(Limit::parse("-5%", &m("requests_per_s")), Ok(rel(0.05)));
        assert_eq!(
            Limit::parse("+0.01", &m("error_rate")),
            Ok(Limit::Change {
                kind: ChangeKind::Absolute,
                amount: 0.01
            })
        );
        assert_eq!(Limit::parse("off", &m("e2e.p99")), Ok(Limit::Off));
        let wrong = Limit::parse("+5%", &m("requests_per_s")).unwrap_err();
        assert!(wrong.contains("requests_per_s=-5%"), "{wrong}");
        assert!(Limit::parse("+ten%", &m("e2e.p99")).is_err());
        assert_eq!(rel(0.10).display(Direction::LowerIsBetter), "+10%");
        assert_eq!(rel(0.05).display(Direction::HigherIsBetter), "-5%");
    }

    #[test]
    fn default_gates_parse_and_flags_override() {
        let mut g = GateSet::defaults();
        assert_eq!(g.global.len(), DEFAULT_GATES.split(',').count());
        for name in DEFAULT_INFO_METRICS {
            m(name);
        }
        g.override_with(parse_gates("e2e.p99=+50%,itl.p99=+30%").unwrap());
        assert_eq!(
            g.gate_for("async", &m("e2e.p99")),
            Some(Limit::Change {
                kind: ChangeKind::Relative,
                amount: 0.5
            })
        );
        assert!(g.gated_metrics().contains(&m("itl.p99")));
        assert!(parse_gates("e2e.p99").unwrap_err().contains("metric=limit"));
    }

    #[test]
    fn per_variant_overrides_and_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gates.toml");
        std::fs::write(
            &path,
            "noise = \"7%\"\n[fail_on]\n\"e2e.p99\" = \"+25%\"\n\
             [variant.sequential]\n\"e2e.p99\" = \"off\"\n",
        )
        .unwrap();
        let g = GateSet::from_file(&path).unwrap();
        assert!(g.gate_for("async", &m("e2e.p99")).is_some());
        assert_eq!(g.gate_for("sequential", &m("e2e.p99")), None);
        std::fs::write(&path, "[fail_on]\nlatency = \"+5%\"\n").unwrap();
        let e = GateSet::from_file(&path).unwrap_err();
        assert!(e.contains("gates.toml") && e.contains("latency"), "{e}");
        std::fs::write(&path, "[failon]\n").unwrap();
        assert!(GateSet::from_file(&path).unwrap_err().contains("failon"));
    }
}
