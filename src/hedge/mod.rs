//! Hedged requests: send a second copy of a slow request, keep the first
//! answer, drop the rest.
//!
//! **Hedge only idempotent operations.** A hedged call runs several copies of
//! the same request at once, and the copies that lose are dropped, not
//! undone: each may have reached the server and taken effect. Reads, `PUT`s
//! and requests with an idempotency key are fine; anything else is not.
//! Wrap the classifier in [`Idempotency`](crate::classify::Idempotency) so
//! that failures of a request that is not idempotent are never retried, and
//! do not hedge such a request at all.
//!
//! Retrying answers failures; it does nothing for a request that is merely
//! slow. Dean and Barroso ("The Tail at Scale", CACM 2013) sent a second
//! copy of a BigTable read after 10 ms without an answer, and cut the 99.9th
//! percentile latency from 1,800 ms to 74 ms for 2 % more requests. gRPC's
//! `hedgingPolicy` (gRFC A6) and tower's `hedge` middleware do the same; here
//! it uses persevere's policies, classifiers and budgets.
//!
//! A [`hedge`] call:
//!
//! - starts the first attempt; when no answer has come [a delay](HedgeDelay)
//!   after the latest attempt started, starts another while the others keep
//!   running, up to [`max_in_flight`](Hedge::max_in_flight) at once and the
//!   policy's attempt cap in all;
//! - returns the first success, with the number of the attempt that won
//!   ([`Hedged`]), and drops every other attempt at once (closing its
//!   connection);
//! - on a retryable failure (by the classifier) starts the next attempt at
//!   once, as gRPC does for its non-fatal codes; on a terminal one stops
//!   with that error and drops the rest;
//! - starts no attempt at or after the policy's deadline, and drops the
//!   attempts in flight when it comes;
//! - draws each hedge from a [`HedgeBudget`] (at most a fraction of calls
//!   hedge) and any [`RetryBudget`](crate::budget::RetryBudget); when a
//!   budget refuses, the call sends no more hedges and waits for the
//!   attempts it has in flight.
//!
//! It fails with the same [`RetryError`](crate::RetryError) as
//! [`retry`](crate::retry), whose [`StopReason`](crate::StopReason) says why:
//! `Terminal`, `AttemptsExhausted`, `Deadline` or `BudgetExhausted`.
//!
//! # Delay: fixed or adaptive
//!
//! A fixed [`Duration`](std::time::Duration) is simple but must track the
//! dependency by hand. A [`LatencyTracker`] shared by the calls to one
//! dependency estimates a percentile of their recent latency (p95 hedges
//! about 5 % of calls) and follows the dependency as it speeds up or slows
//! down; before it has enough samples it uses a fallback (by default, no
//! hedge on time).
//!
//! # In a tower stack
//!
//! With the `tower` feature, `HedgeLayer` hedges the requests of an
//! `http::Request` service (a hyper-util client) the same way, and never
//! hedges a request that is not idempotent or cannot be replayed.
//!
//! # Allocation
//!
//! None of its own: the attempts live in a fixed set of [`MAX_IN_FLIGHT`]
//! slots inside the call's future, which is therefore about four times the
//! size of one attempt's future (box the attempt's future, or the call, if
//! that is too large to keep on the stack). A [`LatencyTracker`] and a
//! [`HedgeBudget`] allocate nothing either; what the attempts allocate is
//! theirs.
//!
//! # Examples
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use persevere::hedge::{HedgeBudget, LatencyTracker};
//! use std::time::Duration;
//! use tokio::time::sleep;
//!
//! let p95 = LatencyTracker::new(95.0).with_fallback(Duration::from_millis(20));
//! let budget = HedgeBudget::new();
//! let won = persevere::hedge_with_attempt(|attempt| async move {
//!     // The first copy is stuck; the hedge answers in 5 ms.
//!     sleep(Duration::from_millis(if attempt == 1 { 2_000 } else { 5 })).await;
//!     Ok::<_, std::io::Error>("row")
//! })
//! .delay(&p95)
//! .hedge_budget(&budget)
//! .await
//! .unwrap();
//! assert_eq!((won.attempts(), won.winner()), (2, 2));
//! assert_eq!(won.elapsed(), Duration::from_millis(25));
//! # }
//! ```

