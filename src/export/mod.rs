//! Writing results: one format per file behind [`Exporter`] (hyperfine-style). Every exporter
//! renders from a [`RunResult`] alone, so a result from another machine or day renders the same.
//!
//! [`write_all`] writes every [`Format`] into one directory: `result.json` first (the lossless
//! record), then `summary.md`, `results.csv`, `hgrm/*.hgrm`, the charts (`charts/*.svg`,
//! `charts/*.png`) and `index.html`. Each file is replaced atomically, and a format that fails
//! does not stop the others: the failures are collected into one [`ExportError`].

pub mod csv;
pub mod describe;
pub mod hgrm;
pub mod highlights;
pub mod html;
pub(crate) mod json;
pub mod markdown;
pub mod table;
mod writer;

use crate::result::files::write_atomic;
pub use crate::result::files::{ExportFailure, OutputFile, safe_name};
pub use writer::RunWriter;

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use anyhow::Result;

use crate::plot::{self, ImageFormat};
use crate::result::RunResult;
use crate::result::histograms;

/// One output format.
pub trait Exporter {
    /// File name inside the output directory (e.g. `result.json`).
    fn file_name(&self) -> &'static str;
    /// Renders the whole result.
    fn render(&self, result: &RunResult) -> Result<String>;
    /// Every file this format writes, relative to the output directory. Most formats write one
    /// file ([`Exporter::file_name`] with [`Exporter::render`]); a format that writes a folder
    /// of files (one `.hgrm` per histogram) overrides this.
    fn files(&self, result: &RunResult) -> Result<Vec<OutputFile>> {
        Ok(vec![OutputFile {
            path: self.file_name().to_string(),
            bytes: self.render(result)?.into_bytes(),
        }])
    }
}

/// An output format, as named by `ragperf report --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// `result.json`.
    Json,
    /// `summary.md`.
    Markdown,
    /// `results.csv`.
    Csv,
    /// `hgrm/*.hgrm`, HdrHistogram percentile distributions.
    Hgrm,
    /// `charts/*.svg`.
    Svg,
    /// `charts/*.png`.
    Png,
    /// `index.html` (charts inlined as SVG).
    Html,
}

impl Format {
    /// Every format, in the order they are written (JSON first: it is the record).
    pub const ALL: [Format; 7] = [
        Format::Json,
        Format::Markdown,
        Format::Csv,
        Format::Hgrm,
        Format::Svg,
        Format::Png,
        Format::Html,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Markdown => "md",
            Format::Csv => "csv",
            Format::Hgrm => "hgrm",
            Format::Svg => "svg",
            Format::Png => "png",
            Format::Html => "html",
        }
    }

    /// Parses a command-line name (`md` and `markdown` are the same).
    pub fn parse(s: &str) -> Result<Format, String> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "markdown" => return Ok(Format::Markdown),
            "all" => {
                return Err(
                    "`all` is the default: leave --format out to write every format".into(),
                );
            }
            _ => {}
        }
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                format!("unknown format `{s}`: use some of {}", names.join(","))
            })
    }
}

/// Some outputs failed; every other output was written.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct ExportError {
    /// Every failure, in the order met.
    pub failures: Vec<ExportFailure>,
    /// Whether `result.json` itself failed (then nothing of the run is saved).
    pub json_failed: bool,
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} problem(s) while writing the report (every other file was written)",
            self.failures.len()
        )?;
        for fail in &self.failures {
            write!(f, "\n  - {}: {}", fail.what, fail.message)?;
        }
        Ok(())
    }
}

/// Renders `result` in every format into `dir`, replacing each file atomically (write to a
/// temporary name, then rename), so an interrupted run never leaves a half-written file.
pub fn write_all(dir: &Path, result: &RunResult) -> Result<(), ExportError> {
    write_formats(dir, result, &Format::ALL)
}

