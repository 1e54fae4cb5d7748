//! One collection: points as dense rows (id, version, payload) and one flat row-major vector
//! matrix per vector space, with the operations on them (upsert, delete, exact search, scroll).
//!
//! Rows are dense (`0..len`): a deleted point's row is filled by the last one (swap-remove), so a
//! search is always one pass over contiguous memory. A `BTreeMap` from id to row gives lookups
//! and the id order that `scroll` pages in. Locking is the caller's ([`super::store::Store`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::filter::{Filter, values_at};
use super::ids::PointId;
use super::info::{CollectionSpec, PayloadIndex, collection_info};
use super::model::{
    Distance, PointInput, Record, ScoredPoint, ScrollPage, VectorInput, VectorOutput, VectorParams,
    VectorValue, VectorsConfig, WithPayload, WithVector,
};
use super::search::{exact_top_k, normalize, threshold_similarity, to_score};
use super::store::{PointSelector, Query, ScrollRequest, SearchRequest, StoreError};

/// Largest vector size Qdrant accepts (`range(min = 1, max = 65536)` on `VectorParams.size`).
pub const MAX_VECTOR_SIZE: usize = 65_536;

/// One vector space. Only points that have a vector in it take memory: the vectors sit in
/// `data` as dense slots (`slots × size`, row-major) and `slot_of[row]` says which slot, if any,
/// holds a point's vector. A point without one costs 4 bytes here, never `size` zeros.
#[derive(Debug)]
struct Space {
    name: String,
    params: VectorParams,
    data: Vec<f32>,
    /// Per slot: the id of the point it belongs to (scores tie-break on it).
    slot_ids: Vec<PointId>,
    /// Per slot: the point's row.
    slot_rows: Vec<usize>,
    /// Per row: its slot, or [`NO_SLOT`].
    slot_of: Vec<u32>,
}

const NO_SLOT: u32 = u32::MAX;

impl Space {
    fn slot(&self, row: usize) -> Option<usize> {
        match self.slot_of[row] {
            NO_SLOT => None,
            s => Some(s as usize),
        }
    }

    fn vector(&self, row: usize) -> Option<&[f32]> {
        let dim = self.params.size;
        self.slot(row).map(|s| &self.data[s * dim..(s + 1) * dim])
    }

    /// Stores `v` (already checked to be `size` long) as the vector of `row`.
    fn set(&mut self, row: usize, id: PointId, v: &[f32]) {
        let dim = self.params.size;
        match self.slot(row) {
            Some(s) => self.data[s * dim..(s + 1) * dim].copy_from_slice(v),
            None => {
                self.slot_of[row] = self.slot_ids.len() as u32;
                self.slot_ids.push(id);
                self.slot_rows.push(row);
                self.data.extend_from_slice(v);
            }
        }
    }

    /// Forgets the vector of `row` (the last slot fills the hole).
    fn clear(&mut self, row: usize) {
        let Some(s) = self.slot(row) else {
            return;
        };
        let dim = self.params.size;
        let last = self.slot_ids.len() - 1;
        if s != last {
            self.data.copy_within(last * dim..(last + 1) * dim, s * dim);
            self.slot_of[self.slot_rows[last]] = s as u32;
        }
        self.data.truncate(last * dim);
        self.slot_ids.swap_remove(s);
        self.slot_rows.swap_remove(s);
        self.slot_of[row] = NO_SLOT;
    }

    /// Removes `row` the way the collection does (swap-remove: the last row moves into it).
    fn remove_row(&mut self, row: usize) {
        self.clear(row);
        let last = self.slot_of.len() - 1;
        self.slot_of.swap_remove(row);
        if row != last
            && let Some(s) = self.slot(row)
        {
            self.slot_rows[s] = row;
        }
    }
}

