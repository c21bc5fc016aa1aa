//! What happened in a call, attempt by attempt, and a readable diff of two.

use crate::classify::{Classification, RetryKind};
use crate::error::StopReason;
use crate::policy::Decision;
use std::fmt::{self, Write};
use std::time::Duration;

/// How an attempt ended.
///
/// # Examples
///
/// ```
/// use persevere::Classification;
/// use persevere::testing::Outcome;
///
/// assert_eq!(Outcome::Failed(Classification::timeout()).to_string(), "failed: timeout");
/// assert_eq!(Outcome::CutAtDeadline.to_string(), "cut at the deadline");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The attempt succeeded.
    Succeeded,
    /// The attempt failed with an error classified so.
    Failed(Classification),
    /// The attempt ran past its attempt timeout, which counts as a retryable
    /// [`Timeout`](RetryKind::Timeout).
    TimedOut,
    /// The attempt was still running at the policy's deadline, which ends the
    /// call.
    CutAtDeadline,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Succeeded => f.write_str("succeeded"),
            Outcome::TimedOut => f.write_str("timed out"),
            Outcome::CutAtDeadline => f.write_str("cut at the deadline"),
            Outcome::Failed(c) => {
                f.write_str(match c.kind() {
                    None => "failed: terminal",
                    Some(RetryKind::Transient) => "failed: transient",
                    Some(RetryKind::Throttled) => "failed: throttled",
                    Some(RetryKind::Timeout) => "failed: timeout",
                })?;
                match c.server_delay() {
                    Some(asked) => write!(f, ", server asked {asked:?}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// One attempt in a [`Timeline`].
///
/// # Examples
///
/// ```
/// use persevere::testing::{Entry, Outcome};
/// use persevere::{Classification, Decision};
/// use std::time::Duration;
///
/// let e = Entry {
///     attempt: 2,
///     start: Duration::from_millis(100),
///     outcome: Outcome::Failed(Classification::transient()),
///     decision: Some(Decision::Retry(Duration::from_millis(200))),
/// };
/// assert_eq!(e.to_string(), "attempt 2 at 100ms: failed: transient -> retry after 200ms");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The attempt number, from 1.
    pub attempt: u32,
    /// When the attempt started, from the start of the first one.
    pub start: Duration,
    /// How it ended.
    pub outcome: Outcome,
    /// What the call did next: `None` after a success.
    pub decision: Option<Decision>,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "attempt {} at {:?}: {}",
            self.attempt, self.start, self.outcome
        )?;
        match self.decision {
            Some(Decision::Retry(delay)) => write!(f, " -> retry after {delay:?}"),
            Some(Decision::Stop(reason)) => write!(f, " -> stop: {reason}"),
            None => Ok(()),
        }
    }
}

/// How a call ended.
///
/// # Examples
///
/// ```
/// use persevere::StopReason;
/// use persevere::testing::End;
///
/// assert_eq!(End::Stopped(StopReason::Deadline).to_string(), "stopped: deadline reached");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum End {
    /// An attempt succeeded.
    Succeeded,
    /// The call stopped retrying.
    Stopped(StopReason),
    /// A [replay](crate::testing::replay) reached its attempt limit with the
    /// policy still retrying.
    AttemptLimit,
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            End::Succeeded => f.write_str("succeeded"),
            End::Stopped(reason) => write!(f, "stopped: {reason}"),
            End::AttemptLimit => f.write_str("attempt limit of the replay reached"),
        }
    }
}

/// A call, attempt by attempt: what [`replay`](crate::testing::replay)
/// returns, and what a test can build from a real run to compare.
///
/// Its `Display` is one line per attempt and one for the end.
///
/// # Examples
///
/// ```
/// use persevere::testing::{End, Entry, Outcome, Timeline};
/// use std::time::Duration;
///
/// let once = Entry { attempt: 1, start: Duration::ZERO, outcome: Outcome::Succeeded, decision: None };
/// let t = Timeline { attempts: vec![once], end: End::Succeeded };
/// assert_eq!(t.to_string(), "attempt 1 at 0ns: succeeded\nend: succeeded\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timeline {
    /// The attempts, in order.
    pub attempts: Vec<Entry>,
    /// How the call ended.
    pub end: End,
}

impl Timeline {
    /// When each attempt started, from the start of the first.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::testing::{Script, Step, replay};
    /// use persevere::{Classification, Fixed, RetryPolicyExt};
    /// use std::time::Duration;
    ///
    /// let script = Script::always(Step::fail(Classification::transient()).taking(Duration::from_secs(1)));
    /// let t = replay(Fixed::new(Duration::from_secs(1)).with_max_attempts(3)).run(&script);
    /// assert_eq!(t.starts(), [0, 2, 4].map(Duration::from_secs));
    /// ```
    pub fn starts(&self) -> Vec<Duration> {
        self.attempts.iter().map(|e| e.start).collect()
    }

    /// The delays slept between attempts.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::testing::{Script, Step, replay};
    /// use persevere::{Classification, Fixed, RetryPolicyExt};
    /// use std::time::Duration;
    ///
    /// let script = Script::always(Step::fail(Classification::transient()));
    /// let t = replay(Fixed::new(Duration::from_secs(1)).with_max_attempts(3)).run(&script);
    /// assert_eq!(t.delays(), [Duration::from_secs(1); 2]);
    /// ```
    pub fn delays(&self) -> Vec<Duration> {
        let delay = |e: &Entry| e.decision.and_then(Decision::delay);
        self.attempts.iter().filter_map(delay).collect()
    }

