//! Wall-clock time, injectable: what a durable retry stores and compares.
//!
//! A durable retry stores wall-clock times (a [`SystemTime`] survives a
//! restart; an `Instant` does not). Read them through a [`Clock`] so that
//! tests can run on a [`ManualClock`] without real waits.

use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// A source of wall-clock time.
///
/// The worker reads the time through it for every due check, lease and
/// history entry. It never returns an earlier time than it returned before
/// (see [`Worker`](crate::Worker) on clocks that jump backwards), so a clock
/// need not be monotonic.
///
/// The trait is object-safe.
///
/// # Examples
///
/// ```
/// use persevere_durable::Clock;
/// use std::time::{Duration, SystemTime};
///
/// #[derive(Debug)]
/// struct Frozen(SystemTime);
///
/// impl Clock for Frozen {
///     fn now(&self) -> SystemTime {
///         self.0
///     }
/// }
///
/// let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
/// assert_eq!(Frozen(at).now(), at);
/// ```
pub trait Clock: Send + Sync + Debug {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

/// The system's wall clock, [`SystemTime::now`].
///
/// # Examples
///
/// ```
/// use persevere_durable::{Clock, SystemClock};
/// use std::time::SystemTime;
///
/// assert!(SystemClock.now() > SystemTime::UNIX_EPOCH);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told: for tests and simulations.
///
/// Clones share one time.
///
/// # Examples
///
/// ```
/// use persevere_durable::{Clock, ManualClock};
/// use std::time::{Duration, SystemTime};
///
/// let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let clock = ManualClock::new(start);
/// let shared = clock.clone();
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(shared.now(), start + Duration::from_secs(5));
/// clock.set(start); // it may jump backwards, like a real wall clock
/// assert_eq!(shared.now(), start);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<SystemTime>>,
}

impl ManualClock {
    /// A clock that reads `start` until moved.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::{Clock, ManualClock}; use std::time::SystemTime;
    /// assert_eq!(ManualClock::new(SystemTime::UNIX_EPOCH).now(), SystemTime::UNIX_EPOCH);
    /// ```
    pub fn new(start: SystemTime) -> Self {
        ManualClock {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock forward by `by` (saturating at the largest time the
    /// platform can hold).
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::{Clock, ManualClock}; use std::time::{Duration, SystemTime};
    /// let clock = ManualClock::new(SystemTime::UNIX_EPOCH);
    /// clock.advance(Duration::from_millis(1));
    /// assert_eq!(clock.now(), SystemTime::UNIX_EPOCH + Duration::from_millis(1));
    /// ```
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now.checked_add(by).unwrap_or(*now);
    }

    /// Sets the clock to `at`, earlier or later.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::{Clock, ManualClock}; use std::time::SystemTime;
    /// let clock = ManualClock::new(SystemTime::now());
    /// clock.set(SystemTime::UNIX_EPOCH);
    /// assert_eq!(clock.now(), SystemTime::UNIX_EPOCH);
    /// ```
    pub fn set(&self, at: SystemTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A clock that never goes back: the latest of what the inner clock says
/// and what it said before.
#[derive(Debug)]
pub(crate) struct Forward {
    inner: Arc<dyn Clock>,
    latest: Mutex<SystemTime>,
}

impl Forward {
    pub(crate) fn new(inner: Arc<dyn Clock>) -> Self {
        Forward {
            inner,
            latest: Mutex::new(SystemTime::UNIX_EPOCH),
        }
    }

    pub(crate) fn now(&self) -> SystemTime {
        let read = self.inner.now();
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        if read > *latest {
            *latest = read;
        }
        *latest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_never_goes_back() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let manual = ManualClock::new(start);
        let forward = Forward::new(Arc::new(manual.clone()));
        assert_eq!(forward.now(), start);
        manual.set(SystemTime::UNIX_EPOCH);
        assert_eq!(forward.now(), start);
        manual.set(start + Duration::from_secs(1));
        assert_eq!(forward.now(), start + Duration::from_secs(1));
    }
}
