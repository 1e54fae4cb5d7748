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
        crate::result::files::json_text(result)
    }
}
