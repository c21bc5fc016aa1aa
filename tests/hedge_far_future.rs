//! Hedged calls near the end of time: a hedge delay or a deadline so far
//! away that the instant it names is the last one `Instant` can hold. tokio
//! rounds every timer up to its next millisecond (`deadline + 999_999 ns`),
//! which overflows there and panics; the call caps its timers at about 30
//! years, as `retry` does, and never gets near.

use persevere::{Fixed, RetryPolicyExt, StopReason};
use std::time::Duration;
use tokio::time::{Instant, sleep};

const YEAR: Duration = Duration::from_secs(86_400 * 365);

/// The longest `d` with `Instant::now() + d` representable (the clock is
/// paused, so `now` stays put), found by bisection in at most 128 steps.
fn longest_from_now() -> Duration {
    let now = Instant::now();
    let (mut fits, mut overflows) = (0u128, Duration::MAX.as_nanos() + 1);
    for _ in 0..128 {
        if overflows - fits <= 1 {
            break;
        }
        let mid = fits + (overflows - fits) / 2;
        let d = Duration::new((mid / 1_000_000_000) as u64, (mid % 1_000_000_000) as u32);
        if now.checked_add(d).is_some() {
            fits = mid;
        } else {
            overflows = mid;
        }
    }
    Duration::new((fits / 1_000_000_000) as u64, (fits % 1_000_000_000) as u32)
}

#[tokio::test(start_paused = true)]
async fn a_hedge_delay_reaching_the_last_instant_is_capped_not_a_panic() {
    let delay = longest_from_now();
    assert!(Instant::now().checked_add(delay).is_some());
    assert!(delay > 1_000_000 * YEAR, "{delay:?}");
    let won = persevere::hedge(|| async {
        sleep(Duration::from_secs(1)).await;
        Ok::<_, ()>("late but fine")
    })
    .delay(delay)
    .await
    .unwrap();
    assert_eq!((won.attempts(), won.winner()), (1, 1));
    assert_eq!(won.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_capped_hedge_delay_still_hedges_after_about_thirty_years() {
    let mut n = 0;
    let call = persevere::hedge(|| {
        n += 1;
        let stuck = n == 1;
        async move {
            if stuck {
                std::future::pending::<()>().await;
            }
            Ok::<_, ()>(n)
        }
    })
    .delay(Duration::MAX);
    // Bounded: an uncapped delay would never hedge (and the call would wait
    // for ever).
    let won = tokio::time::timeout(100 * YEAR, call)
        .await
        .expect("the hedge fires within 100 years")
        .unwrap();
    assert!(
        won.elapsed() >= 29 * YEAR && won.elapsed() <= 31 * YEAR,
        "{:?}",
        won.elapsed()
    );
    assert_eq!((won.attempts(), won.winner(), won.into_inner()), (2, 2, 2));
}

#[tokio::test(start_paused = true)]
async fn a_deadline_reaching_the_last_instant_is_capped_not_a_panic() {
    let deadline = longest_from_now();
    let err = persevere::hedge(std::future::pending::<Result<(), ()>>)
        .delay(None)
        .policy(Fixed::new(Duration::ZERO).with_deadline(deadline))
        .await
        .unwrap_err();
    assert_eq!((err.reason(), err.attempts()), (StopReason::Deadline, 1));
    // Capped at about 30 years (tokio's timers round up to the millisecond).
    assert!(
        err.elapsed() >= 29 * YEAR && err.elapsed() <= 31 * YEAR,
        "{:?}",
        err.elapsed()
    );
}
