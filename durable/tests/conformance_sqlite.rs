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
