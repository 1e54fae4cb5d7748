//! The unmodified Rust `aws-sdk-bedrockruntime` against the mock Bedrock Runtime: Converse,
//! ConverseStream (events, text, usage, stop reasons), mid-stream exceptions, throttling,
//! InvokeModel embeddings and inference-profile ARNs.

use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use aws_sdk_bedrockruntime::config::{Credentials, Region};
use aws_sdk_bedrockruntime::error::ProvideErrorMetadata;
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ContentBlockDelta, ConversationRole, ConverseOutput, ConverseStreamOutput,
    InferenceConfiguration, Message, StopReason, SystemContentBlock,
};
use mock_services::latency::Dist;
use mock_services::{Bind, MockConfig, MockServices};

const HAIKU: &str = "anthropic.claude-3-haiku-20240307-v1:0";
const PROFILE_ARN: &str = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0";

const CONTEXT: &str = "Answer from the passages and cite them.\n\
    [source: doc-0042] The primary cooling pump is serviced every six weeks by the night shift.\n\
    [source: doc-0007] Pump vibration above 4 mm/s triggers an inspection.";

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

fn client(url: &str, attempts: u32) -> Client {
    let conf = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .endpoint_url(url)
        // Plain HTTP to the mock: the SDK's hyper client without a TLS stack.
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(RetryConfig::standard().with_max_attempts(attempts))
        .build();
    Client::from_conf(conf)
}

fn user(text: &str) -> Message {
    Message::builder()
        .role(ConversationRole::User)
        .content(ContentBlock::Text(text.to_string()))
        .build()
        .expect("message builds")
}

/// Everything a ConverseStream call produced.
#[derive(Debug, Default)]
struct Streamed {
    events: Vec<&'static str>,
    text: String,
    deltas: usize,
    stop: Option<StopReason>,
    output_tokens: i32,
    input_tokens: i32,
    latency_ms: i64,
}

