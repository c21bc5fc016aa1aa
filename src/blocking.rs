//! The blocking variant, for synchronous code: same policies, classifiers
//! and hooks, sleeping the thread with `std::thread::sleep`.

use crate::budget::RetryBudget;
use crate::call::{CallState, report_retry};
use crate::classify::Classify;
use crate::error::RetryError;
use crate::notify::{Notify, RetryEvent};
use crate::policy::{Decision, RetryPolicy};
use crate::retry::Retry;
use std::fmt::Debug;

impl<Op, T, E, P, C, N, B> Retry<Op, P, C, N, B>
where
    Op: FnMut(u32) -> Result<T, E>,
    E: Debug,
    P: RetryPolicy,
    C: Classify<E>,
    N: Notify<E>,
    B: RetryBudget,
{
    /// Runs a blocking `op` with retries on this thread, sleeping between
    /// attempts. Never call it from async code: it blocks the thread.
    ///
    /// A deadline stops the retries but cannot cut an attempt in progress, and
    /// the [attempt timeout](Retry::attempt_timeout) does not apply.
    ///
    /// # Errors
    ///
    /// A [`RetryError`] with the last attempt's error and why retrying stopped.
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
    pub fn call(mut self) -> Result<T, RetryError<E>> {
        let timed = self.policy.deadline().is_some();
        let mut call = CallState::new(self.seed);
        let _entered = tracing::info_span!(target: "persevere", "retry").entered();
        loop {
            let attempt = call.start_attempt(timed, &self.budget);
            let error = match (self.op)(attempt) {
                Ok(value) => {
                    call.succeeded(&self.budget);
                    return Ok(value);
                }
                Err(error) => error,
            };
            let verdict = self.classifier.classify(&error);
            let (decision, elapsed) = call.decide(&self.policy, &self.budget, verdict);
            let delay = match decision {
                Decision::Retry(delay) => delay,
                Decision::Stop(reason) => return Err(call.give_up(reason, elapsed, Some(error))),
            };
            self.notify.notify(&RetryEvent {
                attempt,
                error: Some(&error),
                classification: verdict,
                delay,
                elapsed,
            });
            report_retry(attempt, Some(&error), verdict, delay, call.taken());
            drop(error);
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
        }
    }
}
