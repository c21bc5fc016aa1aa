//! The blocking variant, for synchronous code: same policies, classifiers
//! and hooks, sleeping the thread with `std::thread::sleep`.

use crate::budget::RetryBudget;
use crate::call::{CallState, Failure};
use crate::classify::{Classify, ClassifyOk};
use crate::error::{RetryError, StopReason};
use crate::notify::Notify;
use crate::policy::RetryPolicy;
use crate::retry::Retry;
use std::fmt::Debug;
use tracing::Span;

impl<Op, T, E, P, C, N, B, K> Retry<Op, P, C, N, B, K>
where
    Op: FnMut(u32) -> Result<T, E>,
    E: Debug,
    P: RetryPolicy,
    C: Classify<E>,
    N: Notify<E>,
    B: RetryBudget,
    K: ClassifyOk<T>,
{
    /// Runs a blocking `op` with retries on this thread, sleeping between
    /// attempts. Never call it from async code: it blocks the thread.
    ///
    /// A deadline stops the retries but cannot cut an attempt in progress, and
    /// the [attempt timeout](Retry::attempt_timeout) does not apply.
    ///
    /// # Errors
    ///
    /// A [`RetryError`] with the last attempt's error (or value, see
    /// [`retry_if_ok`](Retry::retry_if_ok)) and why retrying stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{Fixed, RetryPolicyExt, classify::io::IoErrors};
    /// use std::io::{Error, ErrorKind};
    /// use std::time::Duration;
    ///
    /// let mut calls = 0;
    /// let value = persevere::retry(|| {
    ///     calls += 1;
    ///     if calls < 3 { Err(Error::from(ErrorKind::TimedOut)) } else { Ok(calls) }
    /// })
    /// .policy(Fixed::new(Duration::from_millis(1)).with_max_attempts(4))
    /// .classify(IoErrors)
    /// .call()
    /// .unwrap();
    /// assert_eq!(value, 3);
    /// ```
    pub fn call(self) -> Result<T, RetryError<E, K::Kept>> {
        self.call_polling(false)
    }

    /// [`call`](Self::call), backing off once more before it gives up for a
    /// refused budget when `long_polling`.
    pub(crate) fn call_polling(mut self, long_polling: bool) -> Result<T, RetryError<E, K::Kept>> {
        let mut call = CallState::new(self.seed);
        let deadline = self.policy.deadline();
        let wait = call.first_permit(&self.budget, deadline, None)?;
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        loop {
            if call.attempt() > 0 && call.past_deadline(deadline) {
                return Err(call.stop_at_deadline());
            }
            let attempt = call.start_attempt(deadline.is_some(), &self.budget);
            let entered = call.span().map(Span::enter);
            let failure = match (self.op)(attempt).map(|value| self.ok.check(value)) {
                Ok(Ok(value)) => {
                    call.succeeded(&self.budget);
                    return Ok(value);
                }
                Ok(Err((value, verdict))) => Failure::Value(value, verdict),
                Err(error) => Failure::Error(error),
            };
            drop(entered);
            let delay = match call.after_failure(
                failure,
                &self.policy,
                &self.classifier,
                &mut self.notify,
                &self.budget,
                None,
            ) {
                Ok(delay) => delay,
                Err(error) => {
                    if long_polling && error.reason() == StopReason::BudgetExhausted {
                        if let Some(backoff) = call.refused_backoff(deadline) {
                            std::thread::sleep(backoff);
                        }
                    }
                    return Err(error);
                }
            };
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
        }
    }
}
