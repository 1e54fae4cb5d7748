//! The load driver: decides when each request is *meant* to start, hands it to a variant's
//! [`Executor`](crate::pipeline::Executor), and folds the records that come back.
//!
//! Where arrivals come from is a [`Source`]: [`closed_loop`] (N users, each sending its next
//! request when the last one ends) or [`open_loop`] (a schedule at a rate, coordinated-omission
//! correct: a request that could not be sent on time still counts from its intended start). The
//! driver itself is the same for both and never knows how a request is executed (docs/design.md §5).

pub mod arrivals;
pub mod closed_loop;
pub(crate) mod driver;
pub mod open_loop;

use std::time::Instant;

pub use driver::{DriveOutcome, DrivePlan, drive};

/// A request that is due at `intended` (for a closed-loop `user`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Arrival {
    /// Intended start.
    pub intended: Instant,
    /// The closed-loop user, if any.
    pub user: Option<usize>,
}

/// Where arrivals come from.
pub trait Source {
    /// Arrivals due at or before `now`, in order.
    fn due(&mut self, now: Instant, out: &mut Vec<Arrival>);
    /// When the next arrival is due (None = only after a completion).
    fn next_due(&self) -> Option<Instant>;
    /// A request of `user` finished at `finished`.
    fn completed(&mut self, user: Option<usize>, finished: Instant);
    /// The in-flight cap this source imposes on the driver (open loop `--max-in-flight`).
    fn max_in_flight(&self) -> Option<usize> {
        None
    }
}
