//! The conformance suite every [`Store`] must pass.
//!
//! A store's test file implements [`Harness`] (how to open the store, and
//! which items it cannot meet) and calls [`conformance_suite!`], which
//! makes one `#[tokio::test]` per item. An item a store lists in
//! [`Harness::UNSUPPORTED`] must fail with [`Error::Unsupported`], and the
//! test prints that it was expected-unsupported: an item is never skipped
//! silently, and a listed item that starts to work (or fails otherwise)
//! fails the test.
//!
//! The items are in `items.rs` (the store's contract, driven by hand) and
//! `workers.rs` (workers on the store), `batches.rs` (many jobs at once).

#![allow(dead_code, unreachable_pub)] // each store's file uses a part of it

pub mod batches;
pub mod items;
pub mod workers;

use persevere_durable::{Error, Store};
use std::future::Future;
use std::time::{Duration, SystemTime};

/// How the suite opens a store.
pub trait Harness: Sized + Send + Sync + 'static {
    /// The store under test.
    type Store: Store + Clone;
    /// The store's name, for messages.
    const NAME: &'static str;
    /// Items this store cannot meet; each must fail with
    /// [`Error::Unsupported`].
    const UNSUPPORTED: &'static [&'static str];

    /// A fresh, empty store, or `None` (after printing why) if its server
    /// is not available.
    fn setup() -> impl Future<Output = Option<Self>> + Send;

    /// A handle on the store set up: a new one on each call (a restarted
    /// process), all on the same jobs.
    fn open(&self) -> impl Future<Output = Self::Store> + Send;
}

/// A fixed, realistic start time.
pub fn start() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000)
}

/// Checks one item's result against the store's expected-unsupported list.
pub fn check<H: Harness>(item: &str, result: Result<(), Error>) {
    let listed = H::UNSUPPORTED.contains(&item);
    match (listed, result) {
        (false, Ok(())) => {}
        (false, Err(e)) => panic!("{}: {item} failed: {e}", H::NAME),
        (true, Err(Error::Unsupported(what))) => {
            println!("{}: {item} is expected-unsupported ({what})", H::NAME);
        }
        (true, other) => panic!(
            "{}: {item} is listed as expected-unsupported but gave {other:?}",
            H::NAME
        ),
    }
}

/// One `#[tokio::test]` per conformance item, on harness `$h`.
#[macro_export]
macro_rules! conformance_suite {
    ($h:ty) => {
        $crate::conformance_suite!(@items $h;
            items::keyed_submit,
            items::never_claimed_early,
            items::kinds_and_batch_bounded,
            items::expired_lease_is_claimed_again,
            items::late_result_before_another_claim_counts,
            items::reschedule_keeps_history_and_delay,
            items::history_round_trips,
            items::dead_letters_requeue_purge,
            items::status_by_key,
            items::records_fail_alone,
            items::absurd_times_are_clamped,
            batches::submit_many_is_keyed,
            batches::record_many_fails_alone,
            workers::reschedule_at_the_policys_time,
            workers::cap_and_deadline_across_restarts,
            workers::many_workers_share_one_store,
        );
    };
    (@items $h:ty; $($module:ident :: $item:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $item() {
                let Some(h) = <$h as conformance::Harness>::setup().await else {
                    return;
                };
                let result = conformance::$module::$item(&h).await;
                conformance::check::<$h>(stringify!($item), result);
            }
        )*
    };
}
