//! The driver loop: submit what is due, fold what finished, stop on time, on count or on Ctrl-C,
//! then drain for a bounded time. Runs on the calling thread (the run names it
//! `ragperf-driver`); it never executes a request itself.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use super::{Arrival, Source};
use crate::metrics::recorder::Recorder;
use crate::pipeline::record::since;
use crate::pipeline::{Executor, RequestRecord, Ticket};

/// When to stop and what to count.
#[derive(Clone, Debug)]
pub struct DrivePlan {
    /// The run's time origin (shared with the records).
    pub epoch: Instant,
    /// When the load starts.
    pub start: Instant,
    /// Unmeasured warm-up after `start`.
    pub warmup: Duration,
    /// Measured phase length (None = until `requests`).
    pub duration: Option<Duration>,
    /// Measured requests to send (None = until `duration`).
    pub requests: Option<u64>,
    /// How long in-flight requests may finish after the load stops.
    pub drain: Duration,
    /// The questions, used round-robin from `question_offset`.
    pub questions: Vec<Arc<str>>,
    /// Where in `questions` to begin (seeded).
    pub question_offset: usize,
}

/// What happened during one drive.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DriveOutcome {
    /// Start of the measured window, µs since epoch.
    pub window_start_us: u64,
    /// End of the measured window, µs since epoch.
    pub window_end_us: u64,
    /// Requests submitted (warm-up included).
    pub issued: u64,
    /// Measured requests submitted.
    pub measured_issued: u64,
    /// Measured requests still running when the drain time ran out.
    pub abandoned: u64,
    /// Measured requests that were due but held back by `--max-in-flight` when the load
    /// stopped (or the executor went away).
    pub never_sent: u64,
    /// Warm-up requests that were due (sent or not).
    #[serde(default)]
    pub warmup_due: u64,
    /// Warm-up requests still running when the drain time ran out.
    #[serde(default)]
    pub warmup_abandoned: u64,
    /// Warm-up requests that were due but never sent (held by `--max-in-flight`).
    #[serde(default)]
    pub warmup_never_sent: u64,
    /// Stopped by Ctrl-C.
    pub interrupted: bool,
    /// Peak requests in flight (submitted, not yet returned).
    pub peak_in_flight: u64,
}

impl DriveOutcome {
    /// Length of the measured window, seconds.
    pub fn window_s(&self) -> f64 {
        self.window_end_us.saturating_sub(self.window_start_us) as f64 / 1e6
    }
}

/// Longest drain after Ctrl-C or SIGTERM; what is still in flight then counts as unfinished.
pub const INTERRUPT_DRAIN: Duration = Duration::from_secs(3);

/// Moves the requests still held back by the in-flight cap into the never-sent buckets.
fn count_never_sent(held: &mut VecDeque<Ticket>, out: &mut DriveOutcome) {
    for t in held.drain(..) {
        if t.measured {
            out.never_sent += 1;
        } else {
            out.warmup_never_sent += 1;
        }
    }
}

/// The earliest the measured window can still end, by the rule of [`window_end`]
/// (a time-bounded run ends where it stopped; a count-bounded or interrupted one at the last
/// measured completion, `by_completions`, which only moves later): the recorder folds every
/// request that finished by then into running sums instead of keeping it
/// ([`Recorder::raise_window_floor`]). `checked` is when the driver last decided to go on
/// issuing: a stop comes later than that.
fn window_end_floor(
    plan: &DrivePlan,
    out: &DriveOutcome,
    checked: Instant,
    stopped_at: Option<Instant>,
    by_completions: Instant,
) -> Instant {
    if plan.duration.is_none() || out.interrupted {
        return by_completions;
    }
    match stopped_at {
        Some(stopped) => stopped,
        // Still issuing: on time or count at a later check, or on a signal.
        None => checked.min(by_completions),
    }
}

/// Requests submitted and not yet returned: all of them, and the measured ones among them.
#[derive(Default)]
struct InFlight {
    all: u64,
    measured: u64,
}

impl InFlight {
    /// Counts what is still in flight as abandoned (the drain ended, or the executor is gone).
    fn abandon(&self, out: &mut DriveOutcome) {
        out.abandoned = self.measured;
        out.warmup_abandoned = self.all.saturating_sub(self.measured);
    }
}

