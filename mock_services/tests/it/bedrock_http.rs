//! Mock Bedrock Runtime over raw HTTP: the rest-json error shapes, model-id path decoding, the
//! event-stream body byte for byte, the stream-cut fault and the token schedule.

use std::time::{Duration, Instant};

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_eventstream::smithy::parse_response_headers;
use bytes::{Buf, BytesMut};
use futures_util::StreamExt;
use mock_services::latency::Dist;
use mock_services::{Bind, MockConfig, MockServices};
use serde_json::{Value, json};

const HAIKU_ENCODED: &str = "anthropic.claude-3-haiku-20240307-v1%3A0";

fn fast_config() -> MockConfig {
    MockConfig {
        time_scale: 0.01,
        ..MockConfig::default()
    }
}

async fn start(config: MockConfig) -> MockServices {
    MockServices::start(config, Bind::default())
        .await
        .expect("mock services start")
}

fn hello() -> String {
    json!({"messages":[{"role":"user","content":[{"text":"Hello there"}]}]}).to_string()
}

async fn post(url: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request sent")
}

/// Asserts a rest-json error reply and returns its message.
async fn expect_error(resp: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(resp.status().as_u16(), status);
    let h = resp.headers();
    assert_eq!(h["x-amzn-errortype"], code);
    assert_eq!(h["content-type"], "application/json");
    assert!(h.contains_key("x-amzn-requestid"));
    let body: Value =
        serde_json::from_slice(&resp.bytes().await.expect("body")).expect("JSON body");
    body["message"]
        .as_str()
        .expect("message string")
        .to_string()
}

/// One decoded event-stream frame: (message type, event or exception type, JSON payload).
type Event = (String, String, Value);

fn decode_all(decoder: &mut MessageFrameDecoder, buf: &mut BytesMut, out: &mut Vec<Event>) {
    loop {
        match decoder.decode_frame(&mut *buf).expect("valid frame") {
            DecodedFrame::Complete(m) => {
                let h = parse_response_headers(&m).expect("headers");
                out.push((
                    h.message_type.as_str().to_string(),
                    h.smithy_type.as_str().to_string(),
                    serde_json::from_slice(m.payload()).expect("JSON payload"),
                ));
            }
            DecodedFrame::Incomplete => return,
        }
        if !buf.has_remaining() {
            return;
        }
    }
}

/// Reads a ConverseStream body; returns the events and whether the body ended in an error.
async fn read_stream(resp: reqwest::Response) -> (Vec<Event>, bool) {
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.amazon.eventstream"
    );
    let mut body = resp.bytes_stream();
    let mut decoder = MessageFrameDecoder::new();
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => {
                buf.extend_from_slice(&c);
                decode_all(&mut decoder, &mut buf, &mut events);
            }
            Err(_) => return (events, true),
        }
    }
    (events, false)
}

