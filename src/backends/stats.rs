//! A ragperf mock's side routes: `GET /__ragperf/stats` (what it injected, its settings, its
//! process CPU) and `POST /__ragperf/stats/reset`, each bounded by [`STATS_TIMEOUT`].

use std::time::Duration;

use mock_services::stats::StatsSnapshot;
use serde_json::Value;

/// How long a stats call may take before the mock is treated as not answering.
pub const STATS_TIMEOUT: Duration = Duration::from_secs(3);

/// An HTTP agent for the mocks' side routes, bounded by [`STATS_TIMEOUT`].
pub(crate) fn agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(STATS_TIMEOUT))
        .http_status_as_error(false)
        .proxy(None)
        .build();
    ureq::Agent::new_with_config(config)
}

/// The statistics of a ragperf mock at `base` (`GET /__ragperf/stats`); None when the server
/// is not a ragperf mock, does not answer, or takes longer than [`STATS_TIMEOUT`].
pub fn fetch_mock_stats(base: &str) -> Option<StatsSnapshot> {
    serde_json::from_value(fetch_stats_json(base)?).ok()
}

/// The raw JSON of `GET {base}/__ragperf/stats`; None when nothing answers it successfully
/// with JSON within [`STATS_TIMEOUT`].
pub(crate) fn fetch_stats_json(base: &str) -> Option<Value> {
    let mut resp = agent()
        .get(&format!("{base}/__ragperf/stats"))
        .call()
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    serde_json::from_str(&resp.body_mut().read_to_string().ok()?).ok()
}

/// Zeroes the statistics of a ragperf mock at `base`; other servers ignore it (best effort,
/// bounded by [`STATS_TIMEOUT`]).
pub fn reset_mock_stats(base: &str) {
    let _ = agent()
        .post(&format!("{base}/__ragperf/stats/reset"))
        .send_empty();
}
