//! The replay of a script and the real combinator agree: for random
//! compositions, scripts, budgets and attempt timeouts, `testing::replay`
//! gives the timeline that `persevere::retry` makes on tokio's paused clock
//! with a `ScriptedOp` playing the same script.

use persevere::budget::{GrpcThrottle, NoBudget, RetryBudget, TokenBucket};
use persevere::policy::by_kind;
use persevere::testing::{
    End, Entry, Outcome, Script, ScriptedOp, Step, Timeline, assert_timelines_eq, replay,
};
use persevere::{
    Classification, Decision, Exponential, Fixed, RetryEvent, RetryPolicy, RetryPolicyExt,
    StopReason,
};
use proptest::prelude::*;
use std::sync::Arc;
use std::time::Duration;

#[path = "support/policies.rs"]
mod policies;

use policies::{Policy, composition, delay, ms, named};

fn policy() -> impl Strategy<Value = Policy> {
    let tree = composition(false);
    // Always capped, so that every call ends; whole-millisecond deadlines.
    (tree, 1u32..10, proptest::option::of(0u64..5_000)).prop_map(|(p, cap, deadline)| {
        let name = format!("{p:?}.with_max_attempts({cap})");
        let capped = p.0.with_max_attempts(cap);
        match deadline {
            Some(d) => named(
                format!("{name}.with_deadline({d}ms)"),
                capped.with_deadline(ms(d)),
            ),
            None => named(name, capped),
        }
    })
}

fn step() -> impl Strategy<Value = Step> {
    let verdict = prop_oneof![
        6 => Just(Classification::transient()),
        2 => Just(Classification::throttled()),
        2 => Just(Classification::timeout()),
        1 => Just(Classification::terminal()),
    ];
    let failure =
        (verdict, proptest::option::of(delay(2_500))).prop_map(|(c, asked)| match asked {
            Some(asked) if c.is_retryable() => Step::fail(c.with_server_delay(asked)),
            _ => Step::fail(c),
        });
    let ending = prop_oneof![8 => failure, 1 => Just(Step::succeed())];
    (ending, delay(400)).prop_map(|(s, d)| s.taking(d))
}

/// Fresh budgets of one configuration, and what to compare of them after.
#[derive(Debug, Clone, Copy)]
enum BudgetKind {
    None,
    Bucket(u32),
    Grpc(u32),
}

impl BudgetKind {
    fn make(self) -> (Arc<dyn RetryBudget>, Box<dyn Fn() -> String>) {
        match self {
            BudgetKind::None => (Arc::new(NoBudget), Box::new(String::new)),
            BudgetKind::Bucket(capacity) => {
                let b = Arc::new(TokenBucket::new().with_capacity(capacity));
                (b.clone(), Box::new(move || b.available().to_string()))
            }
            BudgetKind::Grpc(max) => {
                let b = Arc::new(GrpcThrottle::new(max, 0.5));
                (b.clone(), Box::new(move || b.tokens().to_string()))
            }
        }
    }
}

fn budget() -> impl Strategy<Value = BudgetKind> {
    prop_oneof![
        3 => Just(BudgetKind::None),
        1 => (0u32..80).prop_map(BudgetKind::Bucket),
        1 => (1u32..8).prop_map(BudgetKind::Grpc),
    ]
}

/// What one failed attempt told the notify hook before its retry.
struct Heard {
    timed_out: bool,
    classification: Classification,
    delay: Duration,
}

