//! Shared helpers of the `client_*` tests: AWS event-stream frames built with
//! `aws_smithy_eventstream`'s writer, and a tiny raw-TCP HTTP server that plays a script of
//! writes, pauses and waits per connection (to stall, cut or pace a response exactly).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use ragperf::client::{ClientConfig, Endpoints, RetryPolicy};

/// One frame with string headers.
pub fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let hs = headers
        .iter()
        .map(|(k, v)| Header::new(k.to_string(), HeaderValue::String(v.to_string().into())))
        .collect();
    let msg = Message::new_from_parts(hs, payload.to_vec());
    let mut out = Vec::new();
    write_message_to(&msg, &mut out).expect("test frame encodes");
    out
}

/// A ConverseStream event frame, headers in real Bedrock's order.
pub fn event(kind: &str, payload: &str) -> Vec<u8> {
    frame(
        &[
            (":event-type", kind),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.as_bytes(),
    )
}

/// A `contentBlockDelta` carrying `text`.
pub fn delta(text: &str) -> Vec<u8> {
    let payload = serde_json::json!({"contentBlockIndex":0,"delta":{"text":text},"p":"abcdefgh"});
    event("contentBlockDelta", &payload.to_string())
}

/// A mid-stream exception frame.
pub fn exception(kind: &str, message: &str) -> Vec<u8> {
    let payload = serde_json::json!({ "message": message });
    frame(
        &[
            (":exception-type", kind),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        payload.to_string().as_bytes(),
    )
}

/// `messageStart` (the head of every stream).
pub fn start() -> Vec<u8> {
    event("messageStart", r#"{"role":"assistant"}"#)
}

/// `contentBlockStop`, `messageStop` and `metadata` with `output_tokens` (the tail).
pub fn tail(output_tokens: u64) -> Vec<u8> {
    let mut out = event("contentBlockStop", r#"{"contentBlockIndex":0}"#);
    out.extend(event("messageStop", r#"{"stopReason":"end_turn"}"#));
    let meta = serde_json::json!({
        "usage": {"inputTokens": 10, "outputTokens": output_tokens, "totalTokens": 10 + output_tokens},
        "metrics": {"latencyMs": 5}
    });
    out.extend(event("metadata", &meta.to_string()));
    out
}

/// A complete stream of `tokens`.
pub fn full_stream(tokens: &[&str]) -> Vec<u8> {
    let mut out = start();
    for t in tokens {
        out.extend(delta(t));
    }
    out.extend(tail(tokens.len() as u64));
    out
}

/// Response head of a streamed (chunked) ConverseStream answer.
pub const STREAM_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/vnd.amazon.eventstream\r\ntransfer-encoding: chunked\r\n\r\n";

/// One HTTP/1.1 chunk.
pub fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// The last chunk.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// What the raw server does on one connection, after reading the request.
pub enum Step {
    /// Write these bytes (and flush).
    Write(Vec<u8>),
    /// Pause.
    Sleep(Duration),
    /// Wait until the test signals (e.g. "the client saw the first token"), at most the duration;
    /// records whether the signal came.
    WaitFor(Arc<Mutex<Receiver<()>>>, Duration),
    /// Close the connection now (abruptly ends the response).
    Close,
}

/// A raw HTTP server: connection `i` plays `scripts[i]`; then it stops accepting.
pub struct RawServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `WaitFor` outcomes, in order: true = signalled in time.
    pub signals: Arc<Mutex<Vec<bool>>>,
    /// Requests (head + body, lossy UTF-8) received, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
    handle: Option<JoinHandle<()>>,
}

fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut tmp).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = stream.read(&mut tmp).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

impl RawServer {
    /// Starts serving `scripts`, one per accepted connection, on a plain thread.
    pub fn start(scripts: Vec<Vec<Step>>) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind test server");
        let addr = listener.local_addr().expect("test server address");
        let signals = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (sig, reqs) = (signals.clone(), requests.clone());
        let handle = std::thread::spawn(move || {
            for script in scripts {
                let Ok((mut stream, _)) = listener.accept() else {
                    return;
                };
                let _ = stream.set_nodelay(true);
                if let Some(r) = read_request(&mut stream) {
                    reqs.lock().unwrap().push(r);
                }
                for step in script {
                    match step {
                        Step::Write(b) => {
                            if stream.write_all(&b).and_then(|()| stream.flush()).is_err() {
                                break;
                            }
                        }
                        Step::Sleep(d) => std::thread::sleep(d),
                        Step::WaitFor(rx, d) => {
                            let got = match rx.lock().unwrap().recv_timeout(d) {
                                Ok(()) => true,
                                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                                    false
                                }
                            };
                            sig.lock().unwrap().push(got);
                        }
                        Step::Close => break,
                    }
                }
                drop(stream);
            }
        });
        RawServer {
            addr,
            signals,
            requests,
            handle: Some(handle),
        }
    }

    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits for the server thread (all scripts played).
    pub fn join(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Endpoints pointing both services at `url`.
pub fn endpoints(url: &str) -> Endpoints {
    let mut e = Endpoints::new(url, url);
    e.embed_dimensions = 4;
    e
}

/// Small timeouts, 3 attempts, tiny backoffs.
pub fn fast_config() -> ClientConfig {
    ClientConfig {
        connect_timeout_ms: 2_000,
        request_timeout_ms: 5_000,
        stream_idle_timeout_ms: 5_000,
        pool_size: Some(4),
        retry: RetryPolicy {
            max_attempts: 3,
            base_backoff_ms: 10,
            max_backoff_ms: 100,
        },
    }
}

/// The chat request every test sends.
pub fn chat() -> ragperf::client::ChatRequest<'static> {
    ragperf::client::ChatRequest {
        system: "Answer from the sources.",
        user: "What is the capital of France?",
        max_tokens: 64,
        temperature: 0.0,
    }
}
