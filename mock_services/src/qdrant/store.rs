//! The in-memory store: collections of points (id, payload, one flat vector matrix per vector
//! space) and the operations the REST API exposes on them.
//!
//! Locking: the collection map sits behind one `RwLock` (taken briefly to find a collection) and
//! each collection behind its own, so a search holds a read lock on its collection only while it
//! computes, and writers to other collections never block it. Locks are never held across an
//! `.await` (the handlers sleep the injected latency after the operation has returned).
//!
//! Rows are dense (`0..len`): a deleted point's row is filled by the last one (swap-remove), so
//! search is always one pass over contiguous memory. A `BTreeMap` from id to row gives lookups
//! and the id order that `scroll` pages in.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde_json::{Map, Value};

use super::filter::{Filter, values_at};
use super::ids::PointId;
use super::info::{CollectionSpec, PayloadIndex, collection_info};
use super::model::{
    Distance, PointInput, Record, ScoredPoint, ScrollPage, VectorInput, VectorOutput, VectorParams,
    VectorValue, VectorsConfig, WithPayload, WithVector,
};
use super::search::{exact_top_k, normalize, threshold_similarity, to_score};

/// Why a store operation failed; `Display` is Qdrant's own message for the case.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// 404.
    #[error("Not found: Collection `{0}` doesn't exist!")]
    CollectionNotFound(String),
    /// 409.
    #[error("Wrong input: Collection `{0}` already exists!")]
    AlreadyExists(String),
    /// 404.
    #[error("Not found: No point with id {0} found")]
    PointNotFound(PointId),
    /// 400 (wrong dimension, unknown vector name, unsupported form…).
    #[error("Wrong input: {0}")]
    BadInput(String),
}

impl StoreError {
    /// The HTTP status Qdrant answers with.
    pub fn status(&self) -> u16 {
        match self {
            StoreError::CollectionNotFound(_) | StoreError::PointNotFound(_) => 404,
            StoreError::AlreadyExists(_) => 409,
            StoreError::BadInput(_) => 400,
        }
    }
}

/// What a search is near.
#[derive(Clone, Debug, PartialEq)]
pub enum Query {
    /// A dense vector.
    Vector(Vec<f32>),
    /// The vector of a stored point (that point is left out of the results).
    Point(PointId),
    /// No query: points in id order, score 0 (Qdrant's `query` without `query`).
    None,
}

/// One search, as the REST layer and the benches describe it.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchRequest {
    /// What to search near.
    pub query: Query,
    /// Vector space: `None` or `""` for the unnamed one.
    pub using: Option<String>,
    /// Payload filter.
    pub filter: Option<Filter>,
    /// Maximum number of results.
    pub limit: usize,
    /// Results to skip first.
    pub offset: usize,
    /// Drop results worse than this score (Cosine/Dot: lower; Euclid/Manhattan: higher).
    pub score_threshold: Option<f32>,
    /// Payload selection.
    pub with_payload: WithPayload,
    /// Vector selection.
    pub with_vector: WithVector,
}

impl SearchRequest {
    /// The `limit` nearest points to `vector` in the unnamed space, with their whole payload.
    pub fn nearest(vector: Vec<f32>, limit: usize) -> Self {
        SearchRequest {
            query: Query::Vector(vector),
            using: None,
            filter: None,
            limit,
            offset: 0,
            score_threshold: None,
            with_payload: WithPayload::All,
            with_vector: WithVector::None,
        }
    }
}

/// One page of points in id order.
#[derive(Clone, Debug, PartialEq)]
pub struct ScrollRequest {
    /// First id of the page (inclusive); `None` from the start.
    pub offset: Option<PointId>,
    /// Page size.
    pub limit: usize,
    /// Payload filter.
    pub filter: Option<Filter>,
    /// Payload selection.
    pub with_payload: WithPayload,
    /// Vector selection.
    pub with_vector: WithVector,
}

