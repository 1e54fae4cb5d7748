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

/// The two async client sets: reqwest streams (`fully-async`, `hybrid`) and the event loop's
/// whole-buffer reads (`async-single`).
fn async_sets(url: &str, cfg: &ClientConfig) -> [(&'static str, AsyncClients); 2] {
    [
        (
            "reqwest",
            AsyncClients::new(&endpoints(url), cfg, 1, 0.01).unwrap(),
        ),
        (
            "event loop",
            AsyncClients::for_event_loop(&endpoints(url), cfg, 1, 0.01).unwrap(),
        ),
    ]
}

#[tokio::test]
async fn async_tokens_arrive_before_the_body_ends() {
    for which in 0..2 {
        let (tx, rx) = channel();
        let server = RawServer::start(vec![paced_script(Arc::new(Mutex::new(rx)))]);
        let (name, clients) = async_sets(&server.url(), &fast_config())
            .into_iter()
            .nth(which)
            .unwrap();
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
        assert_eq!(seen, ["Paris", " [doc-1]"], "{name}");
        assert_eq!(reply.value.stop_reason, "end_turn", "{name}");
        let signals = server.signals.clone();
        let requests = server.requests.clone();
        tokio::task::spawn_blocking(move || server.join())
            .await
            .unwrap();
        assert_eq!(
            *signals.lock().unwrap(),
            [true],
            "{name}: first token seen mid-body"
        );
        let req = requests.lock().unwrap()[0].clone();
        assert!(
            req.starts_with(
                "POST /model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream HTTP/1.1"
            ),
            "{name}: {req}"
        );
        assert!(req.contains(r#""maxTokens":64"#), "{name}: {req}");
    }
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
    for which in 0..2 {
        for (name, script, kind, tokens) in failure_cases() {
            let server = RawServer::start(vec![script]);
            let (stack, clients) = async_sets(&server.url(), &idle_config())
                .into_iter()
                .nth(which)
                .unwrap();
            let mut n = 0;
            let t0 = Instant::now();
            let err = clients
                .bedrock
                .converse_stream(&chat(), |_| n += 1)
                .await
                .unwrap_err();
            assert_eq!(err.kind, kind, "{stack}, {name}: {err}");
            assert_eq!(err.attempts, 1, "{stack}, {name}");
            assert_eq!(n, tokens, "{stack}, {name}");
            if kind == ErrorKind::Timeout {
                assert!(
                    t0.elapsed() < Duration::from_secs(4),
                    "{stack}, {name}: {:?}",
                    t0.elapsed()
                );
                assert!(
                    err.message.contains("stream_idle_timeout_ms"),
                    "{stack}: {}",
                    err.message
                );
            }
            assert_eq!(server.requests.lock().unwrap().len(), 1, "{stack}, {name}");
        }
    }
}

/// A throttled opening is retried, then the stream is read, on the event loop's reader too:
/// the 429 is classified from its head and body like every stack's.
#[tokio::test]
async fn event_loop_streams_retry_a_throttled_opening() {
    let throttle = b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n\
                     x-amzn-ErrorType: ThrottlingException:http://internal.amazon.com/\r\n\
                     content-length: 24\r\n\r\n{\"message\":\"slow down!\"}";
    let server = RawServer::start(vec![
        vec![Step::Write(throttle.to_vec()), Step::Close],
        vec![
            Step::Write(STREAM_HEAD.to_vec()),
            Step::Write(chunk(&full_stream(&["a", "b"]))),
            Step::Write(LAST_CHUNK.to_vec()),
        ],
    ]);
    let clients =
        AsyncClients::for_event_loop(&endpoints(&server.url()), &fast_config(), 1, 0.01).unwrap();
    let mut n = 0;
    let reply = clients
        .bedrock
        .converse_stream(&chat(), |_| n += 1)
        .await
        .unwrap();
    assert_eq!((reply.attempts, n), (2, 2));
}

/// Why the event loop reads streams whole: on one thread busy elsewhere, the frames that
/// arrived meanwhile are decoded in the turn that reads them (as aiobotocore on asyncio does),
/// while reqwest forwards them one chunk per trip through the run queue. A ticker task counts
/// the loop's turns; each token records the count it was decoded at.
#[test]
fn an_event_loop_stream_catches_up_in_one_turn() {
    const TOKENS: usize = 20;
    let script = || {
        let mut steps = vec![
            Step::Write(STREAM_HEAD.to_vec()),
            Step::Write(chunk(&start())),
        ];
        for i in 0..TOKENS {
            steps.push(Step::Write(chunk(&delta(&format!("t{i} ")))));
            steps.push(Step::Sleep(Duration::from_millis(3)));
        }
        steps.push(Step::Write(chunk(&tail(TOKENS as u64))));
        steps.push(Step::Write(LAST_CHUNK.to_vec()));
        steps
    };
    // Distinct loop turns at which the tokens after the first were decoded.
    let turns_after_a_stall = |which: usize| -> usize {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = RawServer::start(vec![script()]);
        let (_, clients) = async_sets(&server.url(), &fast_config())
            .into_iter()
            .nth(which)
            .unwrap();
        let turns = runtime.block_on(async move {
            let ticks = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let t = ticks.clone();
            let ticker = tokio::spawn(async move {
                loop {
                    t.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tokio::task::yield_now().await;
                }
            });
            let mut at = Vec::new();
            clients
                .bedrock
                .converse_stream(&chat(), |_| {
                    if at.is_empty() {
                        // Another task's CPU step: the loop does nothing else for 300 ms,
                        // while the server sends every other token.
                        std::thread::sleep(Duration::from_millis(300));
                    }
                    at.push(ticks.load(std::sync::atomic::Ordering::Relaxed));
                })
                .await
                .unwrap();
            ticker.abort();
            assert_eq!(at.len(), TOKENS);
            let mut distinct = at[1..].to_vec();
            distinct.dedup();
            distinct.len()
        });
        server.join();
        turns
    };
    let reqwest = turns_after_a_stall(0);
    let event_loop = turns_after_a_stall(1);
    assert!(
        event_loop <= 2,
        "the event loop's reader took {event_loop} turns for {} buffered tokens",
        TOKENS - 1
    );
    assert!(
        reqwest >= 5,
        "reqwest took {reqwest} turns for {} buffered tokens (the contrast this reader exists for)",
        TOKENS - 1
    );
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
    for which in 0..2 {
        let server = RawServer::start(vec![vec![
            Step::Write(STREAM_HEAD.to_vec()),
            Step::Write(chunk(&full_stream(&["a", "b", "c"]))),
            Step::Write(LAST_CHUNK.to_vec()),
        ]]);
        let (name, clients) = async_sets(&server.url(), &fast_config())
            .into_iter()
            .nth(which)
            .unwrap();
        let task = tokio::spawn(async move {
            let mut tokens = 0u32;
            let r = clients
                .bedrock
                .converse_stream(&chat(), |_| tokens += 1)
                .await;
            (r, tokens)
        });
        let (r, tokens) = task.await.unwrap();
        assert_eq!(r.unwrap().value.output_tokens, 3, "{name}");
        assert_eq!(tokens, 3, "{name}");
    }
}
