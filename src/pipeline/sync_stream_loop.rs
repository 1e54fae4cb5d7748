//! `sync-stream`'s event loop in front of the pool.
//!
//! Starlette's event loop does work for every request and every token too: it reads the request and
//! dispatches the body to the pool, and when a `next()` returns it sends the chunk and dispatches
//! the next `next()` — serially, on one thread, under the GIL. On the seed's streaming endpoint
//! that thread was the server's busiest (25–31 % of its CPU). With `cpu_request_loop_share` or
//! `cpu_token_loop_share` above 0 the pool gets that thread ([`LOOP_THREAD`](super::LOOP_THREAD)):
//! a new request passes through it (spending its share of `cpu_work_us`; the body spends the rest)
//! before its body is queued; a body that opened its stream, and every `next()` that read a token
//! (spending the rest of `cpu_per_token_us`), hand the stream to it; it spends its share of the
//! token's CPU, sends the token (the clock ticks there), and queues the stream's next `next()`.
//! Like asyncio, which runs every ready callback in one iteration, the loop works in passes: it
//! takes everything waiting for it and holds the GIL across the pass, up to CPython's switch
//! interval (5 ms) of work — one hand-over of the lock per pass, not per token (per token, the lock
//! was busy 79 % of the time in the seed's streaming endpoint's model at 50 users, where the real
//! GIL was busy throughout; in passes, 88 %). Streams at the loop are counted (`at_loop`) so the
//! pool does not shut down under them.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender};

use super::{Job, LoopItem, Open, Origin, Shared};
use crate::pipeline::{cpu, steps};

impl Shared {
    /// A worker hands a stream to the event loop (which queues its next `next()` afterwards).
    /// Without a loop thread (shut down), the worker takes the loop's turn itself.
    pub(super) fn hand_to_loop(self: &Arc<Self>, open: Box<Open>, token: bool) {
        let item = LoopItem::Stream(open, token);
        let Some(tx) = self.loop_inbox() else {
            let (job, _) = self.turn_under_gil(item);
            self.push(job, Origin::Worker);
            return;
        };
        {
            let mut q = self.lock();
            q.busy -= 1;
            q.at_loop += 1;
        }
        self.send_to_loop(&tx, item);
    }

    /// The event loop's inbox, while it runs.
    pub(super) fn loop_inbox(&self) -> Option<Sender<LoopItem>> {
        self.to_loop
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sends an item (already counted at the loop) to the loop; if the loop ended meanwhile,
    /// the caller takes its turn here.
    pub(super) fn send_to_loop(self: &Arc<Self>, tx: &Sender<LoopItem>, item: LoopItem) {
        if let Err(back) = tx.send(item) {
            let (job, origin) = self.turn_under_gil(back.0);
            self.push(job, origin);
        }
    }

    /// [`Shared::loop_turn`], taking the GIL for it (a turn outside the loop's passes) after
    /// the turn's CPU outside it.
    fn turn_under_gil(&self, mut item: LoopItem) -> (Job, Origin) {
        self.outside_gil(std::slice::from_mut(&mut item));
        let _gil = cpu::hold(self.ctx.gil.as_deref());
        self.loop_turn(item)
    }

    /// The loop's CPU for one item's turn, µs (all of it, in and outside the GIL).
    fn turn_us(&self, item: &LoopItem) -> u64 {
        match item {
            LoopItem::Request(_) => self.loop_request_us,
            LoopItem::Stream(_, true) => self.loop_token_us,
            LoopItem::Stream(_, false) => 0,
        }
    }

    /// Of `us` of the loop's CPU, what runs holding the GIL (all of it without one).
    fn under_gil_us(&self, us: u64) -> u64 {
        us - self.ctx.gil.as_ref().map_or(0, |g| g.outside_us(us))
    }

    /// The part of these items' turns that runs outside the GIL (`cpu_outside_gil_share`: the
    /// loop's poll and its sends release it), spent now on the loop's thread without it; a
    /// token's part counts in its stream's per-token CPU, like the rest of the turn.
    fn outside_gil(&self, items: &mut [LoopItem]) {
        let Some(gil) = self.ctx.gil.as_deref() else {
            return;
        };
        for item in items {
            let us = gil.outside_us(self.turn_us(item));
            match item {
                LoopItem::Stream(open, _) => steps::token_cpu(&mut open.clock, "", us, None),
                LoopItem::Request(ticket) => {
                    std::hint::black_box(cpu::prompt_work(&ticket.question, us, None));
                }
            }
        }
    }

    /// Closes the event loop's inbox: the loop ends once it has emptied it.
    pub(super) fn close_loop(&self) {
        drop(
            self.to_loop
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
    }

    /// The event loop's turn for one item, the caller holding the GIL (and having spent the
    /// turn's part outside it): a new request's share of the per-request CPU (then its body is
    /// queued), or a stream's share of its token's CPU and the token sent (the clock ticks),
    /// then its next `next()` is queued.
    pub(super) fn loop_turn(&self, item: LoopItem) -> (Job, Origin) {
        match item {
            LoopItem::Request(ticket) => {
                std::hint::black_box(cpu::prompt_work(
                    &ticket.question,
                    self.under_gil_us(self.loop_request_us),
                    None,
                ));
                (Job::Start(ticket), Origin::Loop)
            }
            LoopItem::Stream(open, token) => {
                (Job::Next(self.send_token(open, token)), Origin::Loop)
            }
        }
    }

    /// A stream's turn on the loop: the loop's share of the token's CPU, then the token goes
    /// out (the clock ticks). The caller holds the GIL.
    fn send_token(&self, mut open: Box<Open>, token: bool) -> Box<Open> {
        if token {
            steps::token_cpu(
                &mut open.clock,
                "",
                self.under_gil_us(self.loop_token_us),
                None,
            );
            open.clock.token();
        }
        open
    }
}

/// The event loop: one thread that takes every stream a `next()` (or the body) returned, does
/// its turn, and queues the stream's next `next()` — serially, as Starlette's loop does. Ends
/// when the pool has shut down (its inbox's sender is dropped).
pub(super) fn event_loop(shared: &Arc<Shared>, inbox: &Receiver<LoopItem>) {
    while let Ok(first) = inbox.recv() {
        // One pass of the loop: everything ready now, as asyncio runs every ready callback in
        // one iteration — under one hold of the GIL, dropped after a switch interval's worth of
        // work (CPython makes a thread drop it then when another asks for it).
        let mut ready = vec![first];
        ready.extend(inbox.try_iter());
        // The pass's CPU outside the GIL first: the poll that found them ready, the sends.
        shared.outside_gil(&mut ready);
        let mut ready = ready.into_iter().peekable();
        while ready.peek().is_some() {
            if shared.abandon.load(Ordering::Relaxed) {
                return;
            }
            let _gil = cpu::hold(shared.ctx.gil.as_deref());
            let started = cpu::thread_cpu_us();
            for item in ready.by_ref() {
                let (job, origin) = shared.loop_turn(item);
                shared.push(job, origin);
                if cpu::thread_cpu_us().saturating_sub(started) >= SWITCH_INTERVAL_US {
                    break;
                }
            }
        }
    }
}

/// CPython's switch interval (`sys.getswitchinterval()`, 5 ms): how long the loop keeps the GIL
/// in one pass.
const SWITCH_INTERVAL_US: u64 = 5_000;