/// Which points a delete removes.
#[derive(Clone, Debug, PartialEq)]
pub enum PointSelector {
    /// These ids (missing ones are ignored).
    Ids(Vec<PointId>),
    /// Every point matching the filter.
    Filter(Filter),
}

#[derive(Debug)]
struct Space {
    name: String,
    params: VectorParams,
    /// Row-major, `rows × params.size`.
    data: Vec<f32>,
    present: Vec<bool>,
}

impl Space {
    fn row(&self, row: usize) -> &[f32] {
        &self.data[row * self.params.size..(row + 1) * self.params.size]
    }
}

/// One collection.
#[derive(Debug)]
pub struct Collection {
    spec: CollectionSpec,
    spaces: Vec<Space>,
    ids: Vec<PointId>,
    versions: Vec<u64>,
    payloads: Vec<Arc<Map<String, Value>>>,
    index: BTreeMap<PointId, usize>,
    payload_schema: BTreeMap<String, PayloadIndex>,
    next_op: u64,
}

fn dim_error(expected: usize, got: usize) -> StoreError {
    StoreError::BadInput(format!(
        "Vector dimension error: expected dim: {expected}, got {got}"
    ))
}

fn name_error(name: &str) -> StoreError {
    StoreError::BadInput(format!("Not existing vector name error: {name}"))
}

impl Collection {
    fn new(spec: CollectionSpec) -> Result<Self, StoreError> {
        let spaces = spec
            .vectors
            .as_ref()
            .map(VectorsConfig::spaces)
            .unwrap_or_default();
        if let Some((name, p)) = spaces.iter().find(|(_, p)| p.size == 0) {
            return Err(StoreError::BadInput(format!(
                "vector size of `{name}` must be at least 1, got {}",
                p.size
            )));
        }
        if let Some((name, _)) = spaces.iter().find(|(_, p)| {
            p.extra
                .get("multivector_config")
                .is_some_and(|v| !v.is_null())
        }) {
            return Err(StoreError::BadInput(format!(
                "multivector_config (vector `{name}`) is not supported by the ragperf mock"
            )));
        }
        Ok(Collection {
            spaces: spaces
                .into_iter()
                .map(|(name, params)| Space {
                    name,
                    params,
                    data: Vec::new(),
                    present: Vec::new(),
                })
                .collect(),
            spec,
            ids: Vec::new(),
            versions: Vec::new(),
            payloads: Vec::new(),
            index: BTreeMap::new(),
            payload_schema: BTreeMap::new(),
            next_op: 0,
        })
    }