async fn stream(client: &Client, model: &str, question: &str, max_tokens: Option<i32>) -> Streamed {
    let mut call = client
        .converse_stream()
        .model_id(model)
        .system(SystemContentBlock::Text(CONTEXT.into()))
        .messages(user(question));
    if let Some(m) = max_tokens {
        call = call.inference_config(InferenceConfiguration::builder().max_tokens(m).build());
    }
    let mut out = call.send().await.expect("converse_stream starts");
    let mut s = Streamed::default();
    while let Some(event) = out.stream.recv().await.expect("stream event") {
        match event {
            ConverseStreamOutput::MessageStart(m) => {
                assert_eq!(m.role(), &ConversationRole::Assistant);
                s.events.push("messageStart");
            }
            ConverseStreamOutput::ContentBlockDelta(d) => {
                assert_eq!(d.content_block_index(), 0);
                match d.delta() {
                    Some(ContentBlockDelta::Text(t)) => s.text.push_str(t),
                    other => panic!("unexpected delta {other:?}"),
                }
                s.deltas += 1;
                if s.events.last() != Some(&"contentBlockDelta") {
                    s.events.push("contentBlockDelta");
                }
            }
            ConverseStreamOutput::ContentBlockStop(_) => s.events.push("contentBlockStop"),
            ConverseStreamOutput::MessageStop(m) => {
                s.stop = Some(m.stop_reason().clone());
                s.events.push("messageStop");
            }
            ConverseStreamOutput::Metadata(m) => {
                let usage = m.usage().expect("usage");
                s.output_tokens = usage.output_tokens();
                s.input_tokens = usage.input_tokens();
                assert_eq!(
                    usage.total_tokens(),
                    usage.input_tokens() + usage.output_tokens()
                );
                s.latency_ms = m.metrics().expect("metrics").latency_ms();
                s.events.push("metadata");
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    s
}

#[tokio::test]
async fn converse_and_converse_stream_give_the_same_cited_answer() {
    let mocks = start(fast_config()).await;
    let c = client(&mocks.bedrock_url(), 1);
    let question = "How often is the cooling pump serviced?";

    let answer = c
        .converse()
        .model_id(HAIKU)
        .system(SystemContentBlock::Text(CONTEXT.into()))
        .messages(user(question))
        .send()
        .await
        .expect("converse");
    let text = match answer.output() {
        Some(ConverseOutput::Message(m)) => {
            assert_eq!(m.role(), &ConversationRole::Assistant);
            match m.content() {
                [ContentBlock::Text(t)] => t.clone(),
                other => panic!("unexpected content {other:?}"),
            }
        }
        other => panic!("unexpected output {other:?}"),
    };
    assert_eq!(answer.stop_reason(), &StopReason::EndTurn);
    let usage = answer.usage().expect("usage");
    assert!(
        text.contains("[doc-0042]") && text.contains("[doc-0007]"),
        "{text}"
    );
    assert!(text.find("[doc-0042]") < text.find("[doc-0007]"), "{text}");

    let s = stream(&c, HAIKU, question, None).await;
    assert_eq!(
        s.events,
        [
            "messageStart",
            "contentBlockDelta",
            "contentBlockStop",
            "messageStop",
            "metadata"
        ]
    );
    assert_eq!(s.text, text, "stream and converse answer alike");
    assert_eq!(s.deltas as i32, s.output_tokens);
    assert_eq!(s.output_tokens, usage.output_tokens());
    assert_eq!(s.input_tokens, usage.input_tokens());
    assert_eq!(s.stop, Some(StopReason::EndTurn));
    assert!(s.latency_ms >= 0);
    // Default output_tokens is uniform 60..150.
    assert!((60..=150).contains(&s.deltas), "{}", s.deltas);

    let snap = mocks.stats().snapshot();
    assert_eq!(snap.operations["converse"].outcomes["ok"], 1);
    assert_eq!(snap.operations["converse_stream"].outcomes["ok"], 1);
    assert_eq!(snap.tokens_sent, s.deltas as u64);
    assert_eq!(snap.timer_lateness_ms.count, s.deltas as u64);
    assert_eq!(snap.streams_open, 0);
    mocks.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test]
async fn max_tokens_cuts_the_answer_and_says_so() {
    let mocks = start(fast_config()).await;
    let c = client(&mocks.bedrock_url(), 1);
    let full = stream(&c, HAIKU, "What triggers an inspection?", None).await;
    let short = stream(&c, HAIKU, "What triggers an inspection?", Some(5)).await;
    assert_eq!(short.deltas, 5);
    assert_eq!(short.output_tokens, 5);
    assert_eq!(short.stop, Some(StopReason::MaxTokens));
    assert!(
        full.text.starts_with(&short.text),
        "{} / {}",
        full.text,
        short.text
    );
}

#[tokio::test]
async fn inference_profile_arn_is_accepted() {
    let mocks = start(fast_config()).await;
    let c = client(&mocks.bedrock_url(), 1);
    let s = stream(&c, PROFILE_ARN, "How often is the pump serviced?", None).await;
    assert_eq!(s.stop, Some(StopReason::EndTurn));
    assert!(s.deltas > 0);
}

#[tokio::test]
async fn mid_stream_exceptions_arrive_typed() {
    for kind in ["throttlingException", "modelStreamErrorException"] {
        let mut config = fast_config();
        config.faults.converse_stream.stream_exception = 1.0;
        config.faults.converse_stream.stream_exception_kind = kind.into();
        let mocks = start(config).await;
        let c = client(&mocks.bedrock_url(), 1);
        let mut out = c
            .converse_stream()
            .model_id(HAIKU)
            .messages(user("Tell me about pumps."))
            .send()
            .await
            .expect("the stream starts before the fault");
        let mut deltas = 0;
        let err = loop {
            match out.stream.recv().await {
                Ok(Some(ConverseStreamOutput::ContentBlockDelta(_))) => deltas += 1,
                Ok(Some(ConverseStreamOutput::MessageStart(_))) => {}
                Ok(Some(other)) => panic!("{kind}: unexpected event after the fault {other:?}"),
                Ok(None) => panic!("{kind}: the stream ended without the exception"),
                Err(e) => break e.into_service_error(),
            }
        };
        match kind {
            "throttlingException" => assert!(err.is_throttling_exception(), "{err:?}"),
            _ => assert!(err.is_model_stream_error_exception(), "{err:?}"),
        }
        assert_eq!(
            ProvideErrorMetadata::message(&err),
            Some(mock_services::bedrock::stream::exception_message(kind))
        );
        let snap = mocks.stats().snapshot();
        assert_eq!(
            snap.operations["converse_stream"].outcomes["stream_exception"],
            1
        );
        assert_eq!(snap.tokens_sent, deltas as u64);
    }
}

#[tokio::test]
async fn throttling_and_quota_are_throttling_exceptions() {
    let mut config = fast_config();
    config.faults.converse.throttle = 1.0;
    let mocks = start(config).await;
    let c = client(&mocks.bedrock_url(), 1);
    let err = c
        .converse()
        .model_id(HAIKU)
        .messages(user("hi"))
        .send()
        .await
        .expect_err("throttled")
        .into_service_error();
    assert!(err.is_throttling_exception(), "{err:?}");
    let snap = mocks.stats().snapshot();
    assert_eq!(snap.operations["converse"].requests, 1, "one attempt only");
    assert_eq!(snap.operations["converse"].outcomes["throttle"], 1);

    // A concurrency quota of one: a second stream while the first is open is turned away.
    let mut config = MockConfig::default();
    config.bedrock.ttft_ms = Dist::fixed(3000.0);
    config.faults.converse_stream.max_concurrency = 1;
    let mocks = start(config).await;
    let c = client(&mocks.bedrock_url(), 1);
    let first = c
        .converse_stream()
        .model_id(HAIKU)
        .messages(user("hi"))
        .send()
        .await
        .expect("first stream");
    let err = c
        .converse_stream()
        .model_id(HAIKU)
        .messages(user("hi"))
        .send()
        .await
        .expect_err("over quota")
        .into_service_error();
    assert!(err.is_throttling_exception(), "{err:?}");
    assert_eq!(
        mocks.stats().snapshot().operations["converse_stream"].outcomes["quota"],
        1
    );
    drop(first);
}

#[tokio::test]
async fn unknown_model_is_resource_not_found() {
    let mocks = start(fast_config()).await;
    let c = client(&mocks.bedrock_url(), 1);
    let err = c
        .converse()
        .model_id("acme.large-model-v1:0")
        .messages(user("hi"))
        .send()
        .await
        .expect_err("no such model")
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    assert_eq!(
        ProvideErrorMetadata::message(&err),
        Some("Could not resolve the foundation model from the provided model identifier.")
    );
}

#[tokio::test]
async fn invoke_model_returns_titan_embeddings() {
    let mocks = start(fast_config()).await;
    let c = client(&mocks.bedrock_url(), 1);
    for (model, body, dims) in [
        (
            "amazon.titan-embed-text-v2:0",
            r#"{"inputText":"cooling pump"}"#,
            1024,
        ),
        (
            "amazon.titan-embed-text-v2:0",
            r#"{"inputText":"cooling pump","dimensions":256,"normalize":true}"#,
            256,
        ),
        (
            "amazon.titan-embed-text-v1",
            r#"{"inputText":"cooling pump"}"#,
            1536,
        ),
    ] {
        let out = c
            .invoke_model()
            .model_id(model)
            .content_type("application/json")
            .accept("application/json")
            .body(Blob::new(body))
            .send()
            .await
            .expect("invoke_model");
        assert_eq!(out.content_type(), "application/json");
        let v: serde_json::Value = serde_json::from_slice(out.body().as_ref()).expect("json body");
        let e: Vec<f32> = serde_json::from_value(v["embedding"].clone()).expect("floats");
        assert_eq!(e.len(), dims, "{model}");
        let norm = e.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
        assert_eq!(
            e,
            mock_services::embedding::embed("cooling pump", dims, true)
        );
        assert_eq!(v["inputTextTokenCount"], 2);
    }
    assert_eq!(
        mocks.stats().snapshot().operations["embed"].outcomes["ok"],
        3
    );
}
