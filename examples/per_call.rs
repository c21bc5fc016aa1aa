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
    Classification, Classify, Exponential, Fixed, Limited, Retry, RetryError, RetryPolicy,
    RetryPolicyExt,
};
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
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
        mut op: F,
    ) -> Call<'a, Retry<impl FnMut(u32) -> Fut + 'a, Limited<Exponential>, DefaultClassifier>>
    where
        F: FnMut(&'a C) -> Fut + 'a,
        Fut: Future<Output = Result<T, SdkError>> + 'a,
    {
        Call {
            retry: persevere::retry(move || op(&self.client))
                .policy(self.policy)
                .classify(self.classify),
            what: what.into(),
            borrows: PhantomData,
        }
    }
}

/// One call: persevere's own builder, starting from the client's defaults,
/// and what the call is doing, for the error.
struct Call<'a, R> {
    retry: R,
    what: Cow<'static, str>,
    /// The call borrows the client for `'a`, and so does its future.
    borrows: PhantomData<&'a ()>,
}

impl<'a, Op, P, K> Call<'a, Retry<Op, P, K>> {
    fn policy<P2: RetryPolicy>(self, policy: P2) -> Call<'a, Retry<Op, P2, K>> {
        Call {
            retry: self.retry.policy(policy),
            what: self.what,
            borrows: PhantomData,
        }
    }

    fn classify<K2: Classify<SdkError>>(self, classify: K2) -> Call<'a, Retry<Op, P, K2>> {
        Call {
            retry: self.retry.classify(classify),
            what: self.what,
            borrows: PhantomData,
        }
    }
}

impl<'a, R, T> IntoFuture for Call<'a, R>
where
    R: IntoFuture<Output = Result<T, RetryError<SdkError>>> + 'a,
    R::IntoFuture: 'a,
{
    type Output = Result<T, RetryError<SdkError>>;
    type IntoFuture = std::pin::Pin<Box<dyn Future<Output = Self::Output> + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        let Call { retry, what, .. } = self;
        Box::pin(async move { retry.await.map_err(|err| err.with_context(what)) })
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
        // And a later call on the same client really uses it.
        let busy = Retrying::new(IamClient::throttling_first(100));
        let patient_err = busy.call("a", |c| c.delete_role("x")).policy(patient).await;
        assert_eq!(patient_err.unwrap_err().attempts(), 20);
        let err = busy.call("a", |c| c.delete_role("x")).await.unwrap_err();
        assert_eq!(
            (err.reason(), err.attempts()),
            (StopReason::AttemptsExhausted, 10)
        );
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
