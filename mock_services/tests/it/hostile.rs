//! Both mocks against hostile clients, over raw TCP: malformed JSON and HTTP, garbage bytes,
//! oversized bodies, headers and vectors, wrong types, pipelining, slow clients (slow-loris head,
//! slow body, idle keep-alive), the connection cap and clients that hang up during the injected
//! latency. Every case asserts the status and the error shape, and that the server still
//! answers a normal request afterwards.
//!
//! The connection timeouts are configured small (hundreds of ms) so the slow-client cases are
//! quick; the bounds asserted on them are generous (seconds).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mock_services::latency::Dist;
use mock_services::{Bind, MockConfig, MockServices};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HAIKU: &str = "anthropic.claude-3-haiku-20240307-v1%3A0";
const TITAN: &str = "amazon.titan-embed-text-v2%3A0";

fn config() -> MockConfig {
    let mut c = MockConfig {
        time_scale: 0.01,
        ..MockConfig::default()
    };
    c.qdrant.corpus_size = 50;
    c.qdrant.max_body_bytes = 64 * 1024;
    c.bedrock.max_body_bytes = 64 * 1024;
    c.connections.header_timeout_ms = 300;
    c.connections.idle_timeout_ms = 400;
    c.connections.body_timeout_ms = 300;
    c
}

async fn start(config: MockConfig) -> MockServices {
    MockServices::start(config, Bind::default())
        .await
        .expect("mocks start")
}

/// One HTTP/1.1 response as read off the wire.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(300)])
            )
        })
    }

    /// Qdrant's error envelope: `{"status":{"error":".."},"time":..}`; returns the message.
    fn qdrant_error(&self, status: u16) -> String {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.header("content-type"), Some("application/json"));
        let b = self.json();
        assert!(b["time"].is_number(), "{b}");
        b["status"]["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no status.error in {b}"))
            .to_string()
    }

    /// Bedrock's rest-json error: the code header and `{"message":".."}`; returns the message.
    fn bedrock_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.header("x-amzn-errortype"), Some(code), "{self:?}");
        assert_eq!(self.header("content-type"), Some("application/json"));
        self.json()["message"]
            .as_str()
            .expect("message")
            .to_string()
    }
}

