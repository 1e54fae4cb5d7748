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

use super::busy::{Busy, CpuSample};
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
    // What an earlier tour wrote here is not this run's: its experiments may not run now.
    let removed = super::stale::clear_previous(&opts.out);
    if removed > 0 {
        log(&format!(
            "removed {removed} result and chart file(s) an earlier tour left in {}",
            opts.out.display()
        ));
    }
    let mut tour = TourReport {
        schema: report::SCHEMA.into(),
        mode: opts.mode,
        created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        machine: MachineInfo::detect(),
        seconds: 0.0,
        partial: false,
        load_before: report::load_average(),
        only: selected_ids(opts, &experiments),
        experiments: Vec::new(),
    };
    for e in &experiments {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let done = with_rerun(
            |attempt, log| run_experiment(e, opts, stop, attempt, log),
            |first| set_aside(&opts.out, first),
            stop,
            log,
        );
        log(&verdict_line(e, &done));
        tour.experiments.push(done);
        tour.seconds = started.elapsed().as_secs_f64();
        report::write(&opts.out, &tour)?;
    }
    tour.partial = stop.load(Ordering::Relaxed) || tour.experiments.len() < experiments.len();
    tour.seconds = started.elapsed().as_secs_f64();
    report::write(&opts.out, &tour)?;
    Ok(tour)
}

/// The ids of the experiments `--only` selected (empty for the whole tour).
pub fn selected_ids(opts: &TourOptions, experiments: &[Experiment]) -> Vec<String> {
    if opts.only.is_empty() {
        return Vec::new();
    }
    experiments.iter().map(|e| e.id.to_string()).collect()
}

