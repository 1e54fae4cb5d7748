//! `result.json`: the lossless record of a run (schema `ragperf.result.v1`).

use anyhow::Result;

use super::Exporter;
use crate::result::RunResult;

/// Pretty-printed JSON of the whole result.
pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn file_name(&self) -> &'static str {
        "result.json"
    }

    fn render(&self, result: &RunResult) -> Result<String> {
        let mut s = serde_json::to_string_pretty(result)?;
        s.push('\n');
        Ok(s)
    }
}