/// Whether the load is over at `now` (on time, on count or on a signal), and if so where it
/// stopped. Marks the outcome interrupted when the stop flag is set.
fn stop_point(
    plan: &DrivePlan,
    load_end: Option<Instant>,
    stop: &AtomicBool,
    now: Instant,
    out: &mut DriveOutcome,
) -> Option<Instant> {
    let time_up = load_end.is_some_and(|end| now >= end);
    let count_up = plan.requests.is_some_and(|n| out.measured_issued >= n);
    if stop.load(Ordering::Relaxed) {
        out.interrupted = true;
    }
    if !(time_up || count_up || out.interrupted) {
        return None;
    }
    Some(if time_up {
        load_end.unwrap_or(now)
    } else {
        now
    })
}

/// Turns the arrivals due at `now` into tickets at the back of `held`, up to the plan's request
/// count and load end. Ticket ids count every arrival admitted so far.
fn admit_due(
    plan: &DrivePlan,
    source: &mut dyn Source,
    now: Instant,
    due: &mut Vec<Arrival>,
    held: &mut VecDeque<Ticket>,
    out: &mut DriveOutcome,
) {
    let warmup_end = plan.start + plan.warmup;
    let load_end = plan.duration.map(|d| warmup_end + d);
    due.clear();
    source.due(now, due);
    for a in due.drain(..) {
        if plan.requests.is_some_and(|n| out.measured_issued >= n) {
            break;
        }
        if load_end.is_some_and(|end| a.intended >= end) {
            break;
        }
        let measured = a.intended >= warmup_end;
        let next_id = out.measured_issued + out.warmup_due;
        let question = plan.questions
            [(plan.question_offset + next_id as usize) % plan.questions.len()]
        .clone();
        let ticket = Ticket {
            id: next_id,
            intended: a.intended,
            question,
            measured,
            user: a.user,
        };
        if measured {
            out.measured_issued += 1;
        } else {
            out.warmup_due += 1;
        }
        held.push_back(ticket);
    }
}

/// Submits the held tickets, oldest first, as far as the in-flight cap allows.
fn submit_allowed(
    executor: &dyn Executor,
    held: &mut VecDeque<Ticket>,
    cap: Option<u64>,
    flight: &mut InFlight,
    out: &mut DriveOutcome,
) {
    while cap.is_none_or(|c| flight.all < c) {
        let Some(t) = held.pop_front() else {
            break;
        };
        flight.all += 1;
        if t.measured {
            flight.measured += 1;
        }
        out.issued += 1;
        executor.submit(t);
    }
    out.peak_in_flight = out.peak_in_flight.max(flight.all);
}

/// When the drain after the stop ends. A signal (during the load or the drain) cuts the drain
/// to INTERRUPT_DRAIN: Ctrl-C and SIGTERM must end the process promptly even when the backend
/// never answers.
fn drain_deadline(
    plan: &DrivePlan,
    out: &DriveOutcome,
    stop: &AtomicBool,
    stopped_at: Option<Instant>,
) -> Option<Instant> {
    let drain = if out.interrupted || stop.load(Ordering::Relaxed) {
        plan.drain.min(INTERRUPT_DRAIN)
    } else {
        plan.drain
    };
    stopped_at.map(|s| s + drain)
}

/// When to wait for a record until: the next due arrival or the load end while issuing, at most
/// 50 ms after `now` (progress, Ctrl-C).
fn next_wake(
    now: Instant,
    issuing: bool,
    source: &dyn Source,
    load_end: Option<Instant>,
) -> Instant {
    let mut wake = now + Duration::from_millis(50);
    if issuing {
        if let Some(n) = source.next_due() {
            wake = wake.min(n);
        }
        if let Some(end) = load_end {
            wake = wake.min(end);
        }
    }
    wake
}

/// Waits for a record until `wake`, then folds it and every record already waiting into the
/// recorder, the in-flight counts, the source (closed-loop users) and the last measured
/// completion. False when the executor is gone: nothing in flight will come back.
fn receive(
    records: &Receiver<RequestRecord>,
    wake: Instant,
    plan: &DrivePlan,
    source: &mut dyn Source,
    recorder: &mut Recorder,
    flight: &mut InFlight,
    last_measured_finish: &mut Instant,
) -> bool {
    let timeout = wake.saturating_duration_since(Instant::now());
    let first = match records.recv_timeout(timeout) {
        Ok(r) => Some(r),
        Err(RecvTimeoutError::Timeout) => None,
        Err(RecvTimeoutError::Disconnected) => return false,
    };
    for r in first.into_iter().chain(records.try_iter()) {
        flight.all = flight.all.saturating_sub(1);
        if r.measured {
            flight.measured = flight.measured.saturating_sub(1);
            let fin = plan.epoch + Duration::from_micros(r.finished_us);
            *last_measured_finish = (*last_measured_finish).max(fin);
        }
        let fin = plan.epoch + Duration::from_micros(r.finished_us);
        source.completed(r.user, fin);
        recorder.record(&r);
    }
    true
}

