//! Before the load against external backends (`--qdrant-url`/`--bedrock-url`): who answers at
//! each URL, and with which settings, so that a wrong port, swapped URLs or mocks started with
//! another scenario are said before 0/409 requests succeed or an efficiency of 1,000 % appears.
//!
//! Qdrant answers `GET /` with `{"title": "qdrant - vector search engine", …}` (the mock too);
//! a ragperf mock serves `GET /__ragperf/stats`, whose `settings` is the effective
//! `MockConfig` (older mocks lack it: then nothing is compared). When the mocks' latency
//! model differs from the run's scenario, the run adopts the mocks' (the ideal must follow what
//! is really injected) and says so.

use mock_services::config::MockConfig;
use serde_json::Value;

use super::stats::{agent, fetch_stats_json};
use crate::scenario::Scenario;

/// What answered at one URL.
#[derive(Clone, Debug, PartialEq)]
enum Answer {
    /// Qdrant (or the mock Qdrant).
    Qdrant,
    /// Something answered HTTP, not as Qdrant.
    Other,
    /// No HTTP answer (the error).
    Nothing(String),
}

fn identify(base: &str) -> Answer {
    match agent().get(&format!("{base}/")).call() {
        Err(e) => Answer::Nothing(e.to_string()),
        Ok(mut resp) => {
            let text = resp.body_mut().read_to_string().unwrap_or_default();
            let title = serde_json::from_str::<Value>(&text).ok().and_then(|v| {
                v.get("title")
                    .and_then(Value::as_str)
                    .map(str::to_ascii_lowercase)
            });
            if resp.status().is_success() && title.is_some_and(|t| t.contains("qdrant")) {
                Answer::Qdrant
            } else {
                Answer::Other
            }
        }
    }
}

/// The `settings` of the ragperf mock at `base`: Some(None) when it is a mock that does not
/// report them, None when it is not a ragperf mock (or does not answer).
fn mock_settings(base: &str) -> Option<Option<Value>> {
    let v = fetch_stats_json(base)?;
    v.get("operations")?;
    Some(v.get("settings").cloned())
}

/// Checks the external backends; returns the notes to show (empty when all is as expected) and
/// adopts the mocks' latency model into `scenario` when it differs.
pub(crate) fn check_external(qdrant: &str, bedrock: &str, scenario: &mut Scenario) -> Vec<String> {
    let mut notes = Vec::new();
    let (q, b) = (identify(qdrant), identify(bedrock));
    match (&q, &b) {
        (Answer::Nothing(e), _) => notes.push(format!(
            "nothing answered at --qdrant-url {qdrant} ({e}): wrong port, or Qdrant is not \
             running?"
        )),
        (Answer::Other, Answer::Qdrant) => notes.push(format!(
            "--qdrant-url and --bedrock-url look swapped: {bedrock} answers as Qdrant, {qdrant} \
             does not"
        )),
        (Answer::Other, _) => notes.push(format!(
            "{qdrant} (--qdrant-url) does not answer `GET /` as Qdrant does: wrong port or URL?"
        )),
        (Answer::Qdrant, _) => {}
    }
    bedrock_notes(bedrock, &b, q != Answer::Other, scenario, &mut notes);
    notes
}

/// Checks the Bedrock endpoint alone (`ragperf streams --bedrock-url`): who answers there and,
/// when it is a ragperf mock, with which settings; adopts the mock's latency model into
/// `scenario` when it differs (so the expected gap follows what the mock injects). Returns the
/// notes to show, empty when all is as expected.
pub(crate) fn check_bedrock(bedrock: &str, scenario: &mut Scenario) -> Vec<String> {
    let mut notes = Vec::new();
    bedrock_notes(bedrock, &identify(bedrock), true, scenario, &mut notes);
    notes
}

/// The notes about the Bedrock endpoint that answered `b`; `qdrant_note_free` is false when a
/// note about Qdrant already said the URLs look swapped.
fn bedrock_notes(
    bedrock: &str,
    b: &Answer,
    qdrant_note_free: bool,
    scenario: &mut Scenario,
    notes: &mut Vec<String>,
) {
    match b {
        Answer::Nothing(e) => notes.push(format!(
            "nothing answered at --bedrock-url {bedrock} ({e}): wrong port, or the Bedrock \
             endpoint is not running?"
        )),
        Answer::Qdrant if qdrant_note_free => notes.push(format!(
            "{bedrock} (--bedrock-url) answers as Qdrant: it should be the Bedrock Runtime \
             endpoint (URLs swapped?)"
        )),
        _ => {}
    }
    match mock_settings(bedrock) {
        Some(Some(settings)) => compare_settings(bedrock, &settings, scenario, notes),
        Some(None) => notes.push(format!(
            "the ragperf mock at {bedrock} does not report its settings (an older version): \
             the ideal assumes it injects this run's scenario"
        )),
        None => {}
    }
}

/// The top-level settings whose values differ between the mocks and the run's scenario.
fn differing(theirs: &Value, ours: &Value) -> Vec<String> {
    let keys = [
        "time_scale",
        "embedding",
        "qdrant",
        "bedrock",
        "faults",
        "seed",
    ];
    keys.iter()
        .filter(|k| theirs.get(**k).is_some() && theirs.get(**k) != ours.get(**k))
        .map(|k| k.to_string())
        .collect()
}

fn compare_settings(
    bedrock: &str,
    theirs: &Value,
    scenario: &mut Scenario,
    notes: &mut Vec<String>,
) {
    let Ok(ours) = serde_json::to_value(scenario.mock_config()) else {
        return;
    };
    let differ = differing(theirs, &ours);
    if differ.is_empty() {
        return;
    }
    let scale = |v: &Value| {
        v.get("time_scale")
            .and_then(Value::as_f64)
            .map_or("?".into(), |t| t.to_string())
    };
    let adopted = match serde_json::from_value::<MockConfig>(theirs.clone()) {
        Ok(m) => {
            scenario.time_scale = m.time_scale;
            scenario.embedding = m.embedding;
            scenario.qdrant = m.qdrant;
            scenario.bedrock = m.bedrock;
            scenario.faults = m.faults;
            "this run uses the mocks' settings for its ideal and time scale"
        }
        Err(_) => "their settings could not be read in full: the ideal may be wrong",
    };
    notes.push(format!(
        "the mocks at {bedrock} run another scenario than this run (differ: {}; time scale {} \
         there, {} here): {adopted}; start `ragperf mock` with the same --scenario/--time-scale \
         to silence this",
        differ.join(", "),
        scale(theirs),
        scale(&ours)
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differing_names_the_settings_that_differ() {
        let ours = serde_json::to_value(Scenario::default().mock_config()).expect("json");
        let mut theirs = ours.clone();
        assert!(differing(&theirs, &ours).is_empty());
        theirs["time_scale"] = serde_json::json!(0.1);
        assert_eq!(differing(&theirs, &ours), vec!["time_scale".to_string()]);
        // A mock that reports fewer keys is compared on what it reports.
        let partial = serde_json::json!({ "time_scale": 1.0 });
        assert!(differing(&partial, &ours).is_empty());
    }
}
