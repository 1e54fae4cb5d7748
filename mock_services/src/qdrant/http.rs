//! HTTP plumbing shared by the Qdrant handlers: the response envelope, the error shapes of
//! docs/wire-facts.md §B4, reading a JSON body under `qdrant.max_body_bytes`, and [`Call`], which applies
//! the latency and fault model to one request.
//!
//! Every answer is JSON, errors included (`{"status":{"error":".."},"time":..}`), never axum's
//! plain-text rejections: qdrant-client reads `status.error` from any non-2xx body.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::store::StoreError;
use crate::faults::{Admission, Fault};
use crate::state::MockState;
use crate::stats::Operation;

/// An error answer: status, Qdrant's message, how the stats count it.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `status.error` of the body.
    pub message: String,
    /// Seconds for a `Retry-After` header (429).
    pub retry_after: Option<u64>,
    /// Outcome kind for the stats (`bad_request`, `not_found`, `throttle`…).
    pub outcome: &'static str,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>, outcome: &'static str) -> Self {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
            outcome,
        }
    }

    /// 400 for a body that is not JSON or does not fit the expected shape.
    pub fn format(e: &serde_json::Error) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("Format error in JSON body: {e}"),
            "bad_request",
        )
    }

    /// 422 for well-formed JSON with invalid values (`limit: 0`…): `problems` are
    /// `field: message` items.
    pub fn validation(problems: &[String]) -> Self {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Validation error in JSON body: [{}]", problems.join("; ")),
            "bad_request",
        )
    }

    /// 400 with a message of the caller's (e.g. a bad path parameter).
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message, "bad_request")
    }

    /// 404 for a route the mock does not serve.
    pub fn no_route(method: &str, path: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("Not found: the ragperf mock Qdrant has no route {method} {path}"),
            "not_found",
        )
    }

    /// 400 for a feature the mock does not implement (never silently ignored).
    pub fn unsupported(what: impl std::fmt::Display) -> Self {
        ApiError::from(StoreError::BadInput(format!(
            "{what} is not supported by the ragperf mock"
        )))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let outcome = if status == StatusCode::NOT_FOUND {
            "not_found"
        } else {
            "bad_request"
        };
        ApiError::new(status, e.to_string(), outcome)
    }
}

#[derive(Serialize)]
struct OkEnvelope<'a, T> {
    result: &'a T,
    status: &'static str,
    time: f64,
}

#[derive(Serialize)]
struct ErrorStatus<'a> {
    error: &'a str,
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    status: ErrorStatus<'a>,
    time: f64,
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

/// `{"result":..,"status":"ok","time":secs}` with status 200.
pub fn ok_response<T: Serialize>(result: &T, time: f64) -> Response {
    match serde_json::to_vec(&OkEnvelope {
        result,
        status: "ok",
        time,
    }) {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(e) => error_response(
            &ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Service internal error: cannot serialise the result: {e}"),
                "server_error",
            ),
            time,
        ),
    }
}

/// `{"status":{"error":".."},"time":secs}` with the error's status (and `Retry-After`).
pub fn error_response(err: &ApiError, time: f64) -> Response {
    let body = serde_json::to_vec(&ErrorEnvelope {
        status: ErrorStatus {
            error: &crate::text::elide(&err.message),
        },
        time,
    })
    .unwrap_or_else(|_| br#"{"status":{"error":"Service internal error"},"time":0.0}"#.to_vec());
    let mut response = json_response(err.status, body);
    if let Some(secs) = err.retry_after {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// The answer to a connection beyond `connections.max_open`: 503 in Qdrant's error envelope,
/// and the connection is closed.
pub fn over_cap(max_open: usize) -> Response {
    let mut response = error_response(
        &ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "Service unavailable: the mock already has {max_open} connections open \
                 (connections.max_open); this one is closed. Close idle connections or raise \
                 the limit."
            ),
            "unavailable",
        ),
        0.0,
    );
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Reads and parses a JSON body of at most `limit` bytes that arrives within `timeout`. Too
/// large: 400 with actix's wording, as Qdrant answers; unparsable: 400 "Format error in JSON
/// body"; too slow: 408. Memory grows with the bytes that arrive, never with the declared
/// `Content-Length`.
pub async fn read_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<T, ApiError> {
    match tokio::time::timeout(timeout, read_json_inner(headers, body, limit)).await {
        Ok(read) => read,
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "Timeout: the request body did not arrive within {} ms (the mock's \
                 connections.body_timeout_ms)",
                timeout.as_millis()
            ),
            "client_timeout",
        )),
    }
}

async fn read_json_inner<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<T, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared.filter(|&l| l > limit as u64) {
        return Err(ApiError::bad_request(format!(
            "JSON payload ({length} bytes) is larger than allowed (limit: {limit} bytes)."
        )));
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        // `to_bytes` fails either on the limit or on a broken upload.
        // (axum's error displays the inner one: http-body's "length limit exceeded").
        if e.to_string().contains("length limit") {
            ApiError::bad_request(format!("JSON payload has exceeded limit ({limit} bytes)."))
        } else {
            ApiError::bad_request(format!("Error that occur during reading payload: {e}"))
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::format(&e))
}