/// Reads one response from `stream`, with `buf` holding bytes already read past the previous
/// one (pipelining). `None` when the server closed the connection first.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Resp> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("the server answers within 10 s")
            .unwrap_or(0);
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    buf.drain(..head_end);
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse::<usize>().expect("content-length"))
        .unwrap_or(0);
    while buf.len() < length {
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.expect("body read");
        assert!(n > 0, "connection closed inside the body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf.drain(..length).collect();
    Some(Resp {
        status,
        headers,
        body,
    })
}

/// Sends `raw` on a fresh connection and reads one response.
async fn exchange(addr: SocketAddr, raw: &[u8]) -> Option<Resp> {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(raw).await.expect("write");
    read_response(&mut s, &mut Vec::new()).await
}

fn request(method: &str, path: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: mock\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn converse_body(extra: &str) -> String {
    format!(r#"{{"messages":[{{"role":"user","content":[{{"text":"Hello there"}}]}}]{extra}}}"#)
}

/// Both servers still answer a normal request (on a new connection).
async fn still_serves(m: &MockServices) {
    let r = exchange(
        m.qdrant_addr(),
        &request("POST", "/collections/ragperf-demo/points/count", "{}"),
    )
    .await
    .expect("qdrant answers");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["result"]["count"], 50);
    let r = exchange(
        m.bedrock_addr(),
        &request(
            "POST",
            &format!("/model/{HAIKU}/converse"),
            &converse_body(""),
        ),
    )
    .await
    .expect("bedrock answers");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.json()["output"]["message"]["content"][0]["text"].is_string());
}

async fn stats(m: &MockServices) -> Value {
    exchange(m.bedrock_addr(), &request("GET", "/__ragperf/stats", ""))
        .await
        .expect("stats answer")
        .json()
}

/// Waits (up to 10 s) until `f` holds for the stats.
async fn wait_for_stats(m: &MockServices, what: &str, f: impl Fn(&Value) -> bool) -> Value {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let s = stats(m).await;
        if f(&s) {
            return s;
        }
        assert!(Instant::now() < end, "stats never showed {what}: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads until the server closes the connection; returns how long that took.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> Duration {
    let t0 = Instant::now();
    let mut sink = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit, s.read(&mut sink)).await {
            Err(_) => panic!("the connection was still open after {limit:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return t0.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn malformed_json_gets_each_services_error_shape() {
    let m = start(config()).await;
    let r = exchange(
        m.qdrant_addr(),
        &request("PUT", "/collections/ragperf-demo/points", "{not json"),
    )
    .await
    .unwrap();
    assert!(r.qdrant_error(400).starts_with("Format error in JSON body"));
    let r = exchange(
        m.bedrock_addr(),
        &request("POST", &format!("/model/{HAIKU}/converse"), "{not json"),
    )
    .await
    .unwrap();
    assert!(
        r.bedrock_error(400, "ValidationException")
            .starts_with("Malformed input request")
    );
    still_serves(&m).await;
}

#[tokio::test]
async fn malformed_http_and_garbage_bytes_are_refused_without_harm() {
    let m = start(config()).await;
    for addr in [m.qdrant_addr(), m.bedrock_addr()] {
        // A request line that is not HTTP: hyper answers 400 and closes.
        let r = exchange(addr, b"GARBAGE\r\n\r\n").await;
        assert_eq!(r.map(|r| r.status), Some(400));
        // Binary noise (no CR LF CR LF anywhere): 400, or closed; never a hang or a crash.
        let noise: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80)
            .collect();
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&noise).await.unwrap();
        if let Some(r) = read_response(&mut s, &mut Vec::new()).await {
            assert_eq!(r.status, 400, "{r:?}");
        }
        // A bad Content-Length.
        let r = exchange(
            addr,
            b"POST /x HTTP/1.1\r\nHost: m\r\nContent-Length: banana\r\n\r\n",
        )
        .await;
        assert_eq!(r.map(|r| r.status), Some(400));
    }
    still_serves(&m).await;
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_they_are_read() {
    let m = start(config()).await;
    // Declared far beyond the limit, nothing sent: answered at once from the header.
    let head = |path: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: m\r\nContent-Type: application/json\r\n\
             Content-Length: 20971520\r\n\r\n{{"
        )
    };
    let r = exchange(
        m.bedrock_addr(),
        head(&format!("/model/{HAIKU}/converse")).as_bytes(),
    )
    .await
    .unwrap();
    assert!(
        r.bedrock_error(400, "ValidationException")
            .contains("bedrock.max_body_bytes")
    );
    let r = exchange(
        m.qdrant_addr(),
        head("/collections/ragperf-demo/points/query").as_bytes(),
    )
    .await
    .unwrap();
    assert!(r.qdrant_error(400).contains("larger than allowed"));
    // Chunked, no length: refused once the limit is crossed.
    let mut raw = format!(
        "POST /model/{TITAN}/invoke HTTP/1.1\r\nHost: m\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..20 {
        raw.extend_from_slice(format!("{:x}\r\n{}\r\n", 8192, "a".repeat(8192)).as_bytes());
    }
    let r = exchange(m.bedrock_addr(), &raw).await.unwrap();
    r.bedrock_error(400, "ValidationException");
    still_serves(&m).await;
}

#[tokio::test]
async fn oversized_headers_get_431() {
    let m = start(config()).await;
    for addr in [m.qdrant_addr(), m.bedrock_addr()] {
        let raw = format!(
            "GET /healthz HTTP/1.1\r\nHost: m\r\nX-Big: {}\r\n\r\n",
            "h".repeat(1024 * 1024)
        );
        let r = exchange(addr, raw.as_bytes()).await;
        assert_eq!(r.map(|r| r.status), Some(431));
    }
    still_serves(&m).await;
}

/// Issue 13 item 1: absurd vector sizes are refused like Qdrant refuses them, and an upsert
/// that fails changes nothing.
#[tokio::test]
async fn absurd_vector_sizes_are_refused_and_failed_upserts_change_nothing() {
    let m = start(config()).await;
    let q = m.qdrant_addr();
    let r = exchange(
        q,
        &request(
            "PUT",
            "/collections/h",
            r#"{"vectors":{"size":1125899906842624,"distance":"Dot"}}"#,
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        r.qdrant_error(422),
        "Validation error in JSON body: [vectors.size: value 1125899906842624 invalid, must be \
         from 1 to 65536]"
    );
    // No collection was made, so the upsert that aborted the process is a plain 404.
    let r = exchange(
        q,
        &request(
            "PUT",
            "/collections/h/points",
            r#"{"points":[{"id":1,"vector":{}}]}"#,
        ),
    )
    .await
    .unwrap();
    assert!(r.qdrant_error(404).contains("`h` doesn't exist"));
    // Named vectors, one huge.
    let r = exchange(
        q,
        &request(
            "PUT",
            "/collections/n",
            r#"{"vectors":{"ok":{"size":4,"distance":"Dot"},"big":{"size":1125899906842624,"distance":"Dot"}}}"#,
        ),
    )
    .await
    .unwrap();
    assert!(
        r.qdrant_error(422)
            .contains("vectors.big.size: value 1125899906842624")
    );
    // The largest size Qdrant takes is accepted; a point without that vector costs nothing.
    let r = exchange(
        q,
        &request(
            "PUT",
            "/collections/n",
            r#"{"vectors":{"ok":{"size":2,"distance":"Dot"},"big":{"size":65536,"distance":"Dot"}}}"#,
        ),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    let r = exchange(
        q,
        &request(
            "PUT",
            "/collections/n/points?wait=true",
            r#"{"points":[{"id":1,"vector":{}},{"id":2,"vector":{"ok":[1,0]}}]}"#,
        ),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    // A batch with one bad vector: 400, and the good point before it is not written.
    let r = exchange(
        q,
        &request(
            "PUT",
            "/collections/n/points?wait=true",
            r#"{"points":[{"id":3,"vector":{"ok":[1,1]}},{"id":4,"vector":{"big":[1,2,3]}}]}"#,
        ),
    )
    .await
    .unwrap();
    assert!(r.qdrant_error(400).contains("expected dim: 65536, got 3"));
    let r = exchange(q, &request("POST", "/collections/n/points/count", "{}"))
        .await
        .unwrap();
    assert_eq!(r.json()["result"]["count"], 2, "{r:?}");
    still_serves(&m).await;
}

#[tokio::test]
async fn wrong_types_are_400s_naming_the_field() {
    let m = start(config()).await;
    let r = exchange(
        m.qdrant_addr(),
        &request("PUT", "/collections/ragperf-demo/points", r#"{"points":7}"#),
    )
    .await
    .unwrap();
    assert!(r.qdrant_error(400).starts_with("Format error in JSON body"));
    let r = exchange(
        m.qdrant_addr(),
        &request(
            "POST",
            "/collections/ragperf-demo/points/query",
            r#"{"query":"near","limit":"ten"}"#,
        ),
    )
    .await
    .unwrap();
    assert!(r.status == 400 || r.status == 422, "{r:?}");
    r.qdrant_error(r.status);
    let converse = format!("/model/{HAIKU}/converse");
    let r = exchange(
        m.bedrock_addr(),
        &request("POST", &converse, r#"{"messages":"hi"}"#),
    )
    .await
    .unwrap();
    assert!(
        r.bedrock_error(400, "ValidationException")
            .contains("'messages'")
    );
    let r = exchange(
        m.bedrock_addr(),
        &request(
            "POST",
            &format!("/model/{TITAN}/invoke"),
            r#"{"inputText":3}"#,
        ),
    )
    .await
    .unwrap();
    assert!(
        r.bedrock_error(400, "ValidationException")
            .contains("#/inputText")
    );
    still_serves(&m).await;
}

/// Issue 13 item 9: what Bedrock refuses with a ValidationException, the mock refuses too.
#[tokio::test]
async fn bedrock_refuses_out_of_range_inference_settings() {
    let m = start(config()).await;
    let converse = format!("/model/{HAIKU}/converse");
    let stream = format!("/model/{HAIKU}/converse-stream");
    for (extra, field) in [
        (r#","inferenceConfig":{"temperature":5}"#, "temperature"),
        (r#","inferenceConfig":{"maxTokens":1e12}"#, "maxTokens"),
        (r#","inferenceConfig":{"maxTokens":1000000000000}"#, "4096"),
        (r#","inferenceConfig":{"maxTokens":4097}"#, "4096"),
        (r#","toolConfig":7"#, "toolConfig"),
    ] {
        for path in [&converse, &stream] {
            let r = exchange(
                m.bedrock_addr(),
                &request("POST", path, &converse_body(extra)),
            )
            .await
            .unwrap();
            let msg = r.bedrock_error(400, "ValidationException");
            assert!(msg.contains(field), "{extra}: {msg}");
        }
    }
    // The edges are accepted.
    let r = exchange(
        m.bedrock_addr(),
        &request(
            "POST",
            &converse,
            &converse_body(r#","inferenceConfig":{"temperature":1,"topP":0,"maxTokens":4096}"#),
        ),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    let s = stats(&m).await;
    assert_eq!(s["operations"]["converse"]["outcomes"]["bad_request"], 5);
    assert_eq!(
        s["operations"]["converse_stream"]["outcomes"]["bad_request"],
        5
    );
}

/// Issue 13 item 9: a 10 MB bad string is not echoed back.
#[tokio::test]
async fn error_bodies_do_not_echo_huge_input() {
    let mut c = config();
    c.qdrant.max_body_bytes = 16 * 1024 * 1024;
    c.bedrock.max_body_bytes = 16 * 1024 * 1024;
    c.connections.body_timeout_ms = 10_000;
    let m = start(c).await;
    let huge = "x".repeat(10_000_000);
    let body = format!(r#"{{"vectors":{{"size":4,"distance":"{huge}"}}}}"#);
    let r = exchange(m.qdrant_addr(), &request("PUT", "/collections/e", &body))
        .await
        .unwrap();
    let msg = r.qdrant_error(400);
    assert!(r.body.len() < 4096, "{} bytes", r.body.len());
    assert!(msg.contains("characters elided"), "{msg}");
    let body = format!(r#"{{"messages":[{{"role":"{huge}","content":[{{"text":"a"}}]}}]}}"#);
    let r = exchange(
        m.bedrock_addr(),
        &request("POST", &format!("/model/{HAIKU}/converse"), &body),
    )
    .await
    .unwrap();
    let msg = r.bedrock_error(400, "ValidationException");
    assert!(r.body.len() < 4096, "{} bytes", r.body.len());
    assert!(msg.contains("[user, assistant]"), "{msg}");
    still_serves(&m).await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let m = start(config()).await;
    let mut s = TcpStream::connect(m.qdrant_addr()).await.unwrap();
    let mut raw = Vec::new();
    raw.extend_from_slice(b"GET /healthz HTTP/1.1\r\nHost: m\r\n\r\n");
    raw.extend_from_slice(b"GET /collections/nope HTTP/1.1\r\nHost: m\r\n\r\n");
    raw.extend_from_slice(
        b"POST /collections/ragperf-demo/points/count HTTP/1.1\r\nHost: m\r\nContent-Length: 2\r\n\r\n{}",
    );
    raw.extend_from_slice(b"GET / HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n");
    s.write_all(&raw).await.unwrap();
    let mut buf = Vec::new();
    let mut statuses = Vec::new();
    let mut bodies = Vec::new();
    while let Some(r) = read_response(&mut s, &mut buf).await {
        statuses.push(r.status);
        bodies.push(r.body);
    }
    assert_eq!(statuses, [200, 404, 200, 200]);
    assert_eq!(bodies[0], b"healthz check passed");
    let count: Value = serde_json::from_slice(&bodies[2]).unwrap();
    assert_eq!(count["result"]["count"], 50);
    let version: Value = serde_json::from_slice(&bodies[3]).unwrap();
    assert!(version["version"].is_string());
    still_serves(&m).await;
}

/// Issue 13 item 8: a head that never completes is cut at `connections.header_timeout_ms`,
/// even when its bytes keep trickling in.
#[tokio::test]
async fn slow_loris_heads_are_closed_at_the_header_timeout() {
    let m = start(config()).await;
    for addr in [m.qdrant_addr(), m.bedrock_addr()] {
        // Silent after half a head.
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: m\r\n").await.unwrap();
        closed_within(&mut s, Duration::from_secs(5)).await;
        // Never a byte.
        let mut s = TcpStream::connect(addr).await.unwrap();
        closed_within(&mut s, Duration::from_secs(5)).await;
        // One header line every 50 ms, forever.
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let t0 = Instant::now();
        let mut closed = false;
        for i in 0..100 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if s.write_all(format!("X-{i}: y\r\n").as_bytes())
                .await
                .is_err()
            {
                closed = true;
                break;
            }
        }
        if !closed {
            closed_within(&mut s, Duration::from_secs(2)).await;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    }
    let s = stats(&m).await;
    assert!(
        s["connections"]["header_timeouts"].as_u64() >= Some(6),
        "{s}"
    );
    still_serves(&m).await;
}

/// Issue 13 item 8: a body that stops arriving gets a 408 in the service's shape.
#[tokio::test]
async fn slow_bodies_get_408_at_the_body_timeout() {
    let m = start(config()).await;
    let partial = |path: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: m\r\nContent-Type: application/json\r\n\
             Content-Length: 100\r\n\r\n{{\"messa"
        )
    };
    let r = exchange(
        m.qdrant_addr(),
        partial("/collections/ragperf-demo/points/query").as_bytes(),
    )
    .await
    .unwrap();
    assert!(r.qdrant_error(408).contains("connections.body_timeout_ms"));
    assert_eq!(r.header("connection"), Some("close"));
    let r = exchange(
        m.bedrock_addr(),
        partial(&format!("/model/{HAIKU}/converse")).as_bytes(),
    )
    .await
    .unwrap();
    assert!(
        r.bedrock_error(408, "RequestTimeoutException")
            .contains("connections.body_timeout_ms")
    );
    let s = stats(&m).await;
    assert_eq!(
        s["operations"]["converse"]["outcomes"]["client_timeout"], 1,
        "{s}"
    );
    assert_eq!(
        s["operations"]["qdrant_search"]["outcomes"]["client_timeout"], 1,
        "{s}"
    );
    still_serves(&m).await;
}

/// Issue 13 item 8: an idle kept-alive connection is closed at `connections.idle_timeout_ms`,
/// while a request served for longer than every connection timeout is not cut.
#[tokio::test]
async fn idle_connections_close_but_long_requests_do_not() {
    let mut c = config();
    // Converse takes ~1 s: longer than the header (300 ms) and idle (400 ms) timeouts.
    c.time_scale = 1.0;
    c.bedrock.ttft_ms = Dist::fixed(1000.0);
    c.bedrock.itl_ms = Dist::fixed(0.0);
    c.bedrock.output_tokens = Dist::fixed(3.0);
    let m = start(c).await;
    let mut s = TcpStream::connect(m.bedrock_addr()).await.unwrap();
    let body = converse_body("");
    let keep_alive = format!(
        "POST /model/{HAIKU}/converse HTTP/1.1\r\nHost: m\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let t0 = Instant::now();
    s.write_all(keep_alive.as_bytes()).await.unwrap();
    let r = read_response(&mut s, &mut Vec::new())
        .await
        .expect("answered");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(t0.elapsed() >= Duration::from_millis(900));
    // Now idle: closed after ~400 ms.
    closed_within(&mut s, Duration::from_secs(5)).await;
    let st = stats(&m).await;
    assert_eq!(st["connections"]["idle_timeouts"], 1, "{st}");
    assert_eq!(st["operations"]["converse"]["outcomes"]["ok"], 1, "{st}");
}

/// Issue 13 item 8: beyond `connections.max_open`, a connection gets a 503 in the service's
/// shape and is closed; freeing one lets the next in.
#[tokio::test]
async fn connections_beyond_the_cap_get_503() {
    let mut c = config();
    c.connections.max_open = 2;
    c.connections.header_timeout_ms = 30_000;
    c.connections.idle_timeout_ms = 30_000;
    let m = start(c).await;
    for addr in [m.qdrant_addr(), m.bedrock_addr()] {
        let a = TcpStream::connect(addr).await.unwrap();
        let b = TcpStream::connect(addr).await.unwrap();
        // Both are accepted (and held) before the third arrives.
        let end = Instant::now() + Duration::from_secs(10);
        while m.stats().snapshot().connections.open < 2 {
            assert!(
                Instant::now() < end,
                "the two connections were never accepted"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let r = exchange(addr, &request("GET", "/__ragperf/stats", ""))
            .await
            .expect("a 503, not a silent close");
        assert_eq!(r.status, 503, "{r:?}");
        assert_eq!(r.header("connection"), Some("close"));
        let msg = if addr == m.qdrant_addr() {
            r.qdrant_error(503)
        } else {
            r.bedrock_error(503, "ServiceUnavailableException")
        };
        assert!(msg.contains("connections.max_open"), "{msg}");
        drop((a, b));
        wait_for_stats_direct(&m).await;
    }
    let s = stats(&m).await;
    assert!(s["connections"]["over_cap"].as_u64() >= Some(2), "{s}");
    still_serves(&m).await;
}

/// Waits until the in-process stats show no open connection (the cap is free again).
async fn wait_for_stats_direct(m: &MockServices) {
    let end = Instant::now() + Duration::from_secs(10);
    while m.stats().snapshot().connections.open > 0 {
        assert!(Instant::now() < end, "connections never closed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Issue 13 item 9: requests the client drops during the injected latency get an outcome.
#[tokio::test]
async fn requests_abandoned_during_the_injected_latency_are_counted_client_closed() {
    let mut c = config();
    c.time_scale = 1.0;
    c.connections.idle_timeout_ms = 30_000;
    c.bedrock.ttft_ms = Dist::fixed(5_000.0);
    c.embedding.latency_ms = Dist::fixed(5_000.0);
    c.qdrant.search_ms = Dist::fixed(5_000.0);
    let m = start(c).await;
    let vector: Vec<f32> = mock_services::embedding::embed("pump", 256, true);
    let cases = [
        (
            m.bedrock_addr(),
            format!("/model/{HAIKU}/converse"),
            converse_body(""),
        ),
        (
            m.bedrock_addr(),
            format!("/model/{TITAN}/invoke"),
            json!({"inputText": "pump", "dimensions": 256}).to_string(),
        ),
        (
            m.qdrant_addr(),
            "/collections/ragperf-demo/points/query".to_string(),
            json!({"query": vector, "limit": 3}).to_string(),
        ),
    ];
    for (addr, path, body) in &cases {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&request("POST", path, body)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(s);
    }
    let s = wait_for_stats(&m, "three client_closed outcomes", |s| {
        ["converse", "embed", "qdrant_search"]
            .iter()
            .all(|op| s["operations"][op]["outcomes"]["client_closed"] == 1)
    })
    .await;
    for op in ["converse", "embed", "qdrant_search"] {
        let o = &s["operations"][op];
        assert_eq!(o["requests"], 1, "{op}: {o}");
        assert_eq!(
            o["outcomes"].as_object().map(|m| m.len()),
            Some(1),
            "{op}: {o}"
        );
    }
}

/// The stats routes: `settings` is the effective configuration; the wrong method is a 405 that
/// says which one to use.
#[tokio::test]
async fn stats_carry_the_settings_and_wrong_methods_get_a_clear_405() {
    let m = start(config()).await;
    for addr in [m.qdrant_addr(), m.bedrock_addr()] {
        let s = exchange(addr, &request("GET", "/__ragperf/stats", ""))
            .await
            .unwrap()
            .json();
        let settings = &s["settings"];
        assert_eq!(settings["time_scale"], 0.01, "{settings}");
        assert_eq!(settings["connections"]["header_timeout_ms"], 300);
        assert_eq!(settings["connections"]["max_open"], 25_000);
        assert_eq!(
            settings["bedrock"]["ttft_ms"],
            json!({"dist": "lognormal", "median": 450.0, "p99": 1200.0})
        );
        let back: MockConfig = serde_json::from_value(settings.clone()).unwrap();
        assert_eq!(back, config());
        assert!(
            s["operations"]["embed"]["requests"].is_u64(),
            "existing fields stay"
        );

        let r = exchange(addr, &request("GET", "/__ragperf/stats/reset", ""))
            .await
            .unwrap();
        assert_eq!(r.status, 405);
        assert_eq!(r.header("allow"), Some("POST"));
        assert!(
            r.json()["error"].as_str().unwrap().contains("POST"),
            "{r:?}"
        );
        let r = exchange(addr, &request("DELETE", "/__ragperf/stats", ""))
            .await
            .unwrap();
        assert_eq!(r.status, 405);
        assert_eq!(r.header("allow"), Some("GET"));
        let r = exchange(addr, &request("POST", "/__ragperf/stats/reset", ""))
            .await
            .unwrap();
        assert_eq!(r.status, 200);
    }
    still_serves(&m).await;
}
