//! A kind's handler: the caller's async function, its classifier, policy and
//! budget.

use persevere::budget::RetryBudget;
use persevere::{AlwaysRetry, Classification, Classify, DefaultPolicy, RetryPolicy};
use std::fmt::{self, Display};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

/// One delivery of a job to its handler.
///
/// Delivery is at least once: a worker killed after the handler's side
/// effect but before its result was recorded leaves the job to be delivered
/// again. `(key, attempt)` names one delivery and never repeats, so a
/// handler (or the server it calls) can deduplicate on the key.
///
/// # Examples
///
/// ```
/// use persevere_durable::Delivery;
///
/// let d = Delivery { key: "k".into(), kind: "email".into(), payload: vec![], attempt: 1, round_attempt: 1 };
/// assert!(d.is_first());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The job's key: the idempotency key given to `submit`.
    pub key: String,
    /// The job's kind.
    pub kind: String,
    /// The payload as submitted.
    pub payload: Vec<u8>,
    /// This attempt's number over the job's life, from 1 (see
    /// [`Claimed::attempt`](crate::Claimed::attempt)).
    pub attempt: u32,
    /// This attempt's number as the policy counts it, from 1 (it restarts
    /// when a dead letter is requeued).
    pub round_attempt: u32,
}

impl Delivery {
    /// True for the job's first attempt ever.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::Delivery;
    /// let d = Delivery { key: "k".into(), kind: "e".into(), payload: vec![], attempt: 2, round_attempt: 2 };
    /// assert!(!d.is_first());
    /// ```
    pub const fn is_first(&self) -> bool {
        self.attempt == 1
    }
}

/// A failed attempt: the error's text and the classifier's verdict.
pub(crate) type Failure = (String, Classification);

type BoxFuture = Pin<Box<dyn Future<Output = Result<(), Failure>> + Send>>;

/// The handler with its error type erased.
trait Run: Send + Sync {
    fn run(&self, delivery: Delivery) -> BoxFuture;
}

struct Classified<F, C, E> {
    f: F,
    classifier: Arc<C>,
    _error: PhantomData<fn() -> E>,
}

impl<F, Fut, C, E> Run for Classified<F, C, E>
where
    F: Fn(Delivery) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    C: Classify<E> + Send + Sync + 'static,
    E: Display + 'static,
{
    fn run(&self, delivery: Delivery) -> BoxFuture {
        let attempt = (self.f)(delivery);
        let classifier = Arc::clone(&self.classifier);
        Box::pin(async move {
            attempt
                .await
                .map_err(|e| (e.to_string(), classifier.classify(&e)))
        })
    }
}

/// What a worker runs for one kind of job: an async function, the
/// classifier of its errors, the policy and optionally a budget.
///
/// The policy and classifier are persevere's own, applied exactly as the
/// in-process `retry(op)` applies them. They come from the code, not the
/// store: a restart with new code applies the new policy to the jobs
/// already waiting.
///
/// A handler that panics fails its attempt, with the panic's message as
/// the error, classified as transient; the worker goes on.
///
/// # Default
///
/// The policy is persevere's [`DEFAULT_POLICY`](persevere::DEFAULT_POLICY);
/// [`new`](Self::new) classifies every error as transient
/// ([`AlwaysRetry`]); there is no budget.
///
/// # Examples
///
/// ```
/// use persevere::{Classification, Exponential, RetryPolicyExt};
/// use persevere_durable::{Delivery, Handler};
/// use std::time::Duration;
///
/// let webhook = Handler::with_classifier(
///     |job: Delivery| async move {
///         if job.payload.is_empty() { Err(404u16) } else { Ok(()) }
///     },
///     |status: &u16| persevere::classify::http::classify_status(*status),
/// )
/// .policy(Exponential::new().with_max_attempts(8).with_deadline(Duration::from_secs(3600)));
/// # drop(webhook);
/// ```
#[derive(Clone)]
pub struct Handler {
    run: Arc<dyn Run>,
    pub(crate) policy: Arc<dyn RetryPolicy>,
    pub(crate) budget: Option<Arc<dyn RetryBudget>>,
}

impl Handler {
    /// A handler running `f`, whose every error is transient.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere_durable::{Delivery, Handler};
    ///
    /// let h = Handler::new(|job: Delivery| async move {
    ///     println!("sending {} (attempt {})", job.key, job.attempt);
    ///     Ok::<_, std::io::Error>(())
    /// });
    /// # drop(h);
    /// ```
    pub fn new<F, Fut, E>(f: F) -> Self
    where
        F: Fn(Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display + 'static,
    {
        Handler::with_classifier(f, AlwaysRetry)
    }

    /// A handler running `f`, whose errors `classifier` judges.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::classify::io::IoErrors;
    /// use persevere_durable::{Delivery, Handler};
    ///
    /// let h = Handler::with_classifier(
    ///     |_job: Delivery| async { Err::<(), _>(std::io::Error::from(std::io::ErrorKind::ConnectionReset)) },
    ///     IoErrors,
    /// );
    /// # drop(h);
    /// ```
    pub fn with_classifier<F, Fut, E, C>(f: F, classifier: C) -> Self
    where
        F: Fn(Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display + 'static,
        C: Classify<E> + Send + Sync + 'static,
    {
        Handler {
            run: Arc::new(Classified {
                f,
                classifier: Arc::new(classifier),
                _error: PhantomData,
            }),
            policy: Arc::new(DefaultPolicy),
            budget: None,
        }
    }

    /// Sets the retry policy.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::{Delivery, Handler};
    /// use persevere::{Fixed, RetryPolicyExt};
    /// use std::time::Duration;
    /// let h = Handler::new(|_: Delivery| async { Ok::<_, String>(()) })
    ///     .policy(Fixed::new(Duration::from_secs(1)).with_max_attempts(3));
    /// # drop(h);
    /// ```
    pub fn policy(mut self, policy: impl RetryPolicy + 'static) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// Sets a retry budget, shared by every job of the kind (share one across
    /// kinds with an `Arc`). It lives in the process: a restart starts it
    /// afresh. Tokens taken are not refunded on a later success, since the
    /// attempts may run in different processes.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::{Delivery, Handler};
    /// use persevere::budget::TokenBucket;
    /// let h = Handler::new(|_: Delivery| async { Ok::<_, String>(()) }).budget(TokenBucket::new());
    /// # drop(h);
    /// ```
    pub fn budget(mut self, budget: impl RetryBudget + 'static) -> Self {
        self.budget = Some(Arc::new(budget));
        self
    }

    /// Runs one attempt on its own task, so that a panic fails the attempt
    /// and not the worker.
    ///
    /// Dropping the returned future aborts the attempt's task.
    pub(crate) async fn attempt(&self, delivery: Delivery) -> Result<(), Failure> {
        let attempt = self.run.run(delivery);
        let mut task = AbortOnDrop(tokio::spawn(attempt));
        match (&mut task.0).await {
            Ok(result) => result,
            Err(join) if join.is_panic() => {
                let payload = join.into_panic();
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a non-string payload".to_owned());
                Err((
                    format!("handler panicked: {message}"),
                    Classification::transient(),
                ))
            }
            Err(join) => Err((
                format!("handler task ended: {join}"),
                Classification::transient(),
            )),
        }
    }
}

/// A task that is aborted when its handle is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl fmt::Debug for Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handler")
            .field("budget", &self.budget.is_some())
            .finish_non_exhaustive()
    }
}
