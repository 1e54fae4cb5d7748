//! The HTTP handlers of mock Qdrant, one per REST operation (docs/wire-facts.md §B1), and the router.
//!
//! Each handler: [`Call::begin`] (count, quota, fault), parse the path and the JSON body (400
//! "Format error" / 422 "Validation error" answered at once, `time` 0.0), run the store
//! operation (synchronous, under the collection's lock), then [`Call::finish`] sleeps the
//! injected latency with no lock held and answers in Qdrant's envelope.
//!
//! `GET /`, `/healthz`, `/livez` and `/readyz` are answered at once and not counted: they are
//! probes (qdrant-client's version check sends `GET /` on start), not operations.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::collection::MAX_VECTOR_SIZE;
use super::http::{ApiError, Call, error_response, read_json, wait_flag};
use super::ids::PointId;
use super::info::{CollectionSpec, PayloadIndex};
use super::model::{ScoredPoint, UpdateResult, UpdateStatus, VectorsConfig, WithPayload};
use super::requests::{
    CountBody, DeleteBody, IndexBody, QueryBatchBody, QueryBody, RetrieveBody, ScrollBody,
    SearchBatchBody, SearchBody, UpsertBody,
};
use crate::state::MockState;
use crate::stats::Operation;

/// The version mock Qdrant reports (qdrant-client warns when its minor differs by more than 1).
pub const QDRANT_VERSION: &str = "1.20.0";

type AppState = State<Arc<MockState>>;
type NamePath = Result<Path<String>, PathRejection>;
type PairPath = Result<Path<(String, String)>, PathRejection>;

/// The Qdrant routes.
pub fn router() -> Router<Arc<MockState>> {
    Router::new()
        .route("/", get(version))
        .route("/healthz", get(healthz))
        .route("/livez", get(healthz))
        .route("/readyz", get(readyz))
        .route("/collections", get(list_collections))
        .route(
            "/collections/{c}",
            get(get_collection)
                .put(create_collection)
                .delete(delete_collection),
        )
        .route("/collections/{c}/exists", get(collection_exists))
        .route("/collections/{c}/index", put(create_index))
        .route("/collections/{c}/index/{field}", delete(delete_index))
        .route("/collections/{c}/points", put(upsert).post(retrieve))
        .route("/collections/{c}/points/{id}", get(get_point))
        .route("/collections/{c}/points/delete", post(delete_points))
        .route("/collections/{c}/points/query", post(query))
        .route("/collections/{c}/points/query/batch", post(query_batch))
        .route("/collections/{c}/points/search", post(search))
        .route("/collections/{c}/points/search/batch", post(search_batch))
        .route("/collections/{c}/points/scroll", post(scroll))
        .route("/collections/{c}/points/count", post(count))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn no_route(method: Method, uri: Uri) -> Response {
    error_response(&ApiError::no_route(method.as_str(), uri.path()), 0.0)
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let mut e = ApiError::no_route(method.as_str(), uri.path());
    e.status = StatusCode::METHOD_NOT_ALLOWED;
    e.message = format!("Method {method} is not allowed on {}", uri.path());
    error_response(&e, 0.0)
}

async fn version() -> Response {
    axum::Json(json!({
        "title": "qdrant - vector search engine",
        "version": QDRANT_VERSION,
        "commit": "ragperf-mock",
    }))
    .into_response()
}

async fn healthz() -> &'static str {
    "healthz check passed"
}

async fn readyz() -> &'static str {
    "all shards are ready"
}

fn path_error(e: PathRejection) -> ApiError {
    ApiError::bad_request(format!("Deserialize error in path parameters: {e}"))
}

/// Runs an operation without a body.
async fn run<R: Serialize>(
    state: Arc<MockState>,
    op: Operation,
    name: NamePath,
    f: impl FnOnce(&MockState, String) -> Result<R, ApiError>,
) -> Response {
    let call = match Call::begin(&state, op) {
        Ok(c) => c,
        Err(e) => return error_response(&e, 0.0),
    };
    match name {
        Ok(Path(name)) => {
            let result = f(&state, name);
            call.finish(result).await
        }
        Err(e) => call.reject(path_error(e)),
    }
}

/// Runs an operation on a JSON body of type `T`. A 422 from `f` (validation) is answered at once.
async fn run_with_body<T: DeserializeOwned, R: Serialize>(
    state: Arc<MockState>,
    op: Operation,
    name: NamePath,
    headers: HeaderMap,
    body: Body,
    f: impl FnOnce(&MockState, String, T) -> Result<R, ApiError>,
) -> Response {
    let call = match Call::begin(&state, op) {
        Ok(c) => c,
        Err(e) => return error_response(&e, 0.0),
    };
    let name = match name {
        Ok(Path(name)) => name,
        Err(e) => return call.reject(path_error(e)),
    };
    let parsed: T = match read_json(&headers, body, call.body_limit(), call.body_timeout()).await {
        Ok(b) => b,
        Err(e) => return call.reject(e),
    };
    match f(&state, name, parsed) {
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => call.reject(e),
        result => call.finish(result).await,
    }
}

