//! What the clients send and how they read answers and error bodies, both stacks, against
//! wiremock: exact paths (botocore's model-id encoding), exact JSON bodies, Qdrant's error
//! envelope, Titan and Converse answers.

use crate::client_support;

use client_support::*;
use ragperf::client::{AsyncClients, BlockingClients, Endpoints, ErrorKind, Passage};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const QUERY_PATH: &str = "/collections/ragperf-demo/points/query";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("test runtime")
}

fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_raw(
        r#"{"status":{"error":"Not found: Collection `ragperf-demo` doesn't exist!"},"time":0.000012}"#,
        "application/json",
    )
}

fn points() -> ResponseTemplate {
    let node =
        json!({"id_":"n-1","text":"Paris is the capital of France.","embedding":null}).to_string();
    ResponseTemplate::new(200).set_body_json(json!({
        "result": {"points": [
            {"id": 3, "version": 0, "score": 0.87,
             "payload": {"_node_content": node, "_node_type": "TextNode", "doc_id": "doc-3",
                         "document_id": "doc-3", "ref_doc_id": "doc-3", "title": "France"}}
        ]},
        "status": "ok", "time": 0.002
    }))
}

fn expected_passages() -> Vec<Passage> {
    vec![Passage {
        id: "3".into(),
        doc_id: "doc-3".into(),
        score: 0.87,
        title: "France".into(),
        text: "Paris is the capital of France.".into(),
    }]
}

fn query_body() -> serde_json::Value {
    json!({"query":{"nearest":[0.5,0.5,0.5,0.5]},"limit":2,"with_payload":true,"with_vector":false})
}

#[test]
fn blocking_qdrant_404_is_not_found_with_the_message() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    rt.block_on(
        Mock::given(method("POST"))
            .and(path(QUERY_PATH))
            .respond_with(not_found())
            .mount(&server),
    );
    let clients = BlockingClients::new(&endpoints(&server.uri()), &fast_config(), 1, 0.01).unwrap();
    let err = clients.qdrant.search(&[0.5; 4], 2).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(err.kind.name(), "not_found");
    assert_eq!(err.attempts, 1);
    assert!(
        err.message
            .contains("Not found: Collection `ragperf-demo` doesn't exist!"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn async_qdrant_404_is_not_found_with_the_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(QUERY_PATH))
        .respond_with(not_found())
        .mount(&server)
        .await;
    let clients = AsyncClients::new(&endpoints(&server.uri()), &fast_config(), 1, 0.01).unwrap();
    let err = clients.qdrant.search(&[0.5; 4], 2).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(err.message.contains("doesn't exist!"), "{}", err.message);
}

#[test]
fn blocking_search_sends_query_points_and_reads_llamaindex_payloads() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    rt.block_on(
        Mock::given(method("POST"))
            .and(path(QUERY_PATH))
            .and(header("content-type", "application/json"))
            .and(body_json(query_body()))
            .respond_with(points())
            .expect(1)
            .mount(&server),
    );
    let clients = BlockingClients::new(&endpoints(&server.uri()), &fast_config(), 1, 0.01).unwrap();
    let reply = clients.qdrant.search(&[0.5; 4], 2).unwrap();
    assert_eq!(reply.value, expected_passages());
    assert_eq!(reply.attempts, 1);
    rt.block_on(server.verify());
}

#[tokio::test]
async fn async_search_sends_query_points_and_reads_llamaindex_payloads() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(QUERY_PATH))
        .and(body_json(query_body()))
        .respond_with(points())
        .expect(1)
        .mount(&server)
        .await;
    let clients = AsyncClients::new(&endpoints(&server.uri()), &fast_config(), 1, 0.01).unwrap();
    let reply = clients.qdrant.search(&[0.5; 4], 2).await.unwrap();
    assert_eq!(reply.value, expected_passages());
}

/// Endpoints with ARN model ids, to check botocore's encoding on the wire.
fn arn_endpoints(url: &str) -> Endpoints {
    let mut e = endpoints(url);
    e.embed_model =
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0".into();
    e.chat_model = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0".into();
    e
}

const ARN_EMBED_PATH: &str = "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Famazon.titan-embed-text-v2%3A0/invoke";
const ARN_CONVERSE_PATH: &str = "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-haiku-20240307-v1%3A0/converse";

async fn mount_arn_routes(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(ARN_EMBED_PATH))
        .and(body_json(
            json!({"inputText":"hello","dimensions":4,"normalize":true}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"embedding":[1.0,0.0,0.0,0.0],"inputTextTokenCount":1}"#,
            "application/json",
        ))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(ARN_CONVERSE_PATH))
        .and(body_json(json!({
            "messages":[{"role":"user","content":[{"text":"What is the capital of France?"}]}],
            "system":[{"text":"Answer from the sources."}],
            "inferenceConfig":{"maxTokens":64,"temperature":0.0}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "output":{"message":{"role":"assistant","content":[{"text":"Paris [doc-3]"}]}},
            "stopReason":"end_turn",
            "usage":{"inputTokens":20,"outputTokens":4,"totalTokens":24},
            "metrics":{"latencyMs":30}
        })))
        .expect(1)
        .mount(server)
        .await;
}

#[test]
fn blocking_model_ids_are_percent_encoded_like_botocore() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    rt.block_on(mount_arn_routes(&server));
    let clients =
        BlockingClients::new(&arn_endpoints(&server.uri()), &fast_config(), 1, 0.01).unwrap();
    assert_eq!(
        clients.embed.embed("hello").unwrap().value,
        [1.0, 0.0, 0.0, 0.0]
    );
    let out = clients.bedrock.converse(&chat()).unwrap().value;
    assert_eq!(out.text, "Paris [doc-3]");
    assert_eq!(out.output_tokens, 4);
    rt.block_on(server.verify());
}

#[tokio::test]
async fn async_model_ids_are_percent_encoded_like_botocore() {
    let server = MockServer::start().await;
    mount_arn_routes(&server).await;
    let clients =
        AsyncClients::new(&arn_endpoints(&server.uri()), &fast_config(), 1, 0.01).unwrap();
    assert_eq!(
        clients.embed.embed("hello").await.unwrap().value,
        [1.0, 0.0, 0.0, 0.0]
    );
    let out = clients.bedrock.converse(&chat()).await.unwrap().value;
    assert_eq!(out.stop_reason, "end_turn");
    assert_eq!(out.usage_output_tokens, Some(4));
}
