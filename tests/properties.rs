//! Properties of every policy, for any configuration and attempt number.

use persevere::{
    AttemptContext, Decision, Exponential, Fixed, Jitter, JitterRng, RetryKind, RetryPolicy,
    RetryPolicyExt, StopReason, policy::RetryAfter, schedule,
};
use proptest::prelude::*;
use std::time::Duration;

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..=120_000).prop_map(Duration::from_millis),
        any::<u64>().prop_map(Duration::from_nanos),
        Just(Duration::ZERO),
        Just(Duration::MAX),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        // Not exact in f64; more than u64::MAX nanoseconds.
        Just(Duration::from_nanos((1 << 53) + 1)),
        Just(SIX_CENTURIES),
    ]
}

const SIX_CENTURIES: Duration = Duration::from_secs(600 * 365 * 86_400);

fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated),
        duration().prop_map(Jitter::Additive),
        (0.0f64..=1.0).prop_map(Jitter::Proportional),
    ]
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        1.0f64..10.0,
        any::<f64>(),
        Just(f64::NAN),
        Just(0.0),
        Just(-1.0),
        Just(f64::INFINITY)
    ]
}

fn kind() -> impl Strategy<Value = RetryKind> {
    prop_oneof![
        Just(RetryKind::Transient),
        Just(RetryKind::Throttled),
        Just(RetryKind::Timeout)
    ]
}

prop_compose! {
    fn exponential()(
        initial in duration(),
        throttled in duration(),
        multiplier in any_f64(),
        max in duration(),
        jitter in jitter(),
    ) -> Exponential {
        Exponential::new()
            .with_initial_delay(initial)
            .with_throttled_initial_delay(throttled)
            .with_multiplier(multiplier)
            .with_max_delay(max)
            .with_jitter(jitter)
    }
}

prop_compose! {
    /// Configurations that pass `validate`: initial delays at most the max.
    /// Also returns the throttled initial delay it set, if any: the policy has
    /// no getter for it, and the reference model needs it.
    fn valid_exponential()(
        max in duration(),
        initial_fraction in 0.0f64..=1.0,
        throttled_fraction in proptest::option::of(0.0f64..=1.0),
        multiplier in prop_oneof![1.0f64..16.0, Just(1.0), Just(2.0)],
        jitter in jitter(),
    ) -> (Exponential, Option<Duration>) {
        let part = |f: f64| Duration::from_nanos((nanos(max) * f) as u64).min(max);
        let p = Exponential::new()
            .with_initial_delay(part(initial_fraction))
            .with_multiplier(multiplier)
            .with_max_delay(max)
            .with_jitter(jitter);
        let throttled = throttled_fraction.map(part);
        match throttled {
            Some(t) => (p.with_throttled_initial_delay(t), throttled),
            None => (p, None),
        }
    }
}

prop_compose! {
    fn context()(
        attempt in prop_oneof![1u32..100, any::<u32>(), Just(u32::MAX)],
        elapsed in duration(),
        previous in proptest::option::of(duration()),
        kind in kind(),
        server in proptest::option::of(duration()),
    ) -> AttemptContext {
        let mut c = AttemptContext::new(attempt, elapsed).with_kind(kind).with_server_delay(server);
        if let Some(p) = previous {
            c = c.with_previous_delay(p);
        }
        c
    }
}

/// Nanoseconds as f64, saturating at `u64::MAX` as the library documents.
fn nanos(d: Duration) -> f64 {
    d.as_nanos().min(u128::from(u64::MAX)) as f64
}

/// The initial delay for a failure of `kind`, from the configuration alone:
/// a throttling error starts from the throttled initial delay when one is
/// set, every other kind (and throttling without one) from the initial delay.
fn reference_initial(p: &Exponential, throttled: Option<Duration>, kind: RetryKind) -> Duration {
    match (kind, throttled) {
        (RetryKind::Throttled, Some(t)) => t,
        _ => p.initial_delay(),
    }
}

/// The delay before jitter, computed independently of the library, for a
/// valid configuration (so a multiplier of at least 1).
fn reference_delay(p: &Exponential, throttled: Option<Duration>, c: &AttemptContext) -> f64 {
    let initial = nanos(reference_initial(p, throttled, c.kind()));
    if initial == 0.0 {
        return 0.0;
    }
    let raw = initial * p.multiplier().powf(f64::from(c.attempt() - 1));
    raw.min(nanos(p.max_delay()))
}