#[tokio::test]
async fn malformed_and_invalid_bodies_are_validation_exceptions() {
    let mocks = start(fast_config()).await;
    let url = format!("{}/model/{HAIKU_ENCODED}/converse", mocks.bedrock_url());
    let m = expect_error(post(&url, "{not json").await, 400, "ValidationException").await;
    assert!(m.starts_with("Malformed input request"), "{m}");
    let m = expect_error(
        post(&url, r#"{"messages":[]}"#).await,
        400,
        "ValidationException",
    )
    .await;
    assert!(m.contains("must start with a user message"), "{m}");
    let m = expect_error(post(&url, "{}").await, 400, "ValidationException").await;
    assert!(m.contains("'messages'"), "{m}");
    let empty = r#"{"messages":[{"role":"user","content":[]}]}"#;
    let m = expect_error(post(&url, empty).await, 400, "ValidationException").await;
    assert!(m.contains("content field"), "{m}");

    let stream_url = format!(
        "{}/model/{HAIKU_ENCODED}/converse-stream",
        mocks.bedrock_url()
    );
    expect_error(post(&stream_url, "[]").await, 400, "ValidationException").await;

    let embed_url = format!(
        "{}/model/amazon.titan-embed-text-v2%3A0/invoke",
        mocks.bedrock_url()
    );
    let m = expect_error(
        post(&embed_url, r#"{"inputText":""}"#).await,
        400,
        "ValidationException",
    )
    .await;
    assert!(m.contains("minLength"), "{m}");
    let m = expect_error(
        post(&embed_url, r#"{"inputText":"x","dimensions":300}"#).await,
        400,
        "ValidationException",
    )
    .await;
    assert!(m.contains("#/dimensions"), "{m}");
    // InvokeModel on a text model, Converse on an embedding model.
    let m = expect_error(
        post(&url.replace("/converse", "/invoke"), "{}").await,
        400,
        "ValidationException",
    )
    .await;
    assert!(m.contains("embedding models only"), "{m}");
    let m = expect_error(
        post(&embed_url.replace("/invoke", "/converse"), hello()).await,
        400,
        "ValidationException",
    )
    .await;
    assert!(m.contains("doesn't support the model"), "{m}");

    let snap = mocks.stats().snapshot();
    assert_eq!(snap.operations["converse"].outcomes["bad_request"], 5);
    assert_eq!(snap.operations["embed"].outcomes["bad_request"], 3);
}

#[tokio::test]
async fn oversized_body_gets_the_json_error_shape() {
    let mut config = fast_config();
    config.bedrock.max_body_bytes = 4096;
    let mocks = start(config).await;
    let url = format!("{}/model/{HAIKU_ENCODED}/converse", mocks.bedrock_url());
    let big =
        json!({"messages":[{"role":"user","content":[{"text":"word ".repeat(2000)}]}]}).to_string();
    let m = expect_error(post(&url, big.clone()).await, 400, "ValidationException").await;
    assert!(m.contains("4096"), "{m}");
    // Without a Content-Length (chunked), the limit still holds.
    let chunks = futures_util::stream::iter(
        big.into_bytes()
            .chunks(1000)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let resp = post(&url, reqwest::Body::wrap_stream(chunks)).await;
    expect_error(resp, 400, "ValidationException").await;
    // Just under the limit is fine.
    let ok =
        json!({"messages":[{"role":"user","content":[{"text":"word ".repeat(700)}]}]}).to_string();
    assert!(ok.len() < 4096);
    assert_eq!(post(&url, ok).await.status(), 200);
}

#[tokio::test]
async fn unknown_models_and_routes_are_404s() {
    let mocks = start(fast_config()).await;
    let base = mocks.bedrock_url();
    let m = expect_error(
        post(&format!("{base}/model/acme.llm-v1%3A0/converse"), hello()).await,
        404,
        "ResourceNotFoundException",
    )
    .await;
    assert_eq!(
        m,
        "Could not resolve the foundation model from the provided model identifier."
    );
    let m = expect_error(
        post(&format!("{base}/model/has%20space/converse"), hello()).await,
        400,
        "ValidationException",
    )
    .await;
    assert!(m.contains("modelId"), "{m}");
    for path in [
        "/model/x/unknown-op",
        "/foo",
        "/model/arn:aws:bedrock:us-east-1:1:inference-profile/us.anthropic.c/converse",
    ] {
        expect_error(
            post(&format!("{base}{path}"), hello()).await,
            404,
            "UnknownOperationException",
        )
        .await;
    }
    let get = reqwest::get(format!("{base}/model/{HAIKU_ENCODED}/converse"))
        .await
        .expect("GET");
    expect_error(get, 404, "UnknownOperationException").await;
    assert_eq!(
        mocks.stats().snapshot().operations["converse"].outcomes["not_found"],
        1
    );
}

#[tokio::test]
async fn encoded_arn_is_one_segment_and_decoded() {
    let mocks = start(fast_config()).await;
    let arn = "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-haiku-20241022-v1%3A0";
    let url = format!("{}/model/{arn}/converse", mocks.bedrock_url());
    let resp = post(&url, hello()).await;
    assert_eq!(resp.status(), 200);
    let v: Value = serde_json::from_slice(&resp.bytes().await.expect("body")).expect("json");
    assert_eq!(v["output"]["message"]["role"], "assistant");
    assert_eq!(v["stopReason"], "end_turn");
    let text = v["output"]["message"]["content"][0]["text"]
        .as_str()
        .expect("text");
    assert_eq!(
        text.split(' ').count() as u64,
        v["usage"]["outputTokens"].as_u64().expect("n")
    );
    assert_eq!(v["usage"]["inputTokens"], 2);
    // An unknown provider behind an encoded ARN is resolved (and rejected) too.
    let bad = arn.replace("us.anthropic", "us.acme");
    let url = format!("{}/model/{bad}/converse", mocks.bedrock_url());
    expect_error(post(&url, hello()).await, 404, "ResourceNotFoundException").await;
}

#[tokio::test]
async fn stream_frames_are_ordered_padded_and_on_schedule() {
    let mut config = fast_config();
    config.time_scale = 0.1;
    config.bedrock.ttft_ms = Dist::fixed(100.0);
    config.bedrock.itl_ms = Dist::fixed(10.0);
    config.bedrock.output_tokens = Dist::fixed(20.0);
    let mocks = start(config).await;
    let url = format!(
        "{}/model/{HAIKU_ENCODED}/converse-stream",
        mocks.bedrock_url()
    );
    let started = Instant::now();
    let (events, failed) = read_stream(post(&url, hello()).await).await;
    let elapsed = started.elapsed();
    assert!(!failed);
    let kinds: Vec<&str> = events.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(kinds.len(), 24);
    assert_eq!(kinds[0], "messageStart");
    assert!(kinds[1..21].iter().all(|k| *k == "contentBlockDelta"));
    assert_eq!(kinds[21..], ["contentBlockStop", "messageStop", "metadata"]);
    assert!(events.iter().all(|e| e.0 == "event"));
    assert!(
        events
            .iter()
            .all(|e| e.2["p"].as_str().is_some_and(|p| p.starts_with('a')))
    );
    assert_eq!(events[0].2["role"], "assistant");
    assert_eq!(events[22].2["stopReason"], "end_turn");
    let meta = &events[23].2;
    assert_eq!(meta["usage"]["outputTokens"], 20);
    // ttft 10 ms + 19 gaps of 1 ms: nothing can arrive earlier than scheduled.
    assert!(
        meta["metrics"]["latencyMs"].as_u64().expect("latency") >= 29,
        "{meta}"
    );
    assert!(elapsed >= Duration::from_millis(29), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    let snap = mocks.stats().snapshot();
    assert_eq!(snap.injected_itl_ms.count, 19);
    assert!(
        (snap.injected_itl_ms.p50 - 1.0).abs() < 0.01,
        "{:?}",
        snap.injected_itl_ms
    );
    assert!(
        (snap.injected_ttft_ms.p50 - 10.0).abs() < 0.05,
        "{:?}",
        snap.injected_ttft_ms
    );
    assert_eq!(snap.timer_lateness_ms.count, 20);
}

#[tokio::test]
async fn message_start_is_sent_before_the_first_token_is_due() {
    let mut config = fast_config();
    config.time_scale = 1.0;
    config.bedrock.ttft_ms = Dist::fixed(1500.0);
    config.bedrock.output_tokens = Dist::fixed(2.0);
    let mocks = start(config).await;
    let url = format!(
        "{}/model/{HAIKU_ENCODED}/converse-stream",
        mocks.bedrock_url()
    );
    let started = Instant::now();
    let resp = post(&url, hello()).await;
    let mut body = resp.bytes_stream();
    let first = body.next().await.expect("a first chunk").expect("ok chunk");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    let mut buf = BytesMut::from(&first[..]);
    let mut events = Vec::new();
    decode_all(&mut MessageFrameDecoder::new(), &mut buf, &mut events);
    assert_eq!(events[0].1, "messageStart");
    assert!(events.iter().all(|e| e.1 != "contentBlockDelta"));
}

#[tokio::test]
async fn stream_cut_ends_the_body_in_an_error() {
    let mut config = fast_config();
    config.faults.converse_stream.stream_cut = 1.0;
    let mocks = start(config).await;
    let url = format!(
        "{}/model/{HAIKU_ENCODED}/converse-stream",
        mocks.bedrock_url()
    );
    let (events, failed) = read_stream(post(&url, hello()).await).await;
    assert!(failed, "the client must see an incomplete body");
    assert_eq!(events[0].1, "messageStart");
    assert!(
        events[1..].iter().all(|e| e.1 == "contentBlockDelta"),
        "{events:?}"
    );
    let snap = mocks.stats().snapshot();
    assert_eq!(snap.operations["converse_stream"].outcomes["stream_cut"], 1);
    assert_eq!(snap.tokens_sent, events.len() as u64 - 1);
    assert_eq!(snap.streams_open, 0);
}

#[tokio::test]
async fn server_faults_answer_before_any_byte() {
    for (field, status, code, outcome) in [
        (
            "server_error",
            500,
            "InternalServerException",
            "server_error",
        ),
        (
            "unavailable",
            503,
            "ServiceUnavailableException",
            "unavailable",
        ),
        ("throttle", 429, "ThrottlingException", "throttle"),
    ] {
        let mut config = fast_config();
        match field {
            "server_error" => config.faults.embed.server_error = 1.0,
            "unavailable" => config.faults.embed.unavailable = 1.0,
            _ => config.faults.embed.throttle = 1.0,
        }
        let mocks = start(config).await;
        let url = format!(
            "{}/model/amazon.titan-embed-text-v2%3A0/invoke",
            mocks.bedrock_url()
        );
        expect_error(post(&url, r#"{"inputText":"x"}"#).await, status, code).await;
        assert_eq!(
            mocks.stats().snapshot().operations["embed"].outcomes[outcome],
            1
        );
    }
}

#[tokio::test]
async fn invoke_answers_json_with_content_type() {
    let mocks = start(fast_config()).await;
    let url = format!(
        "{}/model/amazon.titan-embed-text-v2%3A0/invoke",
        mocks.bedrock_url()
    );
    let resp = post(
        &url,
        r#"{"inputText":"cooling pump","dimensions":512,"embeddingTypes":["float","binary"]}"#,
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.headers()["x-amzn-bedrock-input-token-count"], "2");
    let v: Value = serde_json::from_slice(&resp.bytes().await.expect("body")).expect("json");
    assert_eq!(v["embedding"].as_array().expect("list").len(), 512);
    assert_eq!(v["embeddingsByType"]["float"], v["embedding"]);
    assert_eq!(
        v["embeddingsByType"]["binary"]
            .as_array()
            .expect("bits")
            .len(),
        512
    );
}

#[tokio::test]
async fn a_client_hanging_up_releases_the_stream_and_its_quota_slot() {
    let mut config = fast_config();
    config.time_scale = 1.0;
    config.bedrock.ttft_ms = Dist::fixed(200.0);
    config.bedrock.itl_ms = Dist::fixed(50.0);
    config.bedrock.output_tokens = Dist::fixed(1000.0);
    config.faults.converse_stream.max_concurrency = 1;
    let mocks = start(config).await;
    let url = format!(
        "{}/model/{HAIKU_ENCODED}/converse-stream",
        mocks.bedrock_url()
    );
    let resp = post(&url, hello()).await;
    let mut body = resp.bytes_stream();
    // messageStart, then at least one token.
    let (mut decoder, mut buf, mut events) =
        (MessageFrameDecoder::new(), BytesMut::new(), Vec::new());
    while !events.iter().any(|e: &Event| e.1 == "contentBlockDelta") {
        buf.extend_from_slice(&body.next().await.expect("a chunk").expect("ok chunk"));
        decode_all(&mut decoder, &mut buf, &mut events);
    }
    assert_eq!(mocks.stats().streams_open(), 1);
    drop(body);
    let deadline = Instant::now() + Duration::from_secs(10);
    while mocks.stats().streams_open() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        mocks.stats().streams_open(),
        0,
        "the mock noticed the hang-up"
    );
    assert!(mocks.stats().tokens_sent() >= 1);
    // The quota slot is free again: a new stream is admitted.
    let resp = post(&url, hello()).await;
    assert_eq!(resp.status(), 200);
    let snap = mocks.stats().snapshot();
    assert!(
        !snap.operations["converse_stream"]
            .outcomes
            .contains_key("quota")
    );
}

#[tokio::test]
async fn a_slow_fault_multiplies_the_injected_latency() {
    let mut config = fast_config();
    config.time_scale = 1.0;
    config.embedding.latency_ms = Dist::fixed(10.0);
    config.faults.embed.slow = 1.0;
    config.faults.embed.slow_multiplier = 4.0;
    let mocks = start(config).await;
    let url = format!(
        "{}/model/amazon.titan-embed-text-v2%3A0/invoke",
        mocks.bedrock_url()
    );
    let started = Instant::now();
    assert_eq!(post(&url, r#"{"inputText":"x"}"#).await.status(), 200);
    assert!(
        started.elapsed() >= Duration::from_millis(40),
        "{:?}",
        started.elapsed()
    );
    let embed = &mocks.stats().snapshot().operations["embed"];
    assert_eq!(embed.slow, 1);
    assert_eq!(embed.outcomes["ok"], 1);
    assert!(
        (embed.injected_ms.p50 - 40.0).abs() < 0.1,
        "{:?}",
        embed.injected_ms
    );
}
