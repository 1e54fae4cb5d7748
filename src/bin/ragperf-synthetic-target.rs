//! `ragperf-synthetic-target`: a RAG service with known costs, to check `ragperf calibrate`
//! against (and to try `--target` on without Python).
//!
//! ```text
//! ragperf-synthetic-target --port 8090 [--pool 8] [--cpu-per-request-us 4000] [--cpu-per-token-us 300]
//!                          [--stats-file PATH] [--rounds-per-us R] [--work time|fixed]
//!                          [--stream held|per-token]
//! ```
//!
//! It behaves like a `def` endpoint on a bounded thread pool. With `--stream held` (the
//! default) a request holds a pool thread for the whole stream; with `--stream per-token` it
//! holds one for the endpoint's body (embed, search, prompt, opening the stream) and then for
//! each token event apart, going back to the end of the pool's queue between them, as
//! Starlette iterates a sync generator (`iterate_in_threadpool`: one thread-pool call per
//! `next()`). `POST /chat/stream` with `{"message": "…"}` embeds the question, searches Qdrant,
//! spends `--cpu-per-request-us` of real computation (the prompt), opens a ConverseStream and
//! spends `--cpu-per-token-us` on every token event before sending it as SSE in the seed's
//! shape (`data: {"type":"token","content":…}`, then `data: {"type":"done","citations":[…]}`).
//! The pool starts empty and adds a thread only when every thread is busy, up to `--pool`, as
//! anyio's limiter does; connections beyond it wait. `GET /stats` answers the CPU the two costs really took (thread CPU time, mean µs), the
//! ground truth a calibration is checked against; any other `GET` answers 200 (readiness). The backends
//! come from `RAGPERF_QDRANT_URL` and `RAGPERF_BEDROCK_URL`, which `ragperf --target-cmd` sets.
//! `--rounds-per-us` fixes the work function's speed instead of calibrating it at start-up, so
//! every restart of the service slices its work alike (the work itself is measured in the
//! thread's CPU time). `--work fixed` spends a fixed number of rounds instead (the costs × the
//! rounds per µs), as a real service's code does: the same work takes more CPU while the
//! machine runs slow, which is what `calibrate`'s machine-speed readings take out.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use ragperf::client::{
    BlockingClients, BlockingConverseStream, ChatRequest, ClientConfig, Endpoints, StreamEvent,
};
use ragperf::pipeline::cpu;
use ragperf::pipeline::steps::build_prompt;
use ragperf::scenario::Scenario;

struct Settings {
    rounds_per_us: Option<f64>,
    stats_file: Option<std::path::PathBuf>,
    port: u16,
    pool: usize,
    cpu_per_request_us: u64,
    cpu_per_token_us: u64,
    fixed_work: bool,
    /// `--stream per-token`: a pool call per token event, not a thread per stream.
    per_token: bool,
}

fn parse_args() -> Result<Settings, String> {
    let mut s = Settings {
        rounds_per_us: None,
        stats_file: None,
        port: 0,
        pool: 8,
        cpu_per_request_us: 4000,
        cpu_per_token_us: 300,
        fixed_work: false,
        per_token: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        let value = args
            .get(i + 1)
            .ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |max: u64| -> Result<u64, String> {
            value
                .parse::<u64>()
                .ok()
                .filter(|v| *v <= max)
                .ok_or_else(|| {
                    format!("{flag}: expected a whole number up to {max}, got {value:?}")
                })
        };
        match flag {
            "--port" => s.port = number(65_535)? as u16,
            "--pool" => s.pool = number(10_000)?.max(1) as usize,
            "--cpu-per-request-us" => s.cpu_per_request_us = number(10_000_000)?,
            "--cpu-per-token-us" => s.cpu_per_token_us = number(1_000_000)?,
            "--stats-file" => s.stats_file = Some(value.into()),
            "--work" => {
                s.fixed_work = match value.as_str() {
                    "fixed" => true,
                    "time" => false,
                    _ => return Err(format!("{flag}: expected time or fixed, got {value:?}")),
                }
            }
            "--stream" => {
                s.per_token = match value.as_str() {
                    "per-token" => true,
                    "held" => false,
                    _ => return Err(format!("{flag}: expected held or per-token, got {value:?}")),
                }
            }
            "--rounds-per-us" => {
                s.rounds_per_us = Some(
                    value
                        .parse::<f64>()
                        .ok()
                        .filter(|r| r.is_finite() && *r > 0.0)
                        .ok_or_else(|| {
                            format!("{flag}: expected a positive number, got {value:?}")
                        })?,
                )
            }
            _ => {
                return Err(format!(
                    "unknown flag {flag}; use --port, --pool, --cpu-per-request-us, --cpu-per-token-us, --stats-file, --rounds-per-us, --work, --stream"
                ));
            }
        }
        i += 2;
    }
    if s.port == 0 {
        return Err("--port is required (the port to listen on, 127.0.0.1)".into());
    }
    Ok(s)
}

