//! `ragperf report DIR|result.json`: re-renders the report of a past result (tables, `.hgrm`
//! files, charts, `index.html`) from the result file alone (`run` and `sweep` write the same
//! report while they progress, with [`crate::export::RunWriter`]).
//!
//! A damaged result (a missing or corrupt histogram) still renders: every output that can be
//! written is written, then the problems are reported, naming the variant, point and metric, and
//! the command exits non-zero.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use super::flags::flag_err;
use crate::export::{self, Format};
use crate::result::RunResult;

/// `ragperf report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A result directory (holding result.json, e.g. reports/latest) or a result.json file.
    pub input: PathBuf,
    /// Output directory (default: the result's own directory).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Formats, comma-separated: json, md, csv, hgrm, svg, png, html (default: all; json only
    /// when --out is another directory).
    #[arg(long, short = 'f', value_delimiter = ',', value_parser = crate::export::Format::parse)]
    pub format: Vec<crate::export::Format>,
}

/// The result file named by `input`: the file itself, or `result.json` inside a directory.
pub fn result_path(input: &Path) -> Result<PathBuf> {
    if input.is_dir() {
        let file = input.join("result.json");
        if !file.is_file() {
            return Err(flag_err(
                "INPUT",
                format!(
                    "{} holds no result.json: pass a result directory written by `ragperf run` \
                     or `sweep`, or the result file itself",
                    input.display()
                ),
            ));
        }
        Ok(file)
    } else if input.is_file() {
        Ok(input.to_path_buf())
    } else {
        Err(flag_err(
            "INPUT",
            format!(
                "{} does not exist: pass a result directory (e.g. reports/latest) or a \
                 result.json",
                input.display()
            ),
        ))
    }
}

/// The formats to write: the requested ones, or all; `result.json` is rewritten only when asked
/// for or when the output goes to another directory (re-rendering in place never touches the
/// record).
pub fn formats(requested: &[Format], same_dir: bool) -> Vec<Format> {
    if !requested.is_empty() {
        return requested.to_vec();
    }
    Format::ALL
        .into_iter()
        .filter(|f| *f != Format::Json || !same_dir)
        .collect()
}

/// Whether two directories are the same one.
fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// `ragperf report`.
pub fn report(args: &ReportArgs) -> Result<ExitCode> {
    let file = result_path(&args.input)?;
    let result = RunResult::read(&file)?;
    let source_dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
    let out = args.out.clone().unwrap_or_else(|| source_dir.clone());
    let formats = formats(&args.format, same_dir(&out, &source_dir));
    let started = Instant::now();
    let outcome = export::write_formats(&out, &result, &formats);
    let names: Vec<&str> = formats.iter().map(|f| f.name()).collect();
    eprintln!(
        "rendered {} ({} variant run(s)) as {} into {} in {:.2} s",
        file.display(),
        result.runs.len(),
        names.join(","),
        out.display(),
        started.elapsed().as_secs_f64()
    );
    if formats.contains(&Format::Html) {
        eprintln!("open {}", out.join("index.html").display());
    }
    outcome.with_context(|| format!("re-rendering {}", file.display()))?;
    Ok(ExitCode::SUCCESS)
}