/// `min(initial * multiplier^(attempt - 1), max)` in exact integer
/// nanoseconds, by repeated multiplication: the reference for whole
/// multipliers.
fn exact_reference(initial: Duration, multiplier: u32, attempt: u32, max: Duration) -> Duration {
    let (cap, mut nanos) = (max.as_nanos(), initial.as_nanos());
    for _ in 1..attempt {
        if nanos >= cap || multiplier == 1 {
            break;
        }
        nanos = nanos.saturating_mul(u128::from(multiplier));
    }
    if nanos == 0 {
        Duration::ZERO
    } else if nanos >= cap {
        max
    } else {
        Duration::new(
            (nanos / 1_000_000_000) as u64,
            (nanos % 1_000_000_000) as u32,
        )
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn whole_multipliers_are_exact(
        initial in duration(),
        max in duration(),
        multiplier in prop_oneof![1u32..=16, Just(2)],
        attempt in prop_oneof![1u32..=8, 1u32..=200],
    ) {
        let p = Exponential::new()
            .with_initial_delay(initial)
            .with_multiplier(f64::from(multiplier))
            .with_max_delay(max)
            .with_jitter(Jitter::None);
        let c = AttemptContext::new(attempt, Duration::ZERO);
        let d = p.decide(&c, &mut JitterRng::from_seed(0)).delay().unwrap();
        prop_assert_eq!(d, exact_reference(initial, multiplier, attempt, max));
    }

    #[test]
    fn exponential_never_exceeds_its_max_nor_panics(
        p in exponential(), rule in retry_after(), c in context(), seed in any::<u64>(),
    ) {
        let p = p.with_retry_after(rule);
        let d = p.decide(&c, &mut JitterRng::from_seed(seed));
        check_server_delay_rule(d, rule, p.max_delay(), &c)?;
    }

    #[test]
    fn jitter_stays_within_its_formula(
        (p, throttled) in valid_exponential(),
        attempt in 1u32..64,
        kind in kind(),
        seed in any::<u64>(),
    ) {
        prop_assert!(p.validate().is_ok());
        prop_assert!(p.multiplier() >= 1.0);
        let c = AttemptContext::new(attempt, Duration::ZERO).with_kind(kind);
        let base = reference_delay(&p, throttled, &c);
        let d = nanos(p.decide(&c, &mut JitterRng::from_seed(seed)).delay().unwrap());
        let max = nanos(p.max_delay());
        // f64 carries 53 bits: allow a relative rounding error.
        let slack = 1.0 + base * 1e-9;
        let (lo, hi) = match p.jitter() {
            Jitter::None => (base, base),
            Jitter::Full => (0.0, base),
            Jitter::Equal => (base / 2.0, base),
            Jitter::Decorrelated => {
                let initial = nanos(reference_initial(&p, throttled, kind));
                (initial.min(max), (3.0 * initial).min(max))
            }
            Jitter::Additive(j) => (base, (base + nanos(j)).min(max)),
            Jitter::Proportional(f) => (base * (1.0 - f), (base * (1.0 + f)).min(max)),
            _ => unreachable!(),
        };
        prop_assert!(d >= lo - slack && d <= hi + slack, "{d} not in {lo}..={hi} for {p:?}");
    }

    #[test]
    fn planned_sleeps_never_pass_the_deadline_nor_the_attempt_cap(
        p in exponential(),
        max_attempts in 1u32..40,
        deadline in (0u64..600_000).prop_map(Duration::from_millis),
        seed in any::<u64>(),
    ) {
        let limited = p.with_max_attempts(max_attempts).with_deadline(deadline);
        let mut plan = schedule(&limited, seed);
        let sleeps = plan.by_ref().take(1000).count();
        prop_assert!(plan.stop_reason().is_some());
        prop_assert!(sleeps < max_attempts as usize);
        prop_assert!(plan.elapsed() < deadline || (sleeps == 0 && deadline.is_zero()));
        if plan.stop_reason() == Some(StopReason::AttemptsExhausted) {
            prop_assert_eq!(sleeps + 1, max_attempts as usize);
        }
    }

    #[test]
    fn fixed_never_exceeds_its_max_nor_panics(
        delay in duration(), max in duration(), j in jitter(), c in context(), seed in any::<u64>(),
    ) {
        let p = Fixed::new(delay).with_max_delay(max).with_jitter(j);
        for rule in [RetryAfter::NotEarlier, RetryAfter::Capped, RetryAfter::AwsClamp] {
            let d = p.with_retry_after(rule).decide(&c, &mut JitterRng::from_seed(seed));
            check_server_delay_rule(d, rule, max, &c)?;
        }
    }

    #[test]
    fn limits_accept_any_attempt_and_time(
        p in exponential(),
        rule in retry_after(),
        c in context(),
        cap in prop_oneof![1u32..100, any::<u32>()],
        deadline in duration(),
    ) {
        let p = p.with_retry_after(rule);
        let limited = p.with_max_attempts(cap).with_deadline(deadline);
        // What the wrapped policy alone says, from the same generator state.
        let inner = p.decide(&c, &mut JitterRng::from_seed(1));
        // When a retry after `d` would start: the server's delay if longer,
        // and tokio's timer rounds a sleep's end up to its next millisecond.
        let starts = |d: Duration| {
            let wait = c.server_delay().map_or(d, |asked| asked.max(d));
            if wait.is_zero() { c.elapsed() } else {
                c.elapsed().saturating_add(wait).saturating_add(Duration::from_nanos(999_999))
            }
        };
        match limited.decide(&c, &mut JitterRng::from_seed(1)) {
            Decision::Retry(d) => {
                prop_assert!(c.attempt() < cap);
                prop_assert!(starts(d) < deadline);
                prop_assert_eq!(Decision::Retry(d), inner);
            }
            // The cap is checked first: attempt `cap` was the last allowed.
            Decision::Stop(StopReason::AttemptsExhausted) => prop_assert!(c.attempt() >= cap),
            // Under the cap, the wrapped policy's sleep would end at or past the deadline.
            Decision::Stop(StopReason::Deadline) => {
                prop_assert!(c.attempt() < cap);
                let Decision::Retry(inner) = inner else { panic!("{inner:?}") };
                prop_assert!(starts(inner) >= deadline);
            }
            // The wrapped policy's own stop passes through.
            Decision::Stop(StopReason::ServerDelayTooLong) => {
                prop_assert!(c.attempt() < cap);
                prop_assert_eq!(inner, Decision::Stop(StopReason::ServerDelayTooLong));
            }
            Decision::Stop(other) => prop_assert!(false, "unexpected stop reason {other:?}"),
        }
    }
}

fn retry_after() -> impl Strategy<Value = RetryAfter> {
    prop_oneof![
        Just(RetryAfter::NotEarlier),
        Just(RetryAfter::Capped),
        Just(RetryAfter::AwsClamp)
    ]
}

/// An unlimited policy never stops but for a server delay past its max under
/// `NotEarlier`; it never sleeps past its max, but for the AWS rule, which
/// may sleep up to 5 s past it when the server asked.
fn check_server_delay_rule(
    d: Decision,
    rule: RetryAfter,
    max: Duration,
    c: &AttemptContext,
) -> Result<(), TestCaseError> {
    let asked = c.server_delay();
    match d {
        Decision::Stop(StopReason::ServerDelayTooLong) => {
            prop_assert_eq!(rule, RetryAfter::NotEarlier);
            prop_assert!(asked.is_some_and(|a| a > max));
        }
        Decision::Stop(other) => prop_assert!(false, "an unlimited policy stopped: {other:?}"),
        Decision::Retry(d) => match (rule, asked) {
            (RetryAfter::NotEarlier, Some(a)) => prop_assert_eq!(d, a),
            (RetryAfter::Capped, Some(a)) => prop_assert_eq!(d, a.min(max)),
            (RetryAfter::AwsClamp, Some(_)) => {
                prop_assert!(d <= max.saturating_add(Duration::from_secs(5)))
            }
            (_, None) => prop_assert!(d <= max),
            (other, Some(_)) => prop_assert!(false, "no such rule {other:?}"),
        },
    }
    Ok(())
}

#[test]
fn exact_values_from_issue_15() {
    let odd = Duration::from_nanos((1 << 53) + 1);
    let p = Exponential::new()
        .with_initial_delay(odd)
        .with_max_delay(Duration::MAX)
        .with_jitter(Jitter::None);
    assert_eq!(schedule(&p, 0).next(), Some(odd));
    let p = p.with_initial_delay(SIX_CENTURIES);
    let got: Vec<_> = schedule(&p, 0).take(2).collect();
    assert_eq!(got, [SIX_CENTURIES, SIX_CENTURIES * 2]);
    assert_eq!(schedule(&p, 0).nth(200), Some(Duration::MAX));
}
