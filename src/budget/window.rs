//! A sliding window of two counters, in ten slots, behind a short lock.

use crate::rng::saturating_nanos;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

const SLOTS: usize = 10;

/// Two event counts over the last `window`, to a tenth of it: the window
/// slides one slot (a tenth) at a time. Time is read through
/// `tokio::time::Instant`, so a paused test clock drives it.
#[derive(Debug)]
pub(crate) struct Window {
    length: Duration,
    slot_nanos: u64,
    slots: Mutex<Slots>,
}

#[derive(Debug)]
struct Slots {
    origin: Option<Instant>,
    current: u64,
    counts: [[u64; 2]; SLOTS],
}

impl Window {
    /// A window of `length`; one of less than ten nanoseconds counts as ten.
    pub(crate) fn new(length: Duration) -> Self {
        Window {
            length,
            slot_nanos: (saturating_nanos(length) / SLOTS as u64).max(1),
            slots: Mutex::new(Slots {
                origin: None,
                current: 0,
                counts: [[0; 2]; SLOTS],
            }),
        }
    }

    /// The length the window was made with, before any rounding.
    pub(crate) fn length(&self) -> Duration {
        self.length
    }

    /// Adds `counts` to the current slot, without summing the window.
    pub(crate) fn add(&self, counts: [u64; 2]) {
        let mut slots = self.lock_current();
        let slot = (slots.current % SLOTS as u64) as usize;
        let c = &mut slots.counts[slot];
        *c = [
            c[0].saturating_add(counts[0]),
            c[1].saturating_add(counts[1]),
        ];
    }

    /// Runs `f` on the current slot's counts and the window's totals.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut [u64; 2], [u64; 2]) -> R) -> R {
        let mut slots = self.lock_current();
        let totals = slots.counts.iter().fold([0u64; 2], |sum, c| {
            [sum[0].saturating_add(c[0]), sum[1].saturating_add(c[1])]
        });
        let slot = (slots.current % SLOTS as u64) as usize;
        f(&mut slots.counts[slot], totals)
    }

    /// Locks the slots and slides the window to now, clearing the slots that
    /// have expired since the last use.
    fn lock_current(&self) -> MutexGuard<'_, Slots> {
        let now = Instant::now();
        // No code panics while holding the lock, but do not spread a poison.
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let origin = *slots.origin.get_or_insert(now);
        let index = saturating_nanos(now.saturating_duration_since(origin)) / self.slot_nanos;
        if index > slots.current {
            let stale = (index - slots.current).min(SLOTS as u64);
            for step in 1..=stale {
                let slot = ((slots.current + step) % SLOTS as u64) as usize;
                slots.counts[slot] = [0; 2];
            }
            slots.current = index;
        }
        slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn counts_slide_out_slot_by_slot() {
        let window = Window::new(Duration::from_secs(10));
        window.add([5, 0]);
        tokio::time::advance(Duration::from_secs(3)).await;
        window.with(|slot, _| slot[1] += 1);
        window.add([0, 1]);
        assert_eq!(window.with(|_, totals| totals), [5, 2]);
        tokio::time::advance(Duration::from_secs(7)).await;
        assert_eq!(window.with(|_, totals| totals), [0, 2]);
        tokio::time::advance(Duration::from_secs(100)).await;
        assert_eq!(window.with(|_, totals| totals), [0, 0]);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_length_does_not_divide_by_zero() {
        let window = Window::new(Duration::ZERO);
        assert_eq!(window.length(), Duration::ZERO);
        window.add([u64::MAX, 0]);
        window.add([1, 1]);
        assert_eq!(window.with(|_, totals| totals), [u64::MAX, 1]);
    }
}
