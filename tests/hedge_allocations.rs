//! What a hedged call allocates: nothing of its own, with one attempt or
//! four in flight, a fixed or an adaptive delay, budgets, success or failure.
//! Counted by a global allocator that tallies the allocations of the current
//! thread; no tracing subscriber is installed.
//!
//! The counter is `tests/counting_alloc`, shared by the allocation tests.

use persevere::hedge::{HedgeBudget, LatencyTracker};
use persevere::{Fixed, RetryPolicyExt, StopReason};
use std::cell::Cell;
use std::time::Duration;
use tokio::time::sleep;

mod counting_alloc;
use counting_alloc::allocations_of;

const MS: Duration = Duration::from_millis(1);

#[test]
fn the_counter_counts() {
    assert_eq!(allocations_of(|| async { drop(Box::new(1u8)) }), 1);
    assert_eq!(allocations_of(|| async { sleep(5 * MS).await }), 0);
}

#[test]
fn a_first_attempt_that_answers_at_once_allocates_nothing() {
    let n = allocations_of(|| async {
        let won = persevere::hedge(|| async { Ok::<_, ()>(1) }).await.unwrap();
        assert_eq!(won.attempts(), 1);
    });
    assert_eq!(n, 0);
}

#[test]
fn four_attempts_in_flight_allocate_nothing() {
    let n = allocations_of(|| async {
        let won = persevere::hedge_with_attempt(|attempt| async move {
            sleep(if attempt < 4 { 1000 * MS } else { MS }).await;
            Ok::<_, ()>(attempt)
        })
        .delay(10 * MS)
        .max_in_flight(4)
        .policy(Fixed::new(Duration::ZERO).with_max_attempts(4))
        .await
        .unwrap();
        assert_eq!((won.attempts(), won.winner()), (4, 4));
    });
    assert_eq!(n, 0);
}

#[test]
fn an_adaptive_delay_and_budgets_allocate_nothing() {
    let tracker = LatencyTracker::new(95.0).with_fallback(10 * MS);
    let budget = HedgeBudget::new();
    let hedged = Cell::new(0);
    let n = allocations_of(|| async {
        for _ in 0..50 {
            let won = persevere::hedge_with_attempt(|attempt| async move {
                sleep(if attempt == 1 { 30 * MS } else { 2 * MS }).await;
                Ok::<_, ()>(())
            })
            .delay(&tracker)
            .hedge_budget(&budget)
            .await
            .unwrap();
            hedged.set(hedged.get() + u32::from(won.hedged()));
        }
    });
    assert_eq!(n, 0);
    // Some calls hedged (at the fallback, then within the budget).
    assert!(hedged.get() > 0);
}

#[test]
fn failures_retries_and_the_deadline_allocate_nothing() {
    let n = allocations_of(|| async {
        let err = persevere::hedge(|| async {
            sleep(40 * MS).await;
            Err::<(), _>("unavailable")
        })
        .delay(10 * MS)
        .policy(
            Fixed::new(Duration::ZERO)
                .with_max_attempts(9)
                .with_deadline(100 * MS),
        )
        .await
        .unwrap_err();
        assert_eq!(err.reason(), StopReason::Deadline);
    });
    assert_eq!(n, 0);
}
