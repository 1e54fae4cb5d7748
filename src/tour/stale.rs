//! Clearing what an earlier tour left in `--out`, so a report never sits beside result folders
//! and charts of experiments that did not run this time (a `--only` run into a folder that
//! holds a whole tour, say).
//!
//! Only files the earlier tour itself wrote and recorded in its `tour.json` are removed: each
//! experiment's step results (`<slug>/…/result.json`, first attempts included) and its charts
//! (`charts/<slug>_….svg`), then the folders those leave empty. A path that is not inside the
//! experiment's own folder or chart prefix, or that climbs out of `--out`, is left alone, and so
//! is everything else in `--out`: a user's files are never touched.

use std::path::{Component, Path, PathBuf};

use super::report::{ExperimentReport, TourReport};

/// Removes the files the tour recorded in `out/tour.json` (when there is one) and the folders
/// they leave empty; returns how many files were removed. An unreadable `tour.json` removes
/// nothing.
pub fn clear_previous(out: &Path) -> usize {
    let Ok(text) = std::fs::read_to_string(out.join("tour.json")) else {
        return 0;
    };
    let Ok(previous) = serde_json::from_str::<TourReport>(&text) else {
        return 0;
    };
    let mut removed = 0;
    for e in &previous.experiments {
        for rel in owned_files(e) {
            if std::fs::remove_file(out.join(&rel)).is_ok() {
                removed += 1;
            }
            remove_empty_parents(out, &rel);
        }
    }
    removed
}

/// The files experiment `e` (and its first attempt) recorded that lie inside what it owns:
/// `<slug>/…` for results, `charts/<slug>_…` for charts.
fn owned_files(e: &ExperimentReport) -> Vec<PathBuf> {
    let Some(slug) = plain(&e.slug).filter(|p| p.components().count() == 1) else {
        return Vec::new();
    };
    let chart_prefix = format!("{}_", e.slug);
    let mut out: Vec<PathBuf> = e
        .results
        .iter()
        .filter_map(|r| plain(r))
        .filter(|p| p.starts_with(&slug) && p != &slug)
        .collect();
    out.extend(e.charts.iter().filter_map(|c| plain(&c.file)).filter(|p| {
        let mut parts = p.components();
        parts.next() == Some(Component::Normal("charts".as_ref()))
            && parts.next().is_some_and(|name| {
                name.as_os_str()
                    .to_string_lossy()
                    .starts_with(&chart_prefix)
            })
            && parts.next().is_none()
    }));
    if let Some(first) = &e.first_attempt {
        out.extend(owned_files(first));
    }
    out
}

/// `rel` as a path of plain names only (no root, no `..`, no `.`), or None.
fn plain(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(rel);
    let ok = !rel.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    ok.then_some(p)
}

/// Removes the folders above `rel` (inside `out`, never `out` itself) that are now empty.
fn remove_empty_parents(out: &Path, rel: &Path) {
    let mut dir = rel.parent();
    while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
        // Fails (and stops) on a folder that still holds anything.
        if std::fs::remove_dir(out.join(d)).is_err() {
            return;
        }
        dir = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::machine::MachineInfo;
    use crate::tour::Mode;
    use crate::tour::report::ChartFile;

    fn experiment(slug: &str, results: &[&str], charts: &[&str]) -> ExperimentReport {
        ExperimentReport {
            id: "Q6".into(),
            slug: slug.into(),
            title: String::new(),
            seed: String::new(),
            claim: String::new(),
            setup: Vec::new(),
            verdict: None,
            headline: String::new(),
            table: Default::default(),
            checks: Vec::new(),
            explanation: String::new(),
            charts: charts
                .iter()
                .map(|f| ChartFile {
                    file: f.to_string(),
                    caption: String::new(),
                    svg: String::new(),
                    error: None,
                })
                .collect(),
            results: results.iter().map(|r| r.to_string()).collect(),
            error: None,
            seconds: 1.0,
            busy: None,
            disturbed: None,
            first_attempt: None,
        }
    }

    #[test]
    fn removes_what_the_earlier_tour_recorded_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("tour");
        let mut q6 = experiment(
            "q6-gil",
            &["q6-gil/gil/result.json", "../outside.txt", "q7/result.json"],
            &["charts/q6-gil_bars.svg", "charts/q7_bars.svg"],
        );
        q6.first_attempt = Some(Box::new(experiment(
            "q6-gil",
            &["q6-gil/attempt-1/gil/result.json"],
            &[],
        )));
        let previous = TourReport {
            schema: crate::tour::report::SCHEMA.into(),
            mode: Mode::Quick,
            created_at: String::new(),
            machine: MachineInfo::detect(),
            seconds: 1.0,
            partial: false,
            load_before: None,
            only: Vec::new(),
            experiments: vec![q6],
        };
        let files = [
            "q6-gil/gil/result.json",
            "q6-gil/attempt-1/gil/result.json",
            "charts/q6-gil_bars.svg",
            // Not the tour's (or not this experiment's): kept.
            "q6-gil/notes.txt",
            "q7/result.json",
            "charts/q7_bars.svg",
            "mine.txt",
        ];
        for f in files {
            let path = out.join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        std::fs::write(dir.path().join("outside.txt"), "x").unwrap();
        std::fs::write(
            out.join("tour.json"),
            serde_json::to_string(&previous).unwrap(),
        )
        .unwrap();

        assert_eq!(clear_previous(&out), 3);
        for gone in &files[..3] {
            assert!(!out.join(gone).exists(), "{gone}");
        }
        for kept in &files[3..] {
            assert!(out.join(kept).exists(), "{kept}");
        }
        assert!(dir.path().join("outside.txt").exists());
        // Emptied folders go; a folder with a user's file stays.
        assert!(!out.join("q6-gil/gil").exists() && !out.join("q6-gil/attempt-1").exists());
        assert!(out.join("q6-gil").is_dir() && out.join("charts").is_dir());
        // No tour.json: nothing to remove.
        assert_eq!(clear_previous(dir.path()), 0);
    }

    #[test]
    fn only_plain_relative_paths_inside_the_experiment_count() {
        assert!(plain("q5/pool/result.json").is_some());
        for bad in ["", "/etc/passwd", "../x", "q5/../../x", "./q5"] {
            assert!(plain(bad).is_none(), "{bad}");
        }
    }
}
