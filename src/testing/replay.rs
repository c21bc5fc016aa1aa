//! A call replayed from a script, with no runtime and no real time.

use super::script::Script;
use super::timeline::{End, Entry, Outcome, Timeline};
use crate::budget::{NoBudget, RetryBudget};
use crate::call::{Retries, max_wait_at};
use crate::classify::{Classification, RetryKind};
use crate::error::StopReason;
use crate::policy::{AttemptContext, Decision, RetryPolicy};
use crate::rng::JitterRng;
use std::time::Duration;

/// A replay of `policy`: set a budget, an attempt timeout or a seed on it,
/// then [`run`](Replay::run) a script.
///
/// # Examples
///
/// Transient errors back off from 100 ms; throttling waits 1 s; the deadline
/// cuts the third attempt:
///
/// ```
/// use persevere::policy::by_kind;
/// use persevere::testing::{Outcome, Script, Step, replay};
/// use persevere::{Classification, Fixed, RetryPolicyExt, StopReason};
/// use std::time::Duration;
///
/// let ms = Duration::from_millis;
/// let policy = by_kind(Fixed::new(ms(100)))
///     .throttled(Fixed::new(ms(1000)))
///     .with_deadline(ms(2000));
/// let script = Script::new()
///     .then(Step::fail(Classification::transient()).taking(ms(50)))
///     .then(Step::fail(Classification::throttled()).taking(ms(50)))
///     .then(Step::succeed().taking(ms(1000)));
/// let timeline = replay(policy).run(&script);
/// assert_eq!(timeline.starts(), [ms(0), ms(150), ms(1200)]);
/// assert_eq!(timeline.attempts[2].outcome, Outcome::CutAtDeadline);
/// assert_eq!(timeline.stop_reason(), Some(StopReason::Deadline));
/// ```
pub fn replay<P: RetryPolicy>(policy: P) -> Replay<P> {
    Replay {
        policy,
        budget: NoBudget,
        attempt_timeout: None,
        seed: 0,
        limit: Replay::<P>::DEFAULT_LIMIT,
    }
}

/// A configured replay, made by [`replay`].
///
/// # The model
///
/// [`run`](Self::run) applies the rules of [`retry`](crate::retry) through
/// the code the combinator itself runs after each failure (the classifier's
/// verdict, the budget, the policy held to its deadline by
/// [`policy::decide`](crate::policy::decide)), on a model of tokio's paused
/// clock, so that its timeline is what a call makes on
/// `#[tokio::test(start_paused = true)]`:
///
/// - time starts at zero with the first attempt, and a scripted attempt takes
///   its [duration](super::Step::duration);
/// - every non-zero sleep (a backoff, an attempt's own time, the attempt
///   timeout and the deadline's timer) ends on the next whole millisecond at
///   or after its end, as tokio's timer rounds; a zero delay starts the next
///   attempt at once;
/// - an attempt still running at its [attempt timeout](Self::attempt_timeout)
///   fails as a retryable timeout, and one still running at the policy's
///   deadline ends the call with [`StopReason::Deadline`]; an attempt that
///   ends on the same tick as its timer counts as ended;
/// - the elapsed time a policy sees runs from the first attempt's start under
///   a deadline or an attempt timeout, and otherwise from the end of the first
///   attempt, as the combinator starts its clock only when it needs one.
///
/// It differs from a real call only where tokio's timer cannot follow:
/// sleeps of more than about 30 years, which tokio arms for 30 years, and
/// budgets that read the clock (such as
/// [`RatioBudget`](crate::budget::RatioBudget)), which see the real time.
///
/// # Default
///
/// No budget, no attempt timeout, seed 0, at most 1,000 attempts.
///
/// # Examples
///
/// ```
/// use persevere::budget::TokenBucket;
/// use persevere::testing::{Script, Step, replay};
/// use persevere::{Classification, Fixed, RetryPolicyExt, StopReason};
/// use std::time::Duration;
///
/// // A bucket of 20 tokens pays for one transient retry (14 tokens).
/// let bucket = TokenBucket::new().with_capacity(20);
/// let script = Script::always(Step::fail(Classification::transient()));
/// let t = replay(Fixed::new(Duration::from_millis(10)).with_max_attempts(5)).budget(&bucket).run(&script);
/// assert_eq!(t.attempts.len(), 2);
/// assert_eq!(t.stop_reason(), Some(StopReason::BudgetExhausted));
/// ```
#[derive(Debug, Clone)]
pub struct Replay<P, B = NoBudget> {
    policy: P,
    budget: B,
    attempt_timeout: Option<Duration>,
    seed: u64,
    limit: u32,
}

