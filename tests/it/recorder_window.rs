//! The recorder credits each successful request with the share of its service inside the
//! measured window without keeping a record per request: it folds a request into running sums
//! as soon as its share is known and holds only those in flight at the window's edges.
//!
//! - the figures are bit-for-bit those of the fold over every record kept for the whole run
//!   (the computation it replaced, kept here as `reference`), over random record sequences and
//!   over real drives (warm-up, closed and open loops, time- and count-bounded, interrupted,
//!   requests straddling both edges);
//! - the memory held stays bounded by the requests in flight, not by the run's length.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use ragperf::load::arrivals::Arrivals;
use ragperf::load::closed_loop::ClosedLoop;
use ragperf::load::open_loop::OpenLoop;
use ragperf::load::{DriveOutcome, DrivePlan, Source, drive};
use ragperf::metrics::recorder::{Recorder, Slo, WindowWork};
use ragperf::pipeline::Executor;
use ragperf::pipeline::record::{Outcome, RequestRecord, Ticket, since};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What the recorder kept before: every successful request's start, finish and tokens.
#[derive(Default)]
struct Kept {
    start_us: Vec<u64>,
    finish_us: Vec<u64>,
    tokens: Vec<u32>,
}

impl Kept {
    fn record(&mut self, r: &RequestRecord) {
        if r.is_ok() {
            self.start_us.push(r.started_us.min(r.finished_us));
            self.finish_us.push(r.finished_us);
            self.tokens.push(r.tokens);
        }
    }

    /// The computation the recorder replaced (`Recorder::ok_within` before), verbatim.
    fn reference(&self, from_us: u64, to_us: u64) -> WindowWork {
        let mut w = WindowWork::default();
        let (mut sum, mut sum_sq) = (0.0f64, 0.0f64);
        for ((s, f), t) in self.start_us.iter().zip(&self.finish_us).zip(&self.tokens) {
            if *f < from_us || *s > to_us {
                continue;
            }
            let inside = (*f).min(to_us).saturating_sub((*s).max(from_us));
            let length = f.saturating_sub(*s);
            let share = if length == 0 {
                1.0
            } else {
                inside as f64 / length as f64
            };
            w.requests += share;
            w.tokens += share * f64::from(*t);
            w.touching += 1;
            let secs = length as f64 / 1e6;
            sum += secs;
            sum_sq += secs * secs;
        }
        if w.touching > 1 && sum > 0.0 {
            let n = w.touching as f64;
            let mean = sum / n;
            let var = (sum_sq / n - mean * mean).max(0.0);
            w.service_cv = var.sqrt() / mean;
        }
        w
    }

    /// The mean tokens per success as the ideal computed it before.
    fn tokens_mean(&self) -> Option<f64> {
        (!self.tokens.is_empty()).then(|| {
            self.tokens.iter().map(|t| f64::from(*t)).sum::<f64>() / self.tokens.len() as f64
        })
    }
}

/// Asserts the recorder's figures are exactly the reference's, per second of `window_s` too.
fn assert_same(what: &str, recorder: &Recorder, kept: &Kept, from_us: u64, to_us: u64) {
    let new = recorder.ok_within(to_us);
    let old = kept.reference(from_us, to_us);
    let bits = |w: &WindowWork| {
        (
            w.requests.to_bits(),
            w.tokens.to_bits(),
            w.touching,
            w.service_cv.to_bits(),
            w.relative_error().to_bits(),
        )
    };
    assert_eq!(bits(&new), bits(&old), "{what}: {new:?} != {old:?}");
    let window_s = to_us.saturating_sub(from_us) as f64 / 1e6;
    if window_s > 0.0 {
        let per_s = |w: &WindowWork| {
            (
                (w.requests / window_s).to_bits(),
                (w.tokens / window_s).to_bits(),
            )
        };
        assert_eq!(per_s(&new), per_s(&old), "{what}: req/s and tokens/s");
    }
    assert_eq!(
        recorder.ok_tokens_mean().map(f64::to_bits),
        kept.tokens_mean().map(f64::to_bits),
        "{what}: mean tokens"
    );
}

