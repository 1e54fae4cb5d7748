//! A response body written as a straight-line `async` function that hands out frames one by
//! one: no task and no channel per stream, one boxed future and one small slot instead.
//!
//! Why not `futures_util::stream::unfold`: a stream must hold its [`crate::stats::StreamGuard`]
//! (which borrows the shared statistics) and its quota admission for as long as it lives, and an
//! `unfold` state cannot borrow from itself. An `async` block can (it is pinned), so the stream's
//! code is an `async` block that owns everything and passes each frame out through a
//! [`Yielder`]; [`Generator`] polls that block as the HTTP server polls the body. This is the
//! same technique as the `async-stream` crate, in a few lines.
//!
//! Back-pressure is preserved: the block is only resumed when the server asks for the next
//! frame, so a slow reader delays the next token rather than piling frames up in memory.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use http_body::{Body, Frame};

type Slot<T> = Arc<Mutex<Option<T>>>;

/// Hands items from the generating `async` block to the [`Generator`].
#[derive(Debug)]
pub struct Yielder<T> {
    slot: Slot<T>,
}

impl<T> Yielder<T> {
    /// Passes `item` out and suspends until the consumer asks for the next one.
    pub async fn send(&self, item: T) {
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(item);
        SuspendOnce(false).await;
    }
}

/// Returns `Pending` once without arranging a wake-up: the generator sees the filled slot and
/// returns the item, and the consumer's next poll resumes the block.
struct SuspendOnce(bool);

impl Future for SuspendOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

/// A [`Stream`] of the items an `async` block passes to its [`Yielder`]; it ends when the block
/// returns. Dropping it drops the block (and whatever guards it holds).
pub struct Generator<T> {
    slot: Slot<T>,
    body: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl<T> std::fmt::Debug for Generator<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator")
            .field("finished", &self.body.is_none())
            .finish()
    }
}

/// Builds a [`Generator`] from `make`, which receives the [`Yielder`] and returns the block.
pub fn generate<T, F, Fut>(make: F) -> Generator<T>
where
    F: FnOnce(Yielder<T>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slot: Slot<T> = Arc::new(Mutex::new(None));
    let body = make(Yielder { slot: slot.clone() });
    Generator {
        slot,
        body: Some(Box::pin(body)),
    }
}

impl<T> Stream for Generator<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(None);
        };
        let finished = body.as_mut().poll(cx).is_ready();
        if finished {
            self.body = None;
        }
        let item = self.slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        match item {
            Some(item) => Poll::Ready(Some(item)),
            None if finished => Poll::Ready(None),
            None => Poll::Pending,
        }
    }
}

/// A generator of byte chunks is a response body as it is: hyper polls it for each frame, with
/// no stream adapter in between.
impl<E> Body for Generator<Result<Bytes, E>> {
    type Data = Bytes;
    type Error = E;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, E>>> {
        self.poll_next(cx)
            .map(|item| item.map(|r| r.map(Frame::data)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn yields_in_order_across_awaits_and_ends() {
        let g = generate(|y| async move {
            for i in 0..5u32 {
                if i % 2 == 1 {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
                y.send(i).await;
            }
        });
        let got: Vec<u32> = g.collect().await;
        assert_eq!(got, [0, 1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn dropping_the_stream_drops_the_block() {
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = Flag(dropped.clone());
        let mut g = generate(move |y| async move {
            let _flag = flag;
            for i in 0.. {
                y.send(i).await;
            }
        });
        assert_eq!(g.next().await, Some(0));
        assert_eq!(g.next().await, Some(1));
        assert!(!dropped.load(Ordering::SeqCst));
        drop(g);
        assert!(dropped.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn an_empty_block_is_an_empty_stream() {
        let g = generate(|_y: Yielder<u8>| async move {});
        assert_eq!(g.collect::<Vec<_>>().await, Vec::<u8>::new());
    }
}
