//! Test your policies without a runtime, and your calls on the paused clock.
//!
//! - [`Script`]: what each attempt of a call does, how long it takes and how
//!   it ends (a [`Classification`](crate::Classification), or success).
//! - [`replay`]: runs a script against a policy (and a budget, and an attempt
//!   timeout), seeded, with no runtime and no real time, and returns the
//!   [`Timeline`]: when each attempt started, how it ended, what was decided,
//!   and why the call stopped. It applies the combinator's own code, so the
//!   timeline is what [`retry`](crate::retry) does on tokio's paused clock.
//! - [`ScriptedOp`]: an operation for your own end-to-end tests that fails as
//!   scripted (io errors, HTTP-like [`Status`]es with `Retry-After`, or your
//!   own values) and records when each attempt started.
//! - [`assert_timelines_eq`]: compares two timelines and prints a readable
//!   diff when they differ.
//!
//! # Examples
//!
//! Throttled twice with `Retry-After: 2`, then a success:
//!
//! ```
//! use persevere::testing::{Script, Step, replay};
//! use persevere::{Classification, Exponential, RetryPolicyExt};
//! use std::time::Duration;
//!
//! let busy = Classification::throttled().with_server_delay(Duration::from_secs(2));
//! let script = Script::new().then(Step::fail(busy)).then(Step::fail(busy)).then(Step::succeed());
//! let timeline = replay(Exponential::new().with_max_attempts(5)).run(&script);
//! assert_eq!(timeline.starts(), [0, 2, 4].map(Duration::from_secs));
//! assert!(timeline.succeeded());
//! ```

mod op;
mod replay;
mod script;
mod timeline;

pub use op::{ScriptedOp, Status};
pub use replay::{Replay, replay};
pub use script::{Script, Step};
pub use timeline::{End, Entry, Outcome, Timeline, assert_timelines_eq};