/// The searches of a batch request, validated (a problem is named `searches[i].<what>.…`, as
/// Qdrant names it) and converted.
fn batch<B>(
    searches: Vec<B>,
    what: &str,
    problems: impl Fn(&B, &str) -> Vec<String>,
    into_search: impl Fn(B) -> Result<crate::qdrant::SearchRequest, ApiError>,
) -> Result<Vec<crate::qdrant::SearchRequest>, ApiError> {
    validate(
        searches
            .iter()
            .enumerate()
            .flat_map(|(i, s)| problems(s, &format!("searches[{i}].{what}")))
            .collect(),
    )?;
    searches.into_iter().map(into_search).collect()
}

fn validate(problems: Vec<String>) -> Result<(), ApiError> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(&problems))
    }
}

fn update_result(operation_id: u64, wait: bool) -> UpdateResult {
    UpdateResult {
        operation_id,
        status: if wait {
            UpdateStatus::Completed
        } else {
            UpdateStatus::Acknowledged
        },
    }
}

async fn list_collections(State(state): AppState) -> Response {
    let call = match Call::begin(&state, Operation::QdrantOther) {
        Ok(c) => c,
        Err(e) => return error_response(&e, 0.0),
    };
    let names: Vec<_> = state
        .qdrant
        .collection_names()
        .into_iter()
        .map(|name| json!({ "name": name }))
        .collect();
    call.finish(Ok(json!({ "collections": names }))).await
}

async fn get_collection(State(state): AppState, name: NamePath) -> Response {
    run(state, Operation::QdrantOther, name, |st, name| {
        Ok(st.qdrant.collection_info(&name)?)
    })
    .await
}

async fn collection_exists(State(state): AppState, name: NamePath) -> Response {
    run(state, Operation::QdrantOther, name, |st, name| {
        Ok(json!({ "exists": st.qdrant.exists(&name) }))
    })
    .await
}

async fn delete_collection(State(state): AppState, name: NamePath) -> Response {
    run(state, Operation::QdrantOther, name, |st, name| {
        Ok(st.qdrant.delete_collection(&name))
    })
    .await
}

async fn create_collection(
    State(state): AppState,
    name: NamePath,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run_with_body(
        state,
        Operation::QdrantOther,
        name,
        headers,
        body,
        |st, name, spec: CollectionSpec| {
            // Qdrant's own bounds (`range(min = 1, max = 65536)`), checked before anything is
            // allocated.
            let sizes: Vec<(String, usize)> = match &spec.vectors {
                Some(VectorsConfig::Single(p)) => vec![("vectors.size".into(), p.size)],
                Some(VectorsConfig::Named(m)) => m
                    .iter()
                    .map(|(n, p)| (format!("vectors.{n}.size"), p.size))
                    .collect(),
                None => Vec::new(),
            };
            validate(
                sizes
                    .into_iter()
                    .filter_map(|(field, size)| match size {
                        0 => Some(format!("{field}: value 0 invalid, must be 1 or larger")),
                        s if s > MAX_VECTOR_SIZE => Some(format!(
                            "{field}: value {s} invalid, must be from 1 to {MAX_VECTOR_SIZE}"
                        )),
                        _ => None,
                    })
                    .collect(),
            )?;
            st.qdrant.create_collection(&name, spec)?;
            Ok(true)
        },
    )
    .await
}

async fn create_index(
    State(state): AppState,
    name: NamePath,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let wait = wait_flag(q.as_deref());
    run_with_body(
        state,
        Operation::QdrantOther,
        name,
        headers,
        body,
        move |st, name, b: IndexBody| {
            let index =
                PayloadIndex::parse(b.field_schema.as_ref().unwrap_or(&serde_json::Value::Null))
                    .map_err(|m| {
                        ApiError::bad_request(format!("Format error in JSON body: {m}"))
                    })?;
            Ok(update_result(
                st.qdrant
                    .create_payload_index(&name, &b.field_name, index)?,
                wait,
            ))
        },
    )
    .await
}

async fn delete_index(State(state): AppState, path: PairPath, RawQuery(q): RawQuery) -> Response {
    let wait = wait_flag(q.as_deref());
    let (name, field) = match path {
        Ok(Path((c, f))) => (Ok(Path(c)), f),
        Err(e) => (Err(e), String::new()),
    };
    run(state, Operation::QdrantOther, name, move |st, name| {
        Ok(update_result(
            st.qdrant.delete_payload_index(&name, &field)?,
            wait,
        ))
    })
    .await
}

