//! The attempts of one hedged call in flight: a fixed set of
//! [`MAX_IN_FLIGHT`] slots stored inline in the call's future, pinned
//! through `pin-project-lite` projections, so that running several attempts
//! at once allocates nothing.

use super::MAX_IN_FLIGHT;
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pin_project! {
    #[project = SlotProj]
    enum Slot<Fut> {
        Empty,
        Running { #[pin] future: Fut, attempt: u32 },
    }
}

pin_project! {
    /// The slots after the first, set up only when a second attempt starts:
    /// a call whose first attempt answers stores, checks and drops one
    /// discriminant for them, not three.
    #[project = RestProj]
    enum Rest<Fut> {
        Unused,
        Used { #[pin] b: Slot<Fut>, #[pin] c: Slot<Fut>, #[pin] d: Slot<Fut> },
    }
}

pin_project! {
    /// Up to [`MAX_IN_FLIGHT`] attempts, each with its number.
    pub(crate) struct Slots<Fut> {
        #[pin] a: Slot<Fut>,
        #[pin] rest: Rest<Fut>,
        running: u8,
    }
}

const _: () = assert!(MAX_IN_FLIGHT == 4, "Slots has four named slots");

impl<Fut> Slots<Fut> {
    pub(crate) const fn new() -> Self {
        Slots {
            a: Slot::Empty,
            rest: Rest::Unused,
            running: 0,
        }
    }

    /// How many attempts are in flight.
    pub(crate) fn running(&self) -> usize {
        usize::from(self.running)
    }

    /// The slots in order (the first alone while the rest is unused) and
    /// the count of those running.
    fn split(self: Pin<&mut Self>) -> ([Option<Pin<&mut Slot<Fut>>>; MAX_IN_FLIGHT], &mut u8) {
        let this = self.project();
        let slots = match this.rest.project() {
            RestProj::Used { b, c, d } => [Some(this.a), Some(b), Some(c), Some(d)],
            RestProj::Unused => [Some(this.a), None, None, None],
        };
        (slots, this.running)
    }

    /// Puts the first attempt in the first slot, which must be free.
    #[inline]
    pub(crate) fn start_first(self: Pin<&mut Self>, future: Fut) {
        let mut this = self.project();
        this.a.set(Slot::Running { future, attempt: 1 });
        *this.running += 1;
    }

    /// Puts attempt number `attempt` in a free slot. Returns `false` (and
    /// drops `future`) when all slots are taken; the caller checks first.
    pub(crate) fn start(mut self: Pin<&mut Self>, attempt: u32, future: Fut) -> bool {
        let mut this = self.as_mut().project();
        if matches!(this.a.as_mut().project(), SlotProj::Running { .. })
            && matches!(this.rest.as_mut().project(), RestProj::Unused)
        {
            this.rest.set(Rest::Used {
                b: Slot::Empty,
                c: Slot::Empty,
                d: Slot::Empty,
            });
        }
        let (slots, running) = self.split();
        for mut slot in slots.into_iter().flatten() {
            if matches!(slot.as_mut().project(), SlotProj::Empty) {
                slot.set(Slot::Running { future, attempt });
                *running += 1;
                return true;
            }
        }
        false
    }

    /// Drops every attempt in flight, with whatever it holds.
    pub(crate) fn clear(self: Pin<&mut Self>) {
        let (slots, running) = self.split();
        for mut slot in slots.into_iter().flatten() {
            slot.set(Slot::Empty);
        }
        *running = 0;
    }
}

impl<Fut: Future> Slots<Fut> {
    /// Polls the first slot alone: the fast path of a call's first poll,
    /// when its one attempt is there. Its output, its slot freed, if ready.
    #[inline]
    pub(crate) fn poll_first(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Fut::Output> {
        let mut this = self.project();
        let SlotProj::Running { future, .. } = this.a.as_mut().project() else {
            return Poll::Pending;
        };
        let output = std::task::ready!(future.poll(cx));
        this.a.set(Slot::Empty);
        *this.running -= 1;
        Poll::Ready(output)
    }

    /// Polls the attempts in flight, in slot order, until one is ready: its
    /// number and output, its slot freed. `Pending` when none is.
    pub(crate) fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<(u32, Fut::Output)> {
        let (slots, running) = self.split();
        for mut slot in slots.into_iter().flatten() {
            let SlotProj::Running { future, attempt } = slot.as_mut().project() else {
                continue;
            };
            if let Poll::Ready(output) = future.poll(cx) {
                let attempt = *attempt;
                slot.set(Slot::Empty);
                *running -= 1;
                return Poll::Ready((attempt, output));
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::pin;
    use std::task::Waker;

    /// Ready with its value, or never.
    struct Answer(Option<u32>);

    impl Future for Answer {
        type Output = u32;
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
            self.0.map_or(Poll::Pending, Poll::Ready)
        }
    }

    #[test]
    fn slots_fill_free_and_refuse_a_fifth() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut slots = pin!(Slots::new());
        for n in 1..=4 {
            assert!(slots.as_mut().start(n, Answer((n == 3).then_some(30))));
        }
        assert!(!slots.as_mut().start(5, Answer(Some(50))));
        assert_eq!(slots.running(), 4);
        assert_eq!(slots.as_mut().poll_next(&mut cx), Poll::Ready((3, 30)));
        assert_eq!(slots.running(), 3);
        assert!(slots.as_mut().poll_next(&mut cx).is_pending());
        assert!(slots.as_mut().start(6, Answer(Some(60))));
        assert_eq!(slots.as_mut().poll_next(&mut cx), Poll::Ready((6, 60)));
        slots.as_mut().clear();
        assert_eq!(slots.running(), 0);
        assert!(slots.as_mut().poll_next(&mut cx).is_pending());
    }
}
