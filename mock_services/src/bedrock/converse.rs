//! `POST /model/{modelId}/converse`: the non-streaming Converse handler. The whole answer
//! ([`super::generate`]) is "generated" before anything is sent, then answered as one JSON body.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::errors::{REQUEST_ID_HEADER, request_id};
use super::request::read_request;
use super::{Failure, admit, generate};
use crate::state::MockState;
use crate::stats::Operation;

/// `POST /model/{modelId}/converse`.
pub async fn handle(
    State(state): State<Arc<MockState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    super::serve(&state, Operation::Converse, |t0| {
        converse(&state, t0, &uri, &headers, body)
    })
    .await
}

async fn converse(
    state: &MockState,
    t0: Instant,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    let op = Operation::Converse;
    let input = read_request(state, uri, headers, body).await?;
    let mut admitted = admit(state, &state.converse_faults, op)?;
    let (generation, schedule) = generate::draw(state, &input, &mut admitted);
    state.stats.injected(op, schedule.total());
    // The whole answer is "generated" before anything is sent, as with the real service.
    tokio::time::sleep_until(t0 + schedule.total()).await;
    let body = serde_json::json!({
        "output": {"message": {"role": "assistant", "content": [{"text": generation.text()}]}},
        "stopReason": generation.stop_reason,
        "usage": generation.usage,
        "metrics": {"latencyMs": t0.elapsed().as_millis() as u64},
    });
    state.stats.outcome(op, "ok");
    drop(admitted);
    let mut response = body.to_string().into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(REQUEST_ID_HEADER, request_id());
    Ok(response)
}
