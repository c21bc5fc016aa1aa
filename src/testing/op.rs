//! An operation that fails as scripted, for end-to-end tests of a call.

use super::script::Script;
use crate::classify::Classification;
use crate::classify::http::classify_response;
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// An error with an HTTP-like status and an optional `Retry-After` value,
/// for [`ScriptedOp`]s that play a server.
///
/// # Examples
///
/// ```
/// use persevere::testing::Status;
/// use std::time::Duration;
///
/// let busy = Status::new(503).with_retry_after("2");
/// assert_eq!(busy.classify().server_delay(), Some(Duration::from_secs(2)));
/// assert!(Status::new(404).classify().is_terminal());
/// assert_eq!(busy.to_string(), "status 503 (Retry-After: 2)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Status {
    code: u16,
    retry_after: Option<String>,
}

impl Status {
    /// A response with status `code` and no `Retry-After`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::testing::Status;
    /// assert_eq!(Status::new(429).code(), 429);
    /// ```
    pub const fn new(code: u16) -> Self {
        Status {
            code,
            retry_after: None,
        }
    }

    /// Sets the `Retry-After` header's value: seconds or an HTTP date.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::testing::Status;
    /// assert_eq!(Status::new(429).with_retry_after("5").retry_after(), Some("5"));
    /// ```
    pub fn with_retry_after(mut self, value: impl Into<String>) -> Self {
        self.retry_after = Some(value.into());
        self
    }

    /// The status code.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::testing::Status;
    /// assert_eq!(Status::new(500).code(), 500);
    /// ```
    pub const fn code(&self) -> u16 {
        self.code
    }