/// `wait` from the query string (Qdrant's default is `false`).
pub fn wait_flag(query: Option<&str>) -> bool {
    query
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .any(|(k, v)| k == "wait" && (v == "true" || v == "1" || v.is_empty()))
}

/// One request under the latency and fault model: counts it, takes a quota slot, draws a
/// fault, and on [`Call::finish`] sleeps the injected latency (after the store's locks are
/// released) before answering.
pub struct Call {
    state: Arc<MockState>,
    op: Operation,
    started: Instant,
    rng: StdRng,
    slow: f64,
    _admission: Admission,
    /// An outcome was counted; dropped without one, the client left (`client_closed`).
    ended: bool,
}

impl Drop for Call {
    fn drop(&mut self) {
        if !self.ended {
            self.state.stats.outcome(self.op, "client_closed");
        }
    }
}

impl Call {
    /// Starts a request of `op`; `Err` is an injected fault or the quota, already counted (answer
    /// it at once with [`error_response`]).
    pub fn begin(state: &Arc<MockState>, op: Operation) -> Result<Call, ApiError> {
        let started = Instant::now();
        state.stats.request(op);
        let faults = &state.qdrant_faults;
        let Some(admission) = faults.admit() else {
            state.stats.outcome(op, "quota");
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many requests: more than {} requests in flight (faults.qdrant.max_concurrency)",
                    faults.spec().max_concurrency
                ),
                "quota",
            );
            e.retry_after = Some(1);
            return Err(e);
        };
        let mut rng = state.request_rng(op);
        let mut slow = 1.0;
        let injected = match faults.draw(&mut rng) {
            None | Some(Fault::StreamException { .. }) | Some(Fault::StreamCut { .. }) => None,
            Some(Fault::Slow(x)) => {
                state.stats.slow(op);
                slow = x;
                None
            }
            Some(Fault::Throttle) => {
                let mut e = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many requests: injected throttling (faults.qdrant.throttle)",
                    "throttle",
                );
                e.retry_after = Some(1);
                Some(e)
            }
            Some(Fault::ServerError) => Some(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Service internal error: injected fault (faults.qdrant.server_error)",
                "server_error",
            )),
            Some(Fault::Unavailable) => Some(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service unavailable: injected fault (faults.qdrant.unavailable)",
                "unavailable",
            )),
        };
        if let Some(e) = injected {
            state.stats.outcome(op, e.outcome);
            return Err(e);
        }
        Ok(Call {
            state: Arc::clone(state),
            op,
            started,
            rng,
            slow,
            _admission: admission,
            ended: false,
        })
    }

    /// The mock's configured body limit.
    pub fn body_limit(&self) -> usize {
        self.state.config.qdrant.max_body_bytes
    }

    /// The mock's configured body timeout.
    pub fn body_timeout(&self) -> Duration {
        self.state.config.connections.body_timeout()
    }

    /// Answers a request rejected before reaching the store (bad JSON, validation): no injected
    /// latency and `time` 0.0, as Qdrant's extractor errors.
    pub fn reject(mut self, err: ApiError) -> Response {
        self.ended = true;
        self.state.stats.outcome(self.op, err.outcome);
        let mut response = error_response(&err, 0.0);
        if err.status == StatusCode::REQUEST_TIMEOUT {
            // The rest of the body is never read: do not keep the connection.
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }

    /// Sleeps the injected latency, then answers with the result or the error.
    pub async fn finish<T: Serialize>(mut self, result: Result<T, ApiError>) -> Response {
        let q = &self.state.config.qdrant;
        let dist = if self.op == Operation::QdrantSearch {
            &q.search_ms
        } else {
            &q.other_ms
        };
        let delay = dist
            .sample_duration(&mut self.rng, self.state.time_scale())
            .mul_f64(self.slow);
        self.state.stats.injected(self.op, delay);
        if delay > Duration::ZERO {
            tokio::time::sleep(delay).await;
        }
        let time = self.started.elapsed().as_secs_f64();
        self.ended = true;
        match result {
            Ok(v) => {
                self.state.stats.outcome(self.op, "ok");
                ok_response(&v, time)
            }
            Err(e) => {
                self.state.stats.outcome(self.op, e.outcome);
                error_response(&e, time)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_flag_parses_the_query_string() {
        assert!(wait_flag(Some("wait=true")));
        assert!(wait_flag(Some("timeout=5&wait=true")));
        assert!(wait_flag(Some("wait")));
        assert!(!wait_flag(Some("wait=false")));
        assert!(!wait_flag(None));
        assert!(!wait_flag(Some("waiting=true")));
    }

    #[test]
    fn store_errors_map_to_qdrant_statuses() {
        let e = ApiError::from(StoreError::CollectionNotFound("x".into()));
        assert_eq!((e.status, e.outcome), (StatusCode::NOT_FOUND, "not_found"));
        assert_eq!(e.message, "Not found: Collection `x` doesn't exist!");
        let e = ApiError::from(StoreError::AlreadyExists("x".into()));
        assert_eq!(e.status, StatusCode::CONFLICT);
        assert_eq!(e.message, "Wrong input: Collection `x` already exists!");
        let e =
            ApiError::validation(&["internal.limit: value 0 invalid, must be 1 or larger".into()]);
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            e.message,
            "Validation error in JSON body: [internal.limit: value 0 invalid, must be 1 or larger]"
        );
    }
}
