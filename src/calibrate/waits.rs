//! The backend waits the service saw: what the mocks injected per call, from their statistics,
//! against what the scenario written will make the model wait. The model draws its waits from
//! the same distributions the mocks drew the service's from, so the two agree unless the
//! service called the backends differently (other operations, other answer lengths) or faults
//! added waits; a note says so when they do not.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::Observation;
use crate::scenario::Scenario;

/// What the mocks injected for one operation at one point.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Wait {
    /// Calls the mock served.
    pub calls: u64,
    /// Their mean injected wait, ms (real time: the time scale applied).
    pub mean_ms: f64,
}

/// One operation over the whole calibration.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BackendWait {
    /// The mock operation (`embed`, `qdrant_search`, `converse_stream`, …).
    pub op: String,
    /// Calls over every point.
    pub calls: u64,
    /// The mean injected wait over those calls, ms.
    pub measured_mean_ms: f64,
    /// The mean the scenario's distributions give the same calls (each point's answer length
    /// for a generation), ms; None for an operation the model does not make.
    pub scenario_mean_ms: Option<f64>,
}

/// How far (relative) the measured mean may sit from the scenario's before a note: a sample of
/// thousands of calls from the seed's lognormals is within a few per cent of its mean.
pub const WAIT_NOTE: f64 = 0.10;

/// The mean wait the scenario gives one `op` call at a point whose answers are `tokens` long,
/// ms in real time; None for an operation the model does not make.
fn scenario_wait_ms(s: &Scenario, op: &str, tokens: f64) -> Option<f64> {
    let model_ms = match op {
        "embed" => s.embedding.latency_ms.mean(),
        "qdrant_search" => s.qdrant.search_ms.mean(),
        "qdrant_other" => s.qdrant.other_ms.mean(),
        "converse_stream" | "converse" => {
            s.bedrock.ttft_ms.mean() + s.bedrock.itl_ms.mean() * (tokens - 1.0).max(0.0)
        }
        _ => return None,
    };
    Some(model_ms * s.time_scale)
}

/// Every operation's calls and mean wait over the points, beside the scenario's.
pub fn backend_waits(s: &Scenario, observations: &[Observation]) -> Vec<BackendWait> {
    // op -> (calls, sum of measured waits, sum of the scenario's, every point had one)
    let mut acc: BTreeMap<&str, (u64, f64, f64, bool)> = BTreeMap::new();
    for o in observations {
        let tokens = o.tokens_per_request.unwrap_or(f64::from(o.tokens_setting));
        for (op, w) in o.backend_wait_ms.iter().filter(|(_, w)| w.calls > 0) {
            let e = acc.entry(op.as_str()).or_insert((0, 0.0, 0.0, true));
            let n = w.calls as f64;
            e.0 += w.calls;
            e.1 += w.mean_ms * n;
            match scenario_wait_ms(s, op, tokens) {
                Some(m) => e.2 += m * n,
                None => e.3 = false,
            }
        }
    }
    acc.into_iter()
        .map(|(op, (calls, measured, scenario, known))| BackendWait {
            op: op.to_string(),
            calls,
            measured_mean_ms: measured / calls as f64,
            scenario_mean_ms: known.then(|| scenario / calls as f64),
        })
        .collect()
}

/// The header's line, e.g. `embed 1200 calls 29.4 ms (scenario 29.1)`.
pub fn waits_line(waits: &[BackendWait]) -> Option<String> {
    let parts: Vec<String> = waits
        .iter()
        .map(|w| match w.scenario_mean_ms {
            Some(m) => format!(
                "{} {} calls, mean {:.1} ms (the scenario's {:.1})",
                w.op, w.calls, w.measured_mean_ms, m
            ),
            None => format!(
                "{} {} calls, mean {:.1} ms (not in the model)",
                w.op, w.calls, w.measured_mean_ms
            ),
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// A note for every operation whose measured mean is more than [`WAIT_NOTE`] from the
/// scenario's.
pub fn wait_warnings(waits: &[BackendWait]) -> Vec<String> {
    waits
        .iter()
        .filter_map(|w| {
            let m = w.scenario_mean_ms?;
            let off = (w.measured_mean_ms - m).abs() / m.max(1e-9);
            (m > 0.0 && off > WAIT_NOTE).then(|| {
                format!(
                    "the mocks injected {:.1} ms per `{}` call on average ({} calls), where the scenario's distributions give {:.1} ms: the model waits the scenario's (faults with a slow share, or calls the model does not make, change the service's)",
                    w.measured_mean_ms, w.op, w.calls, m
                )
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "waits_tests.rs"]
mod tests;
