//! A floor and a cap on any policy's delay.

use super::{AttemptContext, Decision, RetryPolicy};
use crate::rng::JitterRng;
use std::time::Duration;

/// Any policy with a floor and/or a cap on its delay.
///
/// - **Floor** ([`at_least`](Self::at_least)): a delay shorter than the floor
///   becomes the floor, a zero delay included.
/// - **Cap** ([`at_most`](Self::at_most)): a delay longer than the cap becomes
///   the cap, a delay the server asked for included (as
///   [`RetryAfter::Capped`](crate::policy::RetryAfter::Capped) does: the next
///   attempt may reach the server earlier than it asked). To stop instead,
///   give the inner policy a max delay and keep its default
///   [`RetryAfter::NotEarlier`](crate::policy::RetryAfter::NotEarlier).
///
/// The floor is applied first, so a cap below the floor wins. Stops pass
/// through unchanged, and so does the inner policy's deadline; a floor cannot
/// push a sleep past it, since [`decide`](crate::policy::decide) checks the
/// deadline after the floor.
///
/// # Default
///
/// [`Clamped::new`] sets neither; each setter adds one.
///
/// # Examples
///
/// Full jitter, but never less than 20 ms nor more than 1 s:
///
/// ```
/// use persevere::{Exponential, RetryPolicyExt, schedule};
/// use std::time::Duration;
///
/// let (floor, cap) = (Duration::from_millis(20), Duration::from_secs(1));
/// let policy = Exponential::new().at_least(floor).at_most(cap).with_max_attempts(12);
/// assert!(schedule(&policy, 3).all(|d| floor <= d && d <= cap));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clamped<P> {
    inner: P,
    floor: Duration,
    cap: Option<Duration>,
}

impl<P> Clamped<P> {
    /// Wraps `inner` with neither floor nor cap yet.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{policy::Clamped, Fixed}; use std::time::Duration;
    /// let p = Clamped::new(Fixed::default());
    /// assert_eq!((p.floor(), p.cap()), (Duration::ZERO, None));
    /// ```
    pub const fn new(inner: P) -> Self {
        Clamped {
            inner,
            floor: Duration::ZERO,
            cap: None,
        }
    }

    /// Sets the floor.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Fixed, RetryPolicyExt}; use std::time::Duration;
    /// let p = Fixed::default().at_most(Duration::from_secs(2)).at_least(Duration::from_secs(1));
    /// assert_eq!(p.floor(), Duration::from_secs(1));
    /// ```
    pub const fn at_least(mut self, floor: Duration) -> Self {
        self.floor = floor;
        self
    }

    /// Sets the cap.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Fixed, RetryPolicyExt}; use std::time::Duration;
    /// let p = Fixed::default().at_least(Duration::from_secs(1)).at_most(Duration::from_secs(2));
    /// assert_eq!(p.cap(), Some(Duration::from_secs(2)));
    /// ```
    pub const fn at_most(mut self, cap: Duration) -> Self {
        self.cap = Some(cap);
        self
    }

    /// The floor; zero when none was set.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Fixed, RetryPolicyExt}; use std::time::Duration;
    /// assert_eq!(Fixed::default().at_most(Duration::from_secs(1)).floor(), Duration::ZERO);
    /// ```
    pub const fn floor(&self) -> Duration {
        self.floor
    }

    /// The cap, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Fixed, RetryPolicyExt}; use std::time::Duration;
    /// assert_eq!(Fixed::default().at_least(Duration::from_secs(1)).cap(), None);
    /// ```
    pub const fn cap(&self) -> Option<Duration> {
        self.cap
    }
}

impl<P: RetryPolicy> RetryPolicy for Clamped<P> {
    #[inline]
    fn decide(&self, failed: &AttemptContext, rng: &mut JitterRng) -> Decision {
        match self.inner.decide(failed, rng) {
            Decision::Retry(delay) => {
                let delay = delay.max(self.floor);
                Decision::Retry(self.cap.map_or(delay, |cap| delay.min(cap)))
            }
            stop => stop,
        }
    }

    fn deadline(&self) -> Option<Duration> {
        self.inner.deadline()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RetryPolicyExt;
    use crate::error::StopReason;
    use crate::policy::{Fixed, decide, schedule};

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn floor_then_cap() {
        let mut rng = JitterRng::from_seed(0);
        let failed = AttemptContext::new(1, Duration::ZERO);
        let d = |p: &dyn RetryPolicy| p.decide(&failed, &mut JitterRng::from_seed(0));
        assert_eq!(d(&Fixed::new(MS).at_least(5 * MS)), Decision::Retry(5 * MS));
        assert_eq!(
            d(&Fixed::new(9 * MS).at_most(5 * MS)),
            Decision::Retry(5 * MS)
        );
        assert_eq!(
            d(&Fixed::new(MS).at_least(9 * MS).at_most(5 * MS)),
            Decision::Retry(5 * MS)
        );
        let asked = failed.with_server_delay(Some(50 * MS));
        let capped = Fixed::new(MS).at_most(5 * MS);
        assert_eq!(capped.decide(&asked, &mut rng), Decision::Retry(5 * MS));
    }

    #[test]
    fn stops_and_the_deadline_pass_through() {
        let p = Fixed::new(MS).with_max_attempts(2).at_least(MS);
        assert_eq!(schedule(&p, 0).count(), 1);
        // The floor makes the sleep end past the deadline: the decision stops.
        let p = Fixed::new(MS).with_deadline(10 * MS).at_least(20 * MS);
        assert_eq!(p.deadline(), Some(10 * MS));
        let failed = AttemptContext::new(1, Duration::ZERO);
        assert_eq!(
            decide(&p, &failed, &mut JitterRng::from_seed(0)),
            Decision::Stop(StopReason::Deadline)
        );
    }
}
