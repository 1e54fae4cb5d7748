//! Tests of [`Store`]: writes, search through the store (named and unnamed spaces, filters,
//! thresholds, offsets), scroll paging, count, delete and the demo corpus.

use std::collections::BTreeSet;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::model::VectorOutput;
use super::*;
use crate::config::QdrantConfig;
use crate::embedding::embed;

fn point(id: u64, v: Vec<f32>, payload: Value) -> PointInput {
    PointInput {
        id: PointId::Num(id),
        vector: VectorInput::Single(VectorValue::Dense(v)),
        payload: payload.as_object().cloned(),
    }
}

fn filter(v: Value) -> Filter {
    Filter::parse(&v).unwrap()
}

fn ids(points: &[ScoredPoint]) -> Vec<u64> {
    points
        .iter()
        .map(|p| match p.id {
            PointId::Num(n) => n,
            PointId::Uuid(_) => u64::MAX,
        })
        .collect()
}

/// A collection of `n` random 8-dim points with `topic` cycling a/b/c and `n` = the id.
fn random_store(n: u64, distance: Distance) -> Store {
    let s = Store::new();
    s.create_collection("c", CollectionSpec::single(8, distance))
        .unwrap();
    let mut rng = StdRng::seed_from_u64(9);
    let topics = ["a", "b", "c"];
    let points = (1..=n)
        .map(|i| {
            let v = (0..8).map(|_| rng.random_range(-1.0..1.0)).collect();
            point(i, v, json!({"topic": topics[(i % 3) as usize], "n": i}))
        })
        .collect();
    s.upsert("c", points).unwrap();
    s
}

#[test]
fn create_exists_delete_and_errors() {
    let s = Store::new();
    assert!(!s.exists("c"));
    s.create_collection("c", CollectionSpec::single(2, Distance::Dot))
        .unwrap();
    assert!(s.exists("c"));
    assert_eq!(
        s.create_collection("c", CollectionSpec::single(2, Distance::Dot)),
        Err(StoreError::AlreadyExists("c".into()))
    );
    assert_eq!(s.collection_names(), vec!["c".to_string()]);
    let missing = s
        .search("zz", &SearchRequest::nearest(vec![1.0, 0.0], 1))
        .unwrap_err();
    assert_eq!(
        missing.to_string(),
        "Not found: Collection `zz` doesn't exist!"
    );
    assert_eq!(missing.status(), 404);
    let e = s
        .upsert("c", vec![point(1, vec![1.0], json!({}))])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Wrong input: Vector dimension error: expected dim: 2, got 1"
    );
    assert_eq!(e.status(), 400);
    let e = s
        .search("c", &SearchRequest::nearest(vec![1.0; 3], 1))
        .unwrap_err();
    assert!(e.to_string().contains("expected dim: 2, got 3"));
    assert!(s.delete_collection("c"));
    assert!(!s.delete_collection("c"));
    assert!(
        s.create_collection("z", CollectionSpec::single(0, Distance::Dot))
            .is_err()
    );
}

#[test]
fn a_bad_point_rejects_the_whole_batch() {
    let s = Store::new();
    s.create_collection("c", CollectionSpec::single(2, Distance::Dot))
        .unwrap();
    let batch = vec![
        point(1, vec![1.0, 0.0], json!({})),
        point(2, vec![1.0], json!({})),
    ];
    assert!(s.upsert("c", batch).is_err());
    assert_eq!(s.point_count("c").unwrap(), 0);
}

#[test]
fn upsert_replaces_and_versions_follow_operations() {
    let s = Store::new();
    s.create_collection("c", CollectionSpec::single(2, Distance::Cosine))
        .unwrap();
    let op0 = s
        .upsert("c", vec![point(1, vec![3.0, 4.0], json!({"v": 1}))])
        .unwrap();
    let op1 = s
        .upsert("c", vec![point(1, vec![0.0, 2.0], json!({"v": 2}))])
        .unwrap();
    assert_eq!((op0, op1), (0, 1));
    assert_eq!(s.point_count("c").unwrap(), 1);
    let mut req = SearchRequest::nearest(vec![0.0, 1.0], 5);
    req.with_vector = WithVector::All;
    let hits = s.search("c", &req).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].version, 1);
    assert!((hits[0].score - 1.0).abs() < 1e-6);
    assert_eq!(
        serde_json::to_value(&hits[0].payload).unwrap(),
        json!({"v": 2})
    );
    // Cosine vectors are stored normalised, and returned so.
    assert_eq!(
        serde_json::to_value(&hits[0].vector).unwrap(),
        json!([0.0, 1.0])
    );
}

