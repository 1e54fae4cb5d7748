//! Mock Qdrant over real HTTP: every endpoint, the envelope, each error shape, the demo corpus,
//! injected latency and faults.

use std::time::{Duration, Instant};

use mock_services::config::MockConfig;
use mock_services::embedding::embed;
use mock_services::latency::Dist;
use mock_services::qdrant::passage;
use mock_services::{Bind, MockServices};
use serde_json::{Value, json};

struct Mock {
    services: MockServices,
    http: reqwest::Client,
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
    text: String,
}

fn config() -> MockConfig {
    let mut c = MockConfig {
        time_scale: 0.01,
        ..MockConfig::default()
    };
    c.qdrant.corpus_size = 200;
    c
}

impl Mock {
    async fn start(config: MockConfig) -> Mock {
        let services = MockServices::start(config, Bind::default()).await.unwrap();
        Mock {
            services,
            http: reqwest::Client::new(),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<&str>) -> Answer {
        let url = format!("{}{path}", self.services.qdrant_url());
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    async fn ok(&self, method: &str, path: &str, body: Value) -> Value {
        let b = body.to_string();
        let a = self
            .call(method, path, (!body.is_null()).then_some(b.as_str()))
            .await;
        assert_eq!(a.status, 200, "{method} {path}: {}", a.text);
        assert_eq!(a.body["status"], "ok", "{}", a.text);
        assert!(
            a.body["time"].as_f64().is_some_and(|t| t >= 0.0),
            "{}",
            a.text
        );
        a.body["result"].clone()
    }

    async fn err(&self, method: &str, path: &str, body: Option<&str>, status: u16) -> String {
        let a = self.call(method, path, body).await;
        assert_eq!(a.status, status, "{method} {path}: {}", a.text);
        assert!(a.body.get("result").is_none(), "{}", a.text);
        assert!(a.body["time"].is_number(), "{}", a.text);
        assert_eq!(
            a.headers.get("content-type").unwrap(),
            "application/json",
            "{}",
            a.text
        );
        a.body["status"]["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no status.error in {}", a.text))
            .to_string()
    }
}

#[tokio::test]
async fn version_and_health_probes() {
    let m = Mock::start(config()).await;
    let a = m.call("GET", "/", None).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["title"], "qdrant - vector search engine");
    assert_eq!(a.body["version"], "1.20.0");
    assert!(a.body["commit"].is_string());
    for (path, text) in [
        ("/healthz", "healthz check passed"),
        ("/livez", "healthz check passed"),
        ("/readyz", "all shards are ready"),
    ] {
        let a = m.call("GET", path, None).await;
        assert_eq!((a.status, a.text.as_str()), (200, text));
    }
}

#[tokio::test]
async fn collection_lifecycle() {
    let m = Mock::start(config()).await;
    let list = m.ok("GET", "/collections", Value::Null).await;
    assert_eq!(list, json!({"collections": [{"name": "ragperf-demo"}]}));
    let body = json!({"vectors": {"size": 4, "distance": "Cosine"}});
    assert_eq!(
        m.ok("PUT", "/collections/t", body.clone()).await,
        json!(true)
    );
    let e = m
        .err("PUT", "/collections/t", Some(&body.to_string()), 409)
        .await;
    assert_eq!(e, "Wrong input: Collection `t` already exists!");
    assert_eq!(
        m.ok("GET", "/collections/t/exists", Value::Null).await,
        json!({"exists": true})
    );
    assert_eq!(
        m.ok("GET", "/collections/nope/exists", Value::Null).await,
        json!({"exists": false})
    );
    let info = m.ok("GET", "/collections/t", Value::Null).await;
    for k in [
        "status",
        "optimizer_status",
        "segments_count",
        "payload_schema",
        "config",
    ] {
        assert!(info.get(k).is_some(), "{k} in {info}");
    }
    assert_eq!(
        info["config"]["params"]["vectors"],
        json!({"size": 4, "distance": "Cosine"})
    );
    for k in ["m", "ef_construct", "full_scan_threshold"] {
        assert!(info["config"]["hnsw_config"][k].is_number(), "{k}");
    }
    for k in ["default_segment_number", "flush_interval_sec"] {
        assert!(info["config"]["optimizer_config"][k].is_number(), "{k}");
    }
    let demo = m.ok("GET", "/collections/ragperf-demo", Value::Null).await;
    assert_eq!(demo["points_count"], 200);
    assert_eq!(demo["config"]["params"]["vectors"]["size"], 256);
    assert_eq!(
        m.ok("DELETE", "/collections/t", Value::Null).await,
        json!(true)
    );
    let e = m.err("GET", "/collections/t", None, 404).await;
    assert_eq!(e, "Not found: Collection `t` doesn't exist!");
    let e = m
        .err(
            "POST",
            "/collections/t/points/query",
            Some(r#"{"query":[1,2,3,4]}"#),
            404,
        )
        .await;
    assert_eq!(e, "Not found: Collection `t` doesn't exist!");
}

fn topic(i: u64) -> &'static str {
    ["a", "b", "c"][(i % 3) as usize]
}

