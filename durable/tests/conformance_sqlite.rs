//! The conformance suite (tests/conformance/) on the SQLite store, on a
//! real file in a temporary directory.

mod conformance;

use conformance::Harness;
use persevere_durable::SqliteStore;
use tempfile::TempDir;

struct Sqlite {
    dir: TempDir,
}

impl Harness for Sqlite {
    type Store = SqliteStore;
    const NAME: &'static str = "sqlite";
    const UNSUPPORTED: &'static [&'static str] = &[];

    async fn setup() -> Option<Self> {
        Some(Sqlite {
            dir: tempfile::tempdir().expect("temp dir"),
        })
    }

    async fn open(&self) -> SqliteStore {
        SqliteStore::open(self.dir.path().join("jobs.db")).expect("open store")
    }
}

conformance_suite!(Sqlite);

/// The expected-unsupported list, checked: a store that lists an item.
struct ListsStatus;

impl Harness for ListsStatus {
    type Store = SqliteStore;
    const NAME: &'static str = "lists-status";
    const UNSUPPORTED: &'static [&'static str] = &["status_by_key"];

    async fn setup() -> Option<Self> {
        Some(ListsStatus)
    }

    async fn open(&self) -> SqliteStore {
        SqliteStore::open_in_memory().expect("open store")
    }
}

#[test]
fn a_listed_item_must_fail_with_unsupported() {
    use persevere_durable::Error;
    conformance::check::<ListsStatus>("status_by_key", Err(Error::Unsupported("status")));
    let passed =
        std::panic::catch_unwind(|| conformance::check::<ListsStatus>("status_by_key", Ok(())));
    assert!(
        passed.is_err(),
        "a listed item that passes must fail the test"
    );
    let other = std::panic::catch_unwind(|| {
        conformance::check::<ListsStatus>("status_by_key", Err(Error::NotFound("k".into())))
    });
    assert!(
        other.is_err(),
        "a listed item that fails otherwise must fail the test"
    );
    let unlisted = std::panic::catch_unwind(|| {
        conformance::check::<ListsStatus>("keyed_submit", Err(Error::Unsupported("submit")))
    });
    assert!(unlisted.is_err(), "an unlisted item may not be unsupported");
}
