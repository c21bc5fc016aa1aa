//! The combinators pass the properties of the built-in policies: no panic for
//! any input, delays within their bounds, never past a deadline, attempts
//! never over the cap; and each one's exact rule against its parts.

#[path = "support/policies.rs"]
mod policies;

use persevere::policy::{ByKind, decide, policy_fn};
use persevere::testing::{End, Script, Step, replay};
use persevere::{
    AttemptContext, Classification, Decision, JitterRng, RetryKind, RetryPolicy, RetryPolicyExt,
    StopReason, schedule,
};
use policies::{Policy, any_duration, composition, delay, leaf};
use proptest::prelude::*;
use std::time::Duration;

fn kind() -> impl Strategy<Value = RetryKind> {
    prop_oneof![
        Just(RetryKind::Transient),
        Just(RetryKind::Throttled),
        Just(RetryKind::Timeout)
    ]
}

prop_compose! {
    fn context()(
        attempt in prop_oneof![1u32..20, any::<u32>(), Just(u32::MAX)],
        elapsed in any_duration(),
        previous in proptest::option::of(any_duration()),
        kind in kind(),
        server in proptest::option::of(any_duration()),
        total in any_duration(),
    ) -> AttemptContext {
        let mut c = AttemptContext::new(attempt, elapsed)
            .with_kind(kind)
            .with_server_delay(server)
            .with_total_delay(total);
        if let Some(p) = previous {
            c = c.with_previous_delay(p);
        }
        c
    }
}

/// When a retry after `d` starts: the server's delay if longer, and tokio's
/// timer rounds a sleep's end up to its next millisecond.
fn starts(c: &AttemptContext, d: Duration) -> Duration {
    let wait = c.server_delay().map_or(d, |asked| asked.max(d));
    if wait.is_zero() {
        c.elapsed()
    } else {
        c.elapsed()
            .saturating_add(wait)
            .saturating_add(Duration::from_nanos(999_999))
    }
}

/// Mostly up to `max_ms` milliseconds, sometimes any duration at all.
fn near_or_any(max_ms: u64) -> impl Strategy<Value = Duration> {
    prop_oneof![3 => delay(max_ms), 1 => any_duration()]
}

fn earliest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    [a, b].into_iter().flatten().min()
}

