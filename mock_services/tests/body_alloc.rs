//! Issue 13 item 8: a request body is allocated as its bytes arrive, never by the declared
//! `Content-Length` (200 connections each declaring 20 MiB once took 4 GB of address space).
//!
//! A test binary of its own: the global allocator records the largest single allocation, and
//! nothing else may run beside this test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mock_services::{Bind, MockConfig, MockServices};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers every call to the system allocator; only records sizes.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

#[tokio::test]
async fn declared_lengths_reserve_nothing() {
    let mut c = MockConfig {
        time_scale: 0.01,
        ..MockConfig::default()
    };
    c.qdrant.corpus_size = 10;
    c.connections.body_timeout_ms = 30_000;
    let m = MockServices::start(c, Bind::default()).await.unwrap();
    // Within both limits (Bedrock 20 MiB, Qdrant 32 MiB), so neither refuses it up front.
    let declared = 19 * 1024 * 1024;
    let heads = [
        (
            m.bedrock_addr(),
            "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
        ),
        (m.qdrant_addr(), "/collections/ragperf-demo/points/query"),
    ];
    LARGEST.store(0, Ordering::Relaxed);
    let mut held = Vec::new();
    for (addr, path) in heads {
        for _ in 0..20 {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(
                format!(
                    "POST {path} HTTP/1.1\r\nHost: m\r\nContent-Type: application/json\r\n\
                     Content-Length: {declared}\r\n\r\n{{\"messages\":"
                )
                .as_bytes(),
            )
            .await
            .unwrap();
            held.push(s);
        }
    }
    // Wait until every request reached its handler (counted), then a little longer.
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let snap = m.stats().snapshot();
        let n = snap.operations["converse"].requests + snap.operations["qdrant_search"].requests;
        if n == 40 {
            break;
        }
        assert!(Instant::now() < end, "only {n} of 40 requests arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest < 2 * 1024 * 1024,
        "largest single allocation {largest} bytes while 40 bodies declared {declared} each"
    );
    drop(held);
}
