//! The hedged call as configured: `hedge(op).delay(..).await`.

use super::MAX_IN_FLIGHT;
use super::delay::HedgeDelay;
use super::future::HedgeFuture;
use super::outcome::Hedged;
use crate::budget::{NoBudget, RetryBudget};
use crate::classify::{AlwaysRetry, Classify};
use crate::error::RetryError;
use crate::policy::{AttemptContext, Decision, Fixed, Limited, RetryPolicy};
use crate::rng::JitterRng;
use std::fmt::Debug;
use std::future::{Future, IntoFuture};
use std::time::Duration;

/// The policy a [`hedge`](super::hedge()) uses unless told otherwise: at most
/// 3 attempts in all, no deadline.
///
/// A hedged call uses its policy's caps (attempts and deadline), never its
/// delays: a hedge starts after the [hedge delay](Hedge::delay) and a retry
/// after a failure starts at once. A zero [`Fixed`] inside, as here, keeps a
/// [`Limited`] deadline exact (it stops before an attempt whose *delay*
/// would reach the deadline).
///
/// # Examples
///
/// ```
/// use persevere::hedge::DEFAULT_HEDGE_POLICY;
///
/// assert_eq!(DEFAULT_HEDGE_POLICY.max_attempts(), Some(3));
/// ```
pub const DEFAULT_HEDGE_POLICY: Limited<Fixed> =
    Limited::new(Fixed::new(Duration::ZERO)).with_max_attempts(3);

/// The policy a [`hedge`](super::hedge()) uses unless told otherwise: a
/// zero-sized stand-in for [`DEFAULT_HEDGE_POLICY`], so that the default
/// takes no room in the call's future.
///
/// # Examples
///
/// ```
/// use persevere::hedge::{DEFAULT_HEDGE_POLICY, DefaultHedgePolicy};
/// use persevere::{AttemptContext, JitterRng, RetryPolicy};
/// use std::time::Duration;
///
/// let third = AttemptContext::new(3, Duration::ZERO);
/// let mut rng = JitterRng::from_seed(0);
/// assert_eq!(
///     DefaultHedgePolicy.decide(&third, &mut rng),
///     DEFAULT_HEDGE_POLICY.decide(&third, &mut rng),
/// );
/// assert_eq!(std::mem::size_of::<DefaultHedgePolicy>(), 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DefaultHedgePolicy;

impl RetryPolicy for DefaultHedgePolicy {
    #[inline]
    fn decide(&self, failed: &AttemptContext, rng: &mut JitterRng) -> Decision {
        DEFAULT_HEDGE_POLICY.decide(failed, rng)
    }

    #[inline]
    fn deadline(&self) -> Option<Duration> {
        DEFAULT_HEDGE_POLICY.deadline()
    }
}

/// The hedge delay a [`hedge`](super::hedge()) uses unless told otherwise:
/// 10 ms, the delay of the BigTable example in Dean and Barroso's "The Tail
/// at Scale". Prefer a [`LatencyTracker`](super::LatencyTracker) or a delay
/// measured on the dependency.
///
/// # Examples
///
/// ```
/// use persevere::hedge::DEFAULT_HEDGE_DELAY;
/// use std::time::Duration;
///
/// assert_eq!(DEFAULT_HEDGE_DELAY, Duration::from_millis(10));
/// ```
pub const DEFAULT_HEDGE_DELAY: Duration = Duration::from_millis(10);

/// A configured hedged call: await it.
///
/// Made by [`hedge`](super::hedge()); see there for what it does and its
/// defaults.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let won = persevere::hedge(|| async { Ok::<_, std::io::Error>(7) }).await.unwrap();
/// assert_eq!((won.attempts(), won.winner(), won.into_inner()), (1, 1, 7));
/// # }
/// ```
#[must_use = "a hedged call does nothing until it is awaited"]
#[derive(Debug, Clone)]
pub struct Hedge<
    Op,
    P = DefaultHedgePolicy,
    C = AlwaysRetry,
    D = Duration,
    H = NoBudget,
    B = NoBudget,
