//! Writing results: one format per file behind [`Exporter`] (hyperfine-style). Every exporter
//! renders from a [`RunResult`] alone, so a result from another machine or day renders the same.

pub mod json;
pub mod table;

use std::path::Path;

use anyhow::{Context, Result};

use crate::result::RunResult;

/// One output format.
pub trait Exporter {
    /// File name inside the output directory (e.g. `result.json`).
    fn file_name(&self) -> &'static str;
    /// Renders the whole result.
    fn render(&self, result: &RunResult) -> Result<String>;
}

/// Renders `result` with every exporter into `dir`, replacing each file atomically (write to a
/// temporary name, then rename), so an interrupted run never leaves a half-written file.
pub fn write_all(dir: &Path, result: &RunResult) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the output directory {}", dir.display()))?;
    let exporters: [&dyn Exporter; 1] = [&json::JsonExporter];
    for e in exporters {
        let text = e.render(result)?;
        let path = dir.join(e.file_name());
        let tmp = dir.join(format!(".{}.tmp", e.file_name()));
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