    /// Why the call stopped; `None` if it succeeded (or the replay hit its
    /// attempt limit).
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::testing::{Script, Step, replay};
    /// use persevere::{Classification, Fixed, StopReason};
    ///
    /// let t = replay(Fixed::default()).run(&Script::always(Step::fail(Classification::terminal())));
    /// assert_eq!(t.stop_reason(), Some(StopReason::Terminal));
    /// ```
    pub fn stop_reason(&self) -> Option<StopReason> {
        match self.end {
            End::Stopped(reason) => Some(reason),
            _ => None,
        }
    }

    /// True if an attempt succeeded.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Fixed, testing::{Script, replay}};
    /// assert!(replay(Fixed::default()).run(&Script::new()).succeeded());
    /// ```
    pub fn succeeded(&self) -> bool {
        self.end == End::Succeeded
    }

    /// A readable diff of `self` (`-` lines) and `other` (`+` lines), or
    /// `None` when they are equal. Equal lines are shown unmarked, so the
    /// diff reads as the whole call.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::testing::{Script, replay};
    /// use persevere::{Fixed, RetryPolicyExt};
    /// use std::time::Duration;
    ///
    /// let script = Script::new();
    /// let a = replay(Fixed::default()).run(&script);
    /// assert_eq!(a.diff(&a.clone()), None);
    /// ```
    pub fn diff(&self, other: &Timeline) -> Option<String> {
        if self == other {
            return None;
        }
        let lines = |t: &Timeline| -> Vec<String> {
            let mut lines: Vec<String> = t.attempts.iter().map(Entry::to_string).collect();
            lines.push(format!("end: {}", t.end));
            lines
        };
        let (left, right) = (lines(self), lines(other));
        let mut out = String::new();
        for i in 0..left.len().max(right.len()) {
            match (left.get(i), right.get(i)) {
                (Some(l), Some(r)) if l == r => writeln!(out, "  {l}"),
                (l, r) => l
                    .map_or(Ok(()), |l| writeln!(out, "- {l}"))
                    .and_then(|()| r.map_or(Ok(()), |r| writeln!(out, "+ {r}"))),
            }
            .expect("writing to a String cannot fail");
        }
        Some(out)
    }
}

impl fmt::Display for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for entry in &self.attempts {
            writeln!(f, "{entry}")?;
        }
        writeln!(f, "end: {}", self.end)
    }
}

/// Asserts that two timelines are equal.
///
/// # Panics
///
/// When they differ, with a diff: `-` for `left`'s lines, `+` for `right`'s.
///
/// # Examples
///
/// ```
/// use persevere::testing::{Script, Step, assert_timelines_eq, replay};
/// use persevere::{Classification, Exponential, RetryPolicyExt};
///
/// let policy = Exponential::new().with_max_attempts(4);
/// let script = Script::always(Step::fail(Classification::transient()));
/// // The same seed, the same timeline.
/// assert_timelines_eq(&replay(policy).seed(9).run(&script), &replay(policy).seed(9).run(&script));
/// ```
#[track_caller]
pub fn assert_timelines_eq(left: &Timeline, right: &Timeline) {
    if let Some(diff) = left.diff(right) {
        panic!("timelines differ (- left, + right):\n{diff}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(attempt: u32, ms: u64, decision: Option<Decision>) -> Entry {
        Entry {
            attempt,
            start: Duration::from_millis(ms),
            outcome: Outcome::Failed(Classification::transient()),
            decision,
        }
    }

    #[test]
    fn the_diff_marks_only_the_lines_that_differ() {
        let retry = Some(Decision::Retry(Duration::from_millis(10)));
        let stop = Some(Decision::Stop(StopReason::AttemptsExhausted));
        let left = Timeline {
            attempts: vec![entry(1, 0, retry), entry(2, 10, stop)],
            end: End::Stopped(StopReason::AttemptsExhausted),
        };
        let mut right = left.clone();
        right.attempts[1] = entry(2, 11, stop);
        let diff = left.diff(&right).unwrap();
        assert_eq!(
            diff,
            "  attempt 1 at 0ns: failed: transient -> retry after 10ms\n\
             - attempt 2 at 10ms: failed: transient -> stop: gave up\n\
             + attempt 2 at 11ms: failed: transient -> stop: gave up\n\
             \x20 end: stopped: gave up\n"
        );
        right.attempts.pop();
        right.end = End::Succeeded;
        let diff = left.diff(&right).unwrap();
        assert!(diff.contains("- attempt 2 at 10ms") && diff.contains("+ end: succeeded"));
    }

    #[test]
    #[should_panic(expected = "timelines differ (- left, + right):\n  attempt 1")]
    fn the_assertion_panics_with_the_diff() {
        let left = Timeline {
            attempts: vec![entry(1, 0, None)],
            end: End::Succeeded,
        };
        let right = Timeline {
            end: End::AttemptLimit,
            ..left.clone()
        };
        assert_timelines_eq(&left, &right);
    }
}
