//! Random policies for the property tests: leaves and compositions of every
//! combinator, each with a description for the failure report.

#![allow(dead_code, unreachable_pub)] // each test file uses a part of it

use persevere::policy::{RetryAfter, by_kind, policy_fn};
use persevere::{Decision, Exponential, Fixed, Jitter, RetryPolicy, RetryPolicyExt};
use proptest::prelude::*;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A random policy, with what it is made of for the failure report.
#[derive(Clone)]
pub struct Policy(pub Arc<dyn RetryPolicy>, pub String);

pub fn named(name: String, policy: impl RetryPolicy + 'static) -> Policy {
    Policy(Arc::new(policy), name)
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.1)
    }
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Whole milliseconds, or any nanosecond count, up to `max_ms`.
pub fn delay(max_ms: u64) -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        (0..=max_ms).prop_map(ms),
        (0..=max_ms * 1_000_000).prop_map(Duration::from_nanos),
    ]
}

pub fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated),
        delay(50).prop_map(Jitter::Additive),
        (0.0f64..=1.0).prop_map(Jitter::Proportional),
    ]
}

pub fn rule() -> impl Strategy<Value = RetryAfter> {
    prop_oneof![
        Just(RetryAfter::NotEarlier),
        Just(RetryAfter::Capped),
        Just(RetryAfter::AwsClamp)
    ]
}

/// Any duration, `Duration::MAX` and nanosecond counts up to `u64::MAX` included.
pub fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        delay(120_000),
        any::<u64>().prop_map(Duration::from_nanos),
        Just(Duration::MAX),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
    ]
}

/// Up to `max_ms` milliseconds, or any duration when `extreme`.
fn span(extreme: bool, max_ms: u64) -> BoxedStrategy<Duration> {
    if extreme {
        prop_oneof![delay(max_ms), any_duration()].boxed()
    } else {
        delay(max_ms).boxed()
    }
}

/// An `Exponential`, a `Fixed` or a closure that reads the clock.
pub fn leaf(extreme: bool) -> impl Strategy<Value = Policy> {
    let exponential = (
        delay(200),
        delay(300),
        1.0f64..3.0,
        delay(3_000),
        jitter(),
        rule(),
    )
        .prop_map(|(initial, throttled, m, max, j, r)| {
            let p = Exponential::new()
                .with_initial_delay(initial)
                .with_throttled_initial_delay(throttled)
                .with_multiplier(m)
                .with_max_delay(max)
                .with_jitter(j)
                .with_retry_after(r);
            named(format!("{p:?}"), p)
        });
    let fixed = (span(extreme, 300), jitter(), rule()).prop_map(|(d, j, r)| {
        let p = Fixed::new(d).with_jitter(j).with_retry_after(r);
        named(format!("{p:?}"), p)
    });
    // Reads the elapsed time and the total delay, which follow the
    // combinator's clock.
    let clocked = Just(named(
        "policy_fn(elapsed / 3 + total / 8)".into(),
        policy_fn(|failed, _| {
            let d = (failed.elapsed() / 3).min(ms(500)) + failed.total_delay() / 8;
            Decision::Retry(d + Duration::from_nanos(1))
        }),
    ));
    prop_oneof![3 => exponential, 2 => fixed, 1 => clocked]
}

/// A random composition of every combinator over random leaves, up to three
/// deep; `extreme` lets the leaves use any duration, up to `Duration::MAX`.
pub fn composition(extreme: bool) -> impl Strategy<Value = Policy> {
    leaf(extreme).prop_recursive(3, 12, 3, move |inner| {
        prop_oneof![
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(t, h, o)| named(
                format!("by_kind({t:?}).throttled({h:?}).timeout({o:?})"),
                by_kind(t.0).throttled(h.0).timeout(o.0)
            )),
            (inner.clone(), 0u32..4, inner.clone())
                .prop_map(|(a, n, b)| named(format!("{a:?}.chain({n}, {b:?})"), a.0.chain(n, b.0))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| named(format!("{a:?}.larger({b:?})"), a.0.larger(b.0))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| named(format!("{a:?}.plus({b:?})"), a.0.plus(b.0))),
            (inner.clone(), span(extreme, 100), span(extreme, 2_000)).prop_map(
                |(p, lo, hi)| named(
                    format!("{p:?}.at_least({lo:?}).at_most({hi:?})"),
                    p.0.at_least(lo).at_most(hi)
                )
            ),
            (inner.clone(), span(extreme, 3_000)).prop_map(|(p, max)| named(
                format!("{p:?}.with_max_total_delay({max:?})"),
                p.0.with_max_total_delay(max)
            )),
            // A deadline deep inside a composition reaches the whole.
            (inner, 0u64..4_000).prop_map(|(p, d)| named(
                format!("{p:?}.with_deadline({d}ms)"),
                p.0.with_deadline(ms(d))
            )),
        ]
    })
}