fn record(
    id: u64,
    started_us: u64,
    finished_us: u64,
    tokens: u32,
    ok: bool,
    measured: bool,
) -> RequestRecord {
    RequestRecord {
        id,
        measured,
        user: None,
        intended_us: started_us,
        started_us,
        embed_done_us: None,
        retrieve_done_us: None,
        cpu_done_us: None,
        first_token_us: (tokens > 0).then_some(finished_us),
        finished_us,
        token_gaps_us: Vec::new(),
        tokens,
        token_cpu_us: 0,
        stream_reads: 0,
        retries: 0,
        citations_ok: true,
        citations: Vec::new(),
        start_tid: 0,
        stream_tid: 0,
        outcome: if ok {
            Outcome::Ok
        } else {
            Outcome::Failed {
                kind: "throttled".into(),
                phase: "generate".into(),
                message: "429".into(),
            }
        },
    }
}

#[test]
fn random_record_sequences_give_the_figures_of_the_full_fold() {
    let mut rng = StdRng::seed_from_u64(13);
    let (mut straddle_start, mut straddle_end, mut held_back) = (0, 0, 0);
    for case in 0..3_000 {
        // Small integer ranges, so that edges, zero-length services and equal times are common.
        let from_us = rng.random_range(0..1_000u64);
        let to_us = from_us + rng.random_range(0..1_000u64);
        let n = rng.random_range(0..200usize);
        let mut records: Vec<RequestRecord> = (0..n as u64)
            .map(|id| {
                let s = rng.random_range(0..2_500u64);
                let length = if rng.random_bool(0.1) {
                    0
                } else {
                    rng.random_range(1..1_500u64)
                };
                let tokens = rng.random_range(0..100u32);
                record(
                    id,
                    s,
                    s + length,
                    tokens,
                    rng.random_bool(0.85),
                    rng.random_bool(0.7),
                )
            })
            .collect();
        // Roughly in finish order, as records come back, with local disorder.
        records.sort_by_key(|r| r.finished_us);
        for i in 1..records.len() {
            if rng.random_bool(0.3) {
                records.swap(i - 1, i);
            }
        }
        let mut recorder = Recorder::new(Slo::default(), 0);
        let mut kept = Kept::default();
        let open_at = rng.random_range(0..=n);
        for (i, r) in records.iter().enumerate() {
            if i == open_at {
                recorder.open_window(from_us);
            }
            recorder.record(r);
            kept.record(r);
            if rng.random_bool(0.2) {
                // Any floor up to the end the window will have.
                recorder.raise_window_floor(rng.random_range(0..=to_us));
            }
            if r.is_ok() {
                straddle_start += usize::from(r.started_us < from_us && r.finished_us >= from_us);
                straddle_end += usize::from(r.started_us <= to_us && r.finished_us > to_us);
            }
        }
        if open_at == n {
            recorder.open_window(from_us);
        }
        held_back += usize::from(recorder.retained_records() > 0);
        assert_same(&format!("case {case}"), &recorder, &kept, from_us, to_us);
    }
    assert!(straddle_start > 1_000 && straddle_end > 1_000 && held_back > 1_000);
}

/// A server that runs each ticket for a random time on one thread and sends its record back,
/// logging every record in the order it is sent.
struct SimServer {
    tickets: Sender<Ticket>,
    thread: Option<JoinHandle<()>>,
}

impl SimServer {
    fn start(
        epoch: Instant,
        seed: u64,
        records: Sender<RequestRecord>,
        log: Arc<Mutex<Vec<RequestRecord>>>,
    ) -> Self {
        let (tickets, rx) = mpsc::channel::<Ticket>();
        let thread = std::thread::spawn(move || serve(epoch, seed, &rx, &records, &log));
        SimServer {
            tickets,
            thread: Some(thread),
        }
    }
}

