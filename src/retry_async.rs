//! Retrying an async closure whose future borrows from it: an op that calls
//! a method taking `&mut self`.

use crate::budget::{NoBudget, RetryBudget};
use crate::call::{CallState, Failure};
use crate::classify::{AcceptOk, AlwaysRetry, Classify, ClassifyOk};
use crate::error::RetryError;
use crate::future::FAR_FUTURE;
use crate::notify::Notify;
use crate::policy::RetryPolicy;
use crate::retry::{DefaultPolicy, Retry};
use std::fmt::{self, Debug};
use std::future::Future;
use std::time::Duration;
use tracing::{Instrument, Span};

/// Retries an async closure (`async |attempt| ...`, an [`AsyncFnMut`]) whose
/// future may borrow what the closure captures, such as `&mut self`.
///
/// [`retry`](crate::retry) takes an `FnMut() -> Fut`, whose future cannot
/// hold a borrow of the closure's captures: `retry(|| self.client.call(&mut
/// self.conn))` does not compile. An async closure can, so this entry point
/// takes one. It is set up with the same [`Retry`] methods (policy,
/// classifier, value classifier, notify, budget, attempt timeout, seed) and
/// run with [`run`](Retry::run), which behaves as awaiting a `retry` does.
///
/// # Examples
///
/// A method that borrows the connection mutably on every attempt:
///
/// ```
/// use persevere::{Fixed, RetryError, RetryPolicyExt};
/// use std::time::Duration;
///
/// struct Conn { sent: u32 }
/// struct Client;
/// impl Client {
///     async fn call(&self, conn: &mut Conn) -> Result<u32, &'static str> {
///         conn.sent += 1;
///         if conn.sent < 3 { Err("reset") } else { Ok(conn.sent) }
///     }
/// }
/// struct Service { client: Client, conn: Conn }
///
/// impl Service {
///     async fn fetch(&mut self) -> Result<u32, RetryError<&'static str>> {
///         persevere::retry_async(async |_| self.client.call(&mut self.conn).await)
///             .policy(Fixed::new(Duration::from_millis(10)).with_max_attempts(5))
///             .run()
///             .await
///     }
/// }
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let mut service = Service { client: Client, conn: Conn { sent: 0 } };
/// assert_eq!(service.fetch().await.unwrap(), 3);
/// # }
/// ```
///
/// # Send
///
/// With an `async move` closure that owns what it captures, the future of
/// [`run`](Retry::run) is `Send` when they are, and can be spawned. With a
/// closure that borrows (the `&mut self` case above), rustc cannot yet prove
/// that future `Send` (an open compiler limitation with async closures,
/// rust-lang/rust#139475), so such a call compiles where it is awaited on
/// the task that owns the borrowed state, but not inside a future given to
/// `tokio::spawn`: there, move the state into the closure, or use
/// [`retry`](crate::retry) with owned captures.
///
/// The attempt number, from 1, is the closure's argument, as for
/// [`retry_with_attempt`](crate::retry_with_attempt):
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let mut log = Vec::new();
/// let n = persevere::retry_async(async |attempt| {
///     log.push(attempt);
///     if attempt < 2 { Err("not yet") } else { Ok(attempt) }
/// })
/// .run()
/// .await
/// .unwrap();
/// assert_eq!((n, log), (2, vec![1, 2]));
/// # }
/// ```
pub fn retry_async<F, T, E>(op: F) -> Retry<AsyncOp<F>>
where
    F: AsyncFnMut(u32) -> Result<T, E>,
{
    Retry {
        op: AsyncOp(op),
        policy: DefaultPolicy,
        classifier: AlwaysRetry,
        notify: (),
        attempt_timeout: None,
        seed: None,
        budget: NoBudget,
        ok: AcceptOk,
    }
}

/// The op of a [`retry_async`] call: an async closure.
///
/// Such a [`Retry`] is not awaited directly but through [`Retry::run`]: the
/// future of an async closure borrows the closure, and the type of a future
/// that holds both can only be named on stable Rust as an `impl Future`.
///
/// # Examples
///
/// ```
/// let call: persevere::Retry<persevere::AsyncOp<_>> =
///     persevere::retry_async(async |_| Ok::<_, ()>(1));
/// # let _ = call;
/// ```
#[derive(Clone, Copy)]
pub struct AsyncOp<F>(F);

impl<F> fmt::Debug for AsyncOp<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AsyncOp")
    }
}

