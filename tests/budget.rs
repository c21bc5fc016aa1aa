//! Retry budgets through the public API, on tokio's paused clock.

#[path = "../examples/storm/sim.rs"]
mod sim;

use persevere::budget::{
    AdaptiveThrottle, GrpcThrottle, RatioBudget, Refund, RetryBudget, TokenBucket,
};
use persevere::{Classification, Fixed, RetryKind, RetryPolicyExt, StopReason};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

fn policy(attempts: u32) -> persevere::Limited<Fixed> {
    Fixed::new(Duration::from_millis(10)).with_max_attempts(attempts)
}

/// A call whose first `failures` attempts fail with `"down"`.
async fn call<B: RetryBudget>(
    budget: B,
    failures: u32,
    attempts: u32,
) -> Result<u32, persevere::RetryError<&'static str>> {
    persevere::retry_with_attempt(
        |n| async move { if n <= failures { Err("down") } else { Ok(n) } },
    )
    .policy(policy(attempts))
    .budget(budget)
    .await
}

#[tokio::test(start_paused = true)]
async fn token_bucket_charges_refunds_and_refuses() {
    let bucket = TokenBucket::new().with_capacity(40);
    // Two retries of a transient error: 2 * 14 taken, nothing refunded.
    let err = call(&bucket, 3, 3).await.unwrap_err();
    assert_eq!(err.reason(), StopReason::AttemptsExhausted);
    assert_eq!(bucket.available(), 12);
    // A success at the first attempt adds 1.
    assert_eq!(call(&bucket, 0, 3).await.unwrap(), 1);
    assert_eq!(bucket.available(), 13);
    // Not enough for a retry: the call stops at once with its error.
    let err = call(&bucket, 3, 3).await.unwrap_err();
    assert_eq!(err.reason(), StopReason::BudgetExhausted);
    assert_eq!(err.attempts(), 1);
    assert_eq!(err.into_inner(), Some("down"));
    assert_eq!(bucket.available(), 13);
}

#[tokio::test(start_paused = true)]
async fn token_bucket_refunds_the_latest_retry_of_a_retried_success() {
    let bucket = TokenBucket::new().with_capacity(100);
    assert_eq!(call(&bucket, 2, 5).await.unwrap(), 3); // takes 28, gives 14 back
    assert_eq!(bucket.available(), 86);
    let err = call(&bucket, 9, 3).await.unwrap_err();
    assert_eq!(err.attempts(), 3);
    assert_eq!(bucket.available(), 58);
    assert_eq!(call(&bucket, 1, 5).await.unwrap(), 2); // takes 14, gives 14 back
    assert_eq!(bucket.available(), 58);
}

#[tokio::test(start_paused = true)]
async fn token_bucket_can_refund_a_retried_success_in_full() {
    let bucket = TokenBucket::new()
        .with_capacity(100)
        .with_refund(Refund::AllRetries);
    assert_eq!(call(&bucket, 2, 5).await.unwrap(), 3);
    assert_eq!(bucket.available(), 100);
    let err = call(&bucket, 9, 3).await.unwrap_err();
    assert_eq!(err.attempts(), 3);
    assert_eq!(bucket.available(), 72);
    assert_eq!(call(&bucket, 1, 5).await.unwrap(), 2);
    assert_eq!(bucket.available(), 72);
}

#[tokio::test(start_paused = true)]
async fn token_bucket_costs_follow_the_kind() {
    let bucket = TokenBucket::legacy().with_capacity(20);
    let err = persevere::retry(|| async { Err::<(), _>("slow down") })
        .classify(|_: &&str| Classification::throttled())
        .policy(policy(3))
        .budget(&bucket)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::AttemptsExhausted);
    assert_eq!(bucket.available(), 10); // 2 * 5
    let err = persevere::retry(|| async { std::future::pending::<Result<(), ()>>().await })
        .attempt_timeout(Duration::from_secs(1))
        .policy(policy(3))
        .budget(&bucket)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::BudgetExhausted);
    assert!(err.timed_out());
    assert_eq!((err.attempts(), bucket.available()), (2, 0)); // one timeout retry: 10
}

#[tokio::test(start_paused = true)]
async fn terminal_errors_take_nothing() {
    let bucket = TokenBucket::new();
    let err = persevere::retry(|| async { Err::<(), _>("forbidden") })
        .classify(|_: &&str| Classification::terminal())
        .budget(&bucket)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::Terminal);
    assert_eq!(bucket.available(), 500);
}

#[tokio::test(start_paused = true)]
async fn grpc_throttle_through_calls() {
    let throttle = Arc::new(GrpcThrottle::new(10, 0.5));
    // Each failed attempt takes 1; retries stop once the count is down to 5.
    let err = call(Arc::clone(&throttle), 10, 10).await.unwrap_err();
    assert_eq!(err.reason(), StopReason::BudgetExhausted);
    assert_eq!((err.attempts(), throttle.milli_tokens()), (5, 5000));
    // Each success adds 0.5. At 6.5, a failure leaves 5.5 > 5: one retry.
    for _ in 0..3 {
        call(Arc::clone(&throttle), 0, 10).await.unwrap();
    }
    assert_eq!(throttle.milli_tokens(), 6500);
    let err = call(Arc::clone(&throttle), 10, 10).await.unwrap_err();
    assert_eq!((err.attempts(), throttle.milli_tokens()), (2, 4500));
    // A retried success: one failure then one success.
    let throttle = GrpcThrottle::new(10, 0.5);
    assert_eq!(call(&throttle, 1, 3).await.unwrap(), 2);
    assert_eq!(throttle.milli_tokens(), 9500);
}

