//! What each attempt of a scripted call does.

use crate::classify::Classification;
use std::time::Duration;

/// One scripted attempt: how long it takes, and how it ends.
///
/// # Examples
///
/// ```
/// use persevere::Classification;
/// use persevere::testing::Step;
/// use std::time::Duration;
///
/// let slow_reset = Step::fail(Classification::transient()).taking(Duration::from_millis(300));
/// assert_eq!(slow_reset.duration(), Duration::from_millis(300));
/// assert_eq!(slow_reset.failure(), Some(Classification::transient()));
/// assert_eq!(Step::succeed().failure(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Step {
    duration: Duration,
    failure: Option<Classification>,
}

impl Step {
    /// An attempt that fails at once with an error classified as `verdict`
    /// (a terminal verdict stops the call).
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Classification, testing::Step}; use std::time::Duration;
    /// assert_eq!(Step::fail(Classification::timeout()).duration(), Duration::ZERO);
    /// ```
    pub const fn fail(verdict: Classification) -> Self {
        Step {
            duration: Duration::ZERO,
            failure: Some(verdict),
        }
    }

    /// An attempt that succeeds at once.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::testing::Step;
    /// assert!(Step::succeed().failure().is_none());
    /// ```
    pub const fn succeed() -> Self {
        Step {
            duration: Duration::ZERO,
            failure: None,
        }
    }

    /// The same attempt, taking `duration` before it ends.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::testing::Step; use std::time::Duration;
    /// let s = Step::succeed().taking(Duration::from_secs(1));
    /// assert_eq!(s.duration(), Duration::from_secs(1));
    /// ```
    pub const fn taking(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    /// How long the attempt takes.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::testing::Step; use std::time::Duration;
    /// assert_eq!(Step::succeed().duration(), Duration::ZERO);
    /// ```
    pub const fn duration(&self) -> Duration {
        self.duration
    }

    /// How the attempt fails; `None` for a success.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Classification, testing::Step};
    /// assert_eq!(Step::fail(Classification::terminal()).failure(), Some(Classification::terminal()));
    /// ```
    pub const fn failure(&self) -> Option<Classification> {
        self.failure
    }
}

/// What each attempt of a call does, in order.
///
/// Attempt `n` runs step `n`; once the steps run out, **the last step
/// repeats**, so a one-step script of a failure is a call that always fails.
/// An empty script is a call whose every attempt succeeds at once.
///
/// # Examples
///
/// ```
/// use persevere::Classification;
/// use persevere::testing::{Script, Step};
///
/// let script = Script::new().then(Step::fail(Classification::transient())).then(Step::succeed());
/// assert_eq!(script.step(1), Step::fail(Classification::transient()));
/// assert_eq!(script.step(2), Step::succeed());
/// assert_eq!(script.step(9), Step::succeed()); // the last step repeats
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Script {
    steps: Vec<Step>,
}

impl Script {
    /// An empty script.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::testing::{Script, Step};
    /// assert_eq!(Script::new().step(1), Step::succeed());
    /// ```
    pub const fn new() -> Self {
        Script { steps: Vec::new() }
    }

    /// A script whose every attempt does `step`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Classification, testing::{Script, Step}};
    /// let down = Script::always(Step::fail(Classification::transient()));
    /// assert_eq!(down.step(1_000), Step::fail(Classification::transient()));
    /// ```
    pub fn always(step: Step) -> Self {
        Script { steps: vec![step] }
    }

    /// Appends `step`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::testing::{Script, Step};
    /// assert_eq!(Script::new().then(Step::succeed()).steps().len(), 1);
    /// ```
    pub fn then(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// Appends `step` `times` times.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Classification, testing::{Script, Step}};
    /// let s = Script::new().repeat(3, Step::fail(Classification::timeout())).then(Step::succeed());
    /// assert_eq!(s.steps().len(), 4);
    /// ```
    pub fn repeat(mut self, times: usize, step: Step) -> Self {
        self.steps.extend(std::iter::repeat_n(step, times));
        self
    }

    /// The scripted steps.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::testing::Script;
    /// assert!(Script::new().steps().is_empty());
    /// ```
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// What attempt number `attempt` does (the first is 1; 0 is read as 1).
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Classification, testing::{Script, Step}};
    /// let s = Script::new().then(Step::fail(Classification::throttled()));
    /// assert_eq!(s.step(0), s.step(1));
    /// ```
    pub fn step(&self, attempt: u32) -> Step {
        let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
        match self.steps.get(index).or(self.steps.last()) {
            Some(step) => *step,
            None => Step::succeed(),
        }
    }
}

impl FromIterator<Step> for Script {
    /// A script of the given steps, in order.
    fn from_iter<I: IntoIterator<Item = Step>>(steps: I) -> Self {
        Script {
            steps: steps.into_iter().collect(),
        }
    }
}
