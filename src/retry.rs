//! The combinator that *does* the retrying: `retry(op).policy(..).await`.

use crate::budget::{NoBudget, RetryBudget};
use crate::classify::{AcceptOk, AlwaysRetry, Classify, ClassifyOk};
use crate::future::RetryFuture;
use crate::notify::Notify;
pub(crate) use crate::policy::DefaultPolicy;
use crate::policy::RetryPolicy;
use std::fmt::Debug;
use std::future::{Future, IntoFuture};
use std::time::Duration;

/// Retries `op` until it succeeds, the classifier calls its error terminal,
/// or the policy stops.
///
/// `op` makes a fresh future per attempt; await the returned [`Retry`] (after
/// setting what you need on it) to run the call. For an op whose future borrows
/// what the closure captures (a method taking `&mut self`), use
/// [`retry_async`](crate::retry_async) with an async closure. Wrap only operations that
/// are safe to repeat: see [`Idempotency`](crate::classify::Idempotency).
///
/// # Default
///
/// - policy: [`DEFAULT_POLICY`](crate::DEFAULT_POLICY), exponential backoff with full jitter and at
///   most 3 attempts: never "retry forever";
/// - classifier: [`AlwaysRetry`], every error retryable
///   ([`IoErrors`](crate::classify::io::IoErrors) and the
///   [`http`](crate::classify::http) functions are one call away);
/// - no notify hook, no [budget](Retry::budget), no attempt timeout, jitter
///   seeded from the thread's random generator on the first retry.
///
/// # Time
///
/// - A zero delay uses no timer: the next attempt starts at once while the
///   task has tokio's cooperative budget left, and the task yields when it
///   runs out (as tokio's own sockets and channels do), so a long run of
///   immediate retries never starves the other tasks.
/// - The clock is read for the first attempt only under a deadline or an
///   attempt timeout (or by a windowed budget such as
///   [`RatioBudget`](crate::budget::RatioBudget)). Otherwise the call notes
///   the time when its first attempt fails; after that it reads the clock to
///   arm a non-zero sleep, and when something asks how long the call has
///   run: a deadline, a policy, a notify hook, or the error at the end.
///
/// # Tracing
///
/// Under the target `persevere`:
///
/// - a span `retry`, opened when the first attempt fails; the attempts after
///   it run inside it;
/// - an `INFO` event `attempt failed, retrying` per failed attempt that will
///   be retried, with `attempt`, `error` (its `Debug` form), `kind`,
///   `server_delay`, `delay` and `budget_taken`;
/// - one `WARN` event `giving up` when the call stops, with `attempts`,
///   `elapsed`, `reason`, `budget_taken` and `error`.
///
/// A call whose first attempt succeeds reports nothing and creates no span.
///
/// # Examples
///
/// ```
/// use persevere::{Exponential, RetryPolicyExt, classify::io::IoErrors};
/// use std::io::{Error, ErrorKind};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let mut calls = 0;
/// let value = persevere::retry(|| {
///     calls += 1;
///     let fail = calls < 3;
///     async move {
///         if fail { Err(Error::from(ErrorKind::ConnectionReset)) } else { Ok("done") }
///     }
/// })
/// .policy(Exponential::new().with_max_attempts(5))
/// .classify(IoErrors)
/// .attempt_timeout(Duration::from_secs(10))
/// .await
/// .unwrap();
/// assert_eq!((value, calls), ("done", 3));
/// # }
/// ```
pub fn retry<F, R>(mut op: F) -> Retry<impl FnMut(u32) -> R>
where
    F: FnMut() -> R,
{
    retry_with_attempt(move |_| op())
}

/// [`retry`] for an `op` that receives the attempt number, starting at 1.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let n = persevere::retry_with_attempt(|attempt| async move {
///     if attempt < 2 { Err("not yet") } else { Ok(attempt) }
/// })
/// .await
/// .unwrap();
/// assert_eq!(n, 2);
/// # }
/// ```
pub fn retry_with_attempt<F, R>(op: F) -> Retry<F>
where
    F: FnMut(u32) -> R,
{
    Retry {
        op,
        policy: DefaultPolicy,
        classifier: AlwaysRetry,
        notify: (),
        attempt_timeout: None,
        seed: None,
        budget: NoBudget,
        ok: AcceptOk,
    }
}

