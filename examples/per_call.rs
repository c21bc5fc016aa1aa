//! Per-call policies over a client's defaults.
//!
//! A service wraps an SDK client once, with a default policy and classifier.
//! Each call may override the policy, the classifier, or both, without
//! rebuilding the client, and every give-up error says what the call was
//! doing: `deleting role build-bot: gave up after 10 attempts in 12.3s: …`.
//!
//! The "SDK" here is a stand-in that throttles its first calls, and the
//! runtime's clock is paused, so the example's backoff passes in virtual
//! time. Run it with `cargo run --example per_call`.

use persevere::{
    Classification, Exponential, Fixed, Limited, RetryError, RetryPolicy, RetryPolicyExt,
};
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::time::Duration;

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let iam = Retrying::new(IamClient::throttling_first(12));

    // The client's defaults: 10 attempts, exponential backoff from 100 ms.
    match iam
        .call("deleting role build-bot", |c| c.delete_role("build-bot"))
        .await
    {
        Ok(()) => println!("deleted"),
        Err(err) => println!("{err}"),
    }

    // One call with a policy of its own: patient enough to get through.
    let patient = Fixed::new(Duration::from_secs(1)).with_max_attempts(20);
    let result = iam
        .call("deleting role deploy-bot", |c| c.delete_role("deploy-bot"))
        .policy(patient)
        .await;
    println!("with its own policy: {result:?}");

    // One call with a classifier of its own: retry throttling only.
    let result = iam
        .call("creating role audit-bot", |c| c.create_role("audit-bot"))
        .classify(|e: &SdkError| {
            if e.message.contains("Throttling: Rate exceeded") {
                Classification::throttled()
            } else {
                Classification::terminal()
            }
        })
        .await;
    match result {
        Ok(()) => println!("created"),
        Err(err) => println!("{err}"),
    }
}

/// The client's default classifier, as a plain function pointer.
type DefaultClassifier = fn(&SdkError) -> Classification;

/// A client wrapped once with the defaults every call starts from.
struct Retrying<C> {
    client: C,
    policy: Limited<Exponential>,
    classify: DefaultClassifier,
}

impl<C> Retrying<C> {
    fn new(client: C) -> Self {
        Retrying {
            client,
            policy: Exponential::new().with_max_attempts(10),
            classify: SdkError::classify,
        }
    }

    /// Starts a call: `what` names it in the error, `op` makes one attempt.
    fn call<'a, F, Fut, T>(
        &'a self,
        what: impl Into<Cow<'static, str>>,
        op: F,
    ) -> Call<'a, C, F, Limited<Exponential>, DefaultClassifier>
    where
        F: FnMut(&'a C) -> Fut,
        Fut: Future<Output = Result<T, SdkError>>,
    {
        Call {
            client: &self.client,
            what: what.into(),
            op,
            policy: self.policy,
            classify: self.classify,
        }
    }
}

/// One call: the client's defaults until overridden, then `.await`.
struct Call<'a, C, F, P, K> {
    client: &'a C,
    what: Cow<'static, str>,
    op: F,
    policy: P,
    classify: K,
}

impl<'a, C, F, P, K> Call<'a, C, F, P, K> {
    fn policy<P2: RetryPolicy>(self, policy: P2) -> Call<'a, C, F, P2, K> {
        let Call {
            client,
            what,
            op,
            classify,
            ..
        } = self;
        Call {
            client,
            what,
            op,
            policy,
            classify,
        }
    }

    fn classify<K2: Fn(&SdkError) -> Classification>(self, classify: K2) -> Call<'a, C, F, P, K2> {
        let Call {
            client,
            what,
            op,
            policy,
            ..
        } = self;
        Call {
            client,
            what,
            op,
            policy,
            classify,
        }
    }
}

impl<'a, C, F, Fut, T, P, K> IntoFuture for Call<'a, C, F, P, K>
where
    F: FnMut(&'a C) -> Fut + 'a,
    Fut: Future<Output = Result<T, SdkError>> + 'a,
    P: RetryPolicy + 'a,
    K: Fn(&SdkError) -> Classification + 'a,
    T: 'a,
{
    type Output = Result<T, RetryError<SdkError>>;
    type IntoFuture = std::pin::Pin<Box<dyn Future<Output = Self::Output> + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        let Call {
            client,
            what,
            mut op,
            policy,
            classify,
        } = self;
        Box::pin(async move {
            persevere::retry(move || op(client))
                .policy(policy)
                .classify(classify)
                .await
                .map_err(|err| err.with_context(what))
        })
    }
}

/// The stand-in SDK's error.
#[derive(Debug, Clone, PartialEq)]
struct SdkError {
    message: String,
}

impl fmt::Display for SdkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl SdkError {
    /// The client's default classifier: throttling and 5xx-like errors retry.
    fn classify(&self) -> Classification {
        if self.message.starts_with("Throttling") {
            Classification::throttled()
        } else if self.message.starts_with("ServiceUnavailable") {
            Classification::transient()
        } else {
            Classification::terminal()
        }
    }
}

/// A stand-in for an SDK client that throttles its first `throttled` calls.
struct IamClient {
    throttled: Cell<u32>,
}

impl IamClient {
    fn throttling_first(throttled: u32) -> Self {
        IamClient {
            throttled: Cell::new(throttled),
        }
    }

    fn answer(&self) -> Result<(), SdkError> {
        match self.throttled.get() {
            0 => Ok(()),
            n => {
                self.throttled.set(n - 1);
                Err(SdkError {
                    message: "Throttling: Rate exceeded".into(),
                })
            }
        }
    }

    async fn delete_role(&self, _name: &str) -> Result<(), SdkError> {
        self.answer()
    }

    async fn create_role(&self, name: &str) -> Result<(), SdkError> {
        self.answer()?;
        Err(SdkError {
            message: format!("EntityAlreadyExists: role {name} exists"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use persevere::StopReason;

    #[tokio::test(start_paused = true)]
    async fn the_defaults_give_up_with_the_callers_context() {
        let iam = Retrying::new(IamClient::throttling_first(100));
        let err = iam
            .call("deleting role build-bot", |c| c.delete_role("x"))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), StopReason::AttemptsExhausted);
        assert_eq!(err.attempts(), 10);
        let text = err.to_string();
        assert!(
            text.starts_with("deleting role build-bot: gave up after 10 attempts in "),
            "{text}"
        );
        assert!(text.ends_with(": Throttling: Rate exceeded"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn one_call_overrides_the_policy_without_touching_the_client() {
        let iam = Retrying::new(IamClient::throttling_first(12));
        let patient = Fixed::new(Duration::from_secs(1)).with_max_attempts(20);
        let overridden = iam.call("a", |c| c.delete_role("x")).policy(patient).await;
        assert!(overridden.is_ok(), "{overridden:?}");
        // The client's own default is unchanged: 10 attempts.
        assert_eq!(iam.policy.max_attempts(), Some(10));
    }

    #[tokio::test(start_paused = true)]
    async fn one_call_overrides_the_classifier() {
        let iam = Retrying::new(IamClient::throttling_first(0));
        // By default an unknown error is terminal: one attempt.
        let err = iam.call("b", |c| c.create_role("r")).await.unwrap_err();
        assert_eq!((err.reason(), err.attempts()), (StopReason::Terminal, 1));
        // This call retries everything, up to the default 10 attempts.
        let err = iam
            .call("b", |c| c.create_role("r"))
            .classify(|_: &SdkError| Classification::transient())
            .await
            .unwrap_err();
        assert_eq!(
            (err.reason(), err.attempts()),
            (StopReason::AttemptsExhausted, 10)
        );
    }
}