/// Runs the real combinator on a paused clock; returns its timeline and the
/// budget's state after.
fn real_run(
    policy: &Policy,
    script: &Script,
    budget: BudgetKind,
    timeout: Option<Duration>,
    seed: u64,
) -> (Timeline, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let (budget, state) = budget.make();
    let deadline = policy.0.deadline();
    runtime.block_on(async {
        let op = ScriptedOp::from_script(script);
        let mut heard = Vec::new();
        let call = persevere::retry(|| op.call())
            .policy(Arc::clone(&policy.0))
            .classify(|c: &Classification| *c)
            .budget(budget)
            .jitter_seed(seed)
            .notify(|e: &RetryEvent<'_, Classification>| {
                heard.push(Heard {
                    timed_out: e.error().is_none(),
                    classification: e.classification(),
                    delay: e.delay(),
                })
            });
        let call = match timeout {
            Some(t) => call.attempt_timeout(t),
            None => call,
        };
        let result = tokio::time::timeout(Duration::from_secs(86_400), call)
            .await
            .expect("a capped call ends within a day of paused time");
        let mut attempts = Vec::new();
        for (i, start) in op.starts().into_iter().enumerate() {
            let attempt = i as u32 + 1;
            let entry = match (heard.get(i), &result) {
                (Some(h), _) => Entry {
                    attempt,
                    start,
                    outcome: if h.timed_out {
                        Outcome::TimedOut
                    } else {
                        Outcome::Failed(h.classification)
                    },
                    decision: Some(Decision::Retry(h.delay)),
                },
                (None, Ok(())) => Entry {
                    attempt,
                    start,
                    outcome: Outcome::Succeeded,
                    decision: None,
                },
                (None, Err(e)) => {
                    let cut = e.reason() == StopReason::Deadline
                        && deadline.is_some_and(|d| e.elapsed() >= d);
                    let outcome = match e.last_error() {
                        Some(c) => Outcome::Failed(*c),
                        // Timeouts and deadlines are whole milliseconds: an
                        // attempt timeout fires before the deadline.
                        None if cut => Outcome::CutAtDeadline,
                        None => Outcome::TimedOut,
                    };
                    Entry {
                        attempt,
                        start,
                        outcome,
                        decision: Some(Decision::Stop(e.reason())),
                    }
                }
            };
            attempts.push(entry);
        }
        let end = match &result {
            Ok(()) => End::Succeeded,
            Err(e) => End::Stopped(e.reason()),
        };
        (Timeline { attempts, end }, state())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn replay_and_retry_make_the_same_timeline(
        policy in policy(),
        steps in proptest::collection::vec(step(), 0..12),
        budget in budget(),
        timeout in proptest::option::of((1u64..500).prop_map(ms)),
        seed in any::<u64>(),
    ) {
        let script: Script = steps.into_iter().collect();
        let (real, real_budget) = real_run(&policy, &script, budget, timeout, seed);
        let (replay_budget, state) = budget.make();
        let mut planned = replay(Arc::clone(&policy.0)).budget(replay_budget).seed(seed);
        if let Some(t) = timeout {
            planned = planned.attempt_timeout(t);
        }
        let replayed = planned.run(&script);
        assert_timelines_eq(&replayed, &real);
        prop_assert_eq!(state(), real_budget, "the budgets were told different things");
    }
}

/// A fixed case the random ones may miss: the attempt timeout, a server
/// delay, a throttled route and a cut at the deadline in one call.
#[test]
fn a_composed_call_with_every_kind_of_end() {
    let policy = named(
        "fixed".into(),
        by_kind(Fixed::new(ms(100)))
            .throttled(Exponential::new().with_initial_delay(ms(400)))
            .chain(2, Fixed::new(ms(250)))
            .with_max_attempts(8)
            .with_deadline(ms(3_000)),
    );
    let script = Script::new()
        .then(Step::fail(Classification::transient()).taking(ms(30)))
        .then(Step::fail(
            Classification::throttled().with_server_delay(ms(700)),
        ))
        .then(Step::succeed().taking(ms(900)))
        .then(Step::fail(Classification::timeout()).taking(Duration::from_nanos(1_500_000)))
        .then(Step::succeed().taking(ms(5_000)));
    let (real, _) = real_run(&policy, &script, BudgetKind::None, Some(ms(600)), 1);
    let replayed = replay(Arc::clone(&policy.0))
        .attempt_timeout(ms(600))
        .seed(1)
        .run(&script);
    assert_timelines_eq(&replayed, &real);
    let outcomes: Vec<_> = replayed.attempts.iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes[2], Outcome::TimedOut);
    assert_eq!(outcomes.last(), Some(&Outcome::CutAtDeadline));
    assert_eq!(replayed.stop_reason(), Some(StopReason::Deadline));
}

/// An attempt that ends on the very tick its attempt timeout or the deadline
/// fires counts as ended, in the replay as in the combinator.
#[test]
fn an_attempt_ending_with_its_timer_counts_as_ended() {
    let fail = Step::fail(Classification::transient());
    let policy = named("fixed".into(), Fixed::new(ms(10)).with_max_attempts(3));
    let on_the_timeout = Script::always(fail.taking(ms(100)));
    let policy_with_deadline = named(
        "deadline".into(),
        Fixed::new(ms(10))
            .with_max_attempts(3)
            .with_deadline(ms(210)),
    );
    let cases = [
        (&policy, Some(ms(100)), &on_the_timeout),
        (&policy_with_deadline, None, &on_the_timeout),
        (&policy_with_deadline, Some(ms(90)), &on_the_timeout),
    ];
    for (policy, timeout, script) in cases {
        let (real, _) = real_run(policy, script, BudgetKind::None, timeout, 0);
        let mut planned = replay(Arc::clone(&policy.0));
        if let Some(t) = timeout {
            planned = planned.attempt_timeout(t);
        }
        assert_timelines_eq(&planned.run(script), &real);
    }
    // The third attempt starts at 220 ms, past the 210 ms deadline: the
    // second ends on the deadline's tick, then the call stops.
    let (real, _) = real_run(
        &policy_with_deadline,
        &on_the_timeout,
        BudgetKind::None,
        None,
        0,
    );
    assert_eq!(real.attempts.len(), 2);
    assert_eq!(
        real.attempts[1].outcome,
        Outcome::Failed(Classification::transient())
    );
}
