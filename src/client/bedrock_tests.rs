//! Unit tests of `bedrock.rs` (the request body, the URLs, parsing a `Converse` answer), kept
//! apart so the module stays a readable size.

use super::*;

#[test]
fn body_matches_boto3() {
    let req = ChatRequest {
        system: "sys",
        user: "hi",
        max_tokens: 10,
        temperature: 0.5,
    };
    let v: serde_json::Value = serde_json::from_slice(&request_body(&req)).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"messages":[{"role":"user","content":[{"text":"hi"}]}],
            "system":[{"text":"sys"}],"inferenceConfig":{"maxTokens":10,"temperature":0.5}})
    );
    let v: serde_json::Value =
        serde_json::from_slice(&request_body(&ChatRequest { system: "", ..req })).unwrap();
    assert!(v.get("system").is_none());
}

#[test]
fn urls_encode_the_model() {
    let t = ChatTarget::new(
        &Endpoints::default(),
        &ClientConfig::default(),
        Backoff::new(Default::default(), 1.0),
    )
    .unwrap();
    assert_eq!(
        t.stream_url,
        "http://127.0.0.1:8000/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream"
    );
    assert!(t.converse_url.ends_with("v1%3A0/converse"));
}

#[test]
fn parses_converse() {
    let out = parse_converse(
        br#"{"output":{"message":{"role":"assistant","content":[{"text":"Hel"},{"text":"lo"}]}},
            "stopReason":"end_turn","usage":{"inputTokens":5,"outputTokens":3,"totalTokens":8},
            "metrics":{"latencyMs":12}}"#,
    )
    .unwrap();
    assert_eq!(out.text, "Hello");
    assert_eq!(out.output_tokens, 3);
    assert_eq!(out.usage_output_tokens, Some(3));
    assert_eq!(out.stop_reason, "end_turn");
    let e = parse_converse(br#"{"stopReason":"end_turn"}"#).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadResponse);
}
