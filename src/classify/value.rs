//! Classifying an attempt's `Ok` value: an HTTP client that returns
//! `Ok(response)` for a 503, or a poll that returns `Ok(Pending)`.

use super::{Classification, Idempotency};
use std::convert::Infallible;

/// Decides whether an attempt's `Ok` value is accepted or counts as a failed
/// attempt, classified like an error.
///
/// Set one with [`Retry::retry_if_ok`](crate::Retry::retry_if_ok). It is
/// implemented for every `Fn(&T) -> Option<Classification>` closure: `None`
/// accepts the value, `Some(verdict)` fails the attempt with that verdict
/// (retryable, with a kind and maybe a server delay, or terminal).
///
/// The value is passed by ownership and handed back, so that a value that
/// ends the call (the policy stops, or the verdict is terminal) reaches the
/// caller in [`RetryError::last_value`](crate::RetryError::last_value)
/// without a copy. [`Kept`](Self::Kept) is the type kept there:
/// [`Infallible`] for [`AcceptOk`], the default, so that a call without a
/// value classifier keeps its `RetryError<E>` type and its size.
///
/// # Examples
///
/// ```
/// use persevere::Classification;
/// use persevere::classify::ClassifyOk;
///
/// let pending = |status: &&str| (*status == "pending").then(Classification::transient);
/// assert!(pending.check("done").is_ok());
/// let (value, verdict) = pending.check("pending").unwrap_err();
/// assert_eq!((value, verdict.is_retryable()), ("pending", true));
/// ```
pub trait ClassifyOk<T> {
    /// The type of a value that ended the call, kept in the caller's
    /// [`RetryError`](crate::RetryError).
    type Kept;

    /// `Ok(value)` to accept `value`; `Err((kept, verdict))` to fail the
    /// attempt with `verdict`.
    ///
    /// # Errors
    ///
    /// The value and the verdict, when the value does not end the call as a
    /// success.
    fn check(&self, value: T) -> Result<T, (Self::Kept, Classification)>;
}

impl<T, F: Fn(&T) -> Option<Classification>> ClassifyOk<T> for F {
    type Kept = T;

    #[inline]
    fn check(&self, value: T) -> Result<T, (T, Classification)> {
        match self(&value) {
            None => Ok(value),
            Some(verdict) => Err((value, verdict)),
        }
    }
}

/// The default value classifier: every `Ok` value is a success. It takes no
/// room, and its check compiles away.
///
/// # Examples
///
/// ```
/// use persevere::classify::{AcceptOk, ClassifyOk};
///
/// assert_eq!(AcceptOk.check(503).ok(), Some(503));
/// assert_eq!(std::mem::size_of::<AcceptOk>(), 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AcceptOk;

impl<T> ClassifyOk<T> for AcceptOk {
    type Kept = Infallible;

    #[inline(always)]
    fn check(&self, value: T) -> Result<T, (Infallible, Classification)> {
        Ok(value)
    }
}

/// A request that is not idempotent keeps a value (such as a 503 response)
/// only as terminal, as [`Idempotency`] does for errors.
///
/// # Examples
///
/// ```
/// use persevere::Classification;
/// use persevere::classify::{ClassifyOk, Idempotency};
///
/// let busy = |s: &u16| (*s == 503).then(Classification::transient);
/// let (_, verdict) = Idempotency::new(busy, false).check(503).unwrap_err();
/// assert!(verdict.is_terminal());
/// ```
impl<T, K: ClassifyOk<T>> ClassifyOk<T> for Idempotency<K> {
    type Kept = K::Kept;

    #[inline]
    fn check(&self, value: T) -> Result<T, (K::Kept, Classification)> {
        self.inner
            .check(value)
            .map_err(|(kept, verdict)| (kept, verdict.for_request(self.idempotent)))
    }
}
