//! Long-polling calls back off when the budget refuses a retry, then give
//! up; every other stop returns at once. On tokio's paused clock.

use persevere::budget::TokenBucket;
use persevere::{Classification, Fixed, RetryPolicyExt, StopReason};
use std::time::Duration;
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

/// A budget that refuses every retry.
fn empty() -> TokenBucket {
    TokenBucket::new().with_capacity(0)
}

#[tokio::test(start_paused = true)]
async fn a_refused_retry_still_backs_off_and_keeps_the_error() {
    let budget = empty();
    let start = Instant::now();
    let err = persevere::retry(|| async { Err::<(), _>("ReceiveMessage failed") })
        .policy(Fixed::new(2 * SECOND).with_max_attempts(3))
        .budget(&budget)
        .long_polling()
        .await
        .unwrap_err();
    assert_eq!(
        (err.reason(), err.attempts()),
        (StopReason::BudgetExhausted, 1)
    );
    assert_eq!(start.elapsed(), 2 * SECOND);
    // The error says when the call gave up, before the backoff.
    assert_eq!(err.elapsed(), Duration::ZERO);
    assert_eq!(err.into_inner(), Some("ReceiveMessage failed"));

    // Without long polling, the same call gives up at once.
    let start = Instant::now();
    let err = persevere::retry(|| async { Err::<(), _>("ReceiveMessage failed") })
        .policy(Fixed::new(2 * SECOND).with_max_attempts(3))
        .budget(&budget)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::BudgetExhausted);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn the_backoff_ends_before_the_deadline() {
    let budget = empty();
    let start = Instant::now();
    // The first attempt takes 2.5 s; the policy's 2 s backoff would end at
    // 4.5 s, past the 4 s deadline, so it is cut to end before it.
    let err = persevere::retry(|| async {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        Err::<(), _>("slow and failed")
    })
    .policy(
        Fixed::new(Duration::from_millis(1400))
            .with_max_attempts(3)
            .with_deadline(4 * SECOND),
    )
    .budget(&budget)
    .long_polling()
    .await
    .unwrap_err();
    assert_eq!(err.reason(), StopReason::BudgetExhausted);
    let waited = start.elapsed() - Duration::from_millis(2500);
    assert!(waited < Duration::from_millis(1500), "{waited:?}");
    assert!(start.elapsed() < 4 * SECOND, "{:?}", start.elapsed());
    assert_eq!(waited, Duration::from_millis(1400));
}

#[tokio::test(start_paused = true)]
async fn other_stops_and_successes_return_at_once() {
    let budget = empty();
    let start = Instant::now();
    let err = persevere::retry(|| async { Err::<(), _>(404) })
        .policy(Fixed::new(2 * SECOND).with_max_attempts(3))
        .classify(|_: &i32| Classification::terminal())
        .budget(&budget)
        .long_polling()
        .await
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::Terminal);
    // Attempts exhausted: the budget never refused.
    let err = persevere::retry(|| async { Err::<(), _>("down") })
        .policy(Fixed::new(2 * SECOND).with_max_attempts(1))
        .long_polling()
        .await
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::AttemptsExhausted);
    let value = persevere::retry(|| async { Ok::<_, &str>("message") })
        .budget(&budget)
        .long_polling()
        .await
        .unwrap();
    assert_eq!(value, "message");
    assert_eq!(start.elapsed(), Duration::ZERO);
}