impl<P> Replay<P> {
    const DEFAULT_LIMIT: u32 = 1_000;
}

impl<P, B> Replay<P, B> {
    /// Draws the retries from `budget`, as [`Retry::budget`](crate::Retry::budget) does.
    ///
    /// # Examples
    ///
    /// See [`Replay`].
    pub fn budget<B2: RetryBudget>(self, budget: B2) -> Replay<P, B2> {
        Replay {
            policy: self.policy,
            budget,
            attempt_timeout: self.attempt_timeout,
            seed: self.seed,
            limit: self.limit,
        }
    }

    /// Cuts an attempt that runs longer than `timeout`, as
    /// [`Retry::attempt_timeout`](crate::Retry::attempt_timeout) does.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::testing::{Outcome, Script, Step, replay};
    /// use persevere::{Fixed, RetryPolicyExt};
    /// use std::time::Duration;
    ///
    /// let hangs = Script::new().then(Step::succeed().taking(Duration::from_secs(60))).then(Step::succeed());
    /// let t = replay(Fixed::new(Duration::ZERO).with_max_attempts(2))
    ///     .attempt_timeout(Duration::from_secs(2))
    ///     .run(&hangs);
    /// assert_eq!(t.attempts[0].outcome, Outcome::TimedOut);
    /// assert_eq!(t.starts(), [Duration::ZERO, Duration::from_secs(2)]);
    /// assert!(t.succeeded());
    /// ```
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// Seeds the jitter, as [`Retry::jitter_seed`](crate::Retry::jitter_seed) does.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::testing::{Script, Step, replay};
    /// use persevere::{Classification, Exponential, RetryPolicyExt, schedule};
    ///
    /// let policy = Exponential::new().with_max_attempts(6);
    /// let t = replay(policy).seed(3).run(&Script::always(Step::fail(Classification::transient())));
    /// assert_eq!(t.delays(), schedule(&policy, 3).collect::<Vec<_>>());
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Stops the replay after `limit` attempts, ending it with
    /// [`End::AttemptLimit`] if the policy still retries: a policy without
    /// limits against a script that always fails would go on forever.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::testing::{End, Script, Step, replay};
    /// use persevere::{Classification, Fixed};
    ///
    /// let down = Script::always(Step::fail(Classification::transient()));
    /// let t = replay(Fixed::default()).attempt_limit(10).run(&down);
    /// assert_eq!((t.attempts.len(), t.end), (10, End::AttemptLimit));
    /// ```
    pub fn attempt_limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }
}

/// The time a sleep of `d` takes on tokio's timer, from a whole millisecond:
/// up to the next whole millisecond.
fn on_tick(d: Duration) -> Duration {
    const MS: u128 = 1_000_000;
    let ms = d.as_nanos().div_ceil(MS);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// What bounds an attempt: the attempt timeout, or the deadline.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bound {
    AttemptTimeout,
    Deadline,
}

