//! Holds many concurrent ConverseStream streams open against a running mock Bedrock and reports
//! whether token events keep their schedule, as the client sees it and as the mock saw it.
//!
//! ```text
//! printf 'time_scale = 1.0\n[bedrock]\nttft_ms = 200\nitl_ms = 100\noutput_tokens = 50\n' > load.toml
//! cargo run --release -p mock-services --example serve -- --config load.toml --bedrock 127.0.0.1:18000 &
//! cargo run --release -p mock-services --example stream_load -- http://127.0.0.1:18000 5000 20
//! ```
//!
//! Arguments: the Bedrock URL, the number of concurrent streams, the duration in seconds
//! (closed loop: each of the N tasks starts its next stream when the last one ends). Streams are
//! ramped up over the first second so that the listen backlog is not flooded. The mock's
//! statistics are reset at the start. Run the two in separate processes: on one machine they
//! share its cores, so the figures are a lower bound for the mock alone.
//!
//! Reported: streams and tokens completed, tokens per second, the client-observed gap between
//! consecutive text deltas (compare with the configured `itl_ms`), and the mock's own timer
//! lateness from `/__ragperf/stats`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use hdrhistogram::Histogram;

const BODY: &str = r#"{"messages":[{"role":"user","content":[{"text":"How often is the cooling pump serviced?"}]}]}"#;

#[derive(Default)]
struct Totals {
    streams: AtomicU64,
    tokens: AtomicU64,
    errors: AtomicU64,
}

/// Counts the complete event-stream frames in `buf` and drops them (only the prelude's length
/// is read: the client's CPU should go to reading sockets, not decoding).
fn take_frames(buf: &mut Vec<u8>) -> usize {
    let mut frames = 0;
    let mut at = 0;
    while buf.len() - at >= 4 {
        let len = u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
        if len < 16 || buf.len() - at < len {
            break;
        }
        at += len;
        frames += 1;
    }
    buf.drain(..at);
    frames
}

/// Runs one stream; records the gaps between arrivals of text deltas; returns the delta count.
async fn one_stream(
    client: &reqwest::Client,
    url: &str,
    gaps: &mut Histogram<u64>,
) -> anyhow::Result<u64> {
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .body(BODY)
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("status {}", resp.status());
    }
    let mut body = resp.bytes_stream();
    let mut buf = Vec::new();
    // (arrival, index of the first frame in the chunk, index of the last one).
    let mut arrivals: Vec<(Instant, u64, u64)> = Vec::with_capacity(64);
    let mut frames = 0u64;
    while let Some(chunk) = body.next().await {
        buf.extend_from_slice(&chunk?);
        let n = take_frames(&mut buf) as u64;
        if n > 0 {
            arrivals.push((Instant::now(), frames, frames + n - 1));
            frames += n;
        }
    }
    // Frames: messageStart, the deltas, contentBlockStop, messageStop, metadata.
    let deltas = frames.saturating_sub(4);
    let mut prev: Option<Instant> = None;
    for (at, first, last) in arrivals {
        if last >= 1 && first <= deltas {
            if let Some(p) = prev {
                let _ = gaps.record((at - p).as_micros() as u64);
            }
            prev = Some(at);
        }
    }
    Ok(deltas)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, n, secs] = &args[..] else {
        bail!("usage: stream_load BEDROCK_URL STREAMS SECONDS");
    };
    let n: usize = n.parse().context("STREAMS must be a number")?;
    let secs: u64 = secs.parse().context("SECONDS must be a number")?;
    let _ = mock_services::server::raise_fd_limit();
    let url = Arc::new(format!(
        "{url}/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream"
    ));
    let stats_url = format!("{}/__ragperf/stats", &args[0]);
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(n)
        .build()?;
    let _ = client
        .post(format!("{}/__ragperf/stats/reset", &args[0]))
        .send()
        .await;
    let totals = Arc::new(Totals::default());
    let gaps = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let (client, url, totals, gaps) =
            (client.clone(), url.clone(), totals.clone(), gaps.clone());
        tasks.push(tokio::spawn(async move {
            // Ramp the connections up over the first second.
            tokio::time::sleep(Duration::from_micros((i as u64 * 1_000_000) / n as u64)).await;
            let Ok(mut local) = Histogram::<u64>::new(3) else {
                return;
            };
            while Instant::now() < end {
                match one_stream(&client, &url, &mut local).await {
                    Ok(t) => {
                        totals.streams.fetch_add(1, Ordering::Relaxed);
                        totals.tokens.fetch_add(t, Ordering::Relaxed);
                    }
                    Err(_) => {
                        totals.errors.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            let _ = gaps.lock().map(|mut g| g.add(&local));
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let g = gaps
        .lock()
        .map_err(|_| anyhow::anyhow!("a stream task panicked"))?
        .clone();
    let tokens = totals.tokens.load(Ordering::Relaxed);
    println!(
        "{n} streams for {elapsed:.1} s: {} streams done, {} errors, {tokens} tokens, {:.0} tokens/s",
        totals.streams.load(Ordering::Relaxed),
        totals.errors.load(Ordering::Relaxed),
        tokens as f64 / elapsed,
    );
    let ms = |q: f64| g.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "client gap between deltas ms: p50 {:.1} p90 {:.1} p99 {:.1} p99.9 {:.1} max {:.1} (n={})",
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(0.999),
        g.max() as f64 / 1000.0,
        g.len()
    );
    let stats: serde_json::Value =
        serde_json::from_slice(&client.get(stats_url).send().await?.bytes().await?)?;
    println!("mock timer lateness ms: {}", stats["timer_lateness_ms"]);
    println!("mock streams peak: {}", stats["streams_peak"]);
    Ok(())
}
