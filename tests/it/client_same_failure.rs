//! One error classification and one retry rule for every client stack: the same broken backend
//! gives every variant (blocking ureq, async reqwest, and their mixes) the same failure kind
//! and the same number of retries per failed request.

use crate::common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Duration;

use common::*;
use ragperf::client::RetryPolicy;
use ragperf::pipeline::VariantKind;

/// How a broken backend answers every request.
#[derive(Clone, Copy, Debug)]
enum Broken {
    /// Bytes that are not HTTP, then close.
    Garbage,
    /// Read the request, close without a byte.
    CloseSilently,
    /// A 200 head promising 1000 bytes, 10 sent, then close.
    TruncatedBody,
    /// A complete 200 whose body is not JSON.
    NotJson,
}

fn read_head(stream: &mut TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut tmp) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
}

/// Deterministic bytes that never form an HTTP status line.
fn garbage() -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..512)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8 | 0x80
        })
        .collect()
}

/// Serves `how` on every connection until the test process ends; returns its base URL.
fn serve(how: Broken) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                read_head(&mut s);
                let reply: Vec<u8> = match how {
                    Broken::Garbage => garbage(),
                    Broken::CloseSilently => Vec::new(),
                    Broken::TruncatedBody => {
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\nconnection: close\r\n\r\n{\"embeddin"
                            .to_vec()
                    }
                    Broken::NotJson => {
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot json!"
                            .to_vec()
                    }
                };
                let _ = s.write_all(&reply);
                let _ = s.flush();
                let _ = s.shutdown(Shutdown::Both);
            });
        }
    });
    url
}

/// (failure kinds, retries per failed request) of `kind` against `url`.
fn failures(kind: VariantKind, url: &str) -> (Vec<String>, u64, u64) {
    let mut s = fast_seed_scenario();
    s.load.requests = Some(4);
    s.load.duration = None;
    s.load.drain_timeout = Some(Duration::from_secs(20));
    s.client.request_timeout_ms = 5_000;
    s.client.retry = RetryPolicy {
        max_attempts: 3,
        base_backoff_ms: 1,
        max_backoff_ms: 5,
    };
    let mut p = plan(s, &[kind], vec![closed(2)]);
    p.external = Some((url.to_string(), url.to_string()));
    let result = run(&p);
    let c = &variant(&result, kind.name()).counters;
    assert_eq!(c.ok, 0, "{kind:?}: nothing can succeed");
    assert!(c.failed >= 4, "{kind:?}: {c:?}");
    (
        c.failed_by_kind.keys().cloned().collect(),
        c.retries,
        c.failed,
    )
}

fn same_for_every_variant(how: Broken, expected_kind: &str, expected_attempts: u64) {
    let url = serve(how);
    for kind in VariantKind::ALL {
        let (kinds, retries, failed) = failures(kind, &url);
        assert_eq!(kinds, [expected_kind], "{how:?} under {kind:?}");
        assert_eq!(
            retries,
            failed * (expected_attempts - 1),
            "{how:?} under {kind:?}: {retries} retries for {failed} failed requests"
        );
    }
}

#[test]
fn garbage_bytes_are_a_bad_response_and_not_retried() {
    same_for_every_variant(Broken::Garbage, "bad_response", 1);
}

#[test]
fn a_connection_closed_before_any_byte_is_connect_and_retried() {
    same_for_every_variant(Broken::CloseSilently, "connect", 3);
}

#[test]
fn a_truncated_body_is_a_stream_cut_and_not_retried() {
    same_for_every_variant(Broken::TruncatedBody, "stream_cut", 1);
}

#[test]
fn a_body_that_is_not_json_is_a_bad_response_and_not_retried() {
    same_for_every_variant(Broken::NotJson, "bad_response", 1);
}
