//! Long-polling calls: when the budget refuses a retry, back off all the
//! same before giving up, as the AWS SDKs do (retry behavior 2.1).

use crate::budget::RetryBudget;
use crate::classify::{Classify, ClassifyOk};
use crate::error::{RetryError, StopReason};
use crate::future::{FAR_FUTURE, RetryFuture};
use crate::notify::Notify;
use crate::policy::RetryPolicy;
use crate::retry::Retry;
use pin_project_lite::pin_project;
use std::fmt::Debug;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::time::Sleep;

/// A [`Retry`] for a long-polling operation (SQS `ReceiveMessage`, a
/// long-poll HTTP endpoint): made by [`Retry::long_polling`].
///
/// When the budget refuses a retry, the call still sleeps the delay the
/// policy chose for it (ending before the deadline) and then returns the
/// error with [`StopReason::BudgetExhausted`]. A caller that polls in a loop
/// therefore does not spin while the budget is empty. The error's
/// [`elapsed`](RetryError::elapsed) is when the call gave up, before that
/// sleep. Every other stop returns at once, as for a plain [`Retry`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use persevere::budget::TokenBucket;
/// use persevere::{Fixed, RetryPolicyExt, StopReason};
/// use std::time::Duration;
///
/// let empty = TokenBucket::new().with_capacity(0);
/// let start = tokio::time::Instant::now();
/// let err = persevere::retry(|| async { Err::<(), _>("receive failed") })
///     .policy(Fixed::new(Duration::from_secs(2)).with_max_attempts(3))
///     .budget(&empty)
///     .long_polling()
///     .await
///     .unwrap_err();
/// assert_eq!((err.reason(), err.attempts()), (StopReason::BudgetExhausted, 1));
/// assert_eq!(start.elapsed(), Duration::from_secs(2)); // backed off all the same
/// # }
/// ```
#[must_use = "a retry does nothing until it is awaited or called"]
#[derive(Debug, Clone)]
pub struct LongPolling<R> {
    retry: R,
}

impl<Op, P, C, N, B, K> Retry<Op, P, C, N, B, K> {
    /// Makes the call a long-polling one: when the budget refuses a retry,
    /// it still sleeps the policy's delay before it gives up (see
    /// [`LongPolling`]).
    ///
    /// # Examples
    ///
    /// See [`LongPolling`].
    pub fn long_polling(self) -> LongPolling<Self> {
        LongPolling { retry: self }
    }
}

impl<Op, T, E, P, C, N, B, K> LongPolling<Retry<Op, P, C, N, B, K>>
where
    Op: FnMut(u32) -> Result<T, E>,
    E: Debug,
    P: RetryPolicy,
    C: Classify<E>,
    N: Notify<E>,
    B: RetryBudget,
    K: ClassifyOk<T>,
{
    /// Runs a blocking `op` as [`Retry::call`] does, backing off on this
    /// thread before it gives up for a refused budget.
    ///
    /// # Errors
    ///
    /// A [`RetryError`] with the last attempt's error and why retrying stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::budget::TokenBucket;
    /// use persevere::{Fixed, RetryPolicyExt, StopReason};
    /// use std::time::{Duration, Instant};
    ///
    /// let empty = TokenBucket::new().with_capacity(0);
    /// let start = Instant::now();
    /// let err = persevere::retry(|| Err::<(), _>("receive failed"))
    ///     .policy(Fixed::new(Duration::from_millis(20)).with_max_attempts(3))
    ///     .budget(&empty)
    ///     .long_polling()
    ///     .call()
    ///     .unwrap_err();
    /// assert_eq!(err.reason(), StopReason::BudgetExhausted);
    /// assert!(start.elapsed() >= Duration::from_millis(20));
    /// ```
    pub fn call(self) -> Result<T, RetryError<E, K::Kept>> {
        self.retry.call_polling(true)
    }
}

impl<Op, Fut, T, E, P, C, N, B, K> IntoFuture for LongPolling<Retry<Op, P, C, N, B, K>>
where
    Op: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Debug,
    P: RetryPolicy,
    C: Classify<E>,
    N: Notify<E>,
    B: RetryBudget,
    K: ClassifyOk<T>,
{
    type Output = Result<T, RetryError<E, K::Kept>>;
    type IntoFuture = LongPollingFuture<RetryFuture<Op, Fut, P, C, N, B, K>, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        LongPollingFuture {
            inner: self.retry.into_future(),
            backoff: None,
            held: None,
        }
    }
}

pin_project! {
    /// The future of a [`LongPolling`] call; made by awaiting it.
    ///
    /// # Cancellation
    ///
    /// Dropping it drops the attempt in flight, or the sleep.
    ///
    /// # Examples
    ///
    /// See [`LongPolling`].
    #[must_use = "futures do nothing unless polled"]
    pub struct LongPollingFuture<F, O> {
        #[pin]
        inner: F,
        #[pin]
        backoff: Option<Sleep>,
        held: Option<O>,
    }
}

impl<Op, Fut, T, E, P, C, N, B, K> Future
    for LongPollingFuture<RetryFuture<Op, Fut, P, C, N, B, K>, Result<T, RetryError<E, K::Kept>>>
where
    Op: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Debug,
    P: RetryPolicy,
    C: Classify<E>,
    N: Notify<E>,
    B: RetryBudget,
    K: ClassifyOk<T>,
{
    type Output = Result<T, RetryError<E, K::Kept>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if this.backoff.is_none() {
            let output = ready!(this.inner.as_mut().poll(cx));
            let refused = matches!(&output, Err(e) if e.reason() == StopReason::BudgetExhausted);
            let backoff = match refused {
                true => this.inner.as_mut().refused_backoff(),
                false => None,
            };
            match backoff {
                Some(backoff) if !backoff.is_zero() => {
                    let sleep = tokio::time::sleep(backoff.min(FAR_FUTURE));
                    this.backoff.set(Some(sleep));
                    *this.held = Some(output);
                }
                _ => return Poll::Ready(output),
            }
        }
        if let Some(sleep) = this.backoff.as_mut().as_pin_mut() {
            ready!(sleep.poll(cx));
        }
        this.backoff.set(None);
        // Polling again after completion panics, as for `RetryFuture`.
        Poll::Ready(
            this.held
                .take()
                .expect("LongPollingFuture polled after completion"),
        )
    }
}

impl<F, O> Debug for LongPollingFuture<F, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LongPollingFuture")
            .field("backing_off", &self.backoff.is_some())
            .finish_non_exhaustive()
    }
}
