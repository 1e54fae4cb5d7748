//! Unit tests of [`super::Protocol`]: the seed and custom SSE shapes, OpenAI chunks, JSON bodies,
//! markers, and the flag errors.

use serde_json::{Value, json};

use super::*;
use crate::target::sse::{SseDecoder, SseEvent};

fn event(data: &str) -> SseEvent {
    SseEvent {
        event: None,
        data: data.to_owned(),
        id: None,
    }
}

fn seed() -> Protocol {
    Protocol::parse("sse", None, None, None).unwrap()
}

fn interpret(p: &Protocol, data: &str) -> Interpreted {
    p.interpret_event(&event(data))
        .unwrap_or_else(|e| panic!("{data}: {e}"))
}

fn token(text: &str) -> Interpreted {
    Interpreted::Token {
        text: text.to_owned(),
        completion_tokens: None,
    }
}

fn done(citations: &[&str]) -> Interpreted {
    Interpreted::Done {
        citations: citations.iter().map(|c| (*c).to_owned()).collect(),
    }
}

fn err(message: &str) -> Interpreted {
    Interpreted::Error(message.to_owned())
}

fn shape_err(r: Result<Protocol, ShapeError>) -> String {
    r.expect_err("a bad flag value").to_string()
}

// ---- the seed SSE shape -------------------------------------------------------------------

