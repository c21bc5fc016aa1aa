//! Bad files and bad input: a clear typed error, and nothing lost.

mod support;

use persevere_durable::{
    Clock, ConfigError, Delivery, Error, Handler, MAX_KEY_LEN, MAX_PAYLOAD, NewJob, SqliteOptions,
    SqliteStore, Store, Worker,
};
use std::time::Duration;
use support::Fixture;

#[test]
fn a_file_that_is_not_a_database_is_corrupt() {
    let f = Fixture::new();
    std::fs::write(
        &f.path,
        b"this is not a database, just some text ".repeat(200),
    )
    .unwrap();
    let err = SqliteStore::open(&f.path).unwrap_err();
    assert!(matches!(err, Error::Corrupt(_)), "{err:?}");
    assert!(
        err.to_string().starts_with("the database file is corrupt"),
        "{err}"
    );
    // The file was left as it was.
    assert!(
        std::fs::read(&f.path)
            .unwrap()
            .starts_with(b"this is not a database")
    );
}

#[tokio::test]
async fn a_damaged_store_is_corrupt_not_a_panic() {
    let f = Fixture::new();
    {
        let store = f.open();
        for i in 0..200 {
            let job = NewJob::new(format!("k{i}"), "email", vec![7; 2000]);
            store.submit(job, f.clock.now()).await.unwrap();
        }
    }
    // Overwrite everything after the header's first page with garbage.
    let mut bytes = std::fs::read(&f.path).unwrap();
    for b in bytes.iter_mut().skip(4096) {
        *b = 0xA5;
    }
    std::fs::write(&f.path, &bytes).unwrap();
    let _ = std::fs::remove_file(f.path.with_extension("db-wal"));
    match SqliteStore::open(&f.path) {
        Err(err) => assert!(matches!(err, Error::Corrupt(_)), "{err:?}"),
        Ok(store) => {
            let err = store.status("k1").await.unwrap_err();
            assert!(matches!(err, Error::Corrupt(_)), "{err:?}");
        }
    }
}

#[test]
fn a_read_only_file_is_read_only() {
    let f = Fixture::new();
    drop(f.open());
    let _ = std::fs::remove_file(f.path.with_extension("db-wal"));
    let _ = std::fs::remove_file(f.path.with_extension("db-shm"));
    let mut perms = std::fs::metadata(&f.path).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&f.path, perms).unwrap();
    let dir_original = std::fs::metadata(f.dir.path()).unwrap().permissions();
    let mut dir_perms = dir_original.clone();
    dir_perms.set_readonly(true);
    std::fs::set_permissions(f.dir.path(), dir_perms).unwrap();
    let writable = std::fs::OpenOptions::new()
        .write(true)
        .open(&f.path)
        .is_ok();
    let result = SqliteStore::open(&f.path);
    std::fs::set_permissions(f.dir.path(), dir_original).unwrap();
    if writable {
        println!(
            "skipped: this process may write a read-only file (it runs as root), \
             so a read-only database cannot be made here"
        );
        return;
    }
    let err = result.unwrap_err();
    assert!(matches!(err, Error::ReadOnly(_)), "{err:?}");
}

#[tokio::test]
async fn a_database_locked_past_the_busy_timeout_is_locked() {
    let f = Fixture::new();
    let store = SqliteStore::open_with(
        &f.path,
        SqliteOptions::new().with_busy_timeout(Duration::from_millis(100)),
    )
    .unwrap();
    let holder = rusqlite::Connection::open(&f.path).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let job = NewJob::new("k", "email", vec![]);
    let err = store.submit(job.clone(), f.clock.now()).await.unwrap_err();
    assert!(
        matches!(err, Error::Locked(d) if d == Duration::from_millis(100)),
        "{err:?}"
    );
    holder.execute_batch("COMMIT").unwrap();
    // Nothing was half-done: the same submission now succeeds, once.
    assert!(
        store
            .submit(job.clone(), f.clock.now())
            .await
            .unwrap()
            .is_created()
    );
    assert!(!store.submit(job, f.clock.now()).await.unwrap().is_created());
}

