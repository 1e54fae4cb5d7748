//! The scenario's checks of every value the parser cannot: each error names the field and the
//! fix ([`ScenarioError::Invalid`]).

use std::time::Duration;

use super::{
    MAX_CPU_PER_TOKEN_US, MAX_CPU_STEPS, MAX_DURATION, MAX_TIME_SCALE, Scenario, ScenarioError,
    invalid,
};

impl Scenario {
    /// Checks every value the parser cannot.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let max_scale = MAX_TIME_SCALE;
        if !self.time_scale.is_finite() || self.time_scale <= 0.0 || self.time_scale > max_scale {
            return Err(invalid(
                "time_scale",
                format!(
                    "is {}; must be > 0 and at most {max_scale} (1 = the seed's latencies, \
                     0.01 = 100x faster)",
                    if self.time_scale.abs() < 1e6 {
                        self.time_scale.to_string()
                    } else {
                        format!("{:e}", self.time_scale)
                    }
                ),
            ));
        }
        self.mock_config()
            .validate()
            .map_err(|e| invalid(&e.field, e.message))?;
        // A stream carries at least one token: 0 would silently become 1.
        use mock_services::latency::Dist;
        match self.bedrock.output_tokens {
            Dist::Fixed { value: v } | Dist::Uniform { min: v, .. } if v < 1.0 => {
                return Err(invalid(
                    "bedrock.output_tokens",
                    format!("is {v}; every answer has at least 1 token: write 1 or more"),
                ));
            }
            _ => {}
        }
        for (field, d) in [
            ("load.duration", self.load.duration),
            ("load.warmup", self.load.warmup),
            ("load.ramp", self.load.ramp),
            ("load.drain_timeout", self.load.drain_timeout),
        ] {
            if d.is_some_and(|d| d > MAX_DURATION) {
                return Err(invalid(
                    field,
                    "is longer than the limit of 7 days; write e.g. \"30m\" or \"2h\"",
                ));
            }
        }
        self.validate_request()?;
        self.validate_load()?;
        self.client
            .validate()
            .map_err(|(field, msg)| invalid(&format!("client.{field}"), msg))?;
        Ok(())
    }

    /// The `[request]` table's checks, in [`Scenario::validate`]'s order.
    fn validate_request(&self) -> Result<(), ScenarioError> {
        let r = &self.request;
        if r.top_k == 0 || r.top_k > 100 {
            return Err(invalid("request.top_k", "must be from 1 to 100"));
        }
        if r.max_tokens == 0 {
            return Err(invalid("request.max_tokens", "must be at least 1"));
        }
        // The Converse API's range; NaN or infinity would also reach result.json as `null`.
        if !(0.0..=1.0).contains(&r.temperature) {
            return Err(invalid(
                "request.temperature",
                format!(
                    "is {}; must be a number from 0 to 1 (Bedrock's inferenceConfig.temperature)",
                    r.temperature
                ),
            ));
        }
        if r.cpu_per_token_us > MAX_CPU_PER_TOKEN_US {
            return Err(invalid(
                "request.cpu_per_token_us",
                format!(
                    "is {} µs; must be at most {MAX_CPU_PER_TOKEN_US} (1 s of CPU per token)",
                    r.cpu_per_token_us
                ),
            ));
        }
        if r.cpu_per_read_us > MAX_CPU_PER_TOKEN_US {
            return Err(invalid(
                "request.cpu_per_read_us",
                format!(
                    "is {} µs; must be at most {MAX_CPU_PER_TOKEN_US} (1 s of CPU per read)",
                    r.cpu_per_read_us
                ),
            ));
        }
        if !(1..=MAX_CPU_STEPS).contains(&r.cpu_steps) {
            return Err(invalid(
                "request.cpu_steps",
                format!(
                    "is {}; must be 1 (prompt), 2 (+ before retrieval) or {MAX_CPU_STEPS} \
                     (+ before the embedding)",
                    r.cpu_steps
                ),
            ));
        }
        for (field, v, zero) in [
            (
                "request.cpu_offloop_share",
                r.cpu_offloop_share,
                "all on the loop",
            ),
            (
                "request.cpu_parallel_share",
                r.cpu_parallel_share,
                "all on the loop",
            ),
            (
                "request.cpu_token_loop_share",
                r.cpu_token_loop_share,
                "all on the thread that reads the token",
            ),
            (
                "request.cpu_request_loop_share",
                r.cpu_request_loop_share,
                "all in the endpoint's body",
            ),
            (
                "request.cpu_outside_gil_share",
                r.cpu_outside_gil_share,
                "all of every section under the GIL",
            ),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(invalid(
                    field,
                    format!("is {v}; must be a share from 0 ({zero}) to 1"),
                ));
            }
        }
        if r.cpu_offloop_share + r.cpu_parallel_share > 1.0 + 1e-9 {
            return Err(invalid(
                "request.cpu_offloop_share",
                format!(
                    "is {} and request.cpu_parallel_share {}: together they are shares of one \
                     cpu_work_us and must add up to at most 1",
                    r.cpu_offloop_share, r.cpu_parallel_share
                ),
            ));
        }
        if r.cpu_outside_gil_share > 0.0 && !r.gil {
            return Err(invalid(
                "request.cpu_outside_gil_share",
                format!(
                    "is {} but request.gil is false: without the GIL every section already runs \
                     without it; set request.gil = true (--gil) or the share to 0",
                    r.cpu_outside_gil_share
                ),
            ));
        }
        if !(0.01..=1.0).contains(&r.gil_max_busy) {
            return Err(invalid(
                "request.gil_max_busy",
                format!(
                    "is {}; must be the most of each second the GIL may be held, from 0.01 to 1 \
                     (1: no cap)",
                    r.gil_max_busy
                ),
            ));
        }
        if r.gil_max_busy < 1.0 && !r.gil {
            return Err(invalid(
                "request.gil_max_busy",
                format!(
                    "is {} but request.gil is false: there is no GIL to cap; set request.gil = \
                     true (--gil) or remove the cap (1)",
                    r.gil_max_busy
                ),
            ));
        }
        if r.embed_dimensions != self.qdrant.dimensions {
            return Err(invalid(
                "request.embed_dimensions",
                format!(
                    "is {} but the collection's vectors (qdrant.dimensions) are {}: make them equal",
                    r.embed_dimensions, self.qdrant.dimensions
                ),
            ));
        }
        if r.questions.iter().any(|q| q.trim().is_empty()) {
            return Err(invalid(
                "request.questions",
                "must not contain empty questions",
            ));
        }
        if r.embed_model.trim().is_empty() {
            return Err(invalid("request.embed_model", "must not be empty"));
        }
        if r.chat_model.trim().is_empty() {
            return Err(invalid("request.chat_model", "must not be empty"));
        }
        Ok(())
    }

    /// The `[load]` table's checks, in [`Scenario::validate`]'s order.
    fn validate_load(&self) -> Result<(), ScenarioError> {
        let l = &self.load;
        for v in &l.variants {
            if crate::pipeline::VariantKind::parse(v).is_none() {
                return Err(invalid(
                    "load.variants",
                    format!(
                        "unknown variant `{v}`: use one of {}",
                        crate::pipeline::VariantKind::names().join(", ")
                    ),
                ));
            }
        }
        if l.concurrency == 0 {
            return Err(invalid("load.concurrency", "must be at least 1"));
        }
        if !l.think_time_ms.is_finite() || l.think_time_ms < 0.0 {
            return Err(invalid("load.think_time_ms", "must be a number >= 0"));
        }
        if let Some(rate) = l.rate
            && (!rate.is_finite() || rate <= 0.0)
        {
            return Err(invalid(
                "load.rate",
                format!("must be > 0 requests per second, got {rate}"),
            ));
        }
        for (field, v) in [
            ("load.max_in_flight", l.max_in_flight),
            ("load.workers", l.workers),
            ("load.worker_threads", l.worker_threads),
            ("load.max_blocking_threads", l.max_blocking_threads),
        ] {
            if v == Some(0) {
                return Err(invalid(field, "must be at least 1 (or leave it out)"));
            }
        }
        if l.requests == Some(0) {
            return Err(invalid(
                "load.requests",
                "must be at least 1 (or leave it out)",
            ));
        }
        if l.duration == Some(Duration::ZERO) {
            return Err(invalid("load.duration", "must be longer than 0s"));
        }
        Ok(())
    }
}
