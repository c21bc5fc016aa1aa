//! Policy decisions on any configuration: `Exponential` or `Fixed`, with any
//! jitter, alone or inside `Limited` (attempt cap, deadline, both), for any
//! attempt number, elapsed time, previous delay, kind and server delay.
//!
//! Never a panic; a delay never above the policy's max delay; the attempt cap
//! and the deadline hold; a server delay within the max delay is what the
//! policy asks; an un-jittered `Fixed` waits exactly its delay; the same seed
//! gives the same decision.
//!
//! Run with `cargo +nightly fuzz run policy_decision` from the crate's root.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use persevere::{
    AttemptContext, Decision, Exponential, Fixed, Jitter, JitterRng, Limited, RetryKind,
    RetryPolicy, StopReason,
};
use std::time::Duration;

#[derive(Arbitrary, Debug)]
enum AnyJitter {
    None,
    Full,
    Equal,
    Decorrelated,
    Additive(Duration),
    Proportional(f64),
}

impl AnyJitter {
    fn get(&self) -> Jitter {
        match *self {
            AnyJitter::None => Jitter::None,
            AnyJitter::Full => Jitter::Full,
            AnyJitter::Equal => Jitter::Equal,
            AnyJitter::Decorrelated => Jitter::Decorrelated,
            AnyJitter::Additive(spread) => Jitter::Additive(spread),
            AnyJitter::Proportional(fraction) => Jitter::Proportional(fraction),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Base {
    Exponential {
        initial: Duration,
        throttled_initial: Option<Duration>,
        multiplier: f64,
        max_delay: Option<Duration>,
    },
    Fixed {
        delay: Duration,
        max_delay: Option<Duration>,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    base: Base,
    jitter: AnyJitter,
    max_attempts: Option<u32>,
    deadline: Option<Duration>,
    attempt: u32,
    elapsed: Duration,
    previous_delay: Option<Duration>,
    throttled: u8,
    server_delay: Option<Duration>,
    seed: u64,
}

/// A built policy.
enum Policy {
    Exponential(Exponential),
    Fixed(Fixed),
}

impl Policy {
    fn build(input: &Input) -> Self {
        let jitter = input.jitter.get();
        match input.base {
            Base::Exponential {
                initial,
                throttled_initial,
                multiplier,
                max_delay,
            } => {
                let mut p = Exponential::new()
                    .with_initial_delay(initial)
                    .with_multiplier(multiplier)
                    .with_jitter(jitter);
                if let Some(throttled) = throttled_initial {
                    p = p.with_throttled_initial_delay(throttled);
                }
                if let Some(max) = max_delay {
                    p = p.with_max_delay(max);
                }
                Policy::Exponential(p)
            }
            Base::Fixed { delay, max_delay } => {
                let mut p = Fixed::new(delay).with_jitter(jitter);
                if let Some(max) = max_delay {
                    p = p.with_max_delay(max);
                }
                Policy::Fixed(p)
            }
        }
    }

    fn max_delay(&self) -> Duration {
        match self {
            Policy::Exponential(p) => p.max_delay(),
            Policy::Fixed(p) => p.max_delay(),
        }
    }

    fn decide(&self, limits: Option<&Limits>, failed: &AttemptContext, seed: u64) -> Decision {
        fn limited<P: RetryPolicy + 'static>(
            p: P,
            limits: Option<&Limits>,
        ) -> Box<dyn RetryPolicy> {
            match limits {
                None => Box::new(p),
                Some(limits) => {
                    let mut l: Limited<P> = Limited::new(p);
                    if let Some(max) = limits.max_attempts {
                        l = l.with_max_attempts(max);
                    }
                    if let Some(deadline) = limits.deadline {
                        l = l.with_deadline(deadline);
                    }
                    Box::new(l)
                }
            }
        }
        let policy = match self {
            Policy::Exponential(p) => limited(*p, limits),
            Policy::Fixed(p) => limited(*p, limits),
        };
        let mut rng = JitterRng::from_seed(seed);
        policy.decide(failed, &mut rng)
    }
}

struct Limits {
    max_attempts: Option<u32>,
    deadline: Option<Duration>,
}

fuzz_target!(|input: Input| {
    let policy = Policy::build(&input);
    let max_delay = policy.max_delay();
    let kind = match input.throttled % 3 {
        0 => RetryKind::Transient,
        1 => RetryKind::Throttled,
        _ => RetryKind::Timeout,
    };
    let mut failed = AttemptContext::new(input.attempt, input.elapsed)
        .with_kind(kind)
        .with_server_delay(input.server_delay);
    if let Some(previous) = input.previous_delay {
        failed = failed.with_previous_delay(previous);
    }
    let attempt = failed.attempt();

    // The policy alone never stops, and never exceeds its max delay.
    let alone = policy.decide(None, &failed, input.seed);
    assert_eq!(
        alone,
        policy.decide(None, &failed, input.seed),
        "not reproducible"
    );
    let delay = match alone {
        Decision::Retry(delay) => delay,
        // Only a server asking for more than the max delay may stop the call
        // (if the policy will not retry earlier than asked).
        Decision::Stop(reason) => {
            assert!(
                input.server_delay.is_some_and(|asked| asked > max_delay),
                "{reason:?} with no server delay over the max delay"
            );
            return;
        }
    };
    assert!(
        delay <= max_delay,
        "{delay:?} over the max delay {max_delay:?}"
    );
    let unjittered = matches!(input.jitter, AnyJitter::None);
    match (input.server_delay, &input.base) {
        (Some(asked), _) if asked <= max_delay => assert_eq!(delay, asked),
        (Some(_), _) => {}
        (None, Base::Fixed { delay: fixed, .. }) if unjittered => {
            assert_eq!(delay, (*fixed).min(max_delay));
        }
        (
            None,
            Base::Exponential {
                initial,
                throttled_initial,
                ..
            },
        ) if unjittered => {
            // Never below the first delay: a multiplier below 1 counts as 1.
            // Delays are computed in f64 today (issue 15 §3), which may round
            // a delay above 2^53 ns down by a relative 2^-53: allow that much.
            let initial = match (kind, throttled_initial) {
                (RetryKind::Throttled, Some(throttled)) => *throttled,
                _ => *initial,
            };
            let floor = initial.min(max_delay);
            let rounding = Duration::from_nanos((floor.as_nanos() >> 52) as u64);
            assert!(delay >= floor - rounding, "{delay:?} below {initial:?}");
        }
        (None, _) => {}
    }

    // Inside `Limited`: the cap first, then the deadline, else the same decision.
    let limits = Limits {
        max_attempts: input.max_attempts,
        deadline: input.deadline,
    };
    let decision = policy.decide(Some(&limits), &failed, input.seed);
    if input.max_attempts.is_some_and(|max| attempt >= max) {
        assert_eq!(decision, Decision::Stop(StopReason::AttemptsExhausted));
        return;
    }
    match (input.deadline, decision) {
        (None, decision) => assert_eq!(decision, alone),
        // The deadline is checked against the delay, or against what the
        // server asked if that is longer, and a sleep that is not zero may
        // end up to tokio's 1 ms tick late.
        (Some(deadline), Decision::Retry(d)) => {
            assert_eq!(d, delay);
            let wait = d.max(input.server_delay.unwrap_or(Duration::ZERO));
            assert!(
                starts(input.elapsed, wait) < deadline,
                "sleeps past the deadline"
            );
        }
        (Some(deadline), Decision::Stop(reason)) => {
            assert_eq!(reason, StopReason::Deadline);
            let wait = delay.max(input.server_delay.unwrap_or(Duration::ZERO));
            assert!(starts(input.elapsed, wait) >= deadline, "stopped early");
        }
    }
});

/// When the next attempt can start after sleeping `wait`, `elapsed` into the
/// call: tokio rounds a timer up to its next millisecond.
fn starts(elapsed: Duration, wait: Duration) -> Duration {
    if wait.is_zero() {
        elapsed
    } else {
        elapsed
            .saturating_add(wait)
            .saturating_add(Duration::from_nanos(999_999))
    }
}
