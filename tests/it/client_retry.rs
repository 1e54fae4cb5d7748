//! Retries, both stacks, against wiremock: throttling is retried `max_attempts` times and then
//! reported with the attempt count; a 500 followed by a 200 succeeds on attempt 2; requests the
//! service rejects are not retried; connection failures are. The blocking clients are driven
//! from the plain test thread (wiremock serves from its own thread).

use crate::client_support;

use client_support::*;
use ragperf::client::{AsyncClients, BlockingClients, ErrorKind};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const EMBED_PATH: &str = "/model/amazon.titan-embed-text-v2%3A0/invoke";
const STREAM_PATH: &str = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream";

fn throttled() -> ResponseTemplate {
    ResponseTemplate::new(429)
        .insert_header(
            "x-amzn-ErrorType",
            "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
        )
        .set_body_raw(
            r#"{"message":"Too many requests, please wait before trying again."}"#,
            "application/json",
        )
}

fn embedding() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        r#"{"embedding":[0.5,0.5,0.5,0.5],"inputTextTokenCount":4}"#,
        "application/json",
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("test runtime")
}

async fn received(server: &MockServer) -> usize {
    server.received_requests().await.map_or(0, |r| r.len())
}

#[test]
fn blocking_429_is_retried_max_attempts_times_then_throttled() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    rt.block_on(
        Mock::given(method("POST"))
            .and(path(EMBED_PATH))
            .respond_with(throttled())
            .mount(&server),
    );
    let clients = BlockingClients::new(&endpoints(&server.uri()), &fast_config(), 1, 0.01).unwrap();
    let err = clients.embed.embed("hello").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Throttled, "{err}");
    assert_eq!(err.attempts, 3);
    assert_eq!(err.retries(), 2);
    assert!(
        err.message
            .contains("ThrottlingException: Too many requests"),
        "{}",
        err.message
    );
    assert_eq!(rt.block_on(received(&server)), 3);
}

#[tokio::test]
async fn async_429_is_retried_max_attempts_times_then_throttled() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(STREAM_PATH))
        .respond_with(throttled())
        .mount(&server)
        .await;
    let clients = AsyncClients::new(&endpoints(&server.uri()), &fast_config(), 1, 0.01).unwrap();
    let mut tokens = 0;
    let err = clients
        .bedrock
        .converse_stream(&chat(), |_| tokens += 1)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Throttled, "{err}");
    assert_eq!(err.attempts, 3);
    assert_eq!(tokens, 0);
    assert_eq!(received(&server).await, 3);
}

#[test]
fn blocking_500_then_200_succeeds_on_attempt_two() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    rt.block_on(async {
        Mock::given(method("POST"))
            .and(path(EMBED_PATH))
            .respond_with(
                ResponseTemplate::new(500)
                    .set_body_raw(r#"{"message":"Internal error"}"#, "application/json")
                    .insert_header("x-amzn-ErrorType", "InternalServerException"),
            )
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(EMBED_PATH))
            .respond_with(embedding())
            .mount(&server)
            .await;
    });
    let clients = BlockingClients::new(&endpoints(&server.uri()), &fast_config(), 1, 0.01).unwrap();
    let reply = clients.embed.embed("hello").unwrap();
    assert_eq!(reply.value, [0.5; 4]);
    assert_eq!(reply.attempts, 2);
    assert_eq!(reply.retries(), 1);
    assert_eq!(rt.block_on(received(&server)), 2);
}

#[tokio::test]
async fn async_503_then_stream_succeeds_on_attempt_two() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(STREAM_PATH))
        .respond_with(
            ResponseTemplate::new(503).set_body_raw(r#"{"message":"busy"}"#, "application/json"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(STREAM_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            full_stream(&["a", "b"]),
            "application/vnd.amazon.eventstream",
        ))
        .mount(&server)
        .await;
    let clients = AsyncClients::new(&endpoints(&server.uri()), &fast_config(), 1, 0.01).unwrap();
    let mut seen = Vec::new();
    let reply = clients
        .bedrock
        .converse_stream(&chat(), |t| seen.push(t.to_string()))
        .await
        .unwrap();
    assert_eq!(reply.attempts, 2);
    assert_eq!(seen, ["a", "b"]);
    assert_eq!(reply.value.text, "ab");
}

#[tokio::test]
async fn async_500_then_200_succeeds_on_attempt_two() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(EMBED_PATH))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(EMBED_PATH))
        .respond_with(embedding())
        .mount(&server)
        .await;
    let clients = AsyncClients::new(&endpoints(&server.uri()), &fast_config(), 1, 0.01).unwrap();
    let reply = clients.embed.embed("hello").await.unwrap();
    assert_eq!(reply.attempts, 2);
    assert_eq!(received(&server).await, 2);
}

#[test]
fn blocking_validation_errors_are_not_retried() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    rt.block_on(
        Mock::given(method("POST"))
            .and(path(STREAM_PATH))
            .respond_with(
                ResponseTemplate::new(400)
                    .insert_header("x-amzn-ErrorType", "ValidationException")
                    .set_body_raw(
                        r#"{"message":"maxTokens must be positive"}"#,
                        "application/json",
                    ),
            )
            .mount(&server),
    );
    let clients = BlockingClients::new(&endpoints(&server.uri()), &fast_config(), 1, 0.01).unwrap();
    let err = clients
        .bedrock
        .converse_stream(&chat(), |_| {})
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadRequest);
    assert_eq!(err.attempts, 1);
    assert!(
        err.message.contains("maxTokens must be positive"),
        "{}",
        err.message
    );
    assert_eq!(rt.block_on(received(&server)), 1);
}

/// A port nothing listens on.
fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    format!("http://{addr}")
}

#[test]
fn blocking_connect_failures_are_retried_and_counted() {
    let clients =
        BlockingClients::new(&endpoints(&closed_port_url()), &fast_config(), 1, 0.01).unwrap();
    let err = clients.qdrant.search(&[0.1, 0.2, 0.3, 0.4], 3).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Connect, "{err}");
    assert_eq!(err.attempts, 3);
}

#[tokio::test]
async fn async_connect_failures_are_retried_and_counted() {
    let clients =
        AsyncClients::new(&endpoints(&closed_port_url()), &fast_config(), 1, 0.01).unwrap();
    let err = clients
        .qdrant
        .search(&[0.1, 0.2, 0.3, 0.4], 3)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Connect, "{err}");
    assert_eq!(err.attempts, 3);
}