#[test]
fn store_search_matches_brute_force_with_filter_threshold_and_offset() {
    for distance in [
        Distance::Cosine,
        Distance::Dot,
        Distance::Euclid,
        Distance::Manhattan,
    ] {
        let s = random_store(200, distance);
        let q: Vec<f32> = (0..8).map(|i| (i as f32 * 0.3).sin()).collect();
        let all = s
            .search("c", &SearchRequest::nearest(q.clone(), 200))
            .unwrap();
        assert_eq!(all.len(), 200);
        let higher_better = matches!(distance, Distance::Cosine | Distance::Dot);
        for w in all.windows(2) {
            if higher_better {
                assert!(w[0].score >= w[1].score, "{distance:?}");
            } else {
                assert!(w[0].score <= w[1].score, "{distance:?}");
            }
        }
        // Filter = the unfiltered ranking restricted to matching points.
        let mut req = SearchRequest::nearest(q.clone(), 7);
        req.filter = Some(filter(
            json!({"must": {"key": "topic", "match": {"value": "b"}}}),
        ));
        let got = s.search("c", &req).unwrap();
        let want: Vec<_> = all
            .iter()
            .filter(|p| p.payload.as_ref().unwrap().0["topic"] == "b")
            .take(7)
            .cloned()
            .collect();
        assert_eq!(ids(&got), ids(&want), "{distance:?}");
        // Offset = the same ranking shifted.
        let mut req = SearchRequest::nearest(q.clone(), 5);
        req.offset = 10;
        assert_eq!(ids(&s.search("c", &req).unwrap()), ids(&all[10..15]));
        // Threshold = a prefix of the ranking.
        let mut req = SearchRequest::nearest(q.clone(), 200);
        req.score_threshold = Some(all[20].score);
        let got = s.search("c", &req).unwrap();
        assert!(
            got.len() >= 21 && got.len() < 200,
            "{distance:?} {}",
            got.len()
        );
        assert_eq!(ids(&got), ids(&all[..got.len()]));
    }
}

#[test]
fn named_vectors_and_query_by_point() {
    let s = Store::new();
    let spec: CollectionSpec = serde_json::from_value(json!({"vectors": {
        "text-dense": {"size": 2, "distance": "Cosine"},
        "img": {"size": 3, "distance": "Euclid"}
    }}))
    .unwrap();
    s.create_collection("n", spec).unwrap();
    let named = |id: u64, t: Vec<f32>, img: Option<Vec<f32>>| {
        let mut v = vec![("text-dense".to_string(), VectorValue::Dense(t))];
        if let Some(i) = img {
            v.push(("img".to_string(), VectorValue::Dense(i)));
        }
        PointInput {
            id: PointId::Num(id),
            vector: VectorInput::Named(v),
            payload: None,
        }
    };
    s.upsert(
        "n",
        vec![
            named(1, vec![1.0, 0.0], Some(vec![0.0, 0.0, 0.0])),
            named(2, vec![0.0, 1.0], None),
            named(3, vec![1.0, 0.1], Some(vec![5.0, 0.0, 0.0])),
        ],
    )
    .unwrap();
    let mut req = SearchRequest::nearest(vec![1.0, 0.0], 3);
    req.using = Some("text-dense".into());
    assert_eq!(ids(&s.search("n", &req).unwrap()), vec![1, 3, 2]);
    // Points without the `img` vector are not candidates there.
    let mut req = SearchRequest::nearest(vec![4.0, 0.0, 0.0], 3);
    req.using = Some("img".into());
    req.with_vector = WithVector::Names(vec!["img".into()]);
    let hits = s.search("n", &req).unwrap();
    assert_eq!(ids(&hits), vec![3, 1]);
    assert_eq!(hits[0].score, 1.0);
    assert_eq!(
        serde_json::to_value(&hits[0].vector).unwrap(),
        json!({"img": [5.0, 0.0, 0.0]})
    );
    // The unnamed space does not exist here.
    let e = s
        .search("n", &SearchRequest::nearest(vec![1.0, 0.0], 1))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Wrong input: Not existing vector name error: "
    );
    // Query by point id: that point's vector, the point itself left out.
    let mut req = SearchRequest::nearest(vec![], 3);
    req.query = Query::Point(PointId::Num(1));
    req.using = Some("text-dense".into());
    assert_eq!(ids(&s.search("n", &req).unwrap()), vec![3, 2]);
    req.query = Query::Point(PointId::Num(99));
    assert_eq!(
        s.search("n", &req).unwrap_err().to_string(),
        "Not found: No point with id 99 found"
    );
}

