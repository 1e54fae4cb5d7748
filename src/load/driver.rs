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

/// The earliest the measured window can still end, by the rule at the end of [`drive`]
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
    let mut in_flight: u64 = 0;
    let mut measured_in_flight: u64 = 0;
    let mut issuing = true;
    let mut stopped_at = None;
    let mut last_measured_finish = warmup_end;
    let mut next_id = 0u64;
    let mut last_progress = Instant::now();
    let cap = source.max_in_flight().map(|c| c as u64);

    loop {
        let now = Instant::now();
        // Decide whether the load is over.
        if issuing {
            let time_up = load_end.is_some_and(|end| now >= end);
            let count_up = plan.requests.is_some_and(|n| out.measured_issued >= n);
            if stop.load(Ordering::Relaxed) {
                out.interrupted = true;
            }
            if time_up || count_up || out.interrupted {
                issuing = false;
                stopped_at = Some(if time_up {
                    load_end.unwrap_or(now)
                } else {
                    now
                });
                count_never_sent(&mut held, &mut out);
            }
        }
        if issuing {
            due.clear();
            source.due(now, &mut due);
            for a in due.drain(..) {
                if plan.requests.is_some_and(|n| out.measured_issued >= n) {
                    break;
                }
                if load_end.is_some_and(|end| a.intended >= end) {
                    break;
                }
                let measured = a.intended >= warmup_end;
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
                next_id += 1;
                if measured {
                    out.measured_issued += 1;
                } else {
                    out.warmup_due += 1;
                }
                held.push_back(ticket);
            }
        }
        // Submit what the in-flight cap allows.
        while let Some(t) = held.front() {
            if cap.is_some_and(|c| in_flight >= c) {
                break;
            }
            let _ = t;
            if let Some(t) = held.pop_front() {
                in_flight += 1;
                if t.measured {
                    measured_in_flight += 1;
                }
                out.issued += 1;
                executor.submit(t);
            }
        }
        out.peak_in_flight = out.peak_in_flight.max(in_flight);

        if !issuing && in_flight == 0 {
            break;
        }
        // A signal (during the load or the drain) cuts the drain to INTERRUPT_DRAIN: Ctrl-C and
        // SIGTERM must end the process promptly even when the backend never answers.
        let drain = if out.interrupted || stop.load(Ordering::Relaxed) {
            plan.drain.min(INTERRUPT_DRAIN)
        } else {
            plan.drain
        };
        let drain_deadline = stopped_at.map(|s| s + drain);
        if !issuing && drain_deadline.is_some_and(|d| now >= d) {
            out.abandoned = measured_in_flight;
            out.warmup_abandoned = in_flight.saturating_sub(measured_in_flight);
            break;
        }

        // Wait for a record or the next due arrival, at most 50 ms (progress, Ctrl-C).
        let mut wake = now + Duration::from_millis(50);
        if issuing {
            if let Some(n) = source.next_due() {
                wake = wake.min(n);
            }
            if let Some(end) = load_end {
                wake = wake.min(end);
            }
        }
        let timeout = wake.saturating_duration_since(Instant::now());
        let first = match records.recv_timeout(timeout) {
            Ok(r) => Some(r),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                // The executor is gone: nothing in flight will come back.
                out.abandoned = measured_in_flight;
                out.warmup_abandoned = in_flight.saturating_sub(measured_in_flight);
                count_never_sent(&mut held, &mut out);
                break;
            }
        };
        for r in first.into_iter().chain(records.try_iter()) {
            in_flight = in_flight.saturating_sub(1);
            if r.measured {
                measured_in_flight = measured_in_flight.saturating_sub(1);
                let fin = plan.epoch + Duration::from_micros(r.finished_us);
                last_measured_finish = last_measured_finish.max(fin);
            }
            let fin = plan.epoch + Duration::from_micros(r.finished_us);
            source.completed(r.user, fin);
            recorder.record(&r);
        }
        recorder.raise_window_floor(since(
            plan.epoch,
            window_end_floor(
                plan,
                &out,
                now,
                stopped_at,
                last_measured_finish.max(warmup_end),
            ),
        ));
        if last_progress.elapsed() >= Duration::from_millis(100) {
            last_progress = Instant::now();
            progress.set_position(plan.start.elapsed().as_millis() as u64);
            progress.set_message(format!(
                "{} ok, {} failed, {} in flight",
                recorder.ok,
                recorder.failed_total(),
                in_flight
            ));
        }
    }
    count_never_sent(&mut held, &mut out);
    let stopped = stopped_at.unwrap_or_else(Instant::now);
    // Time-bounded runs measure up to the end of the load; count-bounded (or interrupted) runs
    // up to the last measured completion.
    let window_end = if plan.duration.is_some() && !out.interrupted {
        stopped
    } else {
        last_measured_finish.max(warmup_end)
    };
    out.window_end_us = since(plan.epoch, window_end);
    progress.set_position(plan.start.elapsed().as_millis() as u64);
    out
}