#[tokio::test]
async fn payloads_keys_and_kinds_out_of_bounds_are_refused() {
    let f = Fixture::new();
    let store = f.open();
    let now = f.clock.now();
    let at_limit = NewJob::new("max", "email", vec![1; MAX_PAYLOAD]);
    assert!(store.submit(at_limit, now).await.unwrap().is_created());
    let over = NewJob::new("over", "email", vec![1; MAX_PAYLOAD + 1]);
    let err = store.submit(over, now).await.unwrap_err();
    assert!(
        matches!(err, Error::PayloadTooLarge { size, limit } if size == MAX_PAYLOAD + 1 && limit == MAX_PAYLOAD)
    );
    for (key, kind) in [
        ("", "email"),
        ("k", ""),
        (&*"k".repeat(MAX_KEY_LEN + 1), "email"),
    ] {
        let err = store
            .submit(NewJob::new(key, kind, vec![]), now)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidName { .. }), "{err:?}");
    }
    assert_eq!(store.counts().await.unwrap().total(), 1);
}

#[test]
fn a_file_from_a_newer_version_is_refused() {
    let f = Fixture::new();
    drop(f.open());
    let conn = rusqlite::Connection::open(&f.path).unwrap();
    conn.execute("UPDATE persevere_durable_schema SET version = 99", [])
        .unwrap();
    drop(conn);
    let err = SqliteStore::open(&f.path).unwrap_err();
    assert!(
        matches!(
            err,
            Error::SchemaTooNew {
                found: 99,
                supported: 1
            }
        ),
        "{err:?}"
    );
}

#[test]
fn reopening_applies_no_migration_twice() {
    let f = Fixture::new();
    for _ in 0..3 {
        drop(f.open());
    }
    let conn = rusqlite::Connection::open(&f.path).unwrap();
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM persevere_durable_schema", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(rows, 1);
}

#[test]
fn worker_configuration_is_checked() {
    let store = SqliteStore::open_in_memory().unwrap();
    let ok = || Handler::new(|_: Delivery| async { Ok::<_, String>(()) });
    let err = Worker::builder(store.clone())
        .lease(Duration::from_millis(1))
        .handler("a", ok())
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::Lease { .. }));
    let err = Worker::builder(store.clone())
        .handler("a", ok())
        .handler("a", ok())
        .build()
        .unwrap_err();
    assert_eq!(err, ConfigError::DuplicateKind("a".into()));
    let err = Worker::builder(store.clone())
        .concurrency(0)
        .handler("a", ok())
        .build()
        .unwrap_err();
    assert_eq!(err, ConfigError::Zero("concurrency"));
    let err = Worker::builder(store)
        .handler("", ok())
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::InvalidKind { .. }));
}

#[tokio::test]
async fn a_result_recorded_while_the_database_is_locked_is_retried() {
    use persevere_durable::JobState;
    let f = Fixture::new();
    let store = SqliteStore::open_with(
        &f.path,
        SqliteOptions::new().with_busy_timeout(Duration::from_millis(50)),
    )
    .unwrap();
    store
        .submit(NewJob::new("k", "email", vec![]), f.clock.now())
        .await
        .unwrap();
    let path = f.path.clone();
    let holders = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let held = std::sync::Arc::clone(&holders);
    let handler = Handler::new(move |_: Delivery| {
        let (path, held) = (path.clone(), std::sync::Arc::clone(&held));
        async move {
            // Another process takes the write lock for 300 ms as the
            // attempt ends: recording its result first fails as Locked.
            let (locked, wait) = std::sync::mpsc::channel();
            let holder = std::thread::spawn(move || {
                let holder = rusqlite::Connection::open(path).unwrap();
                holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
                locked.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(300));
                holder.execute_batch("COMMIT").unwrap();
            });
            wait.recv_timeout(Duration::from_secs(10)).unwrap();
            held.lock().unwrap().push(holder);
            Ok::<_, String>(())
        }
    });
    let worker = Worker::builder(store.clone())
        .clock(f.clock.clone())
        .handler("email", handler)
        .build()
        .unwrap();
    assert_eq!(worker.run_once().await.unwrap(), 1);
    for holder in holders.lock().unwrap().drain(..) {
        holder.join().unwrap();
    }
    let status = store.status("k").await.unwrap().unwrap();
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    assert_eq!(status.history.len(), 1);
}