#[test]
fn unnamed_collection_accepts_the_empty_name_and_uuid_ids() {
    let s = Store::new();
    s.create_collection("u", CollectionSpec::single(2, Distance::Dot))
        .unwrap();
    let uuid = PointId::parse_uuid("550e8400-e29b-41d4-a716-446655440000").unwrap();
    s.upsert(
        "u",
        vec![PointInput {
            id: uuid,
            vector: VectorInput::Named(vec![(String::new(), VectorValue::Dense(vec![1.0, 2.0]))]),
            payload: None,
        }],
    )
    .unwrap();
    let mut req = SearchRequest::nearest(vec![1.0, 0.0], 1);
    req.using = Some(String::new());
    let hits = s.search("u", &req).unwrap();
    assert_eq!(hits[0].id, uuid);
    let e = s
        .upsert(
            "u",
            vec![PointInput {
                id: PointId::Num(1),
                vector: VectorInput::Named(vec![("x".into(), VectorValue::Dense(vec![1.0, 2.0]))]),
                payload: None,
            }],
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Wrong input: Not existing vector name error: x"
    );
}

#[test]
fn scroll_pages_cover_every_point_exactly_once() {
    let s = random_store(103, Distance::Dot);
    let uuid = PointId::parse_uuid("00000000-0000-0000-0000-0000000000aa").unwrap();
    s.upsert(
        "c",
        vec![PointInput {
            id: uuid,
            vector: VectorInput::Single(VectorValue::Dense(vec![0.0; 8])),
            payload: None,
        }],
    )
    .unwrap();
    for (f, expected) in [
        (None, 104),
        (
            Some(filter(
                json!({"must": [{"key": "topic", "match": {"value": "a"}}]}),
            )),
            34,
        ),
    ] {
        let mut seen = Vec::new();
        let mut offset = None;
        let mut pages = 0;
        loop {
            let page = s
                .scroll(
                    "c",
                    &ScrollRequest {
                        offset,
                        limit: 10,
                        filter: f.clone(),
                        with_payload: WithPayload::None,
                        with_vector: WithVector::None,
                    },
                )
                .unwrap();
            pages += 1;
            assert!(page.points.len() <= 10);
            seen.extend(page.points.iter().map(|r| r.id));
            match page.next_page_offset {
                Some(next) => offset = Some(next),
                None => break,
            }
        }
        assert_eq!(seen.len(), expected);
        assert_eq!(
            seen.iter().collect::<BTreeSet<_>>().len(),
            expected,
            "duplicates"
        );
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "id order");
        assert_eq!(pages, expected.div_ceil(10));
        if f.is_none() {
            assert_eq!(*seen.last().unwrap(), uuid, "UUIDs after integers");
        }
    }
}

