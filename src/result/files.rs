//! Files rendered from a result and how they reach the disk: [`OutputFile`] (what an exporter
//! or a chart renders), [`ExportFailure`] (one that could not be), [`safe_name`] for file names,
//! and the one atomic writer ([`write_atomic`], [`write_json`]): a temporary file beside the
//! target, then a rename, so a reader never sees half a file.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

/// One file to write.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputFile {
    /// Path relative to the output directory, `/`-separated (e.g. `hgrm/sync_c8_e2e.hgrm`).
    pub path: String,
    /// The contents.
    pub bytes: Vec<u8>,
}

/// One output that could not be written, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportFailure {
    /// What failed: a format, a file or a histogram (e.g. `chart latency_spectrum_e2e`).
    pub what: String,
    /// Why.
    pub message: String,
}

/// A name from a result file (variant, metric, label) made safe to use as one file name: every
/// character other than ASCII letters, digits and `-_.+=,@` becomes `_` (so `/`, `\`, NUL and
/// control characters never reach the file system), a leading dot becomes `_` (no hidden
/// files, no `..`), an empty name becomes `_`, and the length is capped at 120 bytes.
pub fn safe_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.+=,@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    if out.starts_with('.') {
        out.replace_range(..1, "_");
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// Replaces `path` atomically (a temporary file beside it, then a rename), creating its folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// `value` as pretty JSON with a final newline (the form of every JSON file ragperf writes).
pub fn json_text(value: &impl Serialize) -> Result<String> {
    Ok(serde_json::to_string_pretty(value).context("serialising to JSON")? + "\n")
}

/// Writes `value` to `path` as [`json_text`], atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    write_atomic(path, json_text(value)?.as_bytes())
}