/// Shows elapsed time and the counts so far on the progress bar.
fn show_progress(progress: &ProgressBar, plan: &DrivePlan, recorder: &Recorder, in_flight: u64) {
    progress.set_position(plan.start.elapsed().as_millis() as u64);
    progress.set_message(format!(
        "{} ok, {} failed, {} in flight",
        recorder.ok,
        recorder.failed_total(),
        in_flight
    ));
}

/// Where the measured window ends once the load is over: time-bounded runs measure up to the
/// end of the load; count-bounded (or interrupted) runs up to the last measured completion.
fn window_end(
    plan: &DrivePlan,
    out: &DriveOutcome,
    stopped_at: Option<Instant>,
    by_completions: Instant,
) -> Instant {
    let stopped = stopped_at.unwrap_or_else(Instant::now);
    if plan.duration.is_some() && !out.interrupted {
        stopped
    } else {
        by_completions
    }
}

/// Drives `executor` with arrivals from `source` until the plan says stop, folding every record
/// into `recorder`. `stop` is the Ctrl-C flag.
pub fn drive(
    executor: &dyn Executor,
    records: &Receiver<RequestRecord>,
    source: &mut dyn Source,
    plan: &DrivePlan,
    recorder: &mut Recorder,
    stop: &AtomicBool,
    progress: &ProgressBar,
) -> DriveOutcome {
    let warmup_end = plan.start + plan.warmup;
    let load_end = plan.duration.map(|d| warmup_end + d);
    let mut out = DriveOutcome {
        window_start_us: since(plan.epoch, warmup_end),
        ..DriveOutcome::default()
    };
    recorder.open_window(out.window_start_us);
    let mut held: VecDeque<Ticket> = VecDeque::new();
    let mut due: Vec<Arrival> = Vec::new();
    let mut flight = InFlight::default();
    let mut issuing = true;
    let mut stopped_at = None;
    let mut last_measured_finish = warmup_end;
    let mut last_progress = Instant::now();
    let cap = source.max_in_flight().map(|c| c as u64);

    loop {
        let now = Instant::now();
        if issuing && let Some(at) = stop_point(plan, load_end, stop, now, &mut out) {
            issuing = false;
            stopped_at = Some(at);
            count_never_sent(&mut held, &mut out);
        }
        if issuing {
            admit_due(plan, source, now, &mut due, &mut held, &mut out);
        }
        submit_allowed(executor, &mut held, cap, &mut flight, &mut out);

        if !issuing && flight.all == 0 {
            break;
        }
        let deadline = drain_deadline(plan, &out, stop, stopped_at);
        if !issuing && deadline.is_some_and(|d| now >= d) {
            flight.abandon(&mut out);
            break;
        }

        let wake = next_wake(now, issuing, source, load_end);
        let (flight_now, last) = (&mut flight, &mut last_measured_finish);
        if !receive(records, wake, plan, source, recorder, flight_now, last) {
            // The executor is gone: nothing in flight will come back.
            flight.abandon(&mut out);
            count_never_sent(&mut held, &mut out);
            break;
        }
        let by_completions = last_measured_finish.max(warmup_end);
        let floor = window_end_floor(plan, &out, now, stopped_at, by_completions);
        recorder.raise_window_floor(since(plan.epoch, floor));
        if last_progress.elapsed() >= Duration::from_millis(100) {
            last_progress = Instant::now();
            show_progress(progress, plan, recorder, flight.all);
        }
    }
    count_never_sent(&mut held, &mut out);
    out.window_end_us = since(
        plan.epoch,
        window_end(plan, &out, stopped_at, last_measured_finish.max(warmup_end)),
    );
    progress.set_position(plan.start.elapsed().as_millis() as u64);
    out
}
