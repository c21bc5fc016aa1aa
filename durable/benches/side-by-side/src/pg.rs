//! The PostgreSQL server both libraries share: its URL, fresh names, and
//! plain statements on it.

use persevere_durable::tokio_postgres::{self, NoTls};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// The variable that holds the server's URL (`.ci/postgres` sets the same).
pub const URL_VAR: &str = "PERSEVERE_DURABLE_POSTGRES_URL";

/// Pooled connections for a run with `workers` concurrent attempts, the
/// same for both libraries (`durable/benches/postgres.rs` uses this rule).
pub fn connections(workers: usize) -> usize {
    workers.clamp(2, 16)
}

/// A name not used before in this process, for a schema or a database.
pub fn fresh_name(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "bench_{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Relaxed)
    )
}

/// Runs `sql` on the server at `url` over a connection of its own.
pub async fn execute(url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connect to the bench server");
    let task = tokio::spawn(connection);
    client.batch_execute(sql).await.expect(sql);
    drop(client);
    let _ = task.await;
}

/// `url` with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_end = base
        .find("://")
        .map(|scheme| scheme + 3)
        .and_then(|from| base[from..].find('/').map(|slash| from + slash))
        .unwrap_or(base.len());
    format!("{}/{database}{query}", &base[..authority_end])
}