#[test]
fn seed_shape_reads_tokens_done_and_errors() {
    let p = seed();
    assert_eq!(
        interpret(&p, r#"{"type":"token","content":"Hel"}"#),
        token("Hel")
    );
    assert_eq!(
        interpret(&p, r#"{"type":"token","content":"naïve 日本語 😀"}"#),
        token("naïve 日本語 😀")
    );
    assert_eq!(
        interpret(&p, r#"{"type":"done","citations":["doc-1","doc-2"]}"#),
        done(&["doc-1", "doc-2"])
    );
    assert_eq!(interpret(&p, r#"{"type":"done"}"#), done(&[]));
    assert_eq!(
        interpret(&p, r#"{"type":"error","message":"boom"}"#),
        err("boom")
    );
}

#[test]
fn seed_shape_ignores_what_is_not_a_token() {
    let p = seed();
    for data in [
        r#"{"type":"meta","retrieval_ms":12,"passages":3}"#,
        r#"{"type":"token","content":""}"#,
        r#"{"type":"token","content":7}"#,
        r#"{"type":"token","content":null}"#,
        r#"{"type":"token"}"#,
        r#"{"type":"token","content":{"text":"x"}}"#,
        r#"[1,2]"#,
        r#""Hel""#,
        "42",
        "null",
    ] {
        assert_eq!(interpret(&p, data), Interpreted::Ignore, "{data}");
    }
}

#[test]
fn seed_shape_checks_error_then_done_then_token() {
    let p = seed();
    // An error marker wins over a token pointer holding text.
    assert_eq!(
        interpret(&p, r#"{"type":"error","message":"m","content":"x"}"#),
        err("m")
    );
    // The done marker wins over a token.
    assert_eq!(
        interpret(&p, r#"{"type":"done","content":"x","citations":["d"]}"#),
        done(&["d"])
    );
}

#[test]
fn error_messages_that_are_not_strings() {
    let p = seed();
    assert_eq!(
        interpret(&p, r#"{"type":"error","message":{"code":503}}"#),
        err(r#"{"code":503}"#)
    );
    let Interpreted::Error(m) = interpret(&p, r#"{"type":"error"}"#) else {
        panic!("not an error");
    };
    assert_eq!(m, r#"error event without a message: {"type":"error"}"#);
    // No error marker: the event is just metadata.
    let shape = SseShape {
        error: None,
        ..SseShape::default()
    };
    assert_eq!(
        interpret(&Protocol::Sse(shape), r#"{"type":"error","message":"m"}"#),
        Interpreted::Ignore
    );
}

#[test]
fn citations_of_every_form() {
    let p = seed();
    assert_eq!(
        interpret(
            &p,
            r#"{"type":"done","citations":[{"doc_id":"d1","score":0.9},{"id":"d2"},{"id":7},{"doc_id":1,"id":"x"},{"title":"t"},3,"d5"]}"#
        ),
        done(&["d1", "d2", "7", "1", r#"{"title":"t"}"#, "3", "d5"])
    );
    // `doc_id` is preferred over `id`.
    assert_eq!(
        interpret(
            &p,
            r#"{"type":"done","citations":[{"id":"b","doc_id":"a"}]}"#
        ),
        done(&["a"])
    );
    assert_eq!(
        interpret(&p, r#"{"type":"done","citations":null}"#),
        done(&[])
    );
    assert_eq!(
        interpret(&p, r#"{"type":"done","citations":[]}"#),
        done(&[])
    );
    // A single value is one citation.
    assert_eq!(
        interpret(&p, r#"{"type":"done","citations":"doc-9"}"#),
        done(&["doc-9"])
    );
}

#[test]
fn data_that_is_not_json_is_malformed_with_an_excerpt() {
    for p in [seed(), Protocol::OpenAi] {
        let e = p.interpret_event(&event("Hel")).unwrap_err();
        assert!(e.reason.starts_with("event data is not JSON ("), "{e}");
        assert_eq!(e.excerpt, "Hel");
        assert!(e.to_string().ends_with("; the data begins `Hel`"), "{e}");
        assert!(p.interpret_event(&event("")).is_err());
        assert!(p.interpret_event(&event(r#"{"type":"token""#)).is_err());
    }
    // The excerpt is cut at 120 characters (not bytes), marked with `…`.
    let long = format!("{{\"content\":\"{}", "é".repeat(300));
    let e = seed().interpret_event(&event(&long)).unwrap_err();
    assert_eq!(e.excerpt.chars().count(), 121);
    assert!(e.excerpt.ends_with("é…"), "{}", e.excerpt);
}

// ---- custom SSE shapes ---------------------------------------------------------------------

#[test]
fn custom_shape_from_flags() {
    let p = Protocol::parse("sse", Some("/delta/text"), Some("/event=end"), None).unwrap();
    assert_eq!(
        interpret(&p, r#"{"event":"delta","delta":{"text":"Hi"}}"#),
        token("Hi")
    );
    assert_eq!(
        interpret(&p, r#"{"event":"end","citations":["c"]}"#),
        done(&["c"])
    );
    // The seed's markers and token pointer no longer apply (but the default error marker does).
    assert_eq!(interpret(&p, r#"{"type":"done"}"#), Interpreted::Ignore);
    assert_eq!(
        interpret(&p, r#"{"type":"token","content":"x"}"#),
        Interpreted::Ignore
    );
    assert_eq!(interpret(&p, r#"{"type":"error","message":"m"}"#), err("m"));
    let Protocol::Sse(shape) = &p else {
        panic!("not sse")
    };
    assert_eq!(shape.token, "/delta/text");
    assert_eq!(shape.done.to_string(), "/event=end");
    assert_eq!(shape.citations, "/citations");
}

#[test]
fn custom_shape_with_presence_marker_root_pointer_and_citations() {
    // Done when `finished` is present and not null; tokens are the whole data as a JSON string.
    let p = Protocol::parse("sse", Some(""), Some("/finished"), Some("/meta/sources")).unwrap();
    assert_eq!(interpret(&p, r#""Hel""#), token("Hel"));
    assert_eq!(
        interpret(&p, r#"{"finished":false,"meta":{"sources":[{"id":"s1"}]}}"#),
        done(&["s1"])
    );
    assert_eq!(interpret(&p, r#"{"finished":null}"#), Interpreted::Ignore);
    // Escaped pointer tokens: `~1` is `/`, `~0` is `~`.
    let p = Protocol::parse("sse", Some("/a~1b/c~0d"), None, None).unwrap();
    assert_eq!(interpret(&p, r#"{"a/b":{"c~d":"x"}}"#), token("x"));
}

// ---- markers ----------------------------------------------------------------------------------

#[test]
fn marker_values_parse_as_strings_numbers_and_booleans() {
    let m = |s: &str| Marker::parse(DONE_MARKER_FLAG, s).unwrap();
    assert_eq!(m("/type=done").equals, Some(json!("done")));
    assert_eq!(m("/n=1").equals, Some(json!(1)));
    assert_eq!(m("/n=-2.5").equals, Some(json!(-2.5)));
    assert_eq!(m("/final=true").equals, Some(json!(true)));
    assert_eq!(m(r#"/code="1""#).equals, Some(json!("1")));
    assert_eq!(m("/x=null").equals, Some(json!("null")));
    assert_eq!(m("/x=[1]").equals, Some(json!("[1]")));
    assert_eq!(m("/type=").equals, Some(json!("")));
    assert_eq!(m("/type=a=b").equals, Some(json!("a=b")));
    assert_eq!(m("/type=a=b").pointer, "/type");
    assert_eq!(
        m("/finished"),
        Marker {
            pointer: "/finished".into(),
            equals: None
        }
    );
    assert_eq!(m("=done").pointer, "");
}

#[test]
fn marker_matching() {
    let m = |s: &str| Marker::parse(DONE_MARKER_FLAG, s).unwrap();
    let v = |s: &str| serde_json::from_str::<Value>(s).unwrap();
    assert!(m("/type=done").matches(&v(r#"{"type":"done"}"#)));
    assert!(!m("/type=done").matches(&v(r#"{"type":"Done"}"#)));
    assert!(!m("/type=done").matches(&v(r#"{"kind":"done"}"#)));
    assert!(!m("/type=done").matches(&v(r#"["done"]"#)));
    // Numbers compare by value, not by representation or as strings.
    assert!(m("/n=1").matches(&v(r#"{"n":1}"#)));
    assert!(m("/n=1").matches(&v(r#"{"n":1.0}"#)));
    assert!(!m("/n=1").matches(&v(r#"{"n":"1"}"#)));
    assert!(m(r#"/n="1""#).matches(&v(r#"{"n":"1"}"#)));
    assert!(m("/final=true").matches(&v(r#"{"final":true}"#)));
    assert!(!m("/final=true").matches(&v(r#"{"final":"true"}"#)));
    // Presence: any value but null.
    assert!(m("/f").matches(&v(r#"{"f":false}"#)));
    assert!(m("/f").matches(&v(r#"{"f":0}"#)));
    assert!(!m("/f").matches(&v(r#"{"f":null}"#)));
    assert!(!m("/f").matches(&v(r#"{"g":1}"#)));
    // Array indices.
    assert!(
        m("/choices/0/finish_reason=stop").matches(&v(r#"{"choices":[{"finish_reason":"stop"}]}"#))
    );
    assert!(m("=done").matches(&v(r#""done""#)));
}

#[test]
fn markers_display_as_flag_values_that_parse_back() {
    for s in [
        "/type=done",
        "/n=1",
        "/final=true",
        r#"/code="1""#,
        "/f",
        "/",
        "=x",
        "/type=",
    ] {
        let m = Marker::parse(DONE_MARKER_FLAG, s).unwrap();
        let shown = m.to_string();
        assert_eq!(
            Marker::parse(DONE_MARKER_FLAG, &shown).unwrap(),
            m,
            "{s} → {shown}"
        );
    }
    assert_eq!(
        Marker::parse(DONE_MARKER_FLAG, r#"/code="1""#)
            .unwrap()
            .to_string(),
        r#"/code="1""#
    );
    assert_eq!(SseShape::default().done.to_string(), "/type=done");
}

#[test]
fn bad_markers_name_the_flag_and_show_an_example() {
    let e = Marker::parse("--done-marker", "type=done").unwrap_err();
    assert_eq!(e.flag, "--done-marker");
    assert_eq!(
        e.to_string(),
        "--done-marker: `type` is not a JSON pointer (RFC 6901): it must be empty or start \
         with `/`, e.g. --done-marker /type=done"
    );
    assert_eq!(
        Marker::parse("--done-marker", "").unwrap_err().to_string(),
        "--done-marker: empty; give a JSON pointer, optionally with =VALUE, e.g. --done-marker \
         /type=done"
    );
    let e = Marker::parse("--done-marker", "/a~2=x")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("--done-marker: `/a~2` has a `~` not followed by 0 or 1"),
        "{e}"
    );
    assert!(Marker::parse("--done-marker", "/a~").is_err());
    assert!(Marker::parse("--done-marker", "/a~0~1").is_ok());
}

// ---- OpenAI-compatible streaming --------------------------------------------------------------

#[test]
fn openai_chunks() {
    let usage = |n| Interpreted::Usage {
        completion_tokens: n,
    };
    let cases = [
        // vLLM's and OpenAI's first chunk carries the role only.
        (
            r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#,
            Interpreted::Ignore,
        ),
        (
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}"#,
            Interpreted::Ignore,
        ),
        (
            r#"{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#,
            token("Hel"),
        ),
        // The finish chunk.
        (
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            Interpreted::Ignore,
        ),
        // `stream_options.include_usage`: a final chunk with no choices.
        (
            r#"{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":42,"total_tokens":52}}"#,
            usage(42),
        ),
        // TGI: finish and usage together, empty content.
        (
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"stop"}],"usage":{"completion_tokens":7}}"#,
            usage(7),
        ),
        // vLLM `continuous_usage_stats`: content and usage in one chunk; neither is lost.
        (
            r#"{"choices":[{"index":0,"delta":{"content":"lo"}}],"usage":{"completion_tokens":2}}"#,
            Interpreted::Token {
                text: "lo".into(),
                completion_tokens: Some(2),
            },
        ),
        // Legacy completions API.
        (
            r#"{"object":"text_completion","choices":[{"index":0,"text":" world","finish_reason":null}]}"#,
            token(" world"),
        ),
        (
            r#"{"choices":[{"index":0,"text":""}]}"#,
            Interpreted::Ignore,
        ),
        // `[DONE]`, with any surrounding whitespace.
        ("[DONE]", done(&[])),
        (" [DONE] ", done(&[])),
        // A null `error` member is no error.
        (
            r#"{"error":null,"choices":[{"delta":{"content":"x"}}]}"#,
            token("x"),
        ),
        // Only the first choice counts; a non-object is nothing.
        (
            r#"{"choices":[{"delta":{}},{"delta":{"content":"n"}}]}"#,
            Interpreted::Ignore,
        ),
        ("[1]", Interpreted::Ignore),
    ];
    for (data, expected) in cases {
        assert_eq!(interpret(&Protocol::OpenAi, data), expected, "{data}");
    }
}

#[test]
fn openai_errors() {
    let p = Protocol::OpenAi;
    assert_eq!(
        interpret(
            &p,
            r#"{"error":{"message":"model overloaded","type":"server_error","code":503}}"#
        ),
        err("model overloaded")
    );
    assert_eq!(interpret(&p, r#"{"error":"boom"}"#), err("boom"));
    assert_eq!(
        interpret(&p, r#"{"error":{"code":500}}"#),
        err(r#"{"code":500}"#)
    );
    // Older vLLM.
    assert_eq!(
        interpret(
            &p,
            r#"{"object":"error","message":"bad request","type":"BadRequestError","code":400}"#
        ),
        err("bad request")
    );
}

#[test]
fn openai_stream_end_to_end_through_the_decoder() {
    let body = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
        ": ping\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}\r\n\r\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" wörld 😀\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"choices\":[],\"usage\":{\"completion_tokens\":3}}\n\n",
        "data: [DONE]\n\n",
    );
    let p = Protocol::OpenAi;
    for size in [1, 7, body.len()] {
        let mut dec = SseDecoder::new(1024);
        let mut events = Vec::new();
        for chunk in body.as_bytes().chunks(size) {
            dec.feed(chunk, &mut events).unwrap();
        }
        assert_eq!(dec.finish(), None);
        let (mut text, mut usage, mut finished) = (String::new(), None, false);
        for ev in &events {
            match p.interpret_event(ev).unwrap() {
                Interpreted::Token { text: t, .. } => text.push_str(&t),
                Interpreted::Usage { completion_tokens } => usage = Some(completion_tokens),
                Interpreted::Done { citations } => {
                    assert!(citations.is_empty());
                    finished = true;
                }
                Interpreted::Error(e) => panic!("{e}"),
                Interpreted::Ignore => {}
            }
        }
        assert_eq!(
            (text.as_str(), usage, finished),
            ("Hello wörld 😀", Some(3), true)
        );
    }
}

// ---- JSON bodies --------------------------------------------------------------------------------

#[test]
fn json_body_with_and_without_citations() {
    let p = Protocol::parse("json", None, None, None).unwrap();
    assert_eq!(
        p.interpret_json_body(br#"{"answer":"Paris [doc-1]","citations":["doc-1"]}"#),
        Ok(("Paris [doc-1]".to_owned(), vec!["doc-1".to_owned()]))
    );
    assert_eq!(
        p.interpret_json_body(br#"{"answer":"Paris","latency_ms":3}"#),
        Ok(("Paris".to_owned(), vec![]))
    );
    assert_eq!(
        p.interpret_json_body(br#"{"answer":""}"#),
        Ok((String::new(), vec![]))
    );
}

#[test]
fn json_body_with_a_custom_shape() {
    let p = Protocol::parse("json", Some("/result/text"), None, Some("/sources")).unwrap();
    assert_eq!(
        p.interpret_json_body(
            "{\"result\":{\"text\":\"日本語\"},\"sources\":[{\"doc_id\":\"a\"},{\"id\":\"b\"}]}"
                .as_bytes()
        ),
        Ok(("日本語".to_owned(), vec!["a".to_owned(), "b".to_owned()]))
    );
}

#[test]
fn malformed_json_bodies() {
    let p = Protocol::parse("json", None, None, None).unwrap();
    let e = p.interpret_json_body(br#"{"answer":42}"#).unwrap_err();
    assert_eq!(
        e.reason,
        "the answer at `/answer` is a number, not a string"
    );
    assert_eq!(e.excerpt, r#"{"answer":42}"#);
    let e = p.interpret_json_body(br#"{"response":"x"}"#).unwrap_err();
    assert_eq!(
        e.reason,
        "the response body has no answer at `/answer` (set it with --token-pointer)"
    );
    let e = p
        .interpret_json_body(b"<html>502 Bad Gateway</html>")
        .unwrap_err();
    assert!(
        e.reason.starts_with("the response body is not JSON ("),
        "{e}"
    );
    assert_eq!(e.excerpt, "<html>502 Bad Gateway</html>");
    // Not UTF-8: an error, with a lossy excerpt.
    let e = p.interpret_json_body(b"{\"answer\":\"\xff\"}").unwrap_err();
    assert!(e.excerpt.contains('\u{FFFD}'), "{e}");
    // A huge body is quoted only in part.
    let big = format!("[{}", "1,".repeat(10_000));
    let e = p.interpret_json_body(big.as_bytes()).unwrap_err();
    assert_eq!(e.excerpt.chars().count(), 121);
}

#[test]
fn bodies_and_events_go_to_the_right_protocol() {
    let json = Protocol::parse("json", None, None, None).unwrap();
    let e = json
        .interpret_event(&event(r#"{"answer":"x"}"#))
        .unwrap_err();
    assert_eq!(
        e.reason,
        "the json protocol reads one response body, not events"
    );
    for p in [seed(), Protocol::OpenAi] {
        let e = p.interpret_json_body(br#"{"answer":"x"}"#).unwrap_err();
        assert_eq!(
            e.reason,
            format!(
                "the {} protocol streams events; only json reads one response body",
                p.name()
            )
        );
    }
}

// ---- flags --------------------------------------------------------------------------------

#[test]
fn protocols_by_name() {
    assert_eq!(seed(), Protocol::Sse(SseShape::default()));
    assert_eq!(
        Protocol::parse("openai", None, None, None),
        Ok(Protocol::OpenAi)
    );
    assert_eq!(
        Protocol::parse("json", None, None, None),
        Ok(Protocol::Json(JsonShape::default()))
    );
    for (name, streaming) in [("sse", true), ("openai", true), ("json", false)] {
        let p = Protocol::parse(name, None, None, None).unwrap();
        assert_eq!(p.name(), name);
        assert_eq!(p.is_streaming(), streaming);
    }
    let d = SseShape::default();
    assert_eq!(
        (
            d.token.as_str(),
            d.error_message.as_str(),
            d.citations.as_str()
        ),
        ("/content", "/message", "/citations")
    );
    assert_eq!(d.error.map(|m| m.to_string()), Some("/type=error".into()));
}

#[test]
fn unknown_protocol_names_the_flag_and_the_choices() {
    assert_eq!(
        shape_err(Protocol::parse("foo", None, None, None)),
        "--protocol: `foo` is not a protocol; use sse, openai or json"
    );
    // Names are exact.
    assert!(Protocol::parse("SSE", None, None, None).is_err());
    assert!(Protocol::parse("", None, None, None).is_err());
}

#[test]
fn flags_a_protocol_does_not_use_are_errors_naming_the_flag() {
    let cases = [
        ("openai", Some("/x"), None, None, "--token-pointer: "),
        ("openai", None, Some("/type=done"), None, "--done-marker: "),
        ("openai", None, None, Some("/c"), "--citations-pointer: "),
        ("json", None, Some("/type=done"), None, "--done-marker: "),
    ];
    for (name, t, d, c, prefix) in cases {
        let e = shape_err(Protocol::parse(name, t, d, c));
        assert!(e.starts_with(prefix), "{e}");
        assert!(e.contains("drop "), "no fix in: {e}");
    }
    assert_eq!(
        shape_err(Protocol::parse("openai", None, Some("/type=done"), None)),
        "--done-marker: the openai protocol ends at `data: [DONE]`; drop --done-marker, or use \
         --protocol sse for another JSON shape"
    );
}

#[test]
fn bad_pointers_name_the_flag_and_show_an_example() {
    assert_eq!(
        shape_err(Protocol::parse("sse", Some("content"), None, None)),
        "--token-pointer: `content` is not a JSON pointer (RFC 6901): it must be empty or start \
         with `/`, e.g. --token-pointer /content"
    );
    assert_eq!(
        shape_err(Protocol::parse("sse", None, None, Some("citations.0"))),
        "--citations-pointer: `citations.0` is not a JSON pointer (RFC 6901): it must be empty \
         or start with `/`, e.g. --citations-pointer /citations"
    );
    assert!(
        shape_err(Protocol::parse("sse", None, Some("type=done"), None))
            .starts_with("--done-marker: `type` is not a JSON pointer")
    );
    assert!(
        shape_err(Protocol::parse("json", Some("answer"), None, None))
            .starts_with("--token-pointer: `answer`")
    );
    assert!(
        shape_err(Protocol::parse("json", None, None, Some("/a~x")))
            .starts_with("--citations-pointer: `/a~x` has a `~`")
    );
}

#[test]
fn classify_event_agrees_with_interpret_event_without_the_text() {
    let strip = |i: Interpreted| match i {
        Interpreted::Token {
            completion_tokens, ..
        } => Interpreted::Token {
            text: (),
            completion_tokens,
        },
        Interpreted::Usage { completion_tokens } => Interpreted::Usage { completion_tokens },
        Interpreted::Done { citations } => Interpreted::Done { citations },
        Interpreted::Error(m) => Interpreted::Error(m),
        Interpreted::Ignore => Interpreted::Ignore,
    };
    let custom = Protocol::parse("sse", Some("/a~1b/0"), Some("/end"), None).unwrap();
    for p in [seed(), Protocol::OpenAi, custom] {
        for data in [
            r#"{"type":"token","content":"x"}"#,
            r#"{"type":"tok\u0065n","content":"caf\u00e9","extra":[1,{"a":null}]}"#,
            r#"{"type":"token","content":"x","type":"error","message":"m"}"#,
            r#"{"type":"d\u006fne","citations":["a"]}"#,
            r#"{"type":7,"content":"x"}"#,
            r#"{"content":"x"}"#,
            r#"{"type":null,"content":""}"#,
            r#"{"a/b":["t"],"end":1}"#,
            r#"{"a/b":["t"]}"#,
            r#"{"choices":[{"delta":{"content":"x"}}],"usage":{"completion_tokens":3}}"#,
            r#"{"type":"token","content":"x"} trailing"#,
            r#"[1]"#,
            "[DONE]",
        ] {
            let full = p.interpret_event(&event(data)).map(strip);
            assert_eq!(p.classify_event(&event(data)), full, "{} {data}", p.name());
        }
    }
}