    fn space(&self, name: &str) -> Result<usize, StoreError> {
        self.spaces
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| name_error(name))
    }

    fn take_op(&mut self) -> u64 {
        let op = self.next_op;
        self.next_op += 1;
        op
    }

    /// Checks a point's vectors and returns them per space (normalised for Cosine).
    fn resolve(&self, input: &VectorInput) -> Result<Vec<Option<Vec<f32>>>, StoreError> {
        let mut out: Vec<Option<Vec<f32>>> = vec![None; self.spaces.len()];
        let single;
        let named: &[(String, VectorValue)] = match input {
            VectorInput::Single(v) => {
                single = [(String::new(), v.clone())];
                &single
            }
            VectorInput::Named(list) => list,
        };
        for (name, value) in named {
            let si = self.space(name)?;
            let params = &self.spaces[si].params;
            let mut v = match value {
                VectorValue::Dense(v) => v.clone(),
                VectorValue::Unsupported(kind) => {
                    return Err(StoreError::BadInput(format!(
                        "{kind} are not supported by the ragperf mock (vector `{name}`): send dense vectors"
                    )));
                }
            };
            if v.len() != params.size {
                return Err(dim_error(params.size, v.len()));
            }
            if params.distance == Distance::Cosine {
                normalize(&mut v);
            }
            out[si] = Some(v);
        }
        Ok(out)
    }

    fn upsert(&mut self, points: Vec<PointInput>) -> Result<u64, StoreError> {
        // Validate the whole batch first: a bad point rejects the request and changes nothing.
        let resolved = points
            .iter()
            .map(|p| self.resolve(&p.vector))
            .collect::<Result<Vec<_>, _>>()?;
        let op = self.take_op();
        for (p, vectors) in points.into_iter().zip(resolved) {
            let row = match self.index.get(&p.id) {
                Some(&row) => row,
                None => {
                    let row = self.ids.len();
                    self.ids.push(p.id);
                    self.versions.push(op);
                    self.payloads.push(Arc::default());
                    for s in &mut self.spaces {
                        s.data.resize(s.data.len() + s.params.size, 0.0);
                        s.present.push(false);
                    }
                    self.index.insert(p.id, row);
                    row
                }
            };
            self.versions[row] = op;
            self.payloads[row] = Arc::new(p.payload.unwrap_or_default());
            for (s, v) in self.spaces.iter_mut().zip(vectors) {
                let dim = s.params.size;
                let slot = &mut s.data[row * dim..(row + 1) * dim];
                match v {
                    Some(v) => {
                        slot.copy_from_slice(&v);
                        s.present[row] = true;
                    }
                    None => {
                        slot.fill(0.0);
                        s.present[row] = false;
                    }
                }
            }
        }
        Ok(op)
    }

    fn remove_row(&mut self, row: usize) {
        let last = self.ids.len() - 1;
        self.index.remove(&self.ids[row]);
        self.ids.swap_remove(row);
        self.versions.swap_remove(row);
        self.payloads.swap_remove(row);
        for s in &mut self.spaces {
            let dim = s.params.size;
            if row != last {
                s.data.copy_within(last * dim..(last + 1) * dim, row * dim);
            }
            s.data.truncate(last * dim);
            s.present.swap_remove(row);
        }
        if row != last {
            self.index.insert(self.ids[row], row);
        }
    }

    fn delete(&mut self, selector: &PointSelector) -> u64 {
        let doomed: Vec<PointId> = match selector {
            PointSelector::Ids(ids) => ids.clone(),
            PointSelector::Filter(f) => self
                .ids
                .iter()
                .zip(&self.payloads)
                .filter(|(id, p)| f.matches(id, p))
                .map(|(id, _)| *id)
                .collect(),
        };
        for id in doomed {
            if let Some(&row) = self.index.get(&id) {
                self.remove_row(row);
            }
        }
        self.take_op()
    }

    fn vectors_of(&self, row: usize, with: &WithVector) -> Option<VectorOutput> {
        if *with == WithVector::None {
            return None;
        }
        match self.spec.vectors {
            Some(VectorsConfig::Single(_)) => {
                let s = &self.spaces[0];
                let wanted = with.wants("") && s.present[row];
                wanted.then(|| VectorOutput::Single(s.row(row).to_vec()))
            }
            _ => Some(VectorOutput::Named(
                self.spaces
                    .iter()
                    .filter(|s| with.wants(&s.name) && s.present[row])
                    .map(|s| (s.name.clone(), s.row(row).to_vec()))
                    .collect(),
            )),
        }
    }

    fn passes(&self, filter: Option<&Filter>, row: usize) -> bool {
        filter.is_none_or(|f| f.matches(&self.ids[row], &self.payloads[row]))
    }

    fn search(&self, req: &SearchRequest) -> Result<Vec<ScoredPoint>, StoreError> {
        let filter = req.filter.as_ref().filter(|f| !f.is_empty());
        let (mut query, exclude, si) = match &req.query {
            Query::None => {
                return Ok(self
                    .index
                    .values()
                    .filter(|&&row| self.passes(filter, row))
                    .skip(req.offset)
                    .take(req.limit)
                    .map(|&row| self.scored(row, 0.0, req))
                    .collect());
            }
            Query::Vector(v) => {
                let si = self.space(req.using.as_deref().unwrap_or(""))?;
                let dim = self.spaces[si].params.size;
                if v.len() != dim {
                    return Err(dim_error(dim, v.len()));
                }
                (v.clone(), None, si)
            }
            Query::Point(id) => {
                let name = req.using.as_deref().unwrap_or("");
                let si = self.space(name)?;
                let row = *self.index.get(id).ok_or(StoreError::PointNotFound(*id))?;
                if !self.spaces[si].present[row] {
                    return Err(StoreError::BadInput(format!(
                        "point {id} has no vector `{name}` to search with"
                    )));
                }
                (self.spaces[si].row(row).to_vec(), Some(row), si)
            }
        };
        let space = &self.spaces[si];
        let distance = space.params.distance;
        if distance == Distance::Cosine {
            normalize(&mut query);
        }
        let hits = exact_top_k(
            distance,
            &query,
            &space.data,
            &self.ids,
            req.limit.saturating_add(req.offset),
            req.score_threshold
                .map(|t| threshold_similarity(distance, t)),
            |row| space.present[row] && Some(row) != exclude && self.passes(filter, row),
        );
        Ok(hits
            .into_iter()
            .skip(req.offset)
            .map(|h| self.scored(h.row, to_score(distance, h.similarity), req))
            .collect())
    }

    fn scored(&self, row: usize, score: f32, req: &SearchRequest) -> ScoredPoint {
        ScoredPoint {
            id: self.ids[row],
            version: self.versions[row],
            score,
            payload: req.with_payload.select(&self.payloads[row]),
            vector: self.vectors_of(row, &req.with_vector),
        }
    }

    fn record(&self, row: usize, wp: &WithPayload, wv: &WithVector) -> Record {
        Record {
            id: self.ids[row],
            payload: wp.select(&self.payloads[row]),
            vector: self.vectors_of(row, wv),
        }
    }

    fn scroll(&self, req: &ScrollRequest) -> ScrollPage {
        let filter = req.filter.as_ref().filter(|f| !f.is_empty());
        let start = req.offset.unwrap_or(PointId::Num(0));
        let mut rows = self
            .index
            .range(start..)
            .map(|(_, &row)| row)
            .filter(|&row| self.passes(filter, row));
        let points = rows
            .by_ref()
            .take(req.limit)
            .map(|row| self.record(row, &req.with_payload, &req.with_vector))
            .collect();
        ScrollPage {
            points,
            next_page_offset: rows.next().map(|row| self.ids[row]),
        }
    }
}

