//! What the test files share: a store in a temporary directory and a
//! controlled clock.

#![allow(dead_code, unreachable_pub)] // each test file uses a part of it

pub mod http;

use persevere_durable::{ManualClock, SqliteStore};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use tempfile::TempDir;

/// A fixed, realistic start time for the controlled clock.
pub fn start() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000)
}

/// A store file in a fresh temporary directory (removed when the
/// directory is dropped), and a clock at [`start`].
pub struct Fixture {
    pub dir: TempDir,
    pub path: PathBuf,
    pub clock: ManualClock,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("jobs.db");
        Fixture {
            dir,
            path,
            clock: ManualClock::new(start()),
        }
    }

    /// Opens the store file: again after a drop, to simulate a restart.
    pub fn open(&self) -> SqliteStore {
        SqliteStore::open(&self.path).expect("open store")
    }
}
