//! The combinator allocates nothing, per call or per attempt: counted by a
//! global allocator that tallies the allocations of the current thread.
//! No tracing subscriber is installed, so persevere's events are disabled as
//! in a program that has none.
//!
//! The counter is `tests/counting_alloc`, shared by the allocation tests.

use persevere::classify::Idempotency;
use persevere::classify::http::classify_response_at;
use persevere::classify::io::IoErrors;
use persevere::{Exponential, Fixed, Jitter, RetryEvent, RetryPolicyExt, StopReason, presets};
use std::cell::Cell;
use std::future::Future;
use std::io::{Error, ErrorKind};
use std::time::{Duration, SystemTime};

mod counting_alloc;
use counting_alloc::{allocations, allocations_of};

/// An op that fails `failures` times with `kind`, then succeeds.
fn flaky(failures: u32, kind: ErrorKind) -> impl FnMut() -> std::future::Ready<Result<u32, Error>> {
    let mut n = 0;
    move || {
        n += 1;
        std::future::ready(if n <= failures {
            Err(Error::from(kind))
        } else {
            Ok(n)
        })
    }
}

#[test]
fn the_counter_sees_allocations_and_a_warm_timer_makes_none() {
    // If this fails, the counts below measure tokio or the counter, not persevere.
    let n = allocations_of(|| async {
        tokio::time::sleep(Duration::from_millis(5)).await;
    });
    assert_eq!(n, 0);
    let n = allocations_of(|| async {
        std::hint::black_box(Box::new(1u8));
    });
    assert_eq!(n, 1);
}

#[test]
fn the_success_path_allocates_nothing() {
    let n = allocations_of(|| async {
        persevere::retry(|| async { Ok::<_, Error>(42) })
            .await
            .unwrap();
    });
    assert_eq!(n, 0);
}

#[test]
fn the_retry_path_allocates_nothing_for_any_jitter() {
    for jitter in [
        Jitter::None,
        Jitter::Full,
        Jitter::Equal,
        Jitter::Decorrelated,
        Jitter::Additive(Duration::from_millis(10)),
        Jitter::Proportional(0.2),
    ] {
        let n = allocations_of(|| async move {
            let policy = Exponential::new().with_jitter(jitter).with_max_attempts(5);
            let v = persevere::retry(flaky(3, ErrorKind::ConnectionReset))
                .policy(policy)
                .classify(IoErrors)
                .await
                .unwrap();
            assert_eq!(v, 4);
        });
        assert_eq!(n, 0, "{jitter:?}");
    }
}

#[test]
fn presets_limits_timeouts_and_hooks_allocate_nothing() {
    let n = allocations_of(|| async {
        let mut heard = 0u32;
        let v = persevere::retry(flaky(2, ErrorKind::TimedOut))
            .policy(presets::cloud_storage())
            .classify(Idempotency::for_method(IoErrors, "PUT", false))
            .attempt_timeout(Duration::from_secs(1))
            .notify(|_: &RetryEvent<'_, Error>| heard += 1)
            .await
            .unwrap();
        assert_eq!((v, heard), (3, 2));
    });
    assert_eq!(n, 0);

    let n = allocations_of(|| async {
        let err = persevere::retry(flaky(9, ErrorKind::BrokenPipe))
            .policy(
                Fixed::new(Duration::ZERO)
                    .with_deadline(Duration::from_secs(5))
                    .with_max_attempts(4),
            )
            .await
            .unwrap_err();
        assert_eq!(err.attempts(), 4);
    });
    assert_eq!(n, 0);
}

#[test]
fn http_classification_with_retry_after_allocates_nothing() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_000);
    let n = allocations_of(|| async move {
        let mut statuses = [503u16, 429, 200].into_iter();
        let headers = ["2", "Wed, 21 Oct 2015 07:20:01 GMT", ""];
        let i = Cell::new(0);
        let v = persevere::retry(|| {
            let status = statuses.next().unwrap();
            async move {
                if status == 200 {
                    Ok(status)
                } else {
                    Err(status)
                }
            }
        })
        .policy(presets::aws_standard())
        .classify(|status: &u16| {
            let header = headers[i.get()];
            i.set(i.get() + 1);
            classify_response_at(*status, Some(header), now)
        })
        .await
        .unwrap();
        assert_eq!((v, i.get()), (200, 2));
    });
    assert_eq!(n, 0);
}