> {
    pub(crate) op: Op,
    pub(crate) policy: P,
    pub(crate) classifier: C,
    pub(crate) delay: D,
    pub(crate) hedge_budget: H,
    pub(crate) budget: B,
    pub(crate) max_in_flight: u8,
}

impl<Op> Hedge<Op> {
    #[inline]
    pub(crate) fn new(op: Op) -> Self {
        Hedge {
            op,
            policy: DefaultHedgePolicy,
            classifier: AlwaysRetry,
            delay: DEFAULT_HEDGE_DELAY,
            hedge_budget: NoBudget,
            budget: NoBudget,
            max_in_flight: 2,
        }
    }
}

impl<Op, P, C, D, H, B> Hedge<Op, P, C, D, H, B> {
    /// Sets the policy whose caps bound the whole call: its attempt cap
    /// counts every attempt (hedges and retries, the first included), and no
    /// attempt starts at or after its deadline, when the attempts still in
    /// flight are dropped. Its delays are not used (see
    /// [`DEFAULT_HEDGE_POLICY`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::{Fixed, RetryPolicyExt, StopReason};
    /// use std::time::Duration;
    ///
    /// let err = persevere::hedge(|| std::future::pending::<Result<(), ()>>())
    ///     .policy(Fixed::new(Duration::ZERO).with_deadline(Duration::from_millis(25)))
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!((err.reason(), err.attempts()), (StopReason::Deadline, 2));
    /// # }
    /// ```
    pub fn policy<P2: RetryPolicy>(self, policy: P2) -> Hedge<Op, P2, C, D, H, B> {
        Hedge {
            op: self.op,
            policy,
            classifier: self.classifier,
            delay: self.delay,
            hedge_budget: self.hedge_budget,
            budget: self.budget,
            max_in_flight: self.max_in_flight,
        }
    }

    /// Sets the classifier: a retryable failure starts the next attempt at
    /// once (gRPC's non-fatal codes); a terminal one ends the call and drops
    /// the other attempts.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::{StopReason, classify::http::classify_status};
    ///
    /// let err = persevere::hedge(|| async { Err::<(), u16>(404) })
    ///     .classify(|status: &u16| classify_status(*status))
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!((err.reason(), err.attempts()), (StopReason::Terminal, 1));
    /// # }
    /// ```
    pub fn classify<C2>(self, classifier: C2) -> Hedge<Op, P, C2, D, H, B> {
        Hedge {
            op: self.op,
            policy: self.policy,
            classifier,
            delay: self.delay,
            hedge_budget: self.hedge_budget,
            budget: self.budget,
            max_in_flight: self.max_in_flight,
        }
    }

    /// Sets the hedge delay: how long to wait for an answer after starting an
    /// attempt before starting another. A [`Duration`] for a fixed delay, a
    /// shared [`LatencyTracker`](super::LatencyTracker) (by reference or in
    /// an `Arc`) for an adaptive one.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use tokio::time::sleep;
    ///
    /// let mut n = 0;
    /// let won = persevere::hedge(|| {
    ///     n += 1;
    ///     let slow = n == 1;
    ///     async move {
    ///         sleep(Duration::from_millis(if slow { 1000 } else { 5 })).await;
    ///         Ok::<_, ()>(())
    ///     }
    /// })
    /// .delay(Duration::from_millis(20))
    /// .await
    /// .unwrap();
    /// assert_eq!((won.winner(), won.elapsed()), (2, Duration::from_millis(25)));
    /// # }
    /// ```
    pub fn delay<D2: HedgeDelay>(self, delay: D2) -> Hedge<Op, P, C, D2, H, B> {
        Hedge {
            op: self.op,
            policy: self.policy,
            classifier: self.classifier,
            delay,
            hedge_budget: self.hedge_budget,
            budget: self.budget,
            max_in_flight: self.max_in_flight,
        }
    }

