//! One policy for the first retries, another after them.

use super::{AttemptContext, Decision, RetryPolicy, earliest};
use crate::rng::JitterRng;
use std::time::Duration;

/// Policy `A` for the first `n` retries, then policy `B`: fast first, slow
/// later, as gax and tenacity's `wait_chain` do.
///
/// The failures of attempts `1..=n` go to `A` as they are. From attempt
/// `n + 1` on, `B` takes over and counts its own retries: attempt `n + k` is
/// attempt `k` to it, with no previous delay on its first, so its backoff
/// starts from its initial delay. (The elapsed time and the total delay are
/// the call's.) A stop from either part stops the call.
///
/// # Limits
///
/// Put the attempt cap and the deadline on the chain as a whole
/// (`.chain(..).with_max_attempts(..)`): a cap on `B` counts `B`'s
/// retries only, and a cap on `A` stops the call before `B` is reached. The
/// chain's [deadline](RetryPolicy::deadline) is the earlier of the two parts'.
///
/// # Examples
///
/// Three quick retries 100 ms apart, then exponential backoff from 1 s:
///
/// ```
/// use persevere::{Exponential, Fixed, Jitter, RetryPolicyExt, schedule};
/// use std::time::Duration;
///
/// let slow = Exponential::new().with_initial_delay(Duration::from_secs(1)).with_jitter(Jitter::None);
/// let policy = Fixed::new(Duration::from_millis(100)).chain(3, slow).with_max_attempts(7);
/// let delays: Vec<_> = schedule(&policy, 0).map(|d| d.as_millis()).collect();
/// assert_eq!(delays, [100, 100, 100, 1000, 2000, 4000]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chain<A, B> {
    first: A,
    retries: u32,
    then: B,
}

impl<A, B> Chain<A, B> {
    /// `first` for the first `retries` retries, then `then`.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::policy::Chain;
    /// use persevere::Fixed;
    /// use std::time::Duration;
    ///
    /// let p = Chain::new(Fixed::new(Duration::ZERO), 2, Fixed::default());
    /// assert_eq!(p.retries(), 2);
    /// ```
    pub const fn new(first: A, retries: u32, then: B) -> Self {
        Chain {
            first,
            retries,
            then,
        }
    }

    /// How many retries the first policy decides.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Fixed, RetryPolicyExt};
    /// assert_eq!(Fixed::default().chain(4, Fixed::default()).retries(), 4);
    /// ```
    pub const fn retries(&self) -> u32 {
        self.retries
    }
}

impl<A: RetryPolicy, B: RetryPolicy> RetryPolicy for Chain<A, B> {
    #[inline]
    fn decide(&self, failed: &AttemptContext, rng: &mut JitterRng) -> Decision {
        match failed.attempt().checked_sub(self.retries) {
            Some(later) if later > 0 => {
                let mut own = failed.renumbered(later);
                if later > 1 {
                    if let Some(previous) = failed.previous_delay() {
                        own = own.with_previous_delay(previous);
                    }
                }
                self.then.decide(&own, rng)
            }
            _ => self.first.decide(failed, rng),
        }
    }

    fn deadline(&self) -> Option<Duration> {
        earliest(self.first.deadline(), self.then.deadline())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Fixed, policy_fn};
    use crate::{RetryPolicyExt, schedule};

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_second_policy_counts_its_own_attempts_from_one() {
        let seen = policy_fn(|failed, _| {
            let previous = failed.previous_delay().map_or(0, |d| d.as_millis() as u32);
            Decision::Retry(MS * (failed.attempt() * 1000 + previous))
        });
        let p = Fixed::new(7 * MS).chain(2, seen).with_max_attempts(6);
        let got: Vec<_> = schedule(&p, 0).map(|d| d.as_millis()).collect();
        // Attempts 3, 4, 5 are 1, 2, 3 to the second policy; its first sees
        // no previous delay, the next ones see the delays before them.
        assert_eq!(got, [7, 7, 1000, 3000, 6000]);
    }

    #[test]
    fn zero_and_u32_max_retries() {
        let (a, b) = (Fixed::new(MS), Fixed::new(2 * MS));
        let mut rng = JitterRng::from_seed(0);
        let last = AttemptContext::new(u32::MAX, Duration::ZERO);
        assert_eq!(
            a.chain(0, b).decide(&last, &mut rng),
            Decision::Retry(2 * MS)
        );
        assert_eq!(
            a.chain(u32::MAX, b).decide(&last, &mut rng),
            Decision::Retry(MS)
        );
        let first = AttemptContext::new(1, Duration::ZERO);
        assert_eq!(
            a.chain(0, b).decide(&first, &mut rng),
            Decision::Retry(2 * MS)
        );
    }
}