/// What `p` decides for `c` with a generator seeded `seed`.
fn ask(p: &dyn RetryPolicy, c: &AttemptContext, seed: u64) -> Decision {
    p.decide(c, &mut JitterRng::from_seed(seed))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_composition_panics_nor_retries_past_its_deadline(
        p in composition(true), c in context(), seed in any::<u64>(),
    ) {
        let _ = ask(&*p.0, &c, seed);
        if let (Decision::Retry(d), Some(deadline)) =
            (decide(&*p.0, &c, &mut JitterRng::from_seed(seed)), p.0.deadline())
        {
            prop_assert!(starts(&c, d) < deadline, "{:?} at {:?}", d, c);
        }
    }

    #[test]
    fn planned_sleeps_of_a_composition_keep_the_cap_and_the_deadline(
        p in composition(true),
        max_attempts in prop_oneof![1u32..30, Just(u32::MAX)],
        deadline in (0u64..600_000).prop_map(Duration::from_millis),
        seed in any::<u64>(),
    ) {
        let limited = p.0.clone().with_max_attempts(max_attempts).with_deadline(deadline);
        let mut plan = schedule(&limited, seed);
        let sleeps = plan.by_ref().take(200).count();
        prop_assert!(u64::try_from(sleeps).unwrap() < u64::from(max_attempts));
        prop_assert!(plan.elapsed() < deadline || (sleeps == 0 && deadline.is_zero()));
        // A cap inside a part holds too: either side of `larger` or `plus`
        // stops the whole.
        let inner_cap = max_attempts.min(8);
        let capped = p.0.clone().with_max_attempts(inner_cap);
        for whole in [
            Box::new(capped.clone().larger(p.0.clone())) as Box<dyn RetryPolicy>,
            Box::new(p.0.clone().plus(capped.clone())),
            Box::new(capped.at_least(Duration::from_millis(1))),
        ] {
            prop_assert!(schedule(&whole, seed).take(20).count() < inner_cap as usize);
        }
    }

    #[test]
    fn by_kind_routes_to_the_part_for_the_kind(
        parts in (leaf(true), leaf(true), leaf(true)), c in context(), seed in any::<u64>(),
    ) {
        let (t, h, o) = parts;
        let p = ByKind::new(t.0.clone(), h.0.clone(), o.0.clone());
        let routed = match c.kind() {
            RetryKind::Throttled => &h,
            RetryKind::Timeout => &o,
            _ => &t,
        };
        prop_assert_eq!(ask(&p, &c, seed), ask(&*routed.0, &c, seed));
    }

    #[test]
    fn chain_hands_over_after_n_retries_renumbered(
        a in leaf(true), b in leaf(true), n in prop_oneof![0u32..5, Just(u32::MAX)],
        c in context(), seed in any::<u64>(),
    ) {
        let p = a.0.clone().chain(n, b.0.clone());
        let expected = if c.attempt() <= n {
            ask(&*a.0, &c, seed)
        } else {
            let later = c.attempt() - n;
            let mut own = AttemptContext::new(later, c.elapsed())
                .with_kind(c.kind())
                .with_server_delay(c.server_delay())
                .with_total_delay(c.total_delay());
            if let (true, Some(previous)) = (later > 1, c.previous_delay()) {
                own = own.with_previous_delay(previous);
            }
            ask(&*b.0, &own, seed)
        };
        prop_assert_eq!(ask(&p, &c, seed), expected);
    }

    #[test]
    fn larger_and_plus_stop_with_either_and_combine_the_delays(
        a in leaf(true), b in leaf(true), c in context(), seed in any::<u64>(),
    ) {
        // Both parts draw from one generator, `a` first.
        let mut rng = JitterRng::from_seed(seed);
        let first = a.0.decide(&c, &mut rng);
        let (second, second_alone) = (b.0.decide(&c, &mut rng.clone()), {
            let unasked = c.with_server_delay(None);
            b.0.decide(&unasked, &mut rng)
        });
        let larger = ask(&a.0.clone().larger(b.0.clone()), &c, seed);
        let plus = ask(&a.0.clone().plus(b.0.clone()), &c, seed);
        match (first, second, second_alone) {
            (Decision::Stop(r), _, _) => {
                prop_assert_eq!(larger, Decision::Stop(r));
                prop_assert_eq!(plus, Decision::Stop(r));
            }
            (Decision::Retry(x), second, second_alone) => {
                match second {
                    Decision::Retry(y) => prop_assert_eq!(larger, Decision::Retry(x.max(y))),
                    stop => prop_assert_eq!(larger, stop),
                }
                match second_alone {
                    Decision::Retry(y) => {
                        prop_assert_eq!(plus, Decision::Retry(x.saturating_add(y)))
                    }
                    stop => prop_assert_eq!(plus, stop),
                }
            }
        }
    }

    #[test]
    fn clamped_delays_lie_between_the_floor_and_the_cap(
        p in composition(true), floor in any_duration(), cap in proptest::option::of(any_duration()),
        c in context(), seed in any::<u64>(),
    ) {
        let mut clamped = p.0.clone().at_least(floor);
        if let Some(cap) = cap {
            clamped = clamped.at_most(cap);
        }
        match (ask(&clamped, &c, seed), ask(&*p.0, &c, seed)) {
            (Decision::Retry(d), Decision::Retry(inner)) => {
                let expected = inner.max(floor);
                prop_assert_eq!(d, cap.map_or(expected, |cap| expected.min(cap)));
                prop_assert!(cap.is_none_or(|cap| d <= cap));
            }
            (got, inner) => prop_assert_eq!(got, inner),
        }
        prop_assert_eq!(clamped.deadline(), p.0.deadline());
    }

    #[test]
    fn max_total_delay_never_lets_the_sleeps_add_up_past_it(
        p in composition(true), max in any_duration(), c in context(), seed in any::<u64>(),
    ) {
        let capped = p.0.clone().with_max_total_delay(max);
        match (ask(&capped, &c, seed), ask(&*p.0, &c, seed)) {
            (Decision::Retry(d), inner) => {
                prop_assert_eq!(Decision::Retry(d), inner);
                prop_assert!(c.total_delay().checked_add(d).is_some_and(|t| t <= max));
            }
            (Decision::Stop(StopReason::TotalDelayExhausted), Decision::Retry(d)) => {
                prop_assert!(c.total_delay().checked_add(d).is_none_or(|t| t > max));
            }
            (got, inner) => prop_assert_eq!(got, inner),
        }
        prop_assert_eq!(capped.deadline(), p.0.deadline());
    }

    #[test]
    fn every_combinator_forwards_the_earliest_deadline(
        a in composition(false), b in composition(false), n in 0u32..4,
        d in proptest::option::of((0u64..10_000).prop_map(Duration::from_millis)),
    ) {
        let a = match d {
            Some(d) => Policy(std::sync::Arc::new(a.0.with_deadline(d)), a.1),
            None => a,
        };
        let both = earliest(a.0.deadline(), b.0.deadline());
        let (x, y) = (a.0.clone(), b.0.clone());
        prop_assert_eq!(x.clone().larger(y.clone()).deadline(), both);
        prop_assert_eq!(x.clone().plus(y.clone()).deadline(), both);
        prop_assert_eq!(x.clone().chain(n, y.clone()).deadline(), both);
        // Each of the three routes counts.
        prop_assert_eq!(ByKind::new(y.clone(), x.clone(), x.clone()).deadline(), both);
        prop_assert_eq!(ByKind::new(x.clone(), y.clone(), x.clone()).deadline(), both);
        prop_assert_eq!(ByKind::new(x.clone(), x.clone(), y.clone()).deadline(), both);
        prop_assert_eq!(x.clone().at_most(Duration::ZERO).deadline(), a.0.deadline());
        prop_assert_eq!(x.with_max_total_delay(Duration::ZERO).deadline(), a.0.deadline());
        prop_assert_eq!(policy_fn(|_, _| Decision::Retry(Duration::ZERO)).deadline(), None);
    }

    #[test]
    fn a_replayed_call_keeps_the_cap_and_the_deadline_whatever_the_script(
        p in composition(true),
        cap in prop_oneof![1u32..12, Just(u32::MAX)],
        deadline in proptest::option::of(near_or_any(5_000)),
        timeout in proptest::option::of(near_or_any(500)),
        steps in proptest::collection::vec(
            (kind(), proptest::option::of(near_or_any(2_000)), near_or_any(400), 0u8..10),
            0..12,
        ),
        seed in any::<u64>(),
    ) {
        let script: Script = steps
            .into_iter()
            .map(|(kind, asked, took, roll)| {
                let verdict = match (roll, kind) {
                    (0, _) => return Step::succeed().taking(took),
                    (1, _) => Classification::terminal(),
                    (_, RetryKind::Throttled) => Classification::throttled(),
                    (_, RetryKind::Timeout) => Classification::timeout(),
                    _ => Classification::transient(),
                };
                let verdict = asked.map_or(verdict, |a| verdict.with_server_delay(a));
                Step::fail(verdict).taking(took)
            })
            .collect();
        let limited = p.0.with_max_attempts(cap);
        let mut planned = match deadline {
            Some(d) => replay(Box::new(limited.with_deadline(d)) as Box<dyn RetryPolicy>),
            None => replay(Box::new(limited) as Box<dyn RetryPolicy>),
        }
        .seed(seed)
        .attempt_limit(50);
        if let Some(t) = timeout {
            planned = planned.attempt_timeout(t);
        }
        let t = planned.run(&script);
        prop_assert!(!t.attempts.is_empty());
        prop_assert!(t.attempts.len() as u64 <= u64::from(cap));
        if let Some(d) = deadline {
            prop_assert!(t.starts().iter().skip(1).all(|s| *s < d), "{}", t);
        }
        if cap < 50 {
            prop_assert_ne!(t.end, End::AttemptLimit);
        }
    }
}