#[test]
fn count_and_delete() {
    let s = random_store(30, Distance::Cosine);
    assert_eq!(s.count("c", None).unwrap(), 30);
    let f = filter(json!({"must": [{"key": "n", "range": {"gt": 10, "lte": 20}}]}));
    assert_eq!(s.count("c", Some(&f)).unwrap(), 10);
    let should = filter(json!({"should": [{"key": "topic", "match": {"value": "a"}},
                                          {"has_id": [1, 2]}]}));
    assert_eq!(s.count("c", Some(&should)).unwrap(), 10 + 2);
    s.delete_points("c", &PointSelector::Filter(f.clone()))
        .unwrap();
    assert_eq!(s.count("c", None).unwrap(), 20);
    assert_eq!(s.count("c", Some(&f)).unwrap(), 0);
    s.delete_points(
        "c",
        &PointSelector::Ids(vec![PointId::Num(1), PointId::Num(999)]),
    )
    .unwrap();
    assert_eq!(s.count("c", None).unwrap(), 19);
    // Rows moved by swap-remove still answer with their own vector and payload.
    let all = s
        .retrieve(
            "c",
            &[PointId::Num(30)],
            &WithPayload::All,
            &WithVector::All,
        )
        .unwrap();
    assert_eq!(all[0].payload.as_ref().unwrap().0["n"], 30);
    let VectorOutput::Single(v) = all[0].vector.clone().unwrap() else {
        panic!()
    };
    let mut req = SearchRequest::nearest(v, 1);
    req.with_payload = WithPayload::Include(vec!["n".into()]);
    let hit = &s.search("c", &req).unwrap()[0];
    assert_eq!(hit.id, PointId::Num(30));
    assert!((hit.score - 1.0).abs() < 1e-5);
}

#[test]
fn query_without_vector_lists_points_in_id_order() {
    let s = random_store(12, Distance::Dot);
    let mut req = SearchRequest::nearest(vec![], 4);
    req.query = Query::None;
    req.offset = 2;
    let hits = s.search("c", &req).unwrap();
    assert_eq!(ids(&hits), vec![3, 4, 5, 6]);
    assert!(hits.iter().all(|h| h.score == 0.0));
}

#[test]
fn collection_info_counts_indexed_points() {
    let s = random_store(9, Distance::Dot);
    let idx = info::PayloadIndex::parse(&json!("keyword")).unwrap();
    s.create_payload_index("c", "topic", idx).unwrap();
    let info = s.collection_info("c").unwrap();
    assert_eq!(info["points_count"], 9);
    assert_eq!(info["payload_schema"]["topic"]["points"], 9);
    assert_eq!(info["config"]["params"]["vectors"]["size"], 8);
    s.delete_payload_index("c", "topic").unwrap();
    assert_eq!(s.collection_info("c").unwrap()["payload_schema"], json!({}));
}

#[test]
fn demo_corpus_answers_a_question_with_its_passage() {
    let cfg = QdrantConfig {
        corpus_size: 200,
        ..QdrantConfig::default()
    };
    let s = Store::with_demo_corpus(&cfg);
    assert_eq!(s.point_count(&cfg.collection).unwrap(), 200);
    for id in [2u64, 42, 137] {
        let p = passage(id);
        let question = format!("{}?", p.text.lines().nth(1).unwrap_or(&p.title));
        let hits = s
            .search(
                &cfg.collection,
                &SearchRequest::nearest(embed(&question, 256, true), 3),
            )
            .unwrap();
        assert_eq!(hits[0].id, PointId::Num(id), "{question}");
        let payload = &hits[0].payload.as_ref().unwrap().0;
        assert_eq!(payload["doc_id"], format!("doc-{id:04}"));
    }
    // The seed's question finds site-status reports without a filter, the named site among them.
    let q = embed("What is the site status at Riverside this week?", 256, true);
    let hits = s
        .search(&cfg.collection, &SearchRequest::nearest(q, 5))
        .unwrap();
    let payloads: Vec<_> = hits
        .iter()
        .map(|h| &h.payload.as_ref().unwrap().0)
        .collect();
    assert!(
        payloads.iter().all(|p| p["topic"] == "site-status"),
        "{payloads:?}"
    );
    assert!(
        payloads
            .iter()
            .any(|p| p["title"].as_str().unwrap().contains("Riverside")),
        "{payloads:?}"
    );
    // A topic filter restricts the answers to that topic.
    let mut req = SearchRequest::nearest(embed("What is the site status?", 256, true), 5);
    req.filter = Some(filter(
        json!({"must": {"key": "topic", "match": {"value": "site-status"}}}),
    ));
    let hits = s.search(&cfg.collection, &req).unwrap();
    assert_eq!(hits.len(), 5);
    assert!(
        hits.iter()
            .all(|h| h.payload.as_ref().unwrap().0["topic"] == "site-status")
    );
}

