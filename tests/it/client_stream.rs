//! ConverseStream over real sockets, both stacks: tokens reach the callback while the body is
//! still open, and cuts, stalls, exception frames and corrupt frames end the call with the right
//! kind and are not retried. Served by a raw TCP server that plays exact byte scripts.

use crate::client_support;

use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client_support::*;
use ragperf::client::{AsyncClients, BlockingClients, ClientConfig, ErrorKind};

/// A script that sends the first delta, then waits until the client reports it saw it, then
/// sends the rest. If the client buffered the body, the wait times out (recorded as `false`).
fn paced_script(rx: Arc<Mutex<Receiver<()>>>) -> Vec<Step> {
    let mut first = start();
    first.extend(delta("Paris"));
    let mut rest = delta(" [doc-1]");
    rest.extend(tail(2));
    vec![
        Step::Write(STREAM_HEAD.to_vec()),
        Step::Write(chunk(&first)),
        Step::WaitFor(rx, Duration::from_secs(10)),
        Step::Write(chunk(&rest)),
        Step::Write(LAST_CHUNK.to_vec()),
    ]
}

#[test]
fn blocking_tokens_arrive_before_the_body_ends() {
    let (tx, rx) = channel();
    let server = RawServer::start(vec![paced_script(Arc::new(Mutex::new(rx)))]);
    let clients = BlockingClients::new(&endpoints(&server.url()), &fast_config(), 1, 0.01).unwrap();
    let caller = std::thread::current().id();
    let mut seen = Vec::new();
    let reply = clients
        .bedrock
        .converse_stream(&chat(), |t| {
            assert_eq!(
                std::thread::current().id(),
                caller,
                "tokens on the calling thread"
            );
            if seen.is_empty() {
                let _ = tx.send(());
            }
            seen.push(t.to_string());
        })
        .unwrap();
    assert_eq!(seen, ["Paris", " [doc-1]"]);
    assert_eq!(reply.value.text, "Paris [doc-1]");
    assert_eq!(reply.value.output_tokens, 2);
    assert_eq!(reply.value.usage_output_tokens, Some(2));
    assert_eq!(reply.attempts, 1);
    let signals = server.signals.clone();
    let requests = server.requests.clone();
    server.join();
    assert_eq!(
        *signals.lock().unwrap(),
        [true],
        "first token seen mid-body"
    );
    let req = requests.lock().unwrap()[0].clone();
    assert!(
        req.starts_with(
            "POST /model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream HTTP/1.1"
        ),
        "{req}"
    );
    assert!(req.contains(r#""maxTokens":64"#), "{req}");
}

#[tokio::test]
async fn async_tokens_arrive_before_the_body_ends() {
    let (tx, rx) = channel();
    let server = RawServer::start(vec![paced_script(Arc::new(Mutex::new(rx)))]);
    let clients = AsyncClients::new(&endpoints(&server.url()), &fast_config(), 1, 0.01).unwrap();
    let mut seen = Vec::new();
    let reply = clients
        .bedrock
        .converse_stream(&chat(), |t| {
            if seen.is_empty() {
                let _ = tx.send(());
            }
            seen.push(t.to_string());
        })
        .await
        .unwrap();
    assert_eq!(seen, ["Paris", " [doc-1]"]);
    assert_eq!(reply.value.stop_reason, "end_turn");
    let signals = server.signals.clone();
    tokio::task::spawn_blocking(move || server.join())
        .await
        .unwrap();
    assert_eq!(
        *signals.lock().unwrap(),
        [true],
        "first token seen mid-body"
    );
}

/// Headers, a delta, then the connection closes mid-frame.
fn cut_script() -> Vec<Step> {
    let mut body = start();
    body.extend(delta("Hel"));
    let half = delta("lo");
    body.extend_from_slice(&half[..half.len() / 2]);
    vec![
        Step::Write(STREAM_HEAD.to_vec()),
        Step::Write(chunk(&body)),
        Step::Close,
    ]
}

/// Headers, a complete chunked body that just stops before messageStop.
fn early_end_script() -> Vec<Step> {
    let mut body = start();
    body.extend(delta("Hel"));
    vec![
        Step::Write(STREAM_HEAD.to_vec()),
        Step::Write(chunk(&body)),
        Step::Write(LAST_CHUNK.to_vec()),
    ]
}

/// Headers and a delta, then silence for longer than any test waits.
fn stall_script() -> Vec<Step> {
    let mut body = start();
    body.extend(delta("Hel"));
    vec![
        Step::Write(STREAM_HEAD.to_vec()),
        Step::Write(chunk(&body)),
        Step::Sleep(Duration::from_secs(6)),
    ]
}

fn exception_script() -> Vec<Step> {
    let mut body = start();
    body.extend(delta("Hel"));
    body.extend(exception("modelStreamErrorException", "model crashed"));
    vec![
        Step::Write(STREAM_HEAD.to_vec()),
        Step::Write(chunk(&body)),
        Step::Write(LAST_CHUNK.to_vec()),
    ]
}

fn corrupt_script() -> Vec<Step> {
    let mut body = start();
    let mut d = delta("Hel");
    let at = d.len() - 1; // the message CRC's last byte
    d[at] ^= 0xff;
    body.extend(d);
    body.extend(tail(1));
    vec![
        Step::Write(STREAM_HEAD.to_vec()),
        Step::Write(chunk(&body)),
        Step::Write(LAST_CHUNK.to_vec()),
    ]
}

fn idle_config() -> ClientConfig {
    ClientConfig {
        stream_idle_timeout_ms: 300,
        ..fast_config()
    }
}

/// (script, expected kind, tokens delivered before the failure)
fn failure_cases() -> Vec<(&'static str, Vec<Step>, ErrorKind, usize)> {
    vec![
        ("cut", cut_script(), ErrorKind::StreamCut, 1),
        ("early_end", early_end_script(), ErrorKind::StreamCut, 1),
        ("stall", stall_script(), ErrorKind::Timeout, 1),
        (
            "exception",
            exception_script(),
            ErrorKind::StreamException("modelStreamErrorException".into()),
            1,
        ),
        ("corrupt", corrupt_script(), ErrorKind::BadResponse, 0),
    ]
}

#[test]
fn blocking_mid_stream_failures_have_their_kind_and_are_not_retried() {
    for (name, script, kind, tokens) in failure_cases() {
        let server = RawServer::start(vec![script]);
        let clients =
            BlockingClients::new(&endpoints(&server.url()), &idle_config(), 1, 0.01).unwrap();
        let mut n = 0;
        let t0 = Instant::now();
        let err = clients
            .bedrock
            .converse_stream(&chat(), |_| n += 1)
            .unwrap_err();
        assert_eq!(err.kind, kind, "{name}: {err}");
        assert_eq!(
            err.attempts, 1,
            "{name}: mid-stream errors are never retried"
        );
        assert_eq!(n, tokens, "{name}");
        if kind == ErrorKind::Timeout {
            // 300 ms idle limit; generous bound for a loaded machine, far below the 6 s stall.
            assert!(
                t0.elapsed() < Duration::from_secs(4),
                "{name}: {:?}",
                t0.elapsed()
            );
            assert!(
                err.message.contains("stream_idle_timeout_ms"),
                "{}",
                err.message
            );
        }
        assert_eq!(server.requests.lock().unwrap().len(), 1, "{name}");
    }
}

#[tokio::test]
async fn async_mid_stream_failures_have_their_kind_and_are_not_retried() {
    for (name, script, kind, tokens) in failure_cases() {
        let server = RawServer::start(vec![script]);
        let clients =
            AsyncClients::new(&endpoints(&server.url()), &idle_config(), 1, 0.01).unwrap();
        let mut n = 0;
        let t0 = Instant::now();
        let err = clients
            .bedrock
            .converse_stream(&chat(), |_| n += 1)
            .await
            .unwrap_err();
        assert_eq!(err.kind, kind, "{name}: {err}");
        assert_eq!(err.attempts, 1, "{name}");
        assert_eq!(n, tokens, "{name}");
        if kind == ErrorKind::Timeout {
            assert!(
                t0.elapsed() < Duration::from_secs(4),
                "{name}: {:?}",
                t0.elapsed()
            );
        }
        assert_eq!(server.requests.lock().unwrap().len(), 1, "{name}");
    }
}

#[test]
fn blocking_headers_that_never_come_time_out_with_request_timeout() {
    let server = RawServer::start(vec![vec![Step::Sleep(Duration::from_secs(6))]]);
    let cfg = ClientConfig {
        request_timeout_ms: 300,
        ..fast_config()
    };
    let clients = BlockingClients::new(&endpoints(&server.url()), &cfg, 1, 0.01).unwrap();
    let t0 = Instant::now();
    let err = clients
        .bedrock
        .converse_stream(&chat(), |_| {})
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout, "{err}");
    assert_eq!(err.attempts, 1);
    assert!(t0.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn async_future_is_send_and_runs_on_a_spawned_task() {
    let server = RawServer::start(vec![vec![
        Step::Write(STREAM_HEAD.to_vec()),
        Step::Write(chunk(&full_stream(&["a", "b", "c"]))),
        Step::Write(LAST_CHUNK.to_vec()),
    ]]);
    let clients = AsyncClients::new(&endpoints(&server.url()), &fast_config(), 1, 0.01).unwrap();
    let task = tokio::spawn(async move {
        let mut tokens = 0u32;
        let r = clients
            .bedrock
            .converse_stream(&chat(), |_| tokens += 1)
            .await;
        (r, tokens)
    });
    let (r, tokens) = task.await.unwrap();
    assert_eq!(r.unwrap().value.output_tokens, 3);
    assert_eq!(tokens, 3);
}