fn serve(
    epoch: Instant,
    seed: u64,
    tickets: &Receiver<Ticket>,
    records: &Sender<RequestRecord>,
    log: &Mutex<Vec<RequestRecord>>,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut running: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
    let mut started: std::collections::HashMap<u64, (Ticket, Instant)> = Default::default();
    loop {
        let now = Instant::now();
        while let Some(Reverse((due, id))) = running.peek().copied() {
            if due > now {
                break;
            }
            running.pop();
            let Some((t, at)) = started.remove(&id) else {
                continue;
            };
            let mut r = record(
                t.id,
                since(epoch, at),
                since(epoch, Instant::now()),
                rng.random_range(0..60),
                rng.random_bool(0.9),
                t.measured,
            );
            r.user = t.user;
            r.intended_us = since(epoch, t.intended);
            let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
            if records.send(r.clone()).is_err() {
                return;
            }
            log.push(r);
        }
        let wait = running
            .peek()
            .map_or(Duration::from_millis(20), |Reverse((due, _))| {
                due.saturating_duration_since(Instant::now())
            });
        match tickets.recv_timeout(wait) {
            Ok(t) => {
                // Mostly short; some zero; some longer than the whole window.
                let service = match rng.random_range(0..20) {
                    0 => Duration::ZERO,
                    1 => Duration::from_millis(rng.random_range(50..150)),
                    _ => Duration::from_micros(rng.random_range(500..15_000)),
                };
                let at = Instant::now();
                running.push(Reverse((at + service, t.id)));
                started.insert(t.id, (t, at));
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

impl Executor for SimServer {
    fn submit(&self, ticket: Ticket) {
        let _ = self.tickets.send(ticket);
    }

    fn shutdown(self: Box<Self>, _grace: Duration) {
        let SimServer { tickets, thread } = *self;
        drop(tickets);
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

/// One drive with a random plan; returns the outcome after checking the figures.
fn random_drive(case: u64, rng: &mut StdRng) -> DriveOutcome {
    let epoch = Instant::now();
    let start = epoch + Duration::from_millis(2);
    let warmup = Duration::from_millis([0, 10, 25][rng.random_range(0..3)]);
    let (duration, requests) = match rng.random_range(0..3) {
        0 => (Some(Duration::from_millis(rng.random_range(20..80))), None),
        1 => (None, Some(rng.random_range(20..200))),
        _ => (
            Some(Duration::from_millis(rng.random_range(20..80))),
            Some(rng.random_range(20..300)),
        ),
    };
    let plan = DrivePlan {
        epoch,
        start,
        warmup,
        duration,
        requests,
        drain: Duration::from_millis([0, 40, 300][rng.random_range(0..3)]),
        questions: vec![Arc::from("q")],
        question_offset: 0,
    };
    let mut source: Box<dyn Source> = if rng.random_bool(0.5) {
        Box::new(ClosedLoop::new(
            rng.random_range(1..40),
            start,
            Duration::from_micros(rng.random_range(0..3_000)),
            Duration::from_millis(rng.random_range(0..10)),
        ))
    } else {
        let cap = rng.random_bool(0.5).then(|| rng.random_range(5..50));
        Box::new(OpenLoop::new(
            rng.random_range(200.0..3_000.0),
            Arrivals::Poisson,
            start,
            case,
            cap,
        ))
    };
    let (tx, rx) = mpsc::channel();
    let log = Arc::new(Mutex::new(Vec::new()));
    let executor: Box<dyn Executor> = Box::new(SimServer::start(epoch, case, tx, Arc::clone(&log)));
    let stop = Arc::new(AtomicBool::new(false));
    let interrupter = rng.random_bool(0.25).then(|| {
        let stop = Arc::clone(&stop);
        let after = Duration::from_millis(rng.random_range(5..80));
        std::thread::spawn(move || {
            std::thread::sleep(after);
            stop.store(true, Ordering::Relaxed);
        })
    });
    let mut recorder = Recorder::new(Slo::default(), 0);
    let out = drive(
        executor.as_ref(),
        &rx,
        source.as_mut(),
        &plan,
        &mut recorder,
        &stop,
        &ProgressBar::hidden(),
    );
    executor.shutdown(Duration::ZERO);
    if let Some(t) = interrupter {
        let _ = t.join();
    }
    // The records the driver folded: those sent before it stopped reading (the log holds the
    // rest too; the channel keeps the unread ones).
    let unread = rx.try_iter().count();
    let log = log.lock().unwrap_or_else(|e| e.into_inner());
    let mut kept = Kept::default();
    for r in &log[..log.len() - unread] {
        kept.record(r);
    }
    let what = format!(
        "drive {case} ({duration:?}, {requests:?}, interrupted {})",
        out.interrupted
    );
    assert_same(
        &what,
        &recorder,
        &kept,
        out.window_start_us,
        out.window_end_us,
    );
    out
}

#[test]
fn drives_give_the_figures_of_the_full_fold() {
    let mut rng = StdRng::seed_from_u64(9);
    let mut interrupted = 0;
    for case in 0..30 {
        let out = random_drive(case, &mut rng);
        interrupted += usize::from(out.interrupted);
    }
    assert!(interrupted > 0, "no drive was interrupted");
}

/// `users` servers back to back for `requests` requests (simulated time, in finish order), the
/// window from 10 s to `requests / rate + 10 s`, the floor raised every 50 ms as the driver does.
#[test]
fn memory_stays_bounded_by_the_requests_in_flight_over_millions() {
    const USERS: u64 = 1_000;
    const REQUESTS: u64 = 2_000_000;
    let mut rng = StdRng::seed_from_u64(7);
    let mut recorder = Recorder::new(Slo::default(), 100);
    let mut kept = Kept::default();
    // Service 0.5–1.5 s: about 1,000 requests/s, so 2,000 s of load.
    let from_us = 10_000_000;
    let load_end_us = REQUESTS * 1_000 + 10_000_000;
    recorder.open_window(from_us);
    let mut servers: BinaryHeap<Reverse<(u64, u64)>> = (0..USERS)
        .map(|_| Reverse((rng.random_range(500_000..1_500_000), 0)))
        .collect();
    let mut next_floor = 0;
    let mut peak_held = 0;
    let mut r = record(0, 0, 0, 0, true, false);
    let mut id = 0;
    while let Some(Reverse((finish, started))) = servers.pop() {
        r.id = id;
        r.measured = started >= from_us;
        r.started_us = started;
        r.intended_us = started;
        r.finished_us = finish;
        r.tokens = rng.random_range(0..300);
        r.outcome = if rng.random_bool(0.95) {
            Outcome::Ok
        } else {
            Outcome::Failed {
                kind: "throttled".into(),
                phase: "generate".into(),
                message: String::new(),
            }
        };
        recorder.record(&r);
        kept.record(&r);
        id += 1;
        if finish >= next_floor {
            recorder.raise_window_floor(finish.min(load_end_us));
            next_floor = finish + 50_000;
        }
        peak_held = peak_held.max(recorder.retained_records());
        if finish < load_end_us {
            servers.push(Reverse((
                finish + rng.random_range(500_000..1_500_000),
                finish,
            )));
        }
    }
    assert!(id >= REQUESTS, "{id} requests");
    // Held: the ~1,000 in flight when the load stops, plus 50 ms of completions, in a
    // power-of-two allocation; the full fold held one record per success (~1.9 million).
    assert!(peak_held <= 4 * USERS as usize, "held {peak_held} records");
    assert!(kept.finish_us.len() > 1_800_000);
    assert_same("2 million", &recorder, &kept, from_us, load_end_us);
}