#[tokio::test(start_paused = true)]
async fn ratio_budget_slides_with_the_paused_clock() {
    let budget = RatioBudget::new()
        .with_ratio(0.5)
        .with_min_per_second(0)
        .with_window(Duration::from_secs(10));
    // Four successful calls earn two retries.
    for _ in 0..4 {
        call(&budget, 0, 3).await.unwrap();
    }
    // The fifth call counts too: 2.5 allowed, it uses two.
    let err = call(&budget, 9, 5).await.unwrap_err();
    assert_eq!(
        (err.reason(), err.attempts()),
        (StopReason::BudgetExhausted, 3)
    );
    // Six calls in the window allow three retries: one more.
    let err = call(&budget, 9, 5).await.unwrap_err();
    assert_eq!(err.attempts(), 2);
    // Once the window has passed, only the new call counts: 0.5 retries.
    tokio::time::advance(Duration::from_secs(11)).await;
    let err = call(&budget, 9, 5).await.unwrap_err();
    assert_eq!(err.attempts(), 1);
}

#[tokio::test(start_paused = true)]
async fn ratio_budget_floor_lets_a_quiet_client_retry() {
    let budget = RatioBudget::new()
        .with_min_per_second(1)
        .with_window(Duration::from_secs(2));
    // No history, 1 retry/s over 2 s: two retries in all.
    assert_eq!(call(&budget, 2, 5).await.unwrap(), 3);
    let err = call(&budget, 2, 5).await.unwrap_err();
    assert_eq!(err.reason(), StopReason::BudgetExhausted);
}

#[tokio::test(start_paused = true)]
async fn adaptive_throttle_rejects_when_the_backend_accepts_nothing() {
    let throttle = AdaptiveThrottle::new().with_seed(11);
    let mut exhausted = 0;
    for _ in 0..200 {
        if let Err(e) = call(&throttle, 9, 3).await {
            exhausted += u32::from(e.reason() == StopReason::BudgetExhausted);
        }
    }
    assert!(exhausted >= 190, "{exhausted}");
    assert!(throttle.reject_probability() > 0.99);
}

#[tokio::test(start_paused = true)]
async fn adaptive_throttle_lets_retries_through_while_most_succeed() {
    let throttle = AdaptiveThrottle::new().with_seed(5);
    for _ in 0..100 {
        call(&throttle, 0, 3).await.unwrap();
    }
    for _ in 0..20 {
        assert_eq!(call(&throttle, 1, 3).await.unwrap(), 2);
    }
}

#[test]
fn blocking_calls_use_the_budget_too() {
    let bucket = TokenBucket::new().with_capacity(14);
    let attempts = AtomicU32::new(0);
    let err = persevere::retry(|| {
        attempts.fetch_add(1, Ordering::Relaxed);
        Err::<(), _>("down")
    })
    .policy(Fixed::new(Duration::ZERO).with_max_attempts(5))
    .budget(&bucket)
    .call()
    .unwrap_err();
    assert_eq!(err.reason(), StopReason::BudgetExhausted);
    assert_eq!((attempts.into_inner(), bucket.available()), (2, 0));
    persevere::retry(|| Ok::<_, ()>(()))
        .budget(&bucket)
        .call()
        .unwrap();
    assert_eq!(bucket.available(), 1);
}

#[test]
fn budgets_can_be_shared_as_trait_objects() {
    // 28 tokens pay for exactly two retries of a transient error (14 each).
    let bucket = Arc::new(TokenBucket::new().with_capacity(28));
    let shared: Arc<dyn RetryBudget> = bucket.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    // The policy allows 5 attempts; only the budget, charged through the
    // trait object, stops the call after 3.
    let err = rt.block_on(call(Arc::clone(&shared), 9, 5)).unwrap_err();
    assert_eq!(
        (err.reason(), err.attempts()),
        (StopReason::BudgetExhausted, 3)
    );
    assert_eq!(bucket.available(), 0);
    assert_eq!(shared.try_withdraw(RetryKind::Throttled), None);
    // A first-attempt success reaches the bucket through it too: +1.
    assert_eq!(rt.block_on(call(Arc::clone(&shared), 0, 5)).unwrap(), 1);
    assert_eq!(bucket.available(), 1);
}

/// Scenario B of the storm example, small: 200 calls/s, down for 10 s.
fn small_outage(processes: u32) -> sim::Outage {
    sim::Outage {
        calls_per_second: 200,
        processes,
        warmup: Duration::from_secs(2),
        outage: Duration::from_secs(10),
        tail: Duration::from_secs(2),
        ..sim::Outage::standard()
    }
}

#[test]
fn a_token_bucket_stops_the_retry_storm() {
    let without = sim::outage(small_outage(1), sim::Budget::None);
    let with = sim::outage(small_outage(1), sim::Budget::TokenBucket);
    assert_eq!(without.outage_calls, 2000);
    assert!(
        without.amplification() >= 2.5,
        "{}",
        without.amplification()
    );
    assert!(with.amplification() <= 1.1, "{}", with.amplification());
    // 500 tokens pay for 35 retries of 14.
    assert_eq!(with.outage_attempts, 2035);
}

#[test]
fn every_budget_caps_the_storm_of_one_process() {
    for budget in [sim::Budget::Grpc, sim::Budget::Ratio, sim::Budget::Adaptive] {
        let run = sim::outage(small_outage(1), budget);
        assert!(
            run.amplification() <= 2.0,
            "{budget:?}: {}",
            run.amplification()
        );
    }
}