#[test]
fn every_budget_allocates_nothing_per_call_or_retry() {
    use persevere::budget::{
        AdaptiveThrottle, GrpcThrottle, RatioBudget, RetryBudget, TokenBucket,
    };
    let budgets: [(&str, &dyn RetryBudget); 4] = [
        ("token bucket", &TokenBucket::new()),
        ("grpc", &GrpcThrottle::new(10, 0.1)),
        ("ratio", &RatioBudget::new().with_min_per_second(1000)),
        ("adaptive", &AdaptiveThrottle::new().with_seed(3)),
    ];
    for (name, budget) in budgets {
        let n = allocations_of(|| async move {
            // A budget may refuse the retry; either way, nothing is allocated.
            let retried = persevere::retry(flaky(2, ErrorKind::ConnectionReset))
                .policy(Fixed::new(Duration::from_millis(1)).with_max_attempts(3))
                .budget(budget)
                .await;
            match retried {
                Ok(v) => assert_eq!(v, 3),
                Err(e) => assert_eq!(e.reason(), persevere::StopReason::BudgetExhausted),
            }
            persevere::retry(|| async { Ok::<_, Error>(1) })
                .budget(budget)
                .await
                .unwrap();
        });
        assert_eq!(n, 0, "{name}");
    }
}

#[test]
fn an_attempt_cut_by_its_timeout_then_retried_allocates_nothing() {
    let n = allocations_of(|| async {
        let mut timeouts = 0u32;
        let v = persevere::retry_with_attempt(|attempt| async move {
            if attempt == 1 {
                // Pending until the attempt timeout cuts it.
                std::future::pending::<()>().await;
            }
            Ok::<_, Error>(attempt)
        })
        .policy(Fixed::new(Duration::from_millis(1)).with_max_attempts(3))
        .attempt_timeout(Duration::from_secs(1))
        .notify(|e: &RetryEvent<'_, Error>| timeouts += u32::from(e.error().is_none()))
        .await
        .unwrap();
        assert_eq!((v, timeouts), (2, 1));
    });
    assert_eq!(n, 0);
}

#[test]
fn an_attempt_cut_at_the_deadline_allocates_nothing() {
    let n = allocations_of(|| async {
        let start = tokio::time::Instant::now();
        let err = persevere::retry_with_attempt(|attempt| async move {
            if attempt == 2 {
                // Pending until the policy's deadline cuts it.
                std::future::pending::<()>().await;
            }
            Err::<(), _>(Error::from(ErrorKind::ConnectionReset))
        })
        .policy(Fixed::new(Duration::from_millis(10)).with_deadline(Duration::from_secs(5)))
        .classify(IoErrors)
        .attempt_timeout(Duration::from_secs(60))
        .await
        .unwrap_err();
        assert_eq!((err.reason(), err.attempts()), (StopReason::Deadline, 2));
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    });
    assert_eq!(n, 0);
}

/// Tokio's own cost of `yield_now` in one `block_on`: the scheduler hands the
/// waker to a deferred list that each `block_on` creates empty, so the first
/// yield of a run allocates it, once (the list keeps its capacity, and the
/// same task's waker is stored only once). That is tokio, not persevere.
fn tokio_yield_allocations() -> u64 {
    allocations_of(|| async {
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
    })
}

#[test]
fn an_op_that_yields_before_failing_allocates_nothing() {
    // If this changes, re-check what the counts below measure.
    let tokio_own = tokio_yield_allocations();
    assert_eq!(tokio_own, 1);
    for timed in [false, true] {
        let n = allocations_of(|| async move {
            let mut calls = 0u32;
            let op = || {
                calls += 1;
                let fail = calls <= 2;
                async move {
                    // Pending once: the retry future is polled again after it.
                    tokio::task::yield_now().await;
                    if fail {
                        Err(Error::from(ErrorKind::ConnectionReset))
                    } else {
                        Ok(7)
                    }
                }
            };
            let policy = Exponential::new().with_max_attempts(4);
            let retry = persevere::retry(op).policy(policy).classify(IoErrors);
            // Untimed, the first attempt runs on the future's inline path;
            // timed, every attempt runs in the state machine under a timer.
            let v = if timed {
                retry.attempt_timeout(Duration::from_secs(1)).await
            } else {
                retry.await
            };
            assert_eq!(v.unwrap(), 7);
        });
        // Three yields, like the calibration: anything more is persevere's.
        assert_eq!(n, tokio_own, "timed: {timed}");
    }
}

/// An op's future that is pending once, waking its task at once, without
/// going through tokio's scheduler: the strict count, with nothing to subtract.
struct PendingOnce(bool);

impl Future for PendingOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

#[test]
fn an_op_pending_once_before_failing_allocates_nothing() {
    for timed in [false, true] {
        let n = allocations_of(|| async move {
            let mut heard = 0u32;
            let retry = persevere::retry_with_attempt(|attempt| async move {
                PendingOnce(false).await;
                if attempt <= 2 {
                    Err(Error::from(ErrorKind::ConnectionReset))
                } else {
                    Ok(attempt)
                }
            })
            .policy(Exponential::new().with_max_attempts(4))
            .classify(IoErrors)
            .notify(|_: &RetryEvent<'_, Error>| heard += 1);
            let v = if timed {
                retry.attempt_timeout(Duration::from_secs(1)).await
            } else {
                retry.await
            };
            assert_eq!(v.unwrap(), 3);
            assert_eq!(heard, 2);
        });
        assert_eq!(n, 0, "timed: {timed}");
    }
}

/// Runs the blocking `run` twice on this thread (the first run warms up the
/// thread's random generator and the clock) and returns the allocations of
/// the second run.
fn blocking_allocations_of(mut run: impl FnMut()) -> u64 {
    run();
    let before = allocations();
    run();
    allocations() - before
}

#[test]
fn the_blocking_call_allocates_nothing() {
    let n = blocking_allocations_of(|| {
        let mut calls = 0u32;
        let mut heard = 0u32;
        let v = persevere::retry(|| {
            calls += 1;
            if calls <= 2 {
                Err(Error::from(ErrorKind::ConnectionReset))
            } else {
                Ok(calls)
            }
        })
        .policy(
            Exponential::new()
                .with_initial_delay(Duration::from_millis(1))
                .with_max_attempts(4)
                .with_deadline(Duration::from_secs(5)),
        )
        .classify(IoErrors)
        .notify(|_: &RetryEvent<'_, Error>| heard += 1)
        .call()
        .unwrap();
        assert_eq!((v, heard), (3, 2));
    });
    assert_eq!(n, 0);
}

#[test]
fn the_adaptive_rate_limiter_allocates_nothing_per_attempt() {
    use persevere::budget::AwsAdaptive;
    use persevere::{Classification, RetryKind};
    // Turned on by a throttle, so that every attempt, the first included,
    // waits for its token.
    let adaptive = AwsAdaptive::new();
    let n = allocations_of(|| async {
        persevere::budget::RetryBudget::on_failure(&adaptive, Some(RetryKind::Throttled));
        let start = tokio::time::Instant::now();
        let err = persevere::retry(|| async { Err::<(), _>("SlowDown") })
            .policy(presets::aws_adaptive())
            .classify(|_: &&str| Classification::throttled())
            .budget(&adaptive)
            .await
            .unwrap_err();
        assert_eq!(err.attempts(), 3);
        assert!(start.elapsed() > Duration::ZERO);
    });
    assert_eq!(n, 0);
}

#[test]
fn retrying_on_values_and_async_closures_allocate_nothing() {
    use persevere::Classification;
    let n = allocations_of(|| async {
        let mut polls = 0u32;
        let v = persevere::retry(|| {
            polls += 1;
            std::future::ready(Ok::<_, Error>(polls))
        })
        .policy(Fixed::new(Duration::from_millis(5)).with_max_attempts(5))
        .retry_if_ok(|n: &u32| (*n < 3).then(Classification::transient))
        .await
        .unwrap();
        assert_eq!(v, 3);
        let err = persevere::retry(|| std::future::ready(Ok::<u32, Error>(503)))
            .retry_if_ok(|_: &u32| Some(Classification::throttled()))
            .await
            .unwrap_err();
        assert_eq!(err.into_value(), Some(503));
    });
    assert_eq!(n, 0);

    let n = allocations_of(|| async {
        let mut sent = 0u32;
        let v = persevere::retry_async(async |_| {
            sent += 1;
            tokio::time::sleep(Duration::from_millis(1)).await;
            if sent < 3 {
                Err(Error::from(ErrorKind::ConnectionReset))
            } else {
                Ok(sent)
            }
        })
        .policy(Fixed::new(Duration::from_millis(5)).with_max_attempts(5))
        .attempt_timeout(Duration::from_secs(1))
        .run()
        .await
        .unwrap();
        assert_eq!(v, 3);
    });
    assert_eq!(n, 0);
}

/// The tower layer allocates nothing per attempt beyond the clone of the
/// request each attempt sends: measured against an in-memory service that
/// answers 503 `failures` times, then 200.
#[cfg(feature = "tower")]
#[test]
fn the_tower_layer_adds_no_allocation_per_attempt_beyond_the_request_clone() {
    use persevere::budget::TokenBucket;
    use persevere::tower::RetryLayer;
    use std::sync::Arc;
    use tower::{Layer, ServiceExt, service_fn};

    let bucket = Arc::new(TokenBucket::new());
    let request = || {
        http::Request::put("/object")
            .header("x-trace", "1")
            .body(String::from("payload"))
            .unwrap()
    };
    let run = |failures: u32| {
        let bucket = bucket.clone();
        allocations_of(move || {
            let bucket = bucket.clone();
            async move {
                // Each attempt calls a clone of the service: count in one
                // place (one allocation per run, whatever the attempts).
                let seen = Arc::new(std::sync::atomic::AtomicU32::new(0));
                let backend = service_fn(move |_: http::Request<String>| {
                    let n = seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    let mut response = http::Response::new(());
                    if n <= failures {
                        *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
                    }
                    std::future::ready(Ok::<_, Error>(response))
                });
                let service = RetryLayer::new()
                    .policy(Fixed::new(Duration::from_millis(5)).with_max_attempts(10))
                    .budget(bucket)
                    .attempt_timeout(Duration::from_secs(1))
                    .layer(backend);
                let req = request();
                let response = service.oneshot(req).await.unwrap();
                assert_eq!(response.status(), 200);
            }
        })
    };
    let clone_cost = {
        let original = request();
        // The first clone of a parsed URI also moves its bytes to a shared
        // buffer, once: the later clones (the retries') cost less.
        std::hint::black_box(original.clone());
        let before = allocations();
        std::hint::black_box(original.clone());
        allocations() - before
    };
    assert!(clone_cost > 0, "the request clone should allocate");
    let (once, five) = (run(0), run(4));
    assert_eq!(
        five - once,
        4 * clone_cost,
        "once: {once}, five attempts: {five}"
    );
}

/// The reqwest middleware allocates nothing per attempt beyond what a
/// hand-written loop of `try_clone` and `next.run` (which boxes the rest of
/// the chain's future) does: both are measured in front of a middleware that
/// answers 503 `failures` times, then 200, without the network.
#[cfg(feature = "reqwest-middleware")]
#[test]
fn the_reqwest_middleware_adds_no_allocation_per_attempt_beyond_a_hand_written_loop() {
    use persevere::reqwest_middleware::RetryMiddleware;
    use reqwest_middleware::{ClientBuilder, Middleware, Next};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Answer(Arc<AtomicU32>, u32);

    #[async_trait::async_trait]
    impl Middleware for Answer {
        async fn handle(
            &self,
            _: reqwest::Request,
            _: &mut http::Extensions,
            _: Next<'_>,
        ) -> reqwest_middleware::Result<reqwest::Response> {
            let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
            let status = if n <= self.1 { 503 } else { 200 };
            let mut response = http::Response::new("");
            *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
            Ok(reqwest::Response::from(response))
        }
    }

    /// Sends `attempts` copies, the last one's answer is the result.
    struct HandWritten(u32);

    #[async_trait::async_trait]
    impl Middleware for HandWritten {
        async fn handle(
            &self,
            req: reqwest::Request,
            extensions: &mut http::Extensions,
            next: Next<'_>,
        ) -> reqwest_middleware::Result<reqwest::Response> {
            let mut last = None;
            for _ in 0..self.0 {
                let copy = req.try_clone().unwrap();
                last = Some(next.clone().run(copy, extensions).await);
            }
            last.unwrap()
        }
    }

    let inner = reqwest::Client::builder().no_proxy().build().unwrap();
    let measure = |front: Arc<dyn Middleware>, failures: u32| {
        let count = Arc::new(AtomicU32::new(0));
        let client = ClientBuilder::new(inner.clone())
            .with_arc(front)
            .with(Answer(count.clone(), failures))
            .build();
        allocations_of(|| {
            count.store(0, Ordering::Relaxed);
            let client = &client;
            async move {
                let response = client
                    .put("http://127.0.0.1:9/object")
                    .body("payload")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
            }
        })
    };
    let retry = || -> Arc<dyn Middleware> {
        Arc::new(
            RetryMiddleware::new()
                .policy(Fixed::new(Duration::from_millis(5)).with_max_attempts(10)),
        )
    };
    let persevere = measure(retry(), 4) - measure(retry(), 0);
    let by_hand = measure(Arc::new(HandWritten(5)), 4) - measure(Arc::new(HandWritten(1)), 0);
    assert!(by_hand > 0);
    assert_eq!(persevere, by_hand, "four more attempts");
}
