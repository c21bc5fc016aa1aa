//! How long a hedged call waits for an answer before it sends a hedge.

use std::sync::Arc;
use std::time::Duration;

/// How long a hedged call waits for an answer before it starts another
/// attempt: fixed (a [`Duration`]) or adaptive (a shared
/// [`LatencyTracker`](super::LatencyTracker)).
///
/// A call asks for the delay once, when it starts, and waits that long after
/// each attempt it starts before the next hedge. `None` means "do not hedge
/// on time": the call then starts another attempt only after a retryable
/// failure. When the call succeeds it [records](Self::record) its latency,
/// from the start of its first attempt to the winning answer.
///
/// Implemented for `Duration`, `Option<Duration>` and
/// [`LatencyTracker`](super::LatencyTracker), and through `&D` and `Arc<D>`,
/// so one tracker serves many calls. The trait is object-safe.
///
/// # Examples
///
/// ```
/// use persevere::hedge::HedgeDelay;
/// use std::time::Duration;
///
/// let fixed = Duration::from_millis(10);
/// assert_eq!(fixed.hedge_delay(), Some(Duration::from_millis(10)));
/// fixed.record(Duration::from_secs(1)); // a fixed delay ignores samples
/// assert_eq!(None::<Duration>.hedge_delay(), None);
/// ```
pub trait HedgeDelay: Send + Sync {
    /// The delay before each hedge, or `None` for no hedge on time.
    fn hedge_delay(&self) -> Option<Duration>;

    /// A hedged call succeeded after `latency`. The default ignores it.
    fn record(&self, latency: Duration) {
        let _ = latency;
    }
}

impl HedgeDelay for Duration {
    #[inline]
    fn hedge_delay(&self) -> Option<Duration> {
        Some(*self)
    }
}

impl HedgeDelay for Option<Duration> {
    #[inline]
    fn hedge_delay(&self) -> Option<Duration> {
        *self
    }
}

macro_rules! forward_delay {
    ($($pointer:ty),*) => {$(
        impl<D: HedgeDelay + ?Sized> HedgeDelay for $pointer {
            #[inline]
            fn hedge_delay(&self) -> Option<Duration> {
                (**self).hedge_delay()
            }
            #[inline]
            fn record(&self, latency: Duration) {
                (**self).record(latency)
            }
        }
    )*};
}

forward_delay!(&D, Arc<D>);

const _: () = {
    fn _object_safe(_: &dyn HedgeDelay) {}
};
