//! The blocking ConverseStream pulled one event at a time (`open_stream` + `next_event`), over
//! real sockets: every delta in order, each as soon as it arrives, from whichever thread pulls;
//! deltas decoded in the same chunk as a failure come out before it; failures keep their kind.

use crate::client_support;

use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use client_support::*;
use ragperf::client::{BlockingClients, ErrorKind, StreamEvent};

fn token(event: StreamEvent) -> String {
    match event {
        StreamEvent::Token(t) => t,
        StreamEvent::Done(reply) => panic!("expected a token, got the end: {reply:?}"),
    }
}

#[test]
fn events_are_pulled_one_by_one_from_any_thread() {
    // The server sends the second delta only once the client reports it pulled the first.
    let (tx, rx) = channel();
    let mut first = start();
    first.extend(delta("Paris"));
    let mut rest = delta(" [doc-1]");
    rest.extend(tail(2));
    let script = vec![
        Step::Write(STREAM_HEAD.to_vec()),
        Step::Write(chunk(&first)),
        Step::WaitFor(Arc::new(Mutex::new(rx)), Duration::from_secs(10)),
        Step::Write(chunk(&rest)),
        Step::Write(LAST_CHUNK.to_vec()),
    ];
    let server = RawServer::start(vec![script]);
    let clients = BlockingClients::new(&endpoints(&server.url()), &fast_config(), 1, 0.01).unwrap();
    let mut stream = clients.bedrock.open_stream(&chat()).unwrap();
    assert_eq!(stream.attempts(), 1);
    assert_eq!(token(stream.next_event().unwrap()), "Paris");
    tx.send(()).unwrap();
    // The rest is pulled on another thread, as a pool hands a parked stream to any worker.
    let (second, end, after) = std::thread::spawn(move || {
        let second = token(stream.next_event().unwrap());
        let end = stream.next_event().unwrap();
        let after = stream.next_event();
        (second, end, after)
    })
    .join()
    .unwrap();
    assert_eq!(second, " [doc-1]");
    let StreamEvent::Done(reply) = end else {
        panic!("expected the end, got {end:?}");
    };
    assert_eq!(reply.value.text, "Paris [doc-1]");
    assert_eq!(reply.value.output_tokens, 2);
    assert_eq!(reply.value.stop_reason, "end_turn");
    assert_eq!(reply.attempts, 1);
    assert_eq!(after.unwrap_err().kind, ErrorKind::BadRequest);
    let signals = server.signals.clone();
    server.join();
    assert_eq!(
        *signals.lock().unwrap(),
        [true],
        "first token pulled mid-body"
    );
}

#[test]
fn several_deltas_in_one_chunk_come_out_one_per_pull() {
    let script = vec![
        Step::Write(STREAM_HEAD.to_vec()),
        Step::Write(chunk(&full_stream(&["a", "b", "c"]))),
        Step::Write(LAST_CHUNK.to_vec()),
    ];
    let server = RawServer::start(vec![script]);
    let clients = BlockingClients::new(&endpoints(&server.url()), &fast_config(), 1, 0.01).unwrap();
    let mut stream = clients.bedrock.open_stream(&chat()).unwrap();
    let tokens: Vec<String> = (0..3)
        .map(|_| token(stream.next_event().unwrap()))
        .collect();
    assert_eq!(tokens, ["a", "b", "c"]);
    assert!(matches!(stream.next_event(), Ok(StreamEvent::Done(_))));
    server.join();
}

#[test]
fn failures_come_after_the_deltas_before_them_and_keep_their_kind() {
    // An exception frame in the same chunk as a delta, and a cut in the middle of a frame.
    let mut exception_body = start();
    exception_body.extend(delta("Hel"));
    exception_body.extend(exception("modelStreamErrorException", "model crashed"));
    let mut cut_body = start();
    cut_body.extend(delta("Hel"));
    let half = delta("lo");
    cut_body.extend_from_slice(&half[..half.len() / 2]);
    let cases = [
        (
            "exception",
            vec![
                Step::Write(STREAM_HEAD.to_vec()),
                Step::Write(chunk(&exception_body)),
                Step::Write(LAST_CHUNK.to_vec()),
            ],
            ErrorKind::StreamException("modelStreamErrorException".into()),
        ),
        (
            "cut",
            vec![
                Step::Write(STREAM_HEAD.to_vec()),
                Step::Write(chunk(&cut_body)),
                Step::Close,
            ],
            ErrorKind::StreamCut,
        ),
    ];
    for (name, script, kind) in cases {
        let server = RawServer::start(vec![script]);
        let clients =
            BlockingClients::new(&endpoints(&server.url()), &fast_config(), 1, 0.01).unwrap();
        let mut stream = clients.bedrock.open_stream(&chat()).unwrap();
        assert_eq!(token(stream.next_event().unwrap()), "Hel", "{name}");
        let err = stream.next_event().unwrap_err();
        assert_eq!(err.kind, kind, "{name}: {err}");
        assert_eq!(
            err.attempts, 1,
            "{name}: mid-stream errors are never retried"
        );
        assert_eq!(
            stream.next_event().unwrap_err().kind,
            ErrorKind::BadRequest,
            "{name}: the stream is over"
        );
        assert_eq!(server.requests.lock().unwrap().len(), 1, "{name}");
    }
}
