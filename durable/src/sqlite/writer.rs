//! The thread that owns a store's connection, and commits in groups.
//!
//! Operations are sent to the thread, which takes every operation waiting
//! (up to [`GROUP`]) and runs them in one `IMMEDIATE` transaction, each in a
//! savepoint of its own: an operation that fails rolls back alone, and the
//! results are handed out only once the transaction has committed. Under
//! concurrent workers this turns many commits into one, which is most of an
//! operation's cost.

use super::{OpError, map_op, map_sql};
use crate::error::Error;
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::oneshot;

/// The most operations committed together.
const GROUP: usize = 256;

/// An operation waiting for the connection.
trait Job: Send + std::fmt::Debug {
    /// Runs the operation inside its savepoint.
    fn run(&mut self, conn: &mut Connection);
    /// Hands out the result, or `failed` if the transaction did not commit.
    fn finish(self: Box<Self>, failed: Option<&Error>);
}

struct Pending<T, F> {
    op: Option<F>,
    result: Option<Result<T, OpError>>,
    reply: oneshot::Sender<Result<T, Error>>,
    busy: Duration,
}

impl<T, F> std::fmt::Debug for Pending<T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").finish_non_exhaustive()
    }
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, OpError> + Send,
{
    fn run(&mut self, conn: &mut Connection) {
        let Some(op) = self.op.take() else { return };
        let result = catch_unwind(AssertUnwindSafe(|| -> Result<T, OpError> {
            let savepoint = conn.savepoint()?;
            let value = op(&savepoint)?;
            savepoint.commit()?;
            Ok(value)
        }));
        self.result = Some(result.unwrap_or_else(|_| {
            Err(OpError::Store(Error::Backend(
                "a store operation panicked".into(),
            )))
        }));
    }

    fn finish(self: Box<Self>, failed: Option<&Error>) {
        let result = match (failed, self.result) {
            (Some(error), Some(Ok(_))) | (Some(error), None) => Err(copy(error)),
            (_, Some(result)) => result.map_err(|e| map_op(e, self.busy)),
            (None, None) => Err(Error::Backend("a store operation did not run".into())),
        };
        let _ = self.reply.send(result);
    }
}

/// An error for each operation of a group that failed as a whole.
pub(super) fn copy(error: &Error) -> Error {
    match error {
        Error::Locked(d) => Error::Locked(*d),
        Error::ReadOnly(m) => Error::ReadOnly(m.clone()),
        Error::Corrupt(m) => Error::Corrupt(m.clone()),
        other => Error::Backend(other.to_string().into()),
    }
}

/// The sending end. When the last clone is dropped, the thread finishes the
/// operations sent, closes the connection and is joined, so that the file
/// is closed (and its WAL checkpointed) when the store is gone.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    inner: Arc<Inner>,
    busy: Duration,
}

#[derive(Debug)]
struct Inner {
    jobs: Option<Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Writer {
    /// Moves `conn` to a thread of its own.
    pub(super) fn start(conn: Connection, busy: Duration) -> Result<Writer, Error> {
        let (jobs, queue) = channel::<Box<dyn Job>>();
        let thread = std::thread::Builder::new()
            .name("persevere-durable-sqlite".into())
            .spawn(move || serve(conn, &queue, busy))
            .map_err(|e| Error::Backend(Box::new(e)))?;
        Ok(Writer {
            inner: Arc::new(Inner {
                jobs: Some(jobs),
                thread: Some(thread),
            }),
            busy,
        })
    }

    /// The busy timeout errors are reported with.
    pub(super) fn busy(&self) -> Duration {
        self.busy
    }

    /// Runs `op` on the connection, inside a transaction, and waits for it
    /// to commit.
    pub(super) async fn run<T, F>(&self, op: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, OpError> + Send + 'static,
    {
        let (reply, result) = oneshot::channel();
        let job = Box::new(Pending {
            op: Some(op),
            result: None,
            reply,
            busy: self.busy,
        });
        let jobs = self.inner.jobs.as_ref().expect("taken only on drop");
        jobs.send(job)
            .map_err(|_| Error::Backend("the store's thread has stopped".into()))?;
        result
            .await
            .map_err(|_| Error::Backend("the store's thread has stopped".into()))?
    }
}

fn serve(mut conn: Connection, queue: &Receiver<Box<dyn Job>>, busy: Duration) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let failed = run_group(&mut conn, &mut group, busy).err();
        for job in group {
            job.finish(failed.as_ref());
        }
    }
}

fn run_group(
    conn: &mut Connection,
    group: &mut [Box<dyn Job>],
    busy: Duration,
) -> Result<(), Error> {
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| map_sql(e, busy))?;
    for job in group.iter_mut() {
        job.run(conn);
    }
    if let Err(e) = conn.execute_batch("COMMIT") {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(map_sql(e, busy));
    }
    Ok(())
}