async fn upsert(
    State(state): AppState,
    name: NamePath,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let wait = wait_flag(q.as_deref());
    run_with_body(
        state,
        Operation::QdrantOther,
        name,
        headers,
        body,
        move |st, name, b: UpsertBody| {
            let points = b.into_points()?;
            Ok(update_result(st.qdrant.upsert(&name, points)?, wait))
        },
    )
    .await
}

async fn delete_points(
    State(state): AppState,
    name: NamePath,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let wait = wait_flag(q.as_deref());
    run_with_body(
        state,
        Operation::QdrantOther,
        name,
        headers,
        body,
        move |st, name, b: DeleteBody| {
            let selector = b.selector()?;
            Ok(update_result(
                st.qdrant.delete_points(&name, &selector)?,
                wait,
            ))
        },
    )
    .await
}

async fn retrieve(
    State(state): AppState,
    name: NamePath,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run_with_body(
        state,
        Operation::QdrantOther,
        name,
        headers,
        body,
        |st, name, b: RetrieveBody| {
            Ok(st.qdrant.retrieve(
                &name,
                &b.ids,
                &b.with_payload.unwrap_or(WithPayload::All),
                &b.with_vector.unwrap_or_default(),
            )?)
        },
    )
    .await
}

async fn get_point(State(state): AppState, path: PairPath) -> Response {
    let (name, raw_id) = match path {
        Ok(Path((c, id))) => (Ok(Path(c)), id),
        Err(e) => (Err(e), String::new()),
    };
    run(state, Operation::QdrantOther, name, move |st, name| {
        let id = match raw_id.parse::<u64>() {
            Ok(n) => PointId::Num(n),
            Err(_) => PointId::parse_uuid(&raw_id).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Deserialize error in path parameters: value {raw_id} is not a valid point ID, valid values are either an unsigned integer or a UUID"
                ))
            })?,
        };
        let all = WithPayload::All;
        let mut found = st.qdrant.retrieve(&name, &[id], &all, &Default::default())?;
        found.pop().ok_or_else(|| {
            ApiError::from(super::store::StoreError::PointNotFound(id))
        })
    })
    .await
}

#[derive(Serialize)]
struct QueryResponse {
    points: Vec<ScoredPoint>,
}

async fn query(State(state): AppState, name: NamePath, headers: HeaderMap, body: Body) -> Response {
    run_with_body(
        state,
        Operation::QdrantSearch,
        name,
        headers,
        body,
        |st, name, b: QueryBody| {
            validate(b.problems("internal"))?;
            let req = b.into_search()?;
            Ok(QueryResponse {
                points: st.qdrant.search(&name, &req)?,
            })
        },
    )
    .await
}

async fn query_batch(
    State(state): AppState,
    name: NamePath,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run_with_body(
        state,
        Operation::QdrantSearch,
        name,
        headers,
        body,
        |st, name, b: QueryBatchBody| {
            let reqs = batch(
                b.searches,
                "internal",
                QueryBody::problems,
                QueryBody::into_search,
            )?;
            Ok(st
                .qdrant
                .search_batch(&name, &reqs)?
                .into_iter()
                .map(|points| QueryResponse { points })
                .collect::<Vec<_>>())
        },
    )
    .await
}

async fn search(
    State(state): AppState,
    name: NamePath,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run_with_body(
        state,
        Operation::QdrantSearch,
        name,
        headers,
        body,
        |st, name, b: SearchBody| {
            validate(b.problems("search_request"))?;
            let req = b.into_search()?;
            Ok(st.qdrant.search(&name, &req)?)
        },
    )
    .await
}

async fn search_batch(
    State(state): AppState,
    name: NamePath,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run_with_body(
        state,
        Operation::QdrantSearch,
        name,
        headers,
        body,
        |st, name, b: SearchBatchBody| {
            let reqs = batch(
                b.searches,
                "search_request",
                SearchBody::problems,
                SearchBody::into_search,
            )?;
            Ok(st.qdrant.search_batch(&name, &reqs)?)
        },
    )
    .await
}

async fn scroll(
    State(state): AppState,
    name: NamePath,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run_with_body(
        state,
        Operation::QdrantOther,
        name,
        headers,
        body,
        |st, name, b: ScrollBody| {
            validate(b.problems())?;
            let req = b.into_scroll()?;
            Ok(st.qdrant.scroll(&name, &req)?)
        },
    )
    .await
}

async fn count(State(state): AppState, name: NamePath, headers: HeaderMap, body: Body) -> Response {
    run_with_body(
        state,
        Operation::QdrantOther,
        name,
        headers,
        body,
        |st, name, b: CountBody| {
            let _exact = b.exact; // always exact
            Ok(json!({ "count": st.qdrant.count(&name, b.filter.as_ref())? }))
        },
    )
    .await
}
