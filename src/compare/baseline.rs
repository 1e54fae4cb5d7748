//! The committed CI baseline: a normal result file without the per-request timeline and the
//! OS time series (charts need them, comparisons do not), so it stays around 200 KB instead of
//! several MB while keeping every figure and histogram `compare` reads (`ragperf baseline`
//! writes it).

use std::path::Path;

use anyhow::{Context, Result};

use crate::result::RunResult;

/// Drops what only charts use: each run's timeline and its process samples.
pub fn slim(result: &mut RunResult) {
    crate::result::slim::slim(result, 0, 0);
}

/// Writes `result` to `path` atomically (a temporary file, then a rename), creating the folder.
pub fn write(path: &Path, result: &RunResult) -> Result<()> {
    crate::result::files::write_json(path, result).context("writing the baseline")
}