/// Points missing a named vector take no room in that space, and the slots stay consistent
/// through replaces, deletes (swap-removes) and failed upserts.
#[test]
fn sparse_named_spaces_survive_replace_delete_and_failed_upserts() {
    let s = Store::new();
    let spec: CollectionSpec = serde_json::from_value(json!({"vectors": {
        "a": {"size": 2, "distance": "Dot"},
        "big": {"size": MAX_VECTOR_SIZE, "distance": "Dot"}
    }}))
    .unwrap();
    s.create_collection("s", spec).unwrap();
    let only_a = |id: u64, x: f32| PointInput {
        id: PointId::Num(id),
        vector: VectorInput::Named(vec![("a".into(), VectorValue::Dense(vec![x, 0.0]))]),
        payload: None,
    };
    // 1,000 points without the 65,536-wide vector: no 262 MB of zeros.
    s.upsert("s", (1..=1_000).map(|i| only_a(i, i as f32)).collect())
        .unwrap();
    let mut big = vec![0.0; MAX_VECTOR_SIZE];
    big[0] = 1.0;
    let with_big = |id: u64| PointInput {
        id: PointId::Num(id),
        vector: VectorInput::Named(vec![
            ("a".into(), VectorValue::Dense(vec![0.5, 0.0])),
            ("big".into(), VectorValue::Dense(big.clone())),
        ]),
        payload: None,
    };
    s.upsert("s", vec![with_big(3), with_big(7)]).unwrap();
    // Delete rows so that others move (swap-remove), then drop 3's big vector by replacing it.
    s.delete_points(
        "s",
        &PointSelector::Ids(vec![PointId::Num(1), PointId::Num(7)]),
    )
    .unwrap();
    s.upsert("s", vec![with_big(999), only_a(3, 3.0)]).unwrap();
    let mut q = SearchRequest::nearest(big.clone(), 10);
    q.using = Some("big".into());
    assert_eq!(ids(&s.search("s", &q).unwrap()), vec![999]);
    let mut q = SearchRequest::nearest(vec![1.0, 0.0], 2);
    q.using = Some("a".into());
    assert_eq!(ids(&s.search("s", &q).unwrap()), vec![1_000, 998]);

    // A batch with one bad vector changes nothing, not even the good points before it.
    let before = s.point_count("s").unwrap();
    let bad = PointInput {
        id: PointId::Num(20_000),
        vector: VectorInput::Named(vec![("big".into(), VectorValue::Dense(vec![1.0; 3]))]),
        payload: None,
    };
    let e = s.upsert("s", vec![only_a(5, -1.0), with_big(20_001), bad]);
    assert!(
        e.unwrap_err()
            .to_string()
            .contains("expected dim: 65536, got 3")
    );
    assert_eq!(s.point_count("s").unwrap(), before);
    let mut q = SearchRequest::nearest(vec![-1.0, 0.0], 1);
    q.using = Some("a".into());
    // Point 5 would score 1 with the rejected vector; 999 (a = 0.5) is best without it.
    assert_eq!(
        ids(&s.search("s", &q).unwrap()),
        vec![999],
        "point 5 kept its vector"
    );
}

#[test]
fn sizes_beyond_qdrants_limit_are_refused_before_any_allocation() {
    let s = Store::new();
    let e = s
        .create_collection(
            "h",
            CollectionSpec::single(1_125_899_906_842_624, Distance::Dot),
        )
        .unwrap_err();
    assert!(e.to_string().contains("from 1 to 65536"), "{e}");
    assert!(!s.exists("h"));
}
