//! The SQLite database, owned by one dedicated thread.
//!
//! Async code never touches SQLite directly: [`Db::call`] ships a closure to the database
//! thread and awaits its result, so blocking I/O stays off the executor and statements run
//! one at a time, as on D1. The database runs in WAL mode with `synchronous=NORMAL`: a commit
//! appends to the log without an fsync, and data survives a crash of the process.
//!
//! The submodules hold the statements, one module per group of tables; each function takes
//! the connection, so a handler can run several of them in one call (one trip to the thread,
//! and a transaction where it needs one).

pub(crate) mod groups;
pub(crate) mod keys;
pub(crate) mod messages;
pub(crate) mod users;
pub(crate) mod verification;

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::DbError;

const SCHEMA: &str = include_str!("schema.sql");

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

enum Command {
    Run(Job),
    Stop,
}

/// A handle on the database thread; cheap to clone.
#[derive(Clone)]
pub(crate) struct Db {
    commands: mpsc::Sender<Command>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Db {
    /// Opens (creating if needed) the database at `path` and starts its thread.
    pub(crate) fn open(path: &Path) -> Result<Db, DbError> {
        let mut conn = open_connection(path)?;
        let (commands, inbox) = mpsc::channel::<Command>();
        let thread = std::thread::Builder::new()
            .name("quickchat-db".to_owned())
            .spawn(move || {
                while let Ok(Command::Run(job)) = inbox.recv() {
                    // A panicking job must not take the database down with it; its caller
                    // sees the dropped reply as `DbError::Closed`.
                    if std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut conn))).is_err() {
                        tracing::error!("a database job panicked");
                    }
                }
                drop(conn);
            })
            .map_err(DbError::Thread)?;
        Ok(Db {
            commands,
            thread: Arc::new(Mutex::new(Some(thread))),
        })
    }

    /// Runs `job` on the database thread and returns its result.
    pub(crate) async fn call<R, E, F>(&self, job: F) -> Result<R, E>
    where
        F: FnOnce(&mut Connection) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (reply, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            // The caller may have gone away (client disconnected): nothing to tell then.
            let _ = reply.send(job(conn));
        });
        self.commands
            .send(Command::Run(job))
            .map_err(|_| E::from(DbError::Closed))?;
        result.await.map_err(|_| E::from(DbError::Closed))?
    }

    /// Finishes the jobs already queued, closes the connection and waits for the thread.
    pub(crate) async fn close(&self) {
        let _ = self.commands.send(Command::Stop);
        let handle = self.thread.lock().ok().and_then(|mut slot| slot.take());
        if let Some(handle) = handle {
            let joined = tokio::task::spawn_blocking(move || handle.join()).await;
            if !matches!(joined, Ok(Ok(()))) {
                tracing::error!("the database thread did not end cleanly");
            }
        }
    }
}

/// Opens a connection with the server's settings and makes sure the schema exists.
pub(crate) fn open_connection(path: &Path) -> Result<Connection, DbError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(%mode, "SQLite refused WAL mode");
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// Whether `err` is SQLite's report of a violated UNIQUE or PRIMARY KEY constraint.
pub(crate) fn is_unique_violation(err: &rusqlite::Error) -> bool {
    match err {
        rusqlite::Error::SqliteFailure(e, _) => matches!(
            e.extended_code,
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_thread_and_data_survives_reopening() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.db");
        let db = Db::open(&path).expect("open");
        let mode: String = db
            .call(|c| {
                c.query_row("PRAGMA journal_mode", [], |r| r.get(0))
                    .map_err(DbError::from)
            })
            .await
            .expect("pragma");
        assert_eq!(mode, "wal");
        db.call(|c| {
            c.execute(
                "INSERT INTO users (id, username, password_hash, lastSeen, created_at)
                 VALUES ('u1', 'alice', 'h', 1, 1)",
                [],
            )
            .map_err(DbError::from)
        })
        .await
        .expect("insert");
        db.close().await;
        let closed: Result<(), DbError> = db.call(|_| Ok(())).await;
        assert!(matches!(closed, Err(DbError::Closed)));

        let conn = open_connection(&path).expect("reopen");
        let name: String = conn
            .query_row("SELECT username FROM users WHERE id = 'u1'", [], |r| {
                r.get(0)
            })
            .expect("row");
        assert_eq!(name, "alice");
    }
}