/// The terminal line of an experiment: its verdict, and when the machine was busy, that the
/// verdict may be disturbed, and the first attempt's verdict when it was run twice.
fn verdict_line(e: &Experiment, done: &ExperimentReport) -> String {
    let mut line = match (&done.verdict, &done.error) {
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
    if let Some(first) = &done.first_attempt {
        line.push_str(&format!(
            " — rerun; the first attempt was {} on a busy machine",
            first.verdict.map_or("did not finish", |v| v.shout())
        ));
    }
    if let Some(why) = &done.disturbed {
        line.push_str(&format!(" — may be disturbed: {why}"));
    }
    line
}

/// Runs an experiment with `attempt` (given the attempt number, 1 or 2), and once more when the
/// first attempt reached a verdict on a machine busy enough to disturb it
/// ([`super::busy::Busy::disturbed`]) and the tour was not stopped. The second attempt is the
/// experiment's result; the first is kept whole in its `first_attempt`, after `set_aside` has
/// moved its files out of the second's way. Both attempts are reported, never only the better.
pub(crate) fn with_rerun(
    mut attempt: impl FnMut(u32, &mut dyn FnMut(&str)) -> ExperimentReport,
    set_aside: impl FnOnce(&mut ExperimentReport),
    stop: &AtomicBool,
    log: &mut dyn FnMut(&str),
) -> ExperimentReport {
    let mut first = attempt(1, log);
    let Some(why) = first.disturbed.clone() else {
        return first;
    };
    if first.verdict.is_none() || stop.load(Ordering::Relaxed) {
        return first;
    }
    log(&format!(
        "  {}: {} on a busy machine ({why}); running it once more",
        first.id,
        first.verdict.map_or("no verdict", |v| v.shout())
    ));
    set_aside(&mut first);
    let mut second = attempt(2, log);
    second.first_attempt = Some(Box::new(first));
    second
}

/// Moves a first attempt's results from `<slug>/` to `<slug>/attempt-1/` and forgets its
/// charts (the second attempt's charts replace them on disk).
fn set_aside(out: &Path, first: &mut ExperimentReport) {
    let dir = out.join(&first.slug);
    let tmp = out.join(format!("{}.attempt-1", first.slug));
    let moved = std::fs::rename(&dir, &tmp)
        .and_then(|()| std::fs::create_dir_all(&dir))
        .and_then(|()| std::fs::rename(&tmp, dir.join("attempt-1")));
    match moved {
        Ok(()) => {
            let prefix = format!("{}/", first.slug);
            for r in &mut first.results {
                if let Some(rest) = r.strip_prefix(&prefix) {
                    *r = format!("{prefix}attempt-1/{rest}");
                }
            }
        }
        Err(err) => {
            first.results.clear();
            first.error = Some(format!(
                "its result files could not be kept ({err}); the rerun overwrote them"
            ));
        }
    }
    first.charts.clear();
}

/// The report of experiment `e` before anything ran.
fn blank(e: &Experiment, steps: &[super::Step]) -> ExperimentReport {
    ExperimentReport {
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
        busy: None,
        disturbed: None,
        first_attempt: None,
    }
}

fn run_experiment(
    e: &Experiment,
    opts: &TourOptions,
    stop: &Arc<AtomicBool>,
    attempt: u32,
    log: &mut dyn FnMut(&str),
) -> ExperimentReport {
    let started = Instant::now();
    let steps = (e.steps)(opts.mode);
    let mut done = blank(e, &steps);
    let mut busy = Some(Busy::default());
    let mut measured = Measured {
        mode: Some(opts.mode),
        ..Measured::default()
    };
    for step in &steps {
        let again = if attempt > 1 { " (again)" } else { "" };
        log(&format!("  {} · {}{again} …", e.id, step.label));
        crate::backends::release_freed_memory();
        let before = CpuSample::now(started);
        let outcome = crate::run::execute(&step.plan, stop, |_| {
            crate::backends::release_freed_memory();
            Ok(())
        });
        // One unreadable sample and nothing is claimed about the machine.
        busy = match (busy, before, CpuSample::now(started)) {
            (Some(mut b), Some(x), Some(y)) => {
                b.add(&x, &y);
                Some(b)
            }
            _ => None,
        };
        done.busy = busy;
        done.disturbed = busy.and_then(|b| b.disturbed());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tour::verdict::Verdict;

    /// A finished attempt whose machine had `others` cores of other work for 10 s.
    fn attempt(verdict: Verdict, others: f64) -> ExperimentReport {
        let busy = Busy {
            seconds: 10.0,
            others_cpu_s: 10.0 * others,
            steal_s: 0.0,
            total_s: 20.0,
        };
        ExperimentReport {
            id: "Q6".into(),
            slug: "q6-gil".into(),
            title: String::new(),
            seed: String::new(),
            claim: String::new(),
            setup: Vec::new(),
            verdict: Some(verdict),
            headline: String::new(),
            table: Default::default(),
            checks: Vec::new(),
            explanation: String::new(),
            charts: Vec::new(),
            results: vec!["q6-gil/cpu-gil/result.json".into()],
            error: None,
            seconds: 10.0,
            busy: Some(busy),
            disturbed: busy.disturbed(),
            first_attempt: None,
        }
    }

    /// Runs [`with_rerun`] on fake attempts; returns the result, the attempts made and the log.
    fn run(attempts: Vec<ExperimentReport>, stop: bool) -> (ExperimentReport, usize, Vec<String>) {
        let mut queue = attempts.into_iter();
        let mut made = 0;
        let mut lines = Vec::new();
        let done = with_rerun(
            |_, _| {
                made += 1;
                queue.next().unwrap()
            },
            |first| first.results[0] = "moved".into(),
            &AtomicBool::new(stop),
            &mut |l: &str| lines.push(l.to_string()),
        );
        (done, made, lines)
    }

    #[test]
    fn a_quiet_machine_runs_once() {
        let (done, made, lines) = run(vec![attempt(Verdict::Confirmed, 0.1)], false);
        assert_eq!(made, 1);
        assert!(done.first_attempt.is_none() && done.disturbed.is_none());
        assert!(lines.is_empty());
    }

    #[test]
    fn a_busy_machine_reruns_once_and_keeps_both() {
        let (done, made, lines) = run(
            vec![
                attempt(Verdict::NotConfirmed, 0.9),
                attempt(Verdict::Confirmed, 0.05),
            ],
            false,
        );
        assert_eq!(made, 2);
        assert_eq!(done.verdict, Some(Verdict::Confirmed));
        assert!(done.disturbed.is_none());
        let first = done.first_attempt.as_ref().unwrap();
        assert_eq!(first.verdict, Some(Verdict::NotConfirmed));
        assert!(first.disturbed.as_ref().unwrap().contains("0.9 cores"));
        assert_eq!(first.results, vec!["moved".to_string()]);
        assert!(lines[0].contains("busy machine") && lines[0].contains("once more"));
        let e = crate::tour::select(&["Q6".into()]).unwrap()[0];
        let line = verdict_line(&e, &done);
        assert!(line.contains("CONFIRMED") && line.contains("first attempt was NOT CONFIRMED"));
    }

    #[test]
    fn a_second_busy_attempt_is_labelled_not_rerun_again() {
        let (done, made, _) = run(
            vec![
                attempt(Verdict::Confirmed, 0.9),
                attempt(Verdict::Qualified, 0.8),
            ],
            false,
        );
        assert_eq!(made, 2);
        assert_eq!(done.verdict, Some(Verdict::Qualified));
        assert!(done.disturbed.as_ref().unwrap().contains("0.8 cores"));
        let e = crate::tour::select(&["Q6".into()]).unwrap()[0];
        assert!(verdict_line(&e, &done).contains("may be disturbed"));
    }

    #[test]
    fn no_rerun_when_stopped_or_without_a_verdict() {
        let (done, made, _) = run(vec![attempt(Verdict::NotConfirmed, 0.9)], true);
        assert_eq!(made, 1);
        assert!(done.first_attempt.is_none() && done.disturbed.is_some());
        let mut failed = attempt(Verdict::NotConfirmed, 0.9);
        failed.verdict = None;
        let (_, made, _) = run(vec![failed], false);
        assert_eq!(made, 1);
    }

    #[test]
    fn the_report_shows_the_machine_and_both_attempts() {
        let (done, _, _) = run(
            vec![
                attempt(Verdict::NotConfirmed, 0.9),
                attempt(Verdict::Confirmed, 0.05),
            ],
            false,
        );
        let tour = TourReport {
            schema: report::SCHEMA.into(),
            mode: Mode::Quick,
            created_at: String::new(),
            machine: MachineInfo::detect(),
            seconds: 20.0,
            partial: false,
            load_before: None,
            only: Vec::new(),
            experiments: vec![done],
        };
        for text in [report::markdown(&tour), report::html(&tour)] {
            assert!(text.contains("0.05 cores on average"), "{text}");
            assert!(text.contains("First attempt: not confirmed"), "{text}");
            assert!(text.contains("0.9 cores"), "{text}");
            assert!(
                text.contains("rerun: the first attempt was not confirmed"),
                "{text}"
            );
        }
        // tour.json keeps the first attempt.
        let json = serde_json::to_string(&tour).unwrap();
        let back: TourReport = serde_json::from_str(&json).unwrap();
        let first = back.experiments[0].first_attempt.as_ref().unwrap();
        assert_eq!(first.verdict, Some(Verdict::NotConfirmed));
    }
}