/// One collection.
/// One collection (see the module doc).
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
    /// An empty collection with the spec's vector spaces.
    pub(super) fn new(spec: CollectionSpec) -> Result<Self, StoreError> {
        let spaces = spec
            .vectors
            .as_ref()
            .map(VectorsConfig::spaces)
            .unwrap_or_default();
        if let Some((name, p)) = spaces
            .iter()
            .find(|(_, p)| p.size == 0 || p.size > MAX_VECTOR_SIZE)
        {
            return Err(StoreError::BadInput(format!(
                "vector size of `{name}` must be from 1 to {MAX_VECTOR_SIZE}, got {}",
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
                    slot_ids: Vec::new(),
                    slot_rows: Vec::new(),
                    slot_of: Vec::new(),
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

    pub(super) fn upsert(&mut self, points: Vec<PointInput>) -> Result<u64, StoreError> {
        // Validate the whole batch first: a bad point rejects the request and changes nothing.
        // What is applied after this cannot fail: every vector has its space's size, and memory
        // grows only by the vectors the request carried.
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
                        s.slot_of.push(NO_SLOT);
                    }
                    self.index.insert(p.id, row);
                    row
                }
            };
            self.versions[row] = op;
            self.payloads[row] = Arc::new(p.payload.unwrap_or_default());
            for (s, v) in self.spaces.iter_mut().zip(vectors) {
                match v {
                    Some(v) => s.set(row, p.id, &v),
                    None => s.clear(row),
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
            s.remove_row(row);
        }
        if row != last {
            self.index.insert(self.ids[row], row);
        }
    }

    pub(super) fn delete(&mut self, selector: &PointSelector) -> u64 {
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
                let v = s.vector(row).filter(|_| with.wants(""));
                v.map(|v| VectorOutput::Single(v.to_vec()))
            }
            _ => Some(VectorOutput::Named(
                self.spaces
                    .iter()
                    .filter(|s| with.wants(&s.name))
                    .filter_map(|s| s.vector(row).map(|v| (s.name.clone(), v.to_vec())))
                    .collect(),
            )),
        }
    }

    fn passes(&self, filter: Option<&Filter>, row: usize) -> bool {
        filter.is_none_or(|f| f.matches(&self.ids[row], &self.payloads[row]))
    }

    pub(super) fn search(&self, req: &SearchRequest) -> Result<Vec<ScoredPoint>, StoreError> {
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
                let Some(v) = self.spaces[si].vector(row) else {
                    return Err(StoreError::BadInput(format!(
                        "point {id} has no vector `{name}` to search with"
                    )));
                };
                (v.to_vec(), Some(row), si)
            }
        };
        let space = &self.spaces[si];
        let distance = space.params.distance;
        if distance == Distance::Cosine {
            normalize(&mut query);
        }
        // The search runs over the space's slots; `Hit::row` is a slot until mapped back.
        let hits = exact_top_k(
            distance,
            &query,
            &space.data,
            &space.slot_ids,
            req.limit.saturating_add(req.offset),
            req.score_threshold
                .map(|t| threshold_similarity(distance, t)),
            |slot| {
                let row = space.slot_rows[slot];
                Some(row) != exclude && self.passes(filter, row)
            },
        );
        Ok(hits
            .into_iter()
            .skip(req.offset)
            .map(|h| {
                let row = space.slot_rows[h.row];
                self.scored(row, to_score(distance, h.similarity), req)
            })
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

    pub(super) fn scroll(&self, req: &ScrollRequest) -> ScrollPage {
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

    /// Number of points.
    pub(super) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Qdrant's `CollectionInfo`.
    pub(super) fn info(&self) -> Value {
        collection_info(&self.spec, self.ids.len(), &self.payload_schema, |field| {
            self.payloads
                .iter()
                .filter(|p| !values_at(p, field).is_empty())
                .count()
        })
    }

    /// Records a payload index; returns the operation id.
    pub(super) fn create_index(&mut self, field: &str, index: PayloadIndex) -> u64 {
        self.payload_schema.insert(field.to_string(), index);
        self.take_op()
    }

    /// Forgets a payload index; returns the operation id.
    pub(super) fn delete_index(&mut self, field: &str) -> u64 {
        self.payload_schema.remove(field);
        self.take_op()
    }

    /// Points matching the filter (all without one).
    pub(super) fn count(&self, filter: Option<&Filter>) -> usize {
        match filter.filter(|f| !f.is_empty()) {
            None => self.ids.len(),
            f => (0..self.ids.len()).filter(|&r| self.passes(f, r)).count(),
        }
    }

    /// The points with these ids, in the order asked (missing ids are skipped).
    pub(super) fn retrieve(
        &self,
        ids: &[PointId],
        wp: &WithPayload,
        wv: &WithVector,
    ) -> Vec<Record> {
        ids.iter()
            .filter_map(|id| self.index.get(id))
            .map(|&row| self.record(row, wp, wv))
            .collect()
    }
}