impl<F, T, E, P, C, N, B, K> Retry<AsyncOp<F>, P, C, N, B, K>
where
    F: AsyncFnMut(u32) -> Result<T, E>,
    E: Debug,
    P: RetryPolicy,
    C: Classify<E>,
    N: Notify<E>,
    B: RetryBudget,
    K: ClassifyOk<T>,
{
    /// Runs the call: the same attempts, sleeps, deadline, attempt timeout,
    /// budget, hooks and tracing as awaiting a [`retry`](crate::retry).
    ///
    /// # Errors
    ///
    /// A [`RetryError`] with the last attempt's error (or value) and why
    /// retrying stopped.
    ///
    /// # Cancellation
    ///
    /// Dropping the future drops the attempt in flight, or the sleep: no
    /// further attempt starts.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::StopReason;
    /// use std::time::Duration;
    ///
    /// let mut buf = Vec::new();
    /// let err = persevere::retry_async(async |_| {
    ///     buf.push(0u8);
    ///     std::future::pending::<Result<(), ()>>().await
    /// })
    /// .attempt_timeout(Duration::from_secs(1))
    /// .run()
    /// .await
    /// .unwrap_err();
    /// assert_eq!((err.reason(), err.attempts(), err.timed_out()), (StopReason::AttemptsExhausted, 3, true));
    /// assert_eq!(buf.len(), 3);
    /// # }
    /// ```
    pub async fn run(self) -> Result<T, RetryError<E, K::Kept>> {
        drive(self).await
    }
}

/// An op whose attempts' futures may borrow it: an async closure, or an
/// adapter's op that lends each attempt what it holds.
pub(crate) trait Lend {
    /// The attempts' success.
    type Ok;
    /// The attempts' error.
    type Err;
    /// The future of attempt number `attempt`, from 1.
    fn attempt(&mut self, attempt: u32) -> impl Future<Output = Result<Self::Ok, Self::Err>>;
}

impl<F, T, E> Lend for AsyncOp<F>
where
    F: AsyncFnMut(u32) -> Result<T, E>,
{
    type Ok = T;
    type Err = E;

    fn attempt(&mut self, attempt: u32) -> impl Future<Output = Result<T, E>> {
        (self.0)(attempt)
    }
}

/// The loop of a call whose op lends: the same steps as the state machine
/// of [`RetryFuture`](crate::RetryFuture), written as an `async fn`, since
/// a future that borrows its op cannot sit next to it in a named type.
pub(crate) async fn drive<Op, P, C, N, B, K>(
    retry: Retry<Op, P, C, N, B, K>,
) -> Result<Op::Ok, RetryError<Op::Err, K::Kept>>
where
    Op: Lend,
    Op::Err: Debug,
    P: RetryPolicy,
    C: Classify<Op::Err>,
    N: Notify<Op::Err>,
    B: RetryBudget,
    K: ClassifyOk<Op::Ok>,
{
    let Retry {
        mut op,
        policy,
        classifier,
        mut notify,
        attempt_timeout,
        seed,
        budget,
        ok,
    } = retry;
    let mut call = CallState::new(seed);
    let deadline = policy.deadline();
    let timed = deadline.is_some() || attempt_timeout.is_some();
    // A rate limiter may hold the first attempt back, as in `RetryFuture`.
    let wait = call.first_permit(&budget, deadline, attempt_timeout)?;
    if !wait.is_zero() {
        sleep(wait).await;
    }
    loop {
        if call.attempt() > 0 && call.past_deadline(deadline) {
            return Err(call.stop_at_deadline());
        }
        let attempt = call.start_attempt(timed, &budget);
        let left = deadline.map(|deadline| deadline.saturating_sub(call.elapsed()));
        let (limit, at_deadline) = match (attempt_timeout, left) {
            (None, None) => (None, false),
            (Some(timeout), Some(left)) if timeout < left => (Some(timeout), false),
            (Some(timeout), None) => (Some(timeout), false),
            (_, Some(left)) => (Some(left), true),
        };
        let span = call.span().cloned().unwrap_or_else(Span::none);
        let future = op.attempt(attempt).instrument(span);
        let outcome = match limit {
            None => Some(future.await),
            Some(limit) => tokio::time::timeout(limit.min(FAR_FUTURE), future)
                .await
                .ok(),
        };
        let failure = match outcome {
            Some(Ok(value)) => match ok.check(value) {
                Ok(value) => {
                    call.succeeded(&budget);
                    return Ok(value);
                }
                Err((value, verdict)) => Failure::Value(value, verdict),
            },
            Some(Err(error)) => Failure::Error(error),
            None if at_deadline => return Err(call.give_up_at_deadline(&budget)),
            None => Failure::TimedOut,
        };
        let delay = call.after_failure(
            failure,
            &policy,
            &classifier,
            &mut notify,
            &budget,
            attempt_timeout,
        )?;
        sleep(delay).await;
    }
}

/// Sleeps `delay`; a zero delay takes no timer, but a unit of the task's
/// cooperative budget, so a run of immediate retries yields in time.
async fn sleep(delay: Duration) {
    if delay.is_zero() {
        tokio::task::coop::consume_budget().await;
    } else {
        tokio::time::sleep(delay.min(FAR_FUTURE)).await;
    }
}
