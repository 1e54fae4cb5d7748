//! A scripted HTTP/1.1 server for the `--target` tests: each connection reads one request and
//! plays a [`Script`] — raw writes (so a response can be split anywhere: mid-line, mid-UTF-8
//! character, between `\r` and `\n`), pauses, and a close — so the client's parsing, timing and
//! failure handling can be checked against exactly the bytes a test chooses.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// One step of a response.
#[derive(Clone, Debug)]
pub enum Step {
    /// Write these bytes (one `write` call, flushed).
    Write(Vec<u8>),
    /// Pause.
    Sleep(Duration),
    /// Close the connection now.
    Close,
}

/// What the server does with one request.
pub type Script = Vec<Step>;

/// A running scripted server on a free loopback port.
pub struct ScriptServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Requests whose head was read.
    pub requests: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    /// The last request body seen.
    pub last_body: Arc<std::sync::Mutex<String>>,
}

impl ScriptServer {
    /// Serves `script(request_index, body)` on every connection until dropped.
    pub fn start(script: impl Fn(u64, &str) -> Script + Send + Sync + 'static) -> ScriptServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        listener.set_nonblocking(true).expect("nonblocking");
        let requests = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let last_body = Arc::new(std::sync::Mutex::new(String::new()));
        let script = Arc::new(script);
        let (r, s, b) = (requests.clone(), stop.clone(), last_body.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (r, script, b) = (r.clone(), script.clone(), b.clone());
                        std::thread::spawn(move || serve(stream, &r, &*script, &b));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        ScriptServer {
            base,
            requests,
            stop,
            last_body,
        }
    }
}

impl Drop for ScriptServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(
    mut stream: TcpStream,
    requests: &AtomicU64,
    script: &(dyn Fn(u64, &str) -> Script + Send + Sync),
    last_body: &std::sync::Mutex<String>,
) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    // Read the head, then Content-Length bytes of body.
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut tmp) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match stream.read(&mut tmp) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).to_string();
    if let Ok(mut b) = last_body.lock() {
        *b = body.clone();
    }
    let n = requests.fetch_add(1, Ordering::SeqCst);
    for step in script(n, &body) {
        match step {
            Step::Write(bytes) => {
                if stream
                    .write_all(&bytes)
                    .and_then(|_| stream.flush())
                    .is_err()
                {
                    return;
                }
            }
            Step::Sleep(d) => std::thread::sleep(d),
            Step::Close => return,
        }
    }
}

/// A response head with no length: the body runs to the close.
pub fn head(status: &str, content_type: &str) -> Step {
    Step::Write(
        format!("HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\nconnection: close\r\n\r\n")
            .into_bytes(),
    )
}

/// Splits `bytes` into writes of `size` bytes with a short pause between them, so each lands
/// in its own TCP segment and the client sees every boundary.
pub fn dribble(bytes: &[u8], size: usize) -> Vec<Step> {
    bytes
        .chunks(size.max(1))
        .flat_map(|c| {
            [
                Step::Write(c.to_vec()),
                Step::Sleep(Duration::from_millis(1)),
            ]
        })
        .collect()
}

/// The seed's SSE stream: `tokens` token events then a done event citing `doc-1`, `doc-2`.
pub fn seed_stream(tokens: &[&str], line_end: &str) -> Vec<u8> {
    let mut s = String::new();
    s.push_str(&format!(": keep-alive{line_end}{line_end}"));
    for t in tokens {
        let ev = serde_json::json!({"type": "token", "content": t});
        s.push_str(&format!("data: {ev}{line_end}{line_end}"));
    }
    s.push_str(&format!(
        "data: {{\"type\":\"done\",\"citations\":[\"doc-1\",\"doc-2\"]}}{line_end}{line_end}"
    ));
    s.into_bytes()
}

/// Runs `ragperf` with `args`, returning (exit code, stdout, stderr).
/// A port nothing listens on now (the OS picks it; a service started next binds it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

pub fn ragperf(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ragperf"))
        .args(args)
        .output()
        .expect("run ragperf");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// `ragperf run --target URL --json` (no `--target` when `url` is empty); the parsed result.
pub fn run_json(url: &str, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_string_lossy().to_string();
    let mut args = vec![
        "run",
        "--json",
        "--no-progress",
        "--out",
        &out,
        "--warmup",
        "0s",
        "--ramp",
        "0s",
    ];
    // An empty URL leaves the target to the scenario file's [target] section.
    if !url.is_empty() {
        args.extend(["--target", url]);
    }
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = ragperf(&args);
    let value = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (code, value, stderr)
}

/// Fails with every violation when `result` does not match the committed JSON Schema.
pub fn assert_schema(result: &serde_json::Value) {
    let errors = crate::schema_support::Schema::result().errors(result);
    assert!(
        errors.is_empty(),
        "schema violations:\n{}",
        errors.join("\n")
    );
}