async fn seeded(m: &Mock) {
    m.ok(
        "PUT",
        "/collections/t",
        json!({"vectors": {"size": 4, "distance": "Cosine"}}),
    )
    .await;
    let r = m
        .ok(
            "PUT",
            "/collections/t/index?wait=true",
            json!({"field_name": "topic", "field_schema": "keyword"}),
        )
        .await;
    assert_eq!(r["status"], "completed");
    let points: Vec<Value> = (1..=20u64)
        .map(|i| {
            json!({"id": i, "vector": {"": [1.0, i as f64 / 10.0, 0.0, 0.5]},
                   "payload": {"topic": topic(i), "n": i}})
        })
        .collect();
    let r = m
        .ok(
            "PUT",
            "/collections/t/points?wait=true",
            json!({ "points": points }),
        )
        .await;
    assert_eq!(r["status"], "completed");
    assert!(r["operation_id"].is_u64());
}

#[tokio::test]
async fn points_upsert_query_scroll_count_retrieve_delete() {
    let m = Mock::start(config()).await;
    seeded(&m).await;
    // query with `nearest`, `using: ""` and a filter: what LlamaIndex sends.
    let q = json!({"query": {"nearest": [1.0, 0.3, 0.0, 0.5]}, "using": "", "limit": 3,
                   "with_payload": true, "with_vector": false,
                   "filter": {"must": [{"key": "topic", "match": {"value": "a"}}]}});
    let r = m.ok("POST", "/collections/t/points/query", q).await;
    let points = r["points"].as_array().unwrap();
    assert_eq!(points.len(), 3);
    assert_eq!(points[0]["id"], 3, "{r}");
    assert!(points.iter().all(|p| p["payload"]["topic"] == "a"));
    assert!(
        points
            .iter()
            .all(|p| p["version"].is_u64() && p.get("vector").is_none())
    );
    assert!(points[0]["score"].as_f64().unwrap() > 0.999);
    // A bare vector, score_threshold, with_vector.
    let q = json!({"query": [1.0, 2.0, 0.0, 0.5], "limit": 100, "score_threshold": 0.99,
                   "with_vector": true});
    let r = m.ok("POST", "/collections/t/points/query", q).await;
    let pts = r["points"].as_array().unwrap();
    assert!(!pts.is_empty() && pts.len() < 20);
    assert_eq!(pts[0]["id"], 20);
    assert_eq!(pts[0]["vector"].as_array().unwrap().len(), 4);
    assert!(pts[0].get("payload").is_none());
    // Batch.
    let b = json!({"searches": [{"query": [1, 0, 0, 0], "limit": 2},
                                {"query": {"nearest": [1, 2, 0, 0.5]}, "limit": 1}]});
    let r = m.ok("POST", "/collections/t/points/query/batch", b).await;
    assert_eq!(r.as_array().unwrap().len(), 2);
    assert_eq!(r[1]["points"][0]["id"], 20);
    // Legacy search returns a bare list.
    let s = json!({"vector": [1.0, 2.0, 0.0, 0.5], "limit": 2, "with_payload": true});
    let r = m.ok("POST", "/collections/t/points/search", s).await;
    assert_eq!(r.as_array().unwrap().len(), 2);
    assert_eq!(r[0]["id"], 20);
    let s = json!({"searches": [{"vector": [1, 0, 0, 0], "limit": 1}, {"vector": [1, 2, 0, 0.5], "limit": 1}]});
    let r = m.ok("POST", "/collections/t/points/search/batch", s).await;
    assert_eq!(r[1][0]["id"], 20);
    // Scroll pages cover everything once, in id order.
    let mut seen = Vec::new();
    let mut offset = Value::Null;
    loop {
        let r = m
            .ok(
                "POST",
                "/collections/t/points/scroll",
                json!({"limit": 6, "offset": offset, "with_payload": true, "with_vector": false}),
            )
            .await;
        for p in r["points"].as_array().unwrap() {
            assert!(p.get("score").is_none() && p["payload"]["n"] == p["id"]);
            seen.push(p["id"].as_u64().unwrap());
        }
        offset = r["next_page_offset"].clone();
        if offset.is_null() {
            break;
        }
    }
    assert_eq!(seen, (1..=20).collect::<Vec<_>>());
    // Count, with and without a filter.
    let r = m
        .ok(
            "POST",
            "/collections/t/points/count",
            json!({"exact": true}),
        )
        .await;
    assert_eq!(r, json!({"count": 20}));
    let f = json!({"filter": {"must": [{"key": "n", "range": {"gte": 5, "lt": 10}}],
                              "must_not": {"key": "topic", "match": {"any": ["a"]}}}});
    let r = m.ok("POST", "/collections/t/points/count", f).await;
    assert_eq!(r, json!({"count": 3}));
    // Retrieve by ids, and one point by path.
    let r = m
        .ok("POST", "/collections/t/points", json!({"ids": [2, 99, 1]}))
        .await;
    assert_eq!(
        r.as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].clone())
            .collect::<Vec<_>>(),
        vec![json!(2), json!(1)]
    );
    let r = m.ok("GET", "/collections/t/points/7", Value::Null).await;
    assert_eq!(r["payload"]["n"], 7);
    let e = m.err("GET", "/collections/t/points/77", None, 404).await;
    assert_eq!(e, "Not found: No point with id 77 found");
    // Delete (wait=false is acknowledged) and the payload schema counts.
    let r = m
        .ok(
            "POST",
            "/collections/t/points/delete",
            json!({"points": [1, 2]}),
        )
        .await;
    assert_eq!(r["status"], "acknowledged");
    let info = m.ok("GET", "/collections/t", Value::Null).await;
    assert_eq!(info["points_count"], 18);
    assert_eq!(
        info["payload_schema"]["topic"],
        json!({"data_type": "keyword", "points": 18})
    );
    // UUID ids round-trip in canonical form.
    let uuid = "550E8400-E29B-41D4-A716-446655440000";
    m.ok(
        "PUT",
        "/collections/t/points?wait=true",
        json!({"points": [{"id": uuid, "vector": [0, 0, 1, 0]}]}),
    )
    .await;
    let r = m
        .ok(
            "POST",
            "/collections/t/points/query",
            json!({"query": [0, 0, 1, 0], "limit": 1}),
        )
        .await;
    assert_eq!(r["points"][0]["id"], uuid.to_lowercase());
}