/// What a pool thread runs: a new connection's request up to its open stream (and with
/// `--stream held` the stream too), or one token event of an open stream.
enum Job {
    Start(TcpStream),
    Next(Box<Open>),
}

/// A request whose stream is open: what its next token events need.
struct Open {
    out: TcpStream,
    stream: BlockingConverseStream,
    cites: Vec<String>,
    /// The request's CPU outside its token events so far, µs (its body; the done event adds).
    request_us: u64,
}

/// Jobs waiting for a pool thread, and the pool's bookkeeping.
#[derive(Default)]
struct Queue {
    waiting: VecDeque<Job>,
    idle: usize,
    threads: usize,
}

struct Service {
    clients: BlockingClients,
    cpu_per_request_us: u64,
    cpu_per_token_us: u64,
    /// Spend the costs as a fixed number of rounds (`--work fixed`), not as CPU time.
    fixed_work: bool,
    /// `--stream per-token`: every token event is a pool job of its own.
    per_token: bool,
    /// CPU really spent in the two costs (thread CPU time around each), for `GET /stats`.
    spent: Spent,
}

impl Service {
    /// One of the costs: `us` of CPU time, or with `--work fixed` the rounds that many µs
    /// took when the work function was calibrated (or as `--rounds-per-us` says).
    fn burn(&self, text: &str, us: u64) -> [u8; 32] {
        if self.fixed_work {
            cpu::fixed_work(text, (us as f64 * cpu::calibrate()).round() as u64)
        } else {
            cpu::prompt_work(text, us, None)
        }
    }
}

/// What the server really spent, µs of thread CPU, and how often: the two configured costs
/// (`burn_*`), and whole sections (`section_*`): a token event's read, cost and write, and
/// the rest of a request (parse, embed, search, prompt, stream set-up, done event, and the
/// accepting thread's share).
#[derive(Default)]
struct Spent {
    request_us: AtomicU64,
    requests: AtomicU64,
    token_us: AtomicU64,
    tokens: AtomicU64,
    section_request_us: AtomicU64,
    section_requests: AtomicU64,
    section_token_us: AtomicU64,
    section_tokens: AtomicU64,
    /// The accepting thread's CPU (accept, queueing, waking a pool thread): per request too.
    accept_us: AtomicU64,
}

impl Spent {
    fn json(&self) -> String {
        let mean = |sum: &AtomicU64, n: &AtomicU64| {
            let n = n.load(Ordering::Relaxed);
            if n == 0 {
                serde_json::Value::Null
            } else {
                serde_json::json!(sum.load(Ordering::Relaxed) as f64 / n as f64)
            }
        };
        serde_json::json!({
            "requests": self.requests.load(Ordering::Relaxed),
            "tokens": self.tokens.load(Ordering::Relaxed),
            "burn_per_request_us": mean(&self.request_us, &self.requests),
            "burn_per_token_us": mean(&self.token_us, &self.tokens),
            "section_per_request_us": mean(
                &AtomicU64::new(
                    self.section_request_us.load(Ordering::Relaxed)
                        + self.accept_us.load(Ordering::Relaxed)
                ),
                &self.section_requests
            ),
            "section_per_token_us": mean(&self.section_token_us, &self.section_tokens),
        })
        .to_string()
    }
}

/// Runs `f` and adds the thread CPU it took to `sum`.
fn timed<T>(sum: &AtomicU64, n: &AtomicU64, f: impl FnOnce() -> T) -> T {
    let start = cpu::thread_cpu_us();
    let out = f();
    sum.fetch_add(
        cpu::thread_cpu_us().saturating_sub(start),
        Ordering::Relaxed,
    );
    n.fetch_add(1, Ordering::Relaxed);
    out
}

/// The blocking clients of the backends that `RAGPERF_QDRANT_URL` and `RAGPERF_BEDROCK_URL`
/// name, with the default scenario's collection and models.
fn connect_backends(settings: &Settings) -> Result<BlockingClients, String> {
    let (Ok(qdrant_url), Ok(bedrock_url)) = (
        std::env::var("RAGPERF_QDRANT_URL"),
        std::env::var("RAGPERF_BEDROCK_URL"),
    ) else {
        return Err(
            "RAGPERF_QDRANT_URL and RAGPERF_BEDROCK_URL must name the backends (ragperf --target-cmd sets them)"
                .to_string(),
        );
    };
    let defaults = Scenario::default();
    let endpoints = Endpoints {
        qdrant_url,
        bedrock_url,
        collection: defaults.qdrant.collection.clone(),
        embed_model: defaults.request.embed_model.clone(),
        embed_dimensions: defaults.request.embed_dimensions as u32,
        chat_model: defaults.request.chat_model.clone(),
    };
    BlockingClients::new(&endpoints, &ClientConfig::default(), settings.pool, 1.0)
        .map_err(|e| e.to_string())
}