    /// Sets how many attempts may run at once, clamped into
    /// `1..=`[`MAX_IN_FLIGHT`] (with 1, the call never hedges on time and
    /// only retries failures at once). The default is 2.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::{Fixed, RetryPolicyExt};
    /// use std::time::Duration;
    ///
    /// let err = persevere::hedge(|| std::future::pending::<Result<(), ()>>())
    ///     .max_in_flight(usize::MAX) // clamped to 4
    ///     .policy(Fixed::new(Duration::ZERO).with_max_attempts(9).with_deadline(Duration::from_secs(1)))
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(err.attempts(), 4);
    /// # }
    /// ```
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max.clamp(1, MAX_IN_FLIGHT) as u8;
        self
    }

    /// Draws the hedges (the attempts started because the others were slow)
    /// from `budget`, usually a [`HedgeBudget`](super::HedgeBudget) shared by
    /// the calls to one dependency. When it refuses, the call sends no more
    /// hedges and waits for the attempts in flight.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::hedge::HedgeBudget;
    /// use std::time::Duration;
    ///
    /// let none = HedgeBudget::new().with_ratio(0.0).with_min_per_second(0);
    /// let won = persevere::hedge(|| async {
    ///     tokio::time::sleep(Duration::from_secs(1)).await;
    ///     Ok::<_, ()>(())
    /// })
    /// .hedge_budget(&none)
    /// .await
    /// .unwrap();
    /// assert_eq!(won.attempts(), 1);
    /// # }
    /// ```
    pub fn hedge_budget<H2: RetryBudget>(self, budget: H2) -> Hedge<Op, P, C, D, H2, B> {
        Hedge {
            op: self.op,
            policy: self.policy,
            classifier: self.classifier,
            delay: self.delay,
            hedge_budget: budget,
            budget: self.budget,
            max_in_flight: self.max_in_flight,
        }
    }

    /// Draws every extra attempt, hedge or retry, from `budget`, a
    /// [`RetryBudget`] that may be shared with plain [`retry`](crate::retry)
    /// calls, and reports each attempt's outcome to it as `retry` does (an
    /// attempt dropped because another won is not reported). When it refuses
    /// a hedge, the call waits for the attempts in flight; when it refuses a
    /// retry and nothing else is in flight, the call stops with
    /// [`StopReason::BudgetExhausted`](crate::StopReason::BudgetExhausted).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::{StopReason, budget::TokenBucket};
    ///
    /// let bucket = TokenBucket::new().with_capacity(20); // one retry of 14 tokens
    /// let err = persevere::hedge(|| async { Err::<(), _>("reset") })
    ///     .budget(&bucket)
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!((err.reason(), err.attempts()), (StopReason::BudgetExhausted, 2));
    /// # }
    /// ```
    pub fn budget<B2: RetryBudget>(self, budget: B2) -> Hedge<Op, P, C, D, H, B2> {
        Hedge {
            op: self.op,
            policy: self.policy,
            classifier: self.classifier,
            delay: self.delay,
            hedge_budget: self.hedge_budget,
            budget,
            max_in_flight: self.max_in_flight,
        }
    }
}

impl<Op, Fut, T, E, P, C, D, H, B> IntoFuture for Hedge<Op, P, C, D, H, B>
where
    Op: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Debug,
    P: RetryPolicy,
    C: Classify<E>,
    D: HedgeDelay,
    H: RetryBudget,
    B: RetryBudget,
{
    type Output = Result<Hedged<T>, RetryError<E>>;
    type IntoFuture = HedgeFuture<Op, Fut, P, C, D, H, B>;

    #[inline]
    fn into_future(self) -> Self::IntoFuture {
        HedgeFuture::new(self)
    }
}