impl<P: RetryPolicy, B: RetryBudget> Replay<P, B> {
    /// Replays `script`: the timeline of the call and how it ended.
    ///
    /// # Examples
    ///
    /// See [`replay`] and [`Replay`].
    pub fn run(&self, script: &Script) -> Timeline {
        let (policy, budget) = (&self.policy, &self.budget);
        let deadline = policy.deadline();
        let timed = deadline.is_some() || self.attempt_timeout.is_some();
        let mut rng = JitterRng::from_seed(self.seed);
        let mut retries = Retries::default();
        let mut attempts = Vec::new();
        let mut now = Duration::ZERO;
        // When the combinator's clock starts: the first attempt when timed,
        // else its failure.
        let mut clock = timed.then_some(Duration::ZERO);
        let end = |attempts, end| Timeline { attempts, end };
        // A rate limiter may hold the first attempt back, as the combinator
        // asks before it; the clock starts with the wait.
        let max_wait = max_wait_at(Duration::ZERO, deadline, self.attempt_timeout);
        match budget.before_attempt(None, max_wait) {
            None => return end(attempts, End::Stopped(StopReason::RateLimited)),
            Some(wait) if !wait.is_zero() => {
                clock = Some(Duration::ZERO);
                now = on_tick(wait);
            }
            Some(_) => {}
        }
        budget.on_call();
        for attempt in 1..=self.limit {
            // Never true on this clock (a retry's sleep ends before the
            // deadline), but a real clock may wake late: the combinator checks.
            if attempt > 1 && deadline.is_some_and(|d| now >= d) {
                return end(attempts, End::Stopped(StopReason::Deadline));
            }
            let start = now;
            let step = script.step(attempt);
            let done = start.saturating_add(on_tick(step.duration()));
            let timer = match (
                self.attempt_timeout,
                deadline.map(|d| d.saturating_sub(now)),
            ) {
                (None, None) => None,
                (Some(timeout), Some(left)) if timeout < left => {
                    Some((timeout, Bound::AttemptTimeout))
                }
                (Some(timeout), None) => Some((timeout, Bound::AttemptTimeout)),
                (_, Some(left)) => Some((left, Bound::Deadline)),
            };
            let fires = timer.map(|(after, bound)| (start.saturating_add(on_tick(after)), bound));
            let (outcome, verdict) = match fires {
                Some((at, bound)) if at < done => {
                    now = at;
                    if bound == Bound::Deadline {
                        // As the combinator's `give_up_at_deadline`.
                        budget.on_failure(Some(RetryKind::Timeout));
                        let stop = Decision::Stop(StopReason::Deadline);
                        attempts.push(Entry {
                            attempt,
                            start,
                            outcome: Outcome::CutAtDeadline,
                            decision: Some(stop),
                        });
                        return end(attempts, End::Stopped(StopReason::Deadline));
                    }
                    (Outcome::TimedOut, Classification::timeout())
                }
                _ => {
                    now = done;
                    let Some(verdict) = step.failure() else {
                        budget.on_success(attempt > 1, retries.taken, retries.last_taken);
                        attempts.push(Entry {
                            attempt,
                            start,
                            outcome: Outcome::Succeeded,
                            decision: None,
                        });
                        return end(attempts, End::Succeeded);
                    };
                    (Outcome::Failed(verdict), verdict)
                }
            };
            let elapsed = now.saturating_sub(*clock.get_or_insert(now));
            let failed = || AttemptContext::new(attempt, elapsed);
            let decision = retries.decide(
                policy,
                budget,
                verdict,
                failed,
                self.attempt_timeout,
                &mut rng,
            );
            attempts.push(Entry {
                attempt,
                start,
                outcome,
                decision: Some(decision),
            });
            match decision {
                Decision::Retry(delay) => now = now.saturating_add(on_tick(delay)),
                Decision::Stop(reason) => return end(attempts, End::Stopped(reason)),
            }
        }
        end(attempts, End::AttemptLimit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RetryPolicyExt;
    use crate::policy::Fixed;
    use crate::testing::Step;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn sleeps_end_on_the_next_millisecond() {
        assert_eq!(on_tick(Duration::ZERO), Duration::ZERO);
        assert_eq!(on_tick(Duration::from_nanos(1)), MS);
        assert_eq!(on_tick(MS), MS);
        assert_eq!(on_tick(MS + Duration::from_nanos(1)), 2 * MS);
        assert_eq!(on_tick(Duration::MAX), Duration::from_millis(u64::MAX));
    }

    #[test]
    fn an_attempt_ending_on_the_deadline_tick_counts_as_ended() {
        let policy = Fixed::new(MS).with_deadline(10 * MS);
        let on_time = Script::always(Step::succeed().taking(10 * MS));
        assert!(replay(policy).run(&on_time).succeeded());
        let late = Script::always(Step::succeed().taking(10 * MS + Duration::from_nanos(1)));
        let t = replay(policy).run(&late);
        assert_eq!(t.attempts[0].outcome, Outcome::CutAtDeadline);
    }

    #[test]
    fn absurd_inputs_end_without_panic() {
        let down = Script::always(Step::fail(Classification::transient()).taking(Duration::MAX));
        let t = replay(Fixed::new(Duration::MAX).with_max_attempts(u32::MAX))
            .attempt_timeout(Duration::MAX)
            .attempt_limit(5)
            .run(&down);
        assert_eq!((t.attempts.len(), t.end), (5, End::AttemptLimit));
        let t = replay(Fixed::new(Duration::MAX).with_deadline(Duration::MAX)).run(&down);
        assert_eq!(t.stop_reason(), Some(StopReason::Deadline));
        assert!(
            replay(Fixed::default())
                .attempt_limit(0)
                .run(&down)
                .attempts
                .is_empty()
        );
    }
}