mod budget;
mod builder;
mod call;
mod delay;
mod future;
mod outcome;
mod slots;
mod timer;
#[cfg(feature = "tower")]
mod tower;
mod tracker;

pub use budget::HedgeBudget;
pub use builder::{DEFAULT_HEDGE_DELAY, DEFAULT_HEDGE_POLICY, DefaultHedgePolicy, Hedge};
pub use delay::HedgeDelay;
pub use future::HedgeFuture;
pub use outcome::Hedged;
#[cfg(feature = "tower")]
pub use tower::{HedgeLayer, HedgeResponseFuture, HedgeService};
pub use tracker::LatencyTracker;

/// The most attempts a hedged call runs at once: the size of its inline set.
///
/// # Examples
///
/// ```
/// assert_eq!(persevere::hedge::MAX_IN_FLIGHT, 4);
/// ```
pub const MAX_IN_FLIGHT: usize = 4;

/// Hedges `op`: runs it, and runs it again alongside when it is slow to
/// answer, keeping the first success. **Only for idempotent operations**
/// (see the [module docs](self)).
///
/// `op` makes a fresh future per attempt; await the returned [`Hedge`] (after
/// setting what you need on it) to run the call.
///
/// # Default
///
/// - hedge delay: [`DEFAULT_HEDGE_DELAY`], a fixed 10 ms;
/// - at most 2 attempts in flight, and [`DEFAULT_HEDGE_POLICY`]: at most 3
///   attempts in all, no deadline;
/// - classifier: [`AlwaysRetry`](crate::AlwaysRetry), every error retryable;
/// - no hedge budget and no retry budget.
///
/// # Time
///
/// Time is read through `tokio::time::Instant`, so tokio's paused clock
/// drives it. tokio's timers have a resolution of one millisecond: a hedge
/// starts at the first whole millisecond at or after its delay. A call whose
/// first attempt answers when first polled reads no clock (unless the policy
/// has a deadline) and arms no timer.
///
/// A hedge delay or a deadline longer than about 30 years counts as 30
/// years, as [`retry`](crate::retry) caps its timers: `Duration::MAX` hedges
/// after 30 years, never panics (tokio's timer overflows near the last
/// instant `Instant` can hold).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use persevere::{Fixed, RetryPolicyExt};
/// use std::time::Duration;
///
/// let won = persevere::hedge(|| async { Ok::<_, std::io::Error>("fast") })
///     .delay(Duration::from_millis(50))
///     .policy(Fixed::new(Duration::ZERO).with_max_attempts(3).with_deadline(Duration::from_secs(2)))
///     .await
///     .unwrap();
/// assert_eq!(won.into_inner(), "fast");
/// # }
/// ```
pub fn hedge<F, R>(mut op: F) -> Hedge<impl FnMut(u32) -> R>
where
    F: FnMut() -> R,
{
    hedge_with_attempt(move |_| op())
}

/// [`hedge`] for an `op` that receives the attempt number, starting at 1.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let won = persevere::hedge_with_attempt(|attempt| async move {
///     if attempt < 3 { Err("busy") } else { Ok(attempt) }
/// })
/// .await
/// .unwrap();
/// assert_eq!(won.into_inner(), 3);
/// # }
/// ```
pub fn hedge_with_attempt<F, R>(op: F) -> Hedge<F>
where
    F: FnMut(u32) -> R,
{
    Hedge::new(op)
}

// The shared pieces must be shareable across threads.
const _: () = {
    fn _send_sync<T: Send + Sync>() {}
    fn _shared_pieces_are_send_sync() {
        _send_sync::<LatencyTracker>();
        _send_sync::<HedgeBudget>();
        _send_sync::<std::sync::Arc<dyn HedgeDelay>>();
    }
};