/// A configured retrying call: await it (or, for a blocking `op`, call
/// [`call`](Retry::call)).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use persevere::{Fixed, RetryPolicyExt};
/// use std::time::Duration;
///
/// let call = persevere::retry(|| async { Ok::<_, std::io::Error>(1) })
///     .policy(Fixed::new(Duration::from_millis(5)).with_max_attempts(2));
/// assert_eq!(call.await.unwrap(), 1);
/// # }
/// ```
#[must_use = "a retry does nothing until it is awaited or called"]
#[derive(Debug, Clone)]
pub struct Retry<Op, P = DefaultPolicy, C = AlwaysRetry, N = (), B = NoBudget, K = AcceptOk> {
    pub(crate) op: Op,
    pub(crate) policy: P,
    pub(crate) classifier: C,
    pub(crate) notify: N,
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) seed: Option<u64>,
    pub(crate) budget: B,
    pub(crate) ok: K,
}

impl<Op, P, C, N, B, K> Retry<Op, P, C, N, B, K> {
    /// Sets the policy: when to retry and when to stop.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::presets;
    ///
    /// let err = persevere::retry(|| async { Err::<(), _>("reset") })
    ///     .policy(presets::aws_standard())
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(err.attempts(), 3);
    /// # }
    /// ```
    pub fn policy<P2: RetryPolicy>(self, policy: P2) -> Retry<Op, P2, C, N, B, K> {
        Retry {
            op: self.op,
            policy,
            classifier: self.classifier,
            notify: self.notify,
            attempt_timeout: self.attempt_timeout,
            seed: self.seed,
            budget: self.budget,
            ok: self.ok,
        }
    }

    /// Sets the classifier: which errors are worth retrying.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::classify::http::classify_status;
    ///
    /// let err = persevere::retry(|| async { Err::<(), u16>(404) })
    ///     .classify(|status: &u16| classify_status(*status))
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(err.attempts(), 1);
    /// # }
    /// ```
    pub fn classify<C2>(self, classifier: C2) -> Retry<Op, P, C2, N, B, K> {
        Retry {
            op: self.op,
            policy: self.policy,
            classifier,
            notify: self.notify,
            attempt_timeout: self.attempt_timeout,
            seed: self.seed,
            budget: self.budget,
            ok: self.ok,
        }
    }

    /// Sets the hook that hears about each failed attempt before its retry.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::RetryEvent;
    ///
    /// let mut retries = 0;
    /// let _ = persevere::retry(|| async { Err::<(), _>("reset") })
    ///     .notify(|_: &RetryEvent<'_, &str>| retries += 1)
    ///     .await;
    /// assert_eq!(retries, 2);
    /// # }
    /// ```
    pub fn notify<N2>(self, notify: N2) -> Retry<Op, P, C, N2, B, K> {
        Retry {
            op: self.op,
            policy: self.policy,
            classifier: self.classifier,
            notify,
            attempt_timeout: self.attempt_timeout,
            seed: self.seed,
            budget: self.budget,
            ok: self.ok,
        }
    }

