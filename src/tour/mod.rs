//! `ragperf tour`: every claim of the seed Q&A (`docs/seed-questions.md`) as a small experiment a
//! learner can run, each ending in a verdict computed from what was measured on their machine.
//!
//! An [`Experiment`] is the claim in our own words, the seed's wording, the runs that test it
//! ([`model::Step`]s: ordinary [`crate::run::RunPlan`]s against the in-process mocks) and an
//! `analyse` function that reads the results and returns a [`Finding`]: a table, the
//! [`verdict::Check`]s (measured value against a bound derived from the latency model), an
//! explanation written from the measured numbers, and charts. The verdict is never stored by an
//! experiment: it is [`verdict::decide`] of the checks, so the same `result.json` always gives
//! the same verdict, and a test can feed fixture numbers to the checks.
//!
//! Files: [`model`] (the seed's latency model, quick/full sizes), [`measure`] (figures read
//! from a result), [`verdict`], [`busy`] (how busy the machine was), [`chart`] (grouped bars), [`runner`] (runs the steps, writes
//! results), [`report`] (Markdown, HTML, JSON), [`stale`] (what an earlier tour left in `--out`), and [`experiments`], one file per claim named by
//! its id (`q22_held_thread.rs`), plus the timeline chart several of them show.

pub(crate) mod busy;
pub(crate) mod chart;
pub mod experiments;
pub mod measure;
pub(crate) mod model;
pub mod report;
pub mod runner;
mod stale;
pub mod verdict;

use std::collections::BTreeMap;

use anyhow::{Result, anyhow};
use serde::{Deserialize, Serialize};

pub use model::{Mode, Step};
pub use runner::{TourOptions, run};
pub use verdict::{Check, Role, Verdict};

use crate::result::RunResult;
use experiments::{
    q1_q3_per_request, q4_bounded_pool, q5_two_requests, q6_gil, q7_thousands, q16_hybrid,
    q22_held_thread, q30_one_thread, x1_blocking_in_async, x2_cpu_on_loop, x3_stream_pool,
    x4_cpu_scaling,
};

/// One claim and how to test it.
#[derive(Clone, Copy, Debug)]
pub struct Experiment {
    /// Short id used by `--only` and in headings: `Q5`, `Q1/Q3`, `X1`.
    pub id: &'static str,
    /// Other names `--only` accepts (`Q1`, `Q3` for `Q1/Q3`).
    pub aliases: &'static [&'static str],
    /// File-safe name: the experiment's folder and chart prefix.
    pub slug: &'static str,
    /// Heading.
    pub title: &'static str,
    /// What the seed says, briefly quoted.
    pub seed: &'static str,
    /// The claim in our own words: what the experiment tests.
    pub claim: &'static str,
    /// The runs, for a tour size.
    pub steps: fn(Mode) -> Vec<Step>,
    /// Reads the results of the steps.
    pub analyse: fn(&Measured) -> Result<Finding>,
}

impl Experiment {
    /// Whether `name` (case-insensitive) names this experiment.
    pub fn matches(&self, name: &str) -> bool {
        let name = name.trim();
        self.id.eq_ignore_ascii_case(name)
            || self.slug.eq_ignore_ascii_case(name)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// Every experiment, in the order of the report.
pub fn catalogue() -> Vec<Experiment> {
    vec![
        q1_q3_per_request::per_request(),
        q5_two_requests::two_requests(),
        q4_bounded_pool::bounded(),
        q6_gil::experiment(),
        q7_thousands::thousands(),
        q16_hybrid::experiment(),
        q22_held_thread::held_thread(),
        q30_one_thread::one_thread(),
        x1_blocking_in_async::blocking_in_async(),
        x2_cpu_on_loop::cpu_on_loop(),
        x3_stream_pool::experiment(),
        x4_cpu_scaling::experiment(),
    ]
}

/// The experiments `only` names (all when empty), in catalogue order; an unknown name is an
/// error that lists the valid ones.
pub fn select(only: &[String]) -> Result<Vec<Experiment>> {
    let all = catalogue();
    for name in only {
        if !all.iter().any(|e| e.matches(name)) {
            let ids: Vec<&str> = all.iter().map(|e| e.id).collect();
            return Err(anyhow!(
                "--only: no experiment `{name}`; choose from {}",
                ids.join(", ")
            ));
        }
    }
    Ok(all
        .into_iter()
        .filter(|e| only.is_empty() || only.iter().any(|n| e.matches(n)))
        .collect())
}

/// The results of an experiment's steps, by step name.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    /// The tour size the steps ran at.
    pub mode: Option<Mode>,
    /// Step name → its result.
    pub results: BTreeMap<String, RunResult>,
}

impl Measured {
    /// The result of step `name`.
    pub fn get(&self, name: &str) -> Result<&RunResult> {
        self.results
            .get(name)
            .ok_or_else(|| anyhow!("step `{name}` has no result (interrupted or failed)"))
    }
}

/// A small table of measured figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Column headings.
    pub header: Vec<String>,
    /// Rows of cells (already formatted with units).
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these headings and no rows.
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
}

