//! Classifiers decide *what* is retryable.
//!
//! A [`Classification`] is a small `Copy` verdict on one error: retryable
//! (with a [`RetryKind`] and maybe a delay the server asked for) or terminal.
//! A [`Classify`] maps the caller's error type to it; any
//! `Fn(&E) -> Classification` closure is one.
//!
//! - [`io`] knows which `std::io` errors are worth retrying, wherever they sit
//!   in an error's `source()` chain;
//! - [`http`] knows HTTP status codes, `Retry-After` and method idempotency;
//! - [`cloud_storage`] knows Cloud Storage's retry strategy: uploads,
//!   resumable sessions and preconditions;
//! - `reqwest` (with the `reqwest` feature) classifies `reqwest` errors and
//!   responses;
//! - [`ClassifyOk`] classifies an attempt's `Ok` value too, for a call that
//!   retries on a value (see [`Retry::retry_if_ok`](crate::Retry::retry_if_ok));
//! - [`Idempotency`] keeps a request that is not idempotent from being
//!   replayed unless the failure proves it never reached the server.

pub mod cloud_storage;
pub mod http;
pub mod io;
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub mod reqwest;
mod value;

pub use value::{AcceptOk, ClassifyOk};

use std::time::Duration;

/// What kind of retryable failure an error is.
///
/// Policies may back off differently by kind (see
/// [`Exponential::with_throttled_initial_delay`](crate::Exponential::with_throttled_initial_delay)).
///
/// # Examples
///
/// ```
/// use persevere::{Classification, RetryKind};
///
/// assert_eq!(Classification::throttled().kind(), Some(RetryKind::Throttled));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryKind {
    /// A passing fault: a reset connection, a 500, a 502.
    Transient,
    /// The server asked the client to slow down: 429, 503, `SlowDown`.
    Throttled,
    /// The attempt took too long: a socket timeout, 408, 504, an attempt
    /// timeout.
    Timeout,
}

/// The verdict on one error: retry it (how, and maybe when) or stop.
///
/// # Examples
///
/// ```
/// use persevere::{Classification, RetryKind};
/// use std::time::Duration;
///
/// let c = Classification::throttled().with_server_delay(Duration::from_secs(2));
/// assert!(c.is_retryable());
/// assert_eq!(c.server_delay(), Some(Duration::from_secs(2)));
/// assert!(Classification::terminal().is_terminal());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Classification {
    kind: Option<RetryKind>,
    server_delay: Option<Duration>,
    never_sent: bool,
}

impl Classification {
    const fn retryable(kind: RetryKind) -> Self {
        Classification {
            kind: Some(kind),
            server_delay: None,
            never_sent: false,
        }
    }

    /// A passing fault worth retrying.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Classification, RetryKind};
    /// assert_eq!(Classification::transient().kind(), Some(RetryKind::Transient));
    /// ```
    pub const fn transient() -> Self {
        Classification::retryable(RetryKind::Transient)
    }

    /// The server is throttling: retry, more gently.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::Classification;
    /// assert!(Classification::throttled().is_retryable());
    /// ```
    pub const fn throttled() -> Self {
        Classification::retryable(RetryKind::Throttled)
    }

    /// The attempt timed out: retry.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Classification, RetryKind};
    /// assert_eq!(Classification::timeout().kind(), Some(RetryKind::Timeout));
    /// ```
    pub const fn timeout() -> Self {
        Classification::retryable(RetryKind::Timeout)
    }

    /// Retrying cannot help: stop at once.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::Classification;
    /// assert_eq!(Classification::terminal().kind(), None);
    /// ```
    pub const fn terminal() -> Self {
        Classification {
            kind: None,
            server_delay: None,
            never_sent: false,
        }
    }

    /// Attaches the delay the server asked for (such as `Retry-After`). The
    /// policy sleeps that long instead of its own delay, within its caps.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::Classification; use std::time::Duration;
    /// let c = Classification::transient().with_server_delay(Duration::from_secs(1));
    /// assert_eq!(c.server_delay(), Some(Duration::from_secs(1)));
    /// ```
    pub const fn with_server_delay(mut self, delay: Duration) -> Self {
        self.server_delay = Some(delay);
        self
    }

    /// Marks the failure as proof that the request never reached the server
    /// (the connection was refused), so even a request that is not idempotent
    /// may be sent again.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::Classification;
    /// assert!(Classification::transient().never_sent().was_never_sent());
    /// ```
    pub const fn never_sent(mut self) -> Self {
        self.never_sent = true;
        self
    }

    /// True unless the error is terminal.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::Classification;
    /// assert!(Classification::timeout().is_retryable());
    /// ```
    pub const fn is_retryable(&self) -> bool {
        self.kind.is_some()
    }

    /// True if retrying cannot help.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::Classification;
    /// assert!(!Classification::transient().is_terminal());
    /// ```
    pub const fn is_terminal(&self) -> bool {
        self.kind.is_none()
    }

    /// The kind of retryable failure; `None` for a terminal one.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Classification, RetryKind};
    /// assert_eq!(Classification::timeout().kind(), Some(RetryKind::Timeout));
    /// ```
    pub const fn kind(&self) -> Option<RetryKind> {
        self.kind
    }

    /// The delay the server asked for, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::Classification;
    /// assert_eq!(Classification::transient().server_delay(), None);
    /// ```
    pub const fn server_delay(&self) -> Option<std::time::Duration> {
        self.server_delay
    }

