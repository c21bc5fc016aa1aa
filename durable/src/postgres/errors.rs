//! What a PostgreSQL or pool error means for the caller.

use crate::error::Error;
use deadpool_postgres::PoolError;

/// Maps a pool's error: no connection in time is the server unavailable.
pub(super) fn map_pool(e: PoolError) -> Error {
    match e {
        PoolError::Backend(e) => map_pg(e),
        PoolError::Timeout(_) => Error::Unavailable(Box::new(e)),
        other => Error::Backend(Box::new(other)),
    }
}

/// Maps a PostgreSQL error to what happened: a broken or refused
/// connection, or a server shutting down, is [`Error::Unavailable`].
pub(super) fn map_pg(e: tokio_postgres::Error) -> Error {
    let unavailable = match e.as_db_error() {
        // Class 08: connection exceptions; 57P01-03: the server is
        // shutting down, crashed, or not accepting connections yet.
        Some(db) => {
            let code = db.code().code();
            code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
        }
        // A closed connection, an I/O error (refused, reset) or a connect
        // timeout; not a parameter that failed to convert.
        None => {
            e.is_closed()
                || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>())
                || e.to_string().starts_with("timeout")
        }
    };
    // A server's error is kept whole: its message, detail and statement
    // position (tokio-postgres's own `Display` says only "db error").
    match (unavailable, e.as_db_error()) {
        (true, Some(db)) => Error::Unavailable(Box::new(db.clone())),
        (true, None) => Error::Unavailable(Box::new(e)),
        (false, Some(db)) => Error::Backend(Box::new(db.clone())),
        (false, None) => Error::Backend(Box::new(e)),
    }
}
