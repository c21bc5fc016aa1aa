//! How a retry future starts each attempt.

/// Starts attempt number `attempt` (from 1) of a call: what a
/// [`RetryFuture`](crate::RetryFuture) calls for each attempt.
///
/// Implemented for every `FnMut(u32) -> Fut`, the ops that
/// [`retry_with_attempt`](crate::retry_with_attempt) takes; adapters such as
/// the `tower` layer implement it for an op type they can name.
///
/// # Examples
///
/// ```
/// use persevere::MakeAttempt;
///
/// let mut op = |attempt: u32| async move { Ok::<_, ()>(attempt) };
/// let _first = op.attempt(1);
/// ```
pub trait MakeAttempt<Fut> {
    /// The future of attempt number `attempt`.
    fn attempt(&mut self, attempt: u32) -> Fut;
}

impl<F: FnMut(u32) -> Fut, Fut> MakeAttempt<Fut> for F {
    #[inline(always)]
    fn attempt(&mut self, attempt: u32) -> Fut {
        self(attempt)
    }
}