    /// True if the failure proves the request never reached the server.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::Classification;
    /// assert!(!Classification::transient().was_never_sent());
    /// ```
    pub const fn was_never_sent(&self) -> bool {
        self.never_sent
    }

    /// The verdict for a request that is `idempotent` or not: a request that
    /// is not idempotent is retried only when the failure proves it was never
    /// sent; otherwise the verdict becomes terminal.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::Classification;
    /// let reset = Classification::transient();
    /// assert!(reset.for_request(true).is_retryable());
    /// assert!(reset.for_request(false).is_terminal());
    /// let refused = Classification::transient().never_sent();
    /// assert!(refused.for_request(false).is_retryable());
    /// ```
    pub const fn for_request(self, idempotent: bool) -> Self {
        if idempotent || self.never_sent {
            self
        } else {
            Classification::terminal()
        }
    }
}

/// Maps an error to a [`Classification`].
///
/// Implemented for every `Fn(&E) -> Classification`, so a closure is a
/// classifier.
///
/// # Examples
///
/// ```
/// use persevere::{Classification, Classify};
///
/// #[derive(Debug)]
/// enum ApiError { RateLimited, NotFound }
///
/// let classify = |e: &ApiError| match e {
///     ApiError::RateLimited => Classification::throttled(),
///     ApiError::NotFound => Classification::terminal(),
/// };
/// assert!(classify.classify(&ApiError::RateLimited).is_retryable());
/// assert!(classify.classify(&ApiError::NotFound).is_terminal());
/// ```
pub trait Classify<E: ?Sized> {
    /// The verdict on `error`.
    fn classify(&self, error: &E) -> Classification;
}

impl<E: ?Sized, F: Fn(&E) -> Classification> Classify<E> for F {
    fn classify(&self, error: &E) -> Classification {
        self(error)
    }
}

/// The default classifier: every error is transient and retryable.
///
/// # Examples
///
/// ```
/// use persevere::{AlwaysRetry, Classify};
///
/// assert!(AlwaysRetry.classify(&"anything").is_retryable());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlwaysRetry;

impl<E: ?Sized> Classify<E> for AlwaysRetry {
    fn classify(&self, _: &E) -> Classification {
        Classification::transient()
    }
}

/// Wraps a classifier so that a request that is not idempotent is not
/// replayed blindly: its retryable verdicts become terminal unless the failure
/// proves the request never reached the server (see
/// [`Classification::for_request`]).
///
/// Build it from a method with [`for_method`](Self::for_method): per RFC 9110
/// `GET`, `HEAD`, `OPTIONS`, `TRACE`, `PUT` and `DELETE` are idempotent;
/// `POST` and `PATCH` only when the caller marks the request so (an
/// idempotency key, or a precondition such as Cloud Storage's
/// `ifGenerationMatch`).
///
/// # Examples
///
/// ```
/// use persevere::classify::{Idempotency, io::IoErrors};
/// use persevere::Classify;
/// use std::io::{Error, ErrorKind};
///
/// let post = Idempotency::for_method(IoErrors, "POST", false);
/// assert!(post.classify(&Error::from(ErrorKind::ConnectionReset)).is_terminal());
/// assert!(post.classify(&Error::from(ErrorKind::ConnectionRefused)).is_retryable());
///
/// let keyed_post = Idempotency::for_method(IoErrors, "POST", true);
/// assert!(keyed_post.classify(&Error::from(ErrorKind::ConnectionReset)).is_retryable());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Idempotency<C> {
    inner: C,
    idempotent: bool,
}

impl<C> Idempotency<C> {
    /// Wraps `inner` for a request that is `idempotent` or not.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{AlwaysRetry, Classify, classify::Idempotency};
    /// let guarded = Idempotency::new(AlwaysRetry, false);
    /// assert!(guarded.classify(&"reset").is_terminal());
    /// ```
    pub const fn new(inner: C, idempotent: bool) -> Self {
        Idempotency { inner, idempotent }
    }

    /// Wraps `inner` for a request with HTTP method `method` (case-sensitive,
    /// as RFC 9110 says), idempotent by its method or because the caller
    /// `marked_idempotent` it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{AlwaysRetry, Classify, classify::Idempotency};
    /// assert!(Idempotency::for_method(AlwaysRetry, "PUT", false).classify(&()).is_retryable());
    /// assert!(Idempotency::for_method(AlwaysRetry, "PATCH", false).classify(&()).is_terminal());
    /// ```
    pub fn for_method(inner: C, method: &str, marked_idempotent: bool) -> Self {
        Idempotency::new(
            inner,
            marked_idempotent || http::is_idempotent_method(method),
        )
    }
}

impl<E: ?Sized, C: Classify<E>> Classify<E> for Idempotency<C> {
    fn classify(&self, error: &E) -> Classification {
        self.inner.classify(error).for_request(self.idempotent)
    }
}

/// Marks a request idempotent although its method is not (a `POST` with an
/// idempotency key): insert it in the request's extensions, and the `tower`
/// layer and the `reqwest-middleware` middleware retry it as they would a
/// `PUT`.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "http")] {
/// use persevere::classify::Idempotent;
///
/// let mut request = http::Request::post("/orders").body(()).unwrap();
/// request.headers_mut().insert("idempotency-key", "3f1c".parse().unwrap());
/// request.extensions_mut().insert(Idempotent);
/// # assert!(request.extensions().get::<Idempotent>().is_some());
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Idempotent;
