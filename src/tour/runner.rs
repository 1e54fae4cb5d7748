//! Running the tour: for each selected experiment run its steps with [`crate::run::execute`],
//! save each step's `result.json`, analyse, draw the charts, and rewrite the report.
//!
//! A step that fails (a thread that cannot be spawned, a port that cannot be bound) ends its
//! experiment with the error in the report, and the tour goes on with the next one. Ctrl-C stops
//! the step in progress (its partial result is still saved) and ends the tour with a partial
//! report.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};

use super::report::{self, ChartFile, ExperimentReport, TourReport};
use super::{ChartSource, Experiment, Measured, Mode, model, select};
use crate::metrics::machine::MachineInfo;
use crate::result::RunResult;

/// Requests kept per run in a saved timeline.
pub const TIMELINE_KEEP: usize = 400;
/// Points kept per run in a saved process series.
pub const SAMPLES_KEEP: usize = 400;

/// What to run and where to write it.
#[derive(Clone, Debug)]
pub struct TourOptions {
    /// Quick or full.
    pub mode: Mode,
    /// Experiment ids to run (empty = all).
    pub only: Vec<String>,
    /// Output folder.
    pub out: PathBuf,
}

/// Shrinks a result for the committed report: the first [`TIMELINE_KEEP`] requests of every
/// timeline, and every process series folded to at most [`SAMPLES_KEEP`] points. Histograms and
/// figures are untouched.
pub fn slim(result: &mut RunResult) {
    crate::result::slim::slim(result, TIMELINE_KEEP, SAMPLES_KEEP);
}

/// Runs the selected experiments, writing the report after each; `log` gets one line per
/// step and one per verdict.
pub fn run(
    opts: &TourOptions,
    stop: &Arc<AtomicBool>,
    log: &mut dyn FnMut(&str),
) -> Result<TourReport> {
    let experiments = select(&opts.only)?;
    let started = Instant::now();
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("--out: cannot create {}", opts.out.display()))?;
    let mut tour = TourReport {
        schema: report::SCHEMA.into(),
        mode: opts.mode,
        created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        machine: MachineInfo::detect(),
        seconds: 0.0,
        partial: false,
        load_before: report::load_average(),
        experiments: Vec::new(),
    };
    for e in &experiments {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let done = run_experiment(e, opts, stop, log);
        let line = match (&done.verdict, &done.error) {
            (Some(v), _) => format!(
                "{} {}: {} ({:.1} s)",
                e.id,
                e.title,
                v.shout(),
                done.seconds
            ),
            (None, Some(err)) => format!("{} {}: did not finish: {err}", e.id, e.title),
            (None, None) => format!("{} {}: did not finish", e.id, e.title),
        };
        log(&line);
        tour.experiments.push(done);
        tour.seconds = started.elapsed().as_secs_f64();
        report::write(&opts.out, &tour)?;
    }
    tour.partial = stop.load(Ordering::Relaxed) || tour.experiments.len() < experiments.len();
    tour.seconds = started.elapsed().as_secs_f64();
    report::write(&opts.out, &tour)?;
    Ok(tour)
}

fn run_experiment(
    e: &Experiment,
    opts: &TourOptions,
    stop: &Arc<AtomicBool>,
    log: &mut dyn FnMut(&str),
) -> ExperimentReport {
    let started = Instant::now();
    let steps = (e.steps)(opts.mode);
    let mut done = ExperimentReport {
        id: e.id.into(),
        slug: e.slug.into(),
        title: e.title.into(),
        seed: e.seed.into(),
        claim: e.claim.into(),
        setup: steps.iter().map(model::describe).collect(),
        verdict: None,
        headline: String::new(),
        table: Default::default(),
        checks: Vec::new(),
        explanation: String::new(),
        charts: Vec::new(),
        results: Vec::new(),
        error: None,
        seconds: 0.0,
    };
    let mut measured = Measured {
        mode: Some(opts.mode),
        ..Measured::default()
    };
    for step in &steps {
        log(&format!("  {} · {} …", e.id, step.label));
        crate::backends::release_freed_memory();
        let outcome = crate::run::execute(&step.plan, stop, |_| {
            crate::backends::release_freed_memory();
            Ok(())
        });
        let mut result = match outcome {
            Ok(r) => r,
            Err(err) => {
                done.error = Some(format!("step `{}`: {err:#}", step.name));
                done.seconds = started.elapsed().as_secs_f64();
                return done;
            }
        };
        slim(&mut result);
        let rel = format!("{}/{}/result.json", e.slug, step.name);
        if let Err(err) = save(&opts.out.join(&rel), &result) {
            done.error = Some(format!("{err:#}"));
            done.seconds = started.elapsed().as_secs_f64();
            return done;
        }
        done.results.push(rel);
        let interrupted = result.partial;
        measured.results.insert(step.name.to_string(), result);
        if interrupted {
            done.error = Some(format!("interrupted during step `{}`", step.name));
            done.seconds = started.elapsed().as_secs_f64();
            return done;
        }
    }
    match (e.analyse)(&measured) {
        Ok(finding) => {
            done.verdict = Some(finding.verdict());
            done.charts = finding
                .charts
                .iter()
                .map(|c| draw(&opts.out, e.slug, c, &measured))
                .collect();
            done.headline = finding.headline;
            done.table = finding.table;
            done.checks = finding.checks;
            done.explanation = finding.explanation;
        }
        Err(err) => done.error = Some(format!("analysis: {err:#}")),
    }
    done.seconds = started.elapsed().as_secs_f64();
    done
}

/// Writes one step's result (compact JSON: it is a record, `ragperf report` pretty-prints).
fn save(path: &Path, result: &RunResult) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = serde_json::to_string(result)?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Draws one chart into `charts/<slug>_<name>.svg`; a failure is kept in the report instead.
fn draw(out: &Path, slug: &str, spec: &super::ChartSpec, measured: &Measured) -> ChartFile {
    let file = format!("charts/{slug}_{}.svg", spec.name);
    let svg = match &spec.source {
        ChartSource::Bars(bars) => super::chart::render_svg(bars),
        ChartSource::Plot { step, chart } => measured
            .get(step)
            .and_then(|r| crate::plot::render_svg(chart, r)),
    };
    let written = svg.and_then(|svg| {
        let path = out.join(&file);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, &svg).with_context(|| format!("writing {}", path.display()))?;
        Ok(svg)
    });
    match written {
        Ok(svg) => ChartFile {
            file,
            caption: spec.caption.clone(),
            svg,
            error: None,
        },
        Err(err) => ChartFile {
            file,
            caption: spec.caption.clone(),
            svg: String::new(),
            error: Some(format!("{err:#}")),
        },
    }
}

/// Re-reads the saved results of experiment `e` from a tour folder, for re-analysis.
pub fn load(dir: &Path, e: &Experiment, mode: Mode) -> Result<Measured> {
    let mut measured = Measured {
        mode: Some(mode),
        ..Measured::default()
    };
    for step in (e.steps)(mode) {
        let path = dir.join(e.slug).join(step.name).join("result.json");
        let result = RunResult::read(&path)?;
        measured.results.insert(step.name.to_string(), result);
    }
    Ok(measured)
}
