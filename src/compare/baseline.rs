//! The committed CI baseline: a normal result file without the per-request timeline and the
//! OS time series (charts need them, comparisons do not), so it stays around 200 KB instead of
//! several MB while keeping every figure and histogram `compare` reads (`ragperf baseline`
//! writes it).

use std::path::Path;

use anyhow::{Context, Result};

use crate::result::RunResult;

/// Drops what only charts use: each run's timeline and its process samples.
pub fn slim(result: &mut RunResult) {
    for run in &mut result.runs {
        run.timeline.clear();
        run.process.samples.clear();
    }
}

/// Writes `result` to `path` atomically (a temporary file, then a rename), creating the folder.
pub fn write(path: &Path, result: &RunResult) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the baseline folder {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(result).context("serialising the baseline")?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text + "\n").with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