/// What `GET /stats` answers, also rewritten to `path` every 100 ms (atomically), so it
/// outlives the process when ragperf stops it.
fn spawn_stats_file(service: Arc<Service>, path: std::path::PathBuf) {
    let _ = std::thread::Builder::new()
        .name("stats-file".into())
        .spawn(move || {
            let tmp = path.with_extension("tmp");
            loop {
                std::thread::sleep(std::time::Duration::from_millis(100));
                if std::fs::write(&tmp, service.spent.json()).is_ok() {
                    let _ = std::fs::rename(&tmp, &path);
                }
            }
        });
}

fn main() -> ExitCode {
    let settings = match parse_args() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(2);
        }
    };
    let clients = match connect_backends(&settings) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(2);
        }
    };
    match settings.rounds_per_us {
        Some(r) => {
            cpu::fix_rounds_per_us(r);
        }
        None => {
            cpu::calibrate();
        }
    }
    let listener = match TcpListener::bind(("127.0.0.1", settings.port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("Error: cannot listen on 127.0.0.1:{}: {e}", settings.port);
            return ExitCode::FAILURE;
        }
    };
    let service = Arc::new(Service {
        clients,
        cpu_per_request_us: settings.cpu_per_request_us,
        cpu_per_token_us: settings.cpu_per_token_us,
        fixed_work: settings.fixed_work,
        per_token: settings.per_token,
        spent: Spent::default(),
    });
    if let Some(path) = settings.stats_file.clone() {
        spawn_stats_file(service.clone(), path);
    }
    let pool = Arc::new(Pool {
        queue: Mutex::new(Queue::default()),
        ready: Condvar::new(),
        bound: settings.pool,
    });
    eprintln!(
        "ragperf-synthetic-target on 127.0.0.1:{} (pool {}, {} us per request, {} us per token, {})",
        settings.port,
        settings.pool,
        settings.cpu_per_request_us,
        settings.cpu_per_token_us,
        if settings.per_token {
            "a pool call per token event"
        } else {
            "a thread held per stream"
        }
    );
    let mut cpu_before = cpu::thread_cpu_us();
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        submit(&pool, &service, Job::Start(conn), false);
        let now = cpu::thread_cpu_us();
        service
            .spent
            .accept_us
            .fetch_add(now.saturating_sub(cpu_before), Ordering::Relaxed);
        cpu_before = now;
    }
    ExitCode::SUCCESS
}

/// The bounded pool: its queue of jobs and its bound.
struct Pool {
    queue: Mutex<Queue>,
    ready: Condvar,
    bound: usize,
}

/// Queues a job, adding a thread when no thread is idle for it and the bound allows, as
/// anyio's worker threads grow. A pool thread handing in its stream's next call (`from_worker`)
/// counts as idle: anyio's worker is back among the idle ones before the event loop makes that
/// call.
fn submit(pool: &Arc<Pool>, service: &Arc<Service>, job: Job, from_worker: bool) {
    let mut q = pool.queue.lock().unwrap_or_else(|p| p.into_inner());
    q.waiting.push_back(job);
    let idle = q.idle + usize::from(from_worker);
    if q.waiting.len() > idle && q.threads < pool.bound {
        q.threads += 1;
        let (pool, service) = (pool.clone(), service.clone());
        std::thread::Builder::new()
            .name(format!("pool-{}", q.threads))
            .spawn(move || worker(&pool, &service))
            .map(|_| ())
            .unwrap_or_else(|e| eprintln!("cannot start a pool thread: {e}"));
    }
    pool.ready.notify_one();
}

fn worker(pool: &Arc<Pool>, service: &Arc<Service>) {
    loop {
        let job = {
            let mut q = pool.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.idle += 1;
            while q.waiting.is_empty() {
                q = pool.ready.wait(q).unwrap_or_else(|p| p.into_inner());
            }
            q.idle -= 1;
            q.waiting.pop_front()
        };
        // A broken connection ends that request only.
        let open = match job {
            Some(Job::Start(conn)) => begin(conn, service).ok().flatten().map(Box::new),
            Some(Job::Next(open)) => next(open, service),
            None => None,
        };
        let Some(mut open) = open else { continue };
        if service.per_token {
            // The call returned; the stream's next token is a new call at the queue's end.
            submit(pool, service, Job::Next(open), true);
        } else {
            while let Some(more) = next(open, service) {
                open = more;
            }
        }
    }
}