#[tokio::test]
async fn error_shapes() {
    let mut cfg = config();
    cfg.qdrant.max_body_bytes = 4096;
    let m = Mock::start(cfg).await;
    seeded(&m).await;
    let q = "/collections/t/points/query";
    let e = m.err("POST", q, Some(r#"{"query":[1,2,3]}"#), 400).await;
    assert_eq!(
        e,
        "Wrong input: Vector dimension error: expected dim: 4, got 3"
    );
    let e = m
        .err(
            "PUT",
            "/collections/t/points",
            Some(r#"{"points":[{"id":1,"vector":[1]}]}"#),
            400,
        )
        .await;
    assert_eq!(
        e,
        "Wrong input: Vector dimension error: expected dim: 4, got 1"
    );
    let a = m.call("POST", q, Some(r#"{"query": [1,2,"#)).await;
    assert_eq!(a.status, 400);
    let msg = a.body["status"]["error"].as_str().unwrap();
    assert!(msg.starts_with("Format error in JSON body: "), "{msg}");
    assert_eq!(a.body["time"], 0.0);
    let e = m
        .err(
            "POST",
            "/collections/t/points/search",
            Some(r#"{"vector":[1,2,3,4]}"#),
            400,
        )
        .await;
    assert!(
        e.starts_with("Format error in JSON body: missing field `limit`"),
        "{e}"
    );
    let e = m
        .err("POST", q, Some(r#"{"query":[1,2,3,4],"limit":0}"#), 422)
        .await;
    assert_eq!(
        e,
        "Validation error in JSON body: [internal.limit: value 0 invalid, must be 1 or larger]"
    );
    let e = m
        .err(
            "POST",
            "/collections/t/points/scroll",
            Some(r#"{"limit":0}"#),
            422,
        )
        .await;
    assert!(
        e.starts_with("Validation error in JSON body: [scroll_request.limit"),
        "{e}"
    );
    let e = m
        .err(
            "POST",
            q,
            Some(r#"{"query":[1,2,3,4],"using":"dense"}"#),
            400,
        )
        .await;
    assert_eq!(e, "Wrong input: Not existing vector name error: dense");
    let e = m
        .err(
            "POST",
            q,
            Some(r#"{"prefetch":[{"query":[1,2,3,4]}],"query":{"fusion":"rrf"}}"#),
            400,
        )
        .await;
    assert!(e.contains("not supported by the ragperf mock"), "{e}");
    let e = m
        .err(
            "POST",
            q,
            Some(r#"{"filter":{"must":[{"key":"topic"}]}}"#),
            400,
        )
        .await;
    assert!(e.contains("Expected some form of condition"), "{e}");
    // Oversized body: JSON error, not axum's plain text.
    let big = format!(r#"{{"query":[{}]}}"#, vec!["0.5"; 2000].join(","));
    let e = m.err("POST", q, Some(&big), 400).await;
    assert!(
        e.contains("is larger than allowed (limit: 4096 bytes)"),
        "{e}"
    );
    // Unknown route and method.
    let e = m.err("GET", "/nope", None, 404).await;
    assert!(e.contains("/nope"), "{e}");
    m.err("PATCH", "/collections/t/points/query", None, 405)
        .await;
    // The stats count rejected requests as bad_request, not ok.
    let snap = m.services.stats().snapshot();
    let search = &snap.operations["qdrant_search"];
    assert!(search.outcomes["bad_request"] >= 6, "{search:?}");
}

#[tokio::test]
async fn demo_collection_retrieves_the_passage_a_question_is_about() {
    let m = Mock::start(config()).await;
    for id in [5u64, 42, 118] {
        let p = passage(id);
        let question = format!("{}?", p.text.lines().nth(1).unwrap());
        let q = json!({"query": {"nearest": embed(&question, 256, true)}, "using": "",
                       "limit": 3, "with_payload": true, "with_vector": false});
        let r = m
            .ok("POST", "/collections/ragperf-demo/points/query", q)
            .await;
        let top = &r["points"][0];
        assert_eq!(top["id"], id, "{question}");
        let payload = &top["payload"];
        assert_eq!(payload["ref_doc_id"], format!("doc-{id:04}"));
        assert_eq!(payload["_node_type"], "TextNode");
        let node: Value = serde_json::from_str(payload["_node_content"].as_str().unwrap()).unwrap();
        assert_eq!(node["text"], p.text);
    }
}

#[tokio::test]
async fn injected_latency_is_slept_and_reported() {
    let mut cfg = config();
    cfg.time_scale = 0.25;
    cfg.qdrant.search_ms = Dist::fixed(200.0); // 50 ms after scaling
    let m = Mock::start(cfg).await;
    let body = json!({"query": vec![0.0; 256], "limit": 1}).to_string();
    let started = Instant::now();
    let a = m
        .call(
            "POST",
            "/collections/ragperf-demo/points/query",
            Some(&body),
        )
        .await;
    assert_eq!(a.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert!(a.body["time"].as_f64().unwrap() >= 0.05, "{}", a.text);
    let snap = m.services.stats().snapshot();
    let s = &snap.operations["qdrant_search"];
    assert_eq!((s.requests, s.outcomes["ok"]), (1, 1));
    assert!(
        (s.injected_ms.p50 - 50.0).abs() < 1.0,
        "{:?}",
        s.injected_ms
    );
}

#[tokio::test]
async fn injected_faults_answer_like_qdrant() {
    for (field, status, outcome) in [
        ("throttle", 429, "throttle"),
        ("server_error", 500, "server_error"),
        ("unavailable", 503, "unavailable"),
    ] {
        let mut cfg = config();
        match field {
            "throttle" => cfg.faults.qdrant.throttle = 1.0,
            "server_error" => cfg.faults.qdrant.server_error = 1.0,
            _ => cfg.faults.qdrant.unavailable = 1.0,
        }
        let m = Mock::start(cfg).await;
        let a = m
            .call("POST", "/collections/ragperf-demo/points/count", Some("{}"))
            .await;
        assert_eq!(a.status, status, "{}", a.text);
        assert!(
            a.body["status"]["error"].as_str().unwrap().contains(field),
            "{}",
            a.text
        );
        assert_eq!(a.headers.contains_key("retry-after"), status == 429);
        let snap = m.services.stats().snapshot();
        assert_eq!(snap.operations["qdrant_other"].outcomes[outcome], 1);
    }
    // Slow faults multiply the latency and are counted.
    let mut cfg = config();
    cfg.time_scale = 1.0;
    cfg.qdrant.other_ms = Dist::fixed(10.0);
    cfg.faults.qdrant.slow = 1.0;
    cfg.faults.qdrant.slow_multiplier = 4.0;
    let m = Mock::start(cfg).await;
    let started = Instant::now();
    m.ok("POST", "/collections/ragperf-demo/points/count", json!({}))
        .await;
    assert!(started.elapsed() >= Duration::from_millis(40));
    let snap = m.services.stats().snapshot();
    assert_eq!(snap.operations["qdrant_other"].slow, 1);
}

#[tokio::test]
async fn concurrency_quota_answers_429_with_retry_after() {
    let mut cfg = config();
    cfg.time_scale = 1.0;
    cfg.qdrant.other_ms = Dist::fixed(300.0);
    cfg.faults.qdrant.max_concurrency = 1;
    let m = Mock::start(cfg).await;
    let slow = m.call("POST", "/collections/ragperf-demo/points/count", Some("{}"));
    let fast = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        m.call("POST", "/collections/ragperf-demo/points/count", Some("{}"))
            .await
    };
    let (a, b) = tokio::join!(slow, fast);
    assert_eq!(a.status, 200);
    assert_eq!(b.status, 429, "{}", b.text);
    assert_eq!(b.headers.get("retry-after").unwrap(), "1");
    let snap = m.services.stats().snapshot();
    assert_eq!(snap.operations["qdrant_other"].outcomes["quota"], 1);
}