    /// The `Retry-After` value, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::testing::Status;
    /// assert_eq!(Status::new(500).retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<&str> {
        self.retry_after.as_deref()
    }

    /// The verdict of [`classify_response`] on it: the classifier to give a
    /// call whose operation fails with a `Status`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{RetryKind, testing::Status};
    /// assert_eq!(Status::new(429).classify().kind(), Some(RetryKind::Throttled));
    /// ```
    pub fn classify(&self) -> Classification {
        classify_response(self.code, self.retry_after())
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "status {}", self.code)?;
        match &self.retry_after {
            Some(value) => write!(f, " (Retry-After: {value})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Status {}

type Make<T, E> = Arc<dyn Fn() -> Result<T, E> + Send + Sync>;

struct State<T, E> {
    steps: Vec<(Duration, Make<T, E>)>,
    starts: Vec<Instant>,
}

/// An operation that plays a script: attempt `n` takes the `n`th step's time
/// (a `tokio::time::sleep`, so on the paused clock it takes no real time)
/// and returns its result; once the steps run out, the last one repeats. It
/// records when each attempt started.
///
/// Clones share the script and the record. Pass `|| op.call()` to
/// [`retry`](crate::retry).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use persevere::classify::io::IoErrors;
/// use persevere::testing::ScriptedOp;
/// use persevere::{Fixed, RetryPolicyExt};
/// use std::io::ErrorKind;
/// use std::time::Duration;
///
/// let op = ScriptedOp::new()
///     .fail_io(Duration::from_millis(20), ErrorKind::ConnectionReset)
///     .succeed(Duration::from_millis(5), "done");
/// let value = persevere::retry(|| op.call())
///     .policy(Fixed::new(Duration::from_millis(100)).with_max_attempts(3))
///     .classify(IoErrors)
///     .await
///     .unwrap();
/// assert_eq!(value, "done");
/// assert_eq!(op.starts(), [Duration::ZERO, Duration::from_millis(120)]);
/// # }
/// ```
pub struct ScriptedOp<T, E> {
    state: Arc<Mutex<State<T, E>>>,
}

impl<T, E> ScriptedOp<T, E> {
    /// An operation with no steps yet.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::testing::ScriptedOp;
    /// let op = ScriptedOp::<(), std::io::Error>::new();
    /// assert_eq!(op.attempts(), 0);
    /// ```
    pub fn new() -> Self {
        ScriptedOp {
            state: Arc::new(Mutex::new(State {
                steps: Vec::new(),
                starts: Vec::new(),
            })),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State<T, E>> {
        // A panic elsewhere cannot leave the record half-written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends an attempt that takes `after`, then returns what `make`
    /// returns.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::testing::ScriptedOp; use std::time::Duration;
    /// let op = ScriptedOp::new().then(Duration::ZERO, || Err::<(), _>(std::fmt::Error));
    /// # let _ = op;
    /// ```
    pub fn then<F>(self, after: Duration, make: F) -> Self
    where
        F: Fn() -> Result<T, E> + Send + Sync + 'static,
    {
        self.state().steps.push((after, Arc::new(make)));
        self
    }

    /// Appends an attempt that takes `after`, then fails with `error`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::testing::ScriptedOp; use std::time::Duration;
    /// let op = ScriptedOp::<u8, _>::new().fail(Duration::from_secs(1), "boom");
    /// # let _ = op;
    /// ```
    pub fn fail(self, after: Duration, error: E) -> Self
    where
        E: Clone + Send + Sync + 'static,
    {
        self.then(after, move || Err(error.clone()))
    }

    /// Appends an attempt that takes `after`, then succeeds with `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::testing::ScriptedOp; use std::time::Duration;
    /// let op = ScriptedOp::<_, String>::new().succeed(Duration::ZERO, 42);
    /// # let _ = op;
    /// ```
    pub fn succeed(self, after: Duration, value: T) -> Self
    where
        T: Clone + Send + Sync + 'static,
    {
        self.then(after, move || Ok(value.clone()))
    }

    /// Starts an attempt: records its start, and returns the future that
    /// plays its step.
    ///
    /// # Panics
    ///
    /// The future panics if the operation has no steps, and, like any tokio
    /// timer, when it must sleep outside a tokio runtime with time enabled.
    ///
    /// # Examples
    ///
    /// See [`ScriptedOp`].
    pub fn call(&self) -> impl Future<Output = Result<T, E>> + Send + 'static
    where
        T: 'static,
        E: 'static,
    {
        let mut state = self.state();
        state.starts.push(Instant::now());
        let index = state.starts.len() - 1;
        let step = state.steps.get(index).or(state.steps.last()).cloned();
        async move {
            let (after, make) = step.expect("a ScriptedOp needs at least one step");
            if !after.is_zero() {
                tokio::time::sleep(after).await;
            }
            make()
        }
    }

    /// How many attempts started.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::testing::ScriptedOp;
    /// assert_eq!(ScriptedOp::<(), ()>::new().attempts(), 0);
    /// ```
    pub fn attempts(&self) -> usize {
        self.state().starts.len()
    }

    /// When each attempt started, from the start of the first.
    ///
    /// # Examples
    ///
    /// See [`ScriptedOp`].
    pub fn starts(&self) -> Vec<Duration> {
        let state = self.state();
        let first = state.starts.first().copied();
        let since =
            |at: &Instant| first.map_or(Duration::ZERO, |f| at.saturating_duration_since(f));
        state.starts.iter().map(since).collect()
    }
}

impl<T> ScriptedOp<T, io::Error> {
    /// Appends an attempt that takes `after`, then fails with an io error of
    /// `kind` (classify it with [`IoErrors`](crate::classify::io::IoErrors)).
    ///
    /// # Examples
    ///
    /// See [`ScriptedOp`].
    pub fn fail_io(self, after: Duration, kind: io::ErrorKind) -> Self {
        self.then(after, move || Err(io::Error::from(kind)))
    }
}

impl<T> ScriptedOp<T, Status> {
    /// Appends an attempt that takes `after`, then fails with `status` and,
    /// if given, its `Retry-After` (classify it with [`Status::classify`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::testing::{ScriptedOp, Status};
    /// use persevere::{Exponential, RetryPolicyExt};
    /// use std::time::Duration;
    ///
    /// let op = ScriptedOp::new()
    ///     .fail_status(Duration::ZERO, 503, Some("3"))
    ///     .succeed(Duration::ZERO, ());
    /// persevere::retry(|| op.call())
    ///     .policy(Exponential::new().with_max_attempts(2))
    ///     .classify(Status::classify)
    ///     .await
    ///     .unwrap();
    /// assert_eq!(op.starts(), [Duration::ZERO, Duration::from_secs(3)]);
    /// # }
    /// ```
    pub fn fail_status(self, after: Duration, status: u16, retry_after: Option<&str>) -> Self {
        let mut error = Status::new(status);
        if let Some(value) = retry_after {
            error = error.with_retry_after(value);
        }
        self.then(after, move || Err(error.clone()))
    }
}

impl ScriptedOp<(), Classification> {
    /// The operation that plays `script`: each failure's error is its
    /// [`Classification`], so classify it with `|c: &Classification| *c`; a
    /// success returns `()`. Replaying the same script with
    /// [`replay`](crate::testing::replay) gives the same timeline.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::testing::{Script, ScriptedOp, Step, replay};
    /// use persevere::{Classification, Fixed, RetryPolicyExt};
    /// use std::time::Duration;
    ///
    /// let policy = Fixed::new(Duration::from_millis(30)).with_max_attempts(4);
    /// let script = Script::new().repeat(2, Step::fail(Classification::timeout())).then(Step::succeed());
    /// let op = ScriptedOp::from_script(&script);
    /// persevere::retry(|| op.call())
    ///     .policy(policy)
    ///     .classify(|c: &Classification| *c)
    ///     .await
    ///     .unwrap();
    /// assert_eq!(op.starts(), replay(policy).run(&script).starts());
    /// # }
    /// ```
    pub fn from_script(script: &Script) -> Self {
        let steps = if script.steps().is_empty() {
            &[super::Step::succeed()][..]
        } else {
            script.steps()
        };
        steps
            .iter()
            .fold(ScriptedOp::new(), |op, step| match step.failure() {
                Some(verdict) => op.fail(step.duration(), verdict),
                None => op.succeed(step.duration(), ()),
            })
    }
}

impl<T, E> Clone for ScriptedOp<T, E> {
    fn clone(&self) -> Self {
        ScriptedOp {
            state: Arc::clone(&self.state),
        }
    }
}

impl<T, E> Default for ScriptedOp<T, E> {
    /// Same as [`ScriptedOp::new`].
    fn default() -> Self {
        ScriptedOp::new()
    }
}

impl<T, E> fmt::Debug for ScriptedOp<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("ScriptedOp")
            .field("steps", &state.steps.len())
            .field("attempts", &state.starts.len())
            .finish()
    }
}
