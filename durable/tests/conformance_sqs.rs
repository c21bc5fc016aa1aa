//! The conformance suite (tests/conformance/) on the SQS store, on moto at
//! `PERSEVERE_DURABLE_SQS_ENDPOINT` (skipped, with a printed notice, when
//! it is not set), each test under a queue prefix of its own, with moto's
//! clock following the suite's (see tests/sqs_support/).

mod conformance;
mod sqs_support;

use conformance::Harness;
use sqs_support::Clocked;
use tokio::sync::OwnedMutexGuard;

struct Sqs {
    endpoint: String,
    prefix: String,
    _serial: OwnedMutexGuard<()>,
}

impl Harness for Sqs {
    type Store = Clocked;
    const NAME: &'static str = "sqs";
    /// What SQS cannot do (README.md, "The SQS store"): look a message up
    /// by key, so no keyed submit and no status. The items that check keys
    /// or read a succeeded or pending job's status fail there, after their
    /// other checks passed; those that end in dead letters read them from the
    /// dead-letter queue and pass.
    const UNSUPPORTED: &'static [&'static str] = &[
        "keyed_submit",
        "status_by_key",
        "expired_lease_is_claimed_again",
        "reschedule_at_the_policys_time",
        "many_workers_share_one_store",
        "submit_many_is_keyed",
        "record_many_fails_alone",
    ];

    async fn setup() -> Option<Self> {
        let endpoint = sqs_support::endpoint("the SQS conformance suite")?;
        let serial = sqs_support::serial().await;
        Some(Sqs {
            endpoint,
            prefix: sqs_support::fresh_prefix(),
            _serial: serial,
        })
    }

    async fn open(&self) -> Clocked {
        Clocked::new(&self.endpoint, &self.prefix)
    }
}

conformance_suite!(Sqs);