/// Reads a request's head: its method, its path and its `content-length` (0 without one).
fn read_head(reader: &mut BufReader<TcpStream>) -> std::io::Result<(String, String, usize)> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or("").to_string();
    let path = words.next().unwrap_or("").to_string();
    let mut length = 0usize;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    Ok((method, path, length))
}

/// Answers anything but a chat request: the statistics at `/stats`, `ok` elsewhere.
fn answer_get(out: &mut TcpStream, service: &Service, path: &str) -> std::io::Result<()> {
    let body = if path == "/stats" {
        service.spent.json()
    } else {
        "ok".to_string()
    };
    out.write_all(
        format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

/// Serves a connection up to its open stream: None when it was not a chat request or failed
/// (answered either way). The body's CPU is kept in the [`Open`] it returns.
fn begin(conn: TcpStream, service: &Service) -> std::io::Result<Option<Open>> {
    let started = cpu::thread_cpu_us();
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    let (method, path, length) = read_head(&mut reader)?;
    if method != "POST" {
        answer_get(&mut out, service, &path)?;
        return Ok(None);
    }
    let mut body = vec![0u8; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let question = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_string));
    let Some(question) = question else {
        out.write_all(
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 23\r\nconnection: close\r\n\r\nexpected {\"message\":..}",
        )?;
        return Ok(None);
    };
    out.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n",
    )?;
    let c = &service.clients;
    let vector = match c.embed.embed(&question) {
        Ok(r) => r.value,
        Err(e) => return fail(&mut out, format!("embed: {e}")),
    };
    let passages = match c.qdrant.search(&vector, 4) {
        Ok(r) => r.value,
        Err(e) => return fail(&mut out, format!("search: {e}")),
    };
    let (system, user) = build_prompt(&question, &passages);
    let spent = &service.spent;
    std::hint::black_box(timed(&spent.request_us, &spent.requests, || {
        service.burn(&system, service.cpu_per_request_us)
    }));
    let request = ChatRequest {
        system: &system,
        user: &user,
        max_tokens: 4096,
        temperature: 0.1,
    };
    let stream = match c.bedrock.open_stream(&request) {
        Ok(s) => s,
        Err(e) => return fail(&mut out, format!("converse_stream: {e}")),
    };
    Ok(Some(Open {
        out,
        stream,
        cites: passages.iter().map(|p| p.doc_id.clone()).collect(),
        request_us: cpu::thread_cpu_us().saturating_sub(started),
    }))
}

/// One SSE event in the seed's shape.
fn event(v: serde_json::Value) -> String {
    format!("data: {v}\n\n")
}

/// Answers an error event; the request ends there.
fn fail<T>(out: &mut TcpStream, what: String) -> std::io::Result<Option<T>> {
    out.write_all(event(serde_json::json!({"type": "error", "message": what})).as_bytes())?;
    Ok(None)
}

/// One token event of an open stream (its read, its cost, its write), or its end: the open
/// stream back while there is more, None when it ended (its request's CPU then counted) or
/// broke.
fn next(mut open: Box<Open>, service: &Service) -> Option<Box<Open>> {
    let spent = &service.spent;
    let section = cpu::thread_cpu_us();
    match open.stream.next_event() {
        Ok(StreamEvent::Token(t)) => {
            std::hint::black_box(timed(&spent.token_us, &spent.tokens, || {
                service.burn(&t, service.cpu_per_token_us)
            }));
            let sent = open
                .out
                .write_all(event(serde_json::json!({"type": "token", "content": t})).as_bytes());
            let took = cpu::thread_cpu_us().saturating_sub(section);
            spent.section_token_us.fetch_add(took, Ordering::Relaxed);
            spent.section_tokens.fetch_add(1, Ordering::Relaxed);
            sent.ok().map(|_| open)
        }
        Ok(StreamEvent::Done(_)) => {
            let done = event(serde_json::json!({"type": "done", "citations": open.cites}));
            if open.out.write_all(done.as_bytes()).is_ok() {
                let took = cpu::thread_cpu_us().saturating_sub(section);
                spent
                    .section_request_us
                    .fetch_add(open.request_us + took, Ordering::Relaxed);
                spent.section_requests.fetch_add(1, Ordering::Relaxed);
            }
            None
        }
        Err(e) => {
            let _ = fail::<()>(&mut open.out, format!("stream: {e}"));
            None
        }
    }
}
