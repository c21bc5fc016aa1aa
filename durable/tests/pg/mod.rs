//! What the PostgreSQL tests share: the server's URL from
//! `PERSEVERE_DURABLE_POSTGRES_URL` (`.ci/postgres` starts a throwaway
//! server and sets it), and a fresh schema per test.

#![allow(dead_code, unreachable_pub)] // each test file uses a part of it

use persevere_durable::tokio_postgres::{self, NoTls};
use persevere_durable::{PostgresOptions, PostgresStore};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The variable that holds the server's URL.
pub const URL_VAR: &str = "PERSEVERE_DURABLE_POSTGRES_URL";

/// The server's URL, or `None` after printing that `test` was skipped.
pub fn url(test: &str) -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped {test}: {URL_VAR} is not set (bash .ci/postgres runs these tests)");
            None
        }
    }
}

/// A schema of its own for one test, created on the server at `url`.
pub async fn fresh_schema(url: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!(
        "t_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000_000
    );
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connect to the test server");
    let task = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE SCHEMA {name}"))
        .await
        .expect("create schema");
    drop(client);
    let _ = task.await;
    name
}

/// The config of `url` with `schema` as its search path.
pub fn config(url: &str, schema: &str) -> tokio_postgres::Config {
    let mut config: tokio_postgres::Config = url.parse().expect("a valid URL");
    config.options(format!("-c search_path={schema}"));
    config
}

/// A store on `schema`, migrated.
pub async fn open(url: &str, schema: &str, connections: usize) -> PostgresStore {
    let options = PostgresOptions::new().with_max_connections(connections);
    let store = PostgresStore::from_config(config(url, schema), options).expect("pool");
    store.migrate().await.expect("migrate");
    store
}