/// Renders `result` in `formats` into `dir`. Every format is attempted; the failures (and any
/// missing or corrupt histogram in the result) come back together in one [`ExportError`].
pub fn write_formats(
    dir: &Path,
    result: &RunResult,
    formats: &[Format],
) -> Result<(), ExportError> {
    let mut failures = Vec::new();
    if let Err(e) = std::fs::create_dir_all(dir) {
        return Err(ExportError {
            failures: vec![ExportFailure {
                what: dir.display().to_string(),
                message: format!("cannot create the output directory: {e}"),
            }],
            json_failed: formats.contains(&Format::Json),
        });
    }
    let wanted: BTreeSet<Format> = formats.iter().copied().collect();
    let mut json_failed = false;
    for format in Format::ALL.into_iter().filter(|f| wanted.contains(f)) {
        let files = match format {
            Format::Json => json::JsonExporter.files(result),
            Format::Markdown => markdown::MarkdownExporter.files(result),
            Format::Csv => csv::CsvExporter.files(result),
            Format::Hgrm => hgrm::HgrmExporter.files(result),
            Format::Html => html::HtmlExporter.files(result),
            // One chart that fails does not stop the others: `render_all` adds its failures.
            Format::Svg => Ok(plot::render_all(result, ImageFormat::Svg, &mut failures)),
            Format::Png => Ok(plot::render_all(result, ImageFormat::Png, &mut failures)),
        };
        let outcome = files.and_then(|files| write_files(dir, format, &files));
        if let Err(e) = outcome {
            json_failed |= format == Format::Json;
            failures.push(ExportFailure {
                what: format!("format {}", format.name()),
                message: format!("{e:#}"),
            });
        }
    }
    for problem in histograms::check(result) {
        failures.push(ExportFailure {
            what: problem.what(),
            message: problem.to_string(),
        });
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(ExportError {
            failures,
            json_failed,
        })
    }
}

/// `rel` (a `/`-separated path under the output directory) with every component made safe by
/// [`safe_name`]: whatever a result file holds, the path stays inside the output directory.
fn safe_rel(rel: &str) -> String {
    rel.split('/').map(safe_name).collect::<Vec<_>>().join("/")
}

/// The safe, unique relative path of every file, in order: two names that map to the same
/// safe name get `-2`, `-3`, … before the extension, so neither overwrites the other.
fn unique_paths(files: &[OutputFile]) -> Vec<String> {
    let mut taken = BTreeSet::new();
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let safe = safe_rel(&f.path);
        let mut candidate = safe.clone();
        let mut n = 2;
        while !taken.insert(candidate.clone()) {
            candidate = match safe.rsplit_once('.') {
                Some((stem, ext)) if !stem.ends_with('/') && !stem.is_empty() => {
                    format!("{stem}-{n}.{ext}")
                }
                _ => format!("{safe}-{n}"),
            };
            n += 1;
        }
        out.push(candidate);
    }
    out
}

/// Writes `files`, then removes files of the same format left in its folder by an earlier run
/// (a sweep with other variants), so the folder holds exactly this result's files. Every path
/// goes through [`safe_name`] first: names from a result file never become paths unchecked.
fn write_files(dir: &Path, format: Format, files: &[OutputFile]) -> Result<()> {
    let paths = unique_paths(files);
    for (f, rel) in files.iter().zip(&paths) {
        write_atomic(&dir.join(rel), &f.bytes)?;
    }
    let (folder, ext) = match format {
        Format::Hgrm => ("hgrm", "hgrm"),
        Format::Svg => ("charts", "svg"),
        Format::Png => ("charts", "png"),
        _ => return Ok(()),
    };
    let keep: BTreeSet<&str> = paths.iter().map(String::as_str).collect();
    let Ok(entries) = std::fs::read_dir(dir.join(folder)) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(&format!(".{ext}")) && !keep.contains(format!("{folder}/{name}").as_str())
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_a_file_never_leave_the_folder() {
        for hostile in [
            "../../escaped",
            "..",
            ".hidden",
            "a/b",
            "a\\b",
            "nul\0byte",
            "tab\tand\nnewline",
            "/etc/passwd",
            "",
        ] {
            let safe = safe_name(hostile);
            assert!(!safe.is_empty(), "{hostile:?}");
            assert!(!safe.starts_with('.'), "{hostile:?} -> {safe}");
            assert!(
                !safe.contains(['/', '\\', '\0']) && !safe.chars().any(char::is_control),
                "{hostile:?} -> {safe}"
            );
        }
        assert_eq!(safe_name("sync_c8_e2e.hgrm"), "sync_c8_e2e.hgrm");
        assert_eq!(safe_name("../../escaped"), "_._.._escaped");
        assert_eq!(safe_rel("hgrm/../../x.hgrm"), "hgrm/_./_./x.hgrm");
    }

    #[test]
    fn names_that_collide_stay_apart() {
        let file = |p: &str| OutputFile {
            path: p.into(),
            bytes: Vec::new(),
        };
        let paths = unique_paths(&[
            file("hgrm/a/b_e2e.hgrm"),
            file("hgrm/a\\b_e2e.hgrm"),
            file("hgrm/a_b_e2e.hgrm"),
        ]);
        assert_eq!(
            paths,
            [
                "hgrm/a/b_e2e.hgrm",
                "hgrm/a_b_e2e.hgrm",
                "hgrm/a_b_e2e-2.hgrm"
            ]
        );
    }
}