    /// Cuts an attempt that runs longer than `timeout` and counts it as a
    /// retryable [`Timeout`](crate::RetryKind::Timeout). Has no effect on a
    /// blocking [`call`](Retry::call): a blocking attempt cannot be interrupted.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let mut attempts = 0;
    /// let value = persevere::retry(|| {
    ///     attempts += 1;
    ///     let hang = attempts == 1;
    ///     async move {
    ///         if hang { std::future::pending::<()>().await }
    ///         Ok::<_, std::io::Error>("answered")
    ///     }
    /// })
    /// .attempt_timeout(Duration::from_secs(2))
    /// .await
    /// .unwrap();
    /// assert_eq!(value, "answered");
    /// # }
    /// ```
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// Seeds this call's jitter, so its delays are the same on every run.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::{DEFAULT_POLICY, RetryEvent, schedule};
    ///
    /// let mut delays = Vec::new();
    /// let _ = persevere::retry(|| async { Err::<(), _>(()) })
    ///     .jitter_seed(99)
    ///     .notify(|e: &RetryEvent<'_, ()>| delays.push(e.delay()))
    ///     .await;
    /// assert_eq!(delays, schedule(&DEFAULT_POLICY, 99).collect::<Vec<_>>());
    /// # }
    /// ```
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Draws this call's retries from `budget`, a cap shared with other calls
    /// (see [`budget`](crate::budget)). Pass it by reference or in an `Arc`.
    ///
    /// Before each retry the call asks the budget; when it refuses, the call
    /// stops with [`StopReason::BudgetExhausted`](crate::StopReason::BudgetExhausted)
    /// and the last attempt's error. Every attempt's outcome is reported to
    /// the budget. Without a budget, retries are limited by the policy alone.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::{StopReason, budget::GrpcThrottle};
    /// use std::sync::Arc;
    ///
    /// // Retries stop once the token count falls to half of 4.
    /// let throttle = Arc::new(GrpcThrottle::new(4, 0.1));
    /// let err = persevere::retry(|| async { Err::<(), _>("unavailable") })
    ///     .budget(Arc::clone(&throttle))
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(err.reason(), StopReason::BudgetExhausted);
    /// assert_eq!((err.attempts(), throttle.tokens()), (2, 2.0));
    /// # }
    /// ```
    pub fn budget<B2: RetryBudget>(self, budget: B2) -> Retry<Op, P, C, N, B2, K> {
        Retry {
            op: self.op,
            policy: self.policy,
            classifier: self.classifier,
            notify: self.notify,
            attempt_timeout: self.attempt_timeout,
            seed: self.seed,
            budget,
            ok: self.ok,
        }
    }

    /// Classifies each attempt's `Ok` value too: `classifier` (any
    /// `Fn(&T) -> Option<Classification>`, or a [`ClassifyOk`]) returns
    /// `None` to accept the value, or a verdict to count the attempt as
    /// failed, exactly as if it had returned an error with that verdict.
    ///
    /// A value that is retried is dropped before the sleep. When the call
    /// stops on a value (the policy, deadline or budget stops it, or the
    /// verdict is terminal), the caller gets the value back in
    /// [`RetryError::last_value`](crate::RetryError::last_value), with the
    /// same [`reason`](crate::RetryError::reason),
    /// [`attempts`](crate::RetryError::attempts) and
    /// [`elapsed`](crate::RetryError::elapsed) as for an error: the output
    /// becomes `Result<T, RetryError<E, T>>`. The notify hook hears about a
    /// retried value with [`RetryEvent::returned_value`](crate::RetryEvent::returned_value).
    ///
    /// Without it (the default, [`AcceptOk`]) every `Ok` value is a success
    /// and the output stays `Result<T, RetryError<E>>`.
    ///
    /// # Examples
    ///
    /// A poll that returns `Ok(Pending)` until a job is done:
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::{Classification, Fixed, RetryPolicyExt};
    /// use std::time::Duration;
    ///
    /// #[derive(Debug, PartialEq)]
    /// enum Job { Pending, Done(u32) }
    ///
    /// let mut polls = 0;
    /// let job = persevere::retry(|| {
    ///     polls += 1;
    ///     let job = if polls < 4 { Job::Pending } else { Job::Done(polls) };
    ///     async move { Ok::<_, std::io::Error>(job) }
    /// })
    /// .policy(Fixed::new(Duration::from_secs(1)).with_max_attempts(10))
    /// .retry_if_ok(|job: &Job| (*job == Job::Pending).then(Classification::transient))
    /// .await
    /// .unwrap();
    /// assert_eq!(job, Job::Done(4));
    /// # }
    /// ```
    pub fn retry_if_ok<K2>(self, classifier: K2) -> Retry<Op, P, C, N, B, K2> {
        Retry {
            op: self.op,
            policy: self.policy,
            classifier: self.classifier,
            notify: self.notify,
            attempt_timeout: self.attempt_timeout,
            seed: self.seed,
            budget: self.budget,
            ok: classifier,
        }
    }
}

impl<Op, Fut, T, E, P, C, N, B, K> IntoFuture for Retry<Op, P, C, N, B, K>
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
    type Output = Result<T, crate::RetryError<E, K::Kept>>;
    type IntoFuture = RetryFuture<Op, Fut, P, C, N, B, K>;

    #[inline]
    fn into_future(self) -> Self::IntoFuture {
        RetryFuture::new(self)
    }
}