/// Where a chart's picture comes from.
#[derive(Clone, Debug)]
pub enum ChartSource {
    /// A chart of the report module (`crate::plot`) drawn from the result of `step`.
    Plot {
        /// The step whose result it draws.
        step: String,
        /// The chart.
        chart: crate::plot::Chart,
    },
    /// The tour's grouped bars.
    Bars(chart::BarChart),
}

/// One chart of a finding.
#[derive(Clone, Debug)]
pub struct ChartSpec {
    /// File stem inside `charts/` (the experiment slug is prefixed).
    pub name: String,
    /// What to look at, under the chart.
    pub caption: String,
    /// The picture.
    pub source: ChartSource,
}

/// What an experiment concluded from its results.
#[derive(Clone, Debug)]
pub struct Finding {
    /// One line with the key numbers, for the summary.
    pub headline: String,
    /// Measured figures.
    pub table: Table,
    /// The checks; the verdict is [`verdict::decide`] of them.
    pub checks: Vec<Check>,
    /// A paragraph written from the measured numbers.
    pub explanation: String,
    /// Pictures.
    pub charts: Vec<ChartSpec>,
}

impl Finding {
    /// The verdict the checks give.
    pub fn verdict(&self) -> Verdict {
        verdict::decide(&self.checks)
    }

    /// Every sentence the finding shows a reader besides its table and checks: the headline,
    /// the explanation, and each chart's caption and title, one per line (for tests that the
    /// prose follows the verdict).
    pub fn words(&self) -> String {
        let mut out = vec![self.headline.clone(), self.explanation.clone()];
        for c in &self.charts {
            out.push(c.caption.clone());
            out.push(match &c.source {
                ChartSource::Bars(b) => b.title.clone(),
                ChartSource::Plot { chart, .. } => chart.title.clone(),
            });
        }
        out.join("\n")
    }
}

/// Formats milliseconds for text: `150 ms`, `1.2 s`.
pub fn ms_text(ms: f64) -> String {
    if !ms.is_finite() {
        "n/a".into()
    } else if ms >= 1000.0 {
        format!("{} s", verdict::num(ms / 1000.0))
    } else {
        format!("{} ms", verdict::num(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_selectable() {
        let all = catalogue();
        for (i, e) in all.iter().enumerate() {
            for other in &all[i + 1..] {
                assert!(!other.matches(e.id), "{} and {} clash", e.id, other.id);
                assert_ne!(e.slug, other.slug);
            }
        }
        let picked = select(&["q5".into(), "Q3".into()]).unwrap();
        let ids: Vec<&str> = picked.iter().map(|e| e.id).collect();
        assert_eq!(ids, vec!["Q1/Q3", "Q5"]);
        let err = select(&["Q99".into()]).unwrap_err().to_string();
        assert!(
            err.contains("--only") && err.contains("Q99") && err.contains("Q16"),
            "{err}"
        );
        assert_eq!(select(&[]).unwrap().len(), all.len());
    }

    #[test]
    fn every_experiment_has_steps_in_both_sizes() {
        for e in catalogue() {
            for mode in [Mode::Quick, Mode::Full] {
                let steps = (e.steps)(mode);
                assert!(!steps.is_empty(), "{} has no steps", e.id);
                for s in &steps {
                    s.plan.scenario.validate().unwrap();
                    assert!(!s.plan.variants.is_empty() && !s.plan.points.is_empty());
                }
            }
        }
    }

    #[test]
    fn ms_text_switches_units() {
        assert_eq!(ms_text(150.0), "150 ms");
        assert_eq!(ms_text(3000.0), "3 s");
        assert_eq!(ms_text(f64::NAN), "n/a");
    }
}
