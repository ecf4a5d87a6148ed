//! The state database (SQLite, in `state/almanac.db`): the delivery journal,
//! the subscriber list, marks on issues (skipped, published) and the send lock. WAL
//! mode with a busy timeout, so a send, `almanac status` and the server can
//! share it safely. Versioned migrations in `schema.rs`.
//!
//! Exactly-once, as far as SMTP allows: a delivery is recorded `sent` in a
//! committed transaction before the connection that sent it takes another
//! message. A crash (even SIGKILL) can therefore only lose the record of the
//! messages in flight, at most one per connection, and a re-run resends just
//! those.

mod bounces;
mod journal;
mod news;
mod schema;
mod signups;
mod subscribers;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

pub use bounces::BounceKind;
pub use journal::{Counts, FailedDelivery, IssueRecord, Outcome, RunRecord, Status};
pub use news::{Candidate, NewCandidate, Stored};
pub use signups::{Confirmable, Request as SignupRequest};
pub use subscribers::{
    Audience, Event, Imported, Incoming, Recipient, Status as SubStatus, Subscriber, signed_up_for,
};

pub struct State {
    conn: Connection,
    pub path: PathBuf,
}

/// What can go wrong with the state database or the lock, with the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("state database {}", path.display())]
    Db {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("state database {}", path.display())]
    Schema {
        path: PathBuf,
        #[source]
        source: schema::MigrateError,
    },
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_owned();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

/// A mark the editor or the scheduler put on an issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Not to be sent: missed past its grace window, or skipped on purpose.
    Skipped,
    /// Public in the archive although it never went out over SMTP.
    Published,
}

impl Mark {
    fn as_str(self) -> &'static str {
        match self {
            Mark::Skipped => "skipped",
            Mark::Published => "published",
        }
    }
}

impl State {
    pub fn open(dir: &Path) -> Result<State> {
        std::fs::create_dir_all(dir).map_err(io("create the state folder", dir))?;
        let path = dir.join("almanac.db");
        let err = |source| Error::Db {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(err)?;
        // WAL: readers never block the sender; NORMAL sync is durable across
        // process crashes (only an OS crash could lose the last commits).
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        // A reader's history and choices go with their row.
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(err)?;
        schema::migrate(&mut conn).map_err(|source| Error::Schema {
            path: path.clone(),
            source,
        })?;
        Ok(State { conn, path })
    }

    fn err(&self, source: rusqlite::Error) -> Error {
        Error::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// Runs `f` in one transaction, committed when it returns `Ok`. The
    /// write lock is taken up front (`BEGIN IMMEDIATE`): a transaction
    /// that reads first and writes later can't wait for a busy database,
    /// SQLite fails it at once, and the server and a send write at the
    /// same time.
    pub(crate) fn transaction(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<()>,
    ) -> Result<()> {
        let path = &self.path;
        let db = |source| Error::Db {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        f(&tx).map_err(db)?;
        tx.commit().map_err(db)
    }

    /// A cheap read that proves the database answers (for health checks).
    pub fn check(&self) -> Result<()> {
        self.conn
            .query_row("SELECT 1 FROM subscribers LIMIT 1", [], |_| Ok(()))
            .optional()
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn mark(&self, issue: &str, mark: Mark, detail: &str, now: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO issue_marks (issue, mark, detail, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (issue) DO UPDATE SET mark = excluded.mark, detail = excluded.detail,
                   created_at = excluded.created_at",
                params![issue, mark.as_str(), detail, now],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Removes the issue's mark of this kind; false when it had none.
    pub fn unmark(&self, issue: &str, mark: Mark) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "DELETE FROM issue_marks WHERE issue = ?1 AND mark = ?2",
                params![issue, mark.as_str()],
            )
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// The issue's mark and its detail, if it has one.
    pub fn mark_of(&self, issue: &str) -> Result<Option<(Mark, String)>> {
        let row: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT mark, detail FROM issue_marks WHERE issue = ?1",
                [issue],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(row.map(|(m, d)| {
            let mark = if m == "published" {
                Mark::Published
            } else {
                Mark::Skipped
            };
            (mark, d)
        }))
    }
}

/// An exclusive lock on `state/send.lock`, held for the life of a send. The
/// OS releases it when the process dies, so a crash never leaves it stuck.
pub struct SendLock {
    _file: File,
}

impl SendLock {
    /// `Ok(None)` when another process holds the lock.
    pub fn try_acquire(dir: &Path) -> Result<Option<SendLock>> {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        let path = dir.join("send.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("open", &path))?;
        match fs4::fs_std::FileExt::try_lock_exclusive(&file) {
            Ok(true) => Ok(Some(SendLock { _file: file })),
            Ok(false) => Ok(None),
            Err(e) => Err(io("lock", &path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let a = SendLock::try_acquire(dir.path()).unwrap();
        assert!(a.is_some());
        // flock locks are per open file description, so a second open conflicts.
        assert!(SendLock::try_acquire(dir.path()).unwrap().is_none());
        drop(a);
        assert!(SendLock::try_acquire(dir.path()).unwrap().is_some());
    }

    #[test]
    fn a_version_1_database_is_carried_over() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join("almanac.db")).unwrap();
            conn.execute_batch(
                "CREATE TABLE deliveries (issue TEXT NOT NULL, email TEXT NOT NULL,
                   status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
                   attempts INTEGER NOT NULL DEFAULT 0, last_reply TEXT NOT NULL DEFAULT '',
                   message_id TEXT NOT NULL DEFAULT '', updated_at TEXT NOT NULL,
                   PRIMARY KEY (issue, email)) WITHOUT ROWID;
                 CREATE TABLE suppressions (email TEXT PRIMARY KEY, reason TEXT NOT NULL,
                   detail TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL) WITHOUT ROWID;
                 CREATE TABLE runs (id INTEGER PRIMARY KEY, issue TEXT NOT NULL,
                   started_at TEXT NOT NULL, finished_at TEXT, sent INTEGER NOT NULL DEFAULT 0,
                   failed INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0);
                 INSERT INTO deliveries VALUES ('i', 'a@x.com', 'sent', 1, 'written to the outbox', '<m1>', 't');
                 INSERT INTO deliveries VALUES ('i', 'b@x.com', 'sent', 1, '250 2.0.0 Ok', '<m2>', 't');
                 INSERT INTO deliveries VALUES ('i', 'c@x.com', 'pending', 0, '', '', 't');
                 INSERT INTO suppressions VALUES ('d@x.com', 'unsubscribed', '', 't');
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let s = State::open(dir.path()).unwrap();
        let c = s.counts("i").unwrap();
        assert_eq!((c.sent, c.outbox, c.pending), (1, 1, 1), "{c:?}");
        assert!(s.delivered("i", true).unwrap().contains("b@x.com"));
        assert!(!s.delivered("i", true).unwrap().contains("a@x.com"));
        let d = s.subscriber("d@x.com").unwrap().unwrap();
        assert_eq!(d.status, SubStatus::Unsubscribed);
        assert_eq!(s.events(d.id).unwrap().len(), 1);
        drop(s);
        // Opening again runs nothing twice.
        State::open(dir.path()).unwrap();
    }

    #[test]
    fn a_newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        Connection::open(dir.path().join("almanac.db"))
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let e = State::open(dir.path()).err().unwrap();
        assert!(crate::send::chain(&e).contains("newer almanac"), "{e}");
    }
}