/// Every collection of the mock.
#[derive(Debug, Default)]
pub struct Store {
    collections: RwLock<BTreeMap<String, Arc<RwLock<Collection>>>>,
}

// A poisoned lock means a panic happened mid-operation elsewhere; the data is still usable for a
// mock, so keep serving instead of failing every later request.
fn rd<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn wr<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Store::default()
    }

    fn get(&self, name: &str) -> Result<Arc<RwLock<Collection>>, StoreError> {
        rd(&self.collections)
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::CollectionNotFound(name.to_string()))
    }

    fn read<T>(&self, name: &str, f: impl FnOnce(&Collection) -> T) -> Result<T, StoreError> {
        let c = self.get(name)?;
        let guard = rd(&c);
        Ok(f(&guard))
    }

    fn write<T>(&self, name: &str, f: impl FnOnce(&mut Collection) -> T) -> Result<T, StoreError> {
        let c = self.get(name)?;
        let mut guard = wr(&c);
        Ok(f(&mut guard))
    }

    /// Creates a collection; `AlreadyExists` if the name is taken.
    pub fn create_collection(&self, name: &str, spec: CollectionSpec) -> Result<(), StoreError> {
        let collection = Collection::new(spec)?;
        let mut map = wr(&self.collections);
        if map.contains_key(name) {
            return Err(StoreError::AlreadyExists(name.to_string()));
        }
        map.insert(name.to_string(), Arc::new(RwLock::new(collection)));
        Ok(())
    }

    /// Drops a collection; `false` if there was none.
    pub fn delete_collection(&self, name: &str) -> bool {
        wr(&self.collections).remove(name).is_some()
    }

    /// Collection names, sorted.
    pub fn collection_names(&self) -> Vec<String> {
        rd(&self.collections).keys().cloned().collect()
    }

    /// Does the collection exist?
    pub fn exists(&self, name: &str) -> bool {
        rd(&self.collections).contains_key(name)
    }

    /// Number of points in a collection.
    pub fn point_count(&self, name: &str) -> Result<usize, StoreError> {
        self.read(name, |c| c.ids.len())
    }

    /// Qdrant's `CollectionInfo` as JSON.
    pub fn collection_info(&self, name: &str) -> Result<Value, StoreError> {
        self.read(name, |c| {
            collection_info(&c.spec, c.ids.len(), &c.payload_schema, |field| {
                c.payloads
                    .iter()
                    .filter(|p| !values_at(p, field).is_empty())
                    .count()
            })
        })
    }

    /// Inserts or replaces points (atomically: one bad point rejects the batch). Returns the
    /// operation id.
    pub fn upsert(&self, name: &str, points: Vec<PointInput>) -> Result<u64, StoreError> {
        self.write(name, |c| c.upsert(points))?
    }

    /// Deletes points. Returns the operation id.
    pub fn delete_points(&self, name: &str, selector: &PointSelector) -> Result<u64, StoreError> {
        self.write(name, |c| c.delete(selector))
    }

    /// Records a payload index (filters work without one; it shows in `payload_schema`).
    pub fn create_payload_index(
        &self,
        name: &str,
        field: &str,
        index: PayloadIndex,
    ) -> Result<u64, StoreError> {
        self.write(name, |c| {
            c.payload_schema.insert(field.to_string(), index);
            c.take_op()
        })
    }

    /// Forgets a payload index.
    pub fn delete_payload_index(&self, name: &str, field: &str) -> Result<u64, StoreError> {
        self.write(name, |c| {
            c.payload_schema.remove(field);
            c.take_op()
        })
    }

    /// Exact nearest-neighbour search.
    pub fn search(&self, name: &str, req: &SearchRequest) -> Result<Vec<ScoredPoint>, StoreError> {
        self.read(name, |c| c.search(req))?
    }

    /// Several searches under one read lock.
    pub fn search_batch(
        &self,
        name: &str,
        reqs: &[SearchRequest],
    ) -> Result<Vec<Vec<ScoredPoint>>, StoreError> {
        self.read(name, |c| reqs.iter().map(|r| c.search(r)).collect())?
    }

    /// One page of points in id order.
    pub fn scroll(&self, name: &str, req: &ScrollRequest) -> Result<ScrollPage, StoreError> {
        self.read(name, |c| c.scroll(req))
    }

    /// Number of points matching the filter (all points without one).
    pub fn count(&self, name: &str, filter: Option<&Filter>) -> Result<usize, StoreError> {
        self.read(name, |c| {
            let filter = filter.filter(|f| !f.is_empty());
            match filter {
                None => c.ids.len(),
                Some(_) => (0..c.ids.len()).filter(|&r| c.passes(filter, r)).count(),
            }
        })
    }

    /// The points with these ids, in the order asked (missing ids are skipped).
    pub fn retrieve(
        &self,
        name: &str,
        ids: &[PointId],
        with_payload: &WithPayload,
        with_vector: &WithVector,
    ) -> Result<Vec<Record>, StoreError> {
        self.read(name, |c| {
            ids.iter()
                .filter_map(|id| c.index.get(id))
                .map(|&row| c.record(row, with_payload, with_vector))
                .collect()
        })
    }
}
