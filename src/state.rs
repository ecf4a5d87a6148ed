//! The state database (SQLite, in `state/almanac.db`): the delivery journal,
//! suppressions and the send lock. WAL mode with a busy timeout, so a send,
//! `almanac status` and the unsubscribe server can share it safely.
//!
//! Exactly-once, as far as SMTP allows: a delivery is recorded `sent` in a
//! committed transaction before the connection that sent it takes another
//! message. A crash (even SIGKILL) can therefore only lose the record of the
//! messages in flight, at most one per connection, and a re-run resends just
//! those.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::Email;

pub struct State {
    conn: Connection,
    pub path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Sent,
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Sent => "sent",
            Status::Failed => "failed",
        }
    }
}

/// One finished attempt at one recipient, to record.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub email_key: String,
    pub status: Status,
    pub attempts: u32,
    pub reply: String,
    pub message_id: String,
    /// Suppress the address (hard bounce).
    pub suppress: Option<String>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Counts {
    pub sent: u64,
    pub failed: u64,
    pub pending: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    pub email: String,
    pub attempts: u32,
    pub reply: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS deliveries (
    issue      TEXT NOT NULL,
    email      TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_reply TEXT NOT NULL DEFAULT '',
    message_id TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (issue, email)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS suppressions (
    email      TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY,
    issue       TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    sent        INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0
);
PRAGMA user_version = 1;
";

/// Errors inside a transaction, where `self` is borrowed by it.
fn db(e: rusqlite::Error) -> String {
    format!("state database: {e}")
}

impl State {
    pub fn open(dir: &Path) -> Result<State, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the state folder {}: {e}", dir.display()))?;
        let path = dir.join("almanac.db");
        let err = |e: rusqlite::Error| format!("state database {}: {e}", path.display());
        let conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(err)?;
        // WAL: readers never block the sender; NORMAL sync is durable across
        // process crashes (only an OS crash could lose the last commits).
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(State { conn, path })
    }

    fn err(&self, e: rusqlite::Error) -> String {
        format!("state database {}: {e}", self.path.display())
    }

    /// Addresses (case-folded) that must never be mailed.
    pub fn suppressed(&self) -> Result<std::collections::HashSet<String>, String> {
        let mut st = self
            .conn
            .prepare_cached("SELECT email FROM suppressions")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Addresses already delivered for this issue.
    pub fn delivered(&self, issue: &str) -> Result<std::collections::HashSet<String>, String> {
        let mut st = self
            .conn
            .prepare_cached("SELECT email FROM deliveries WHERE issue = ?1 AND status = 'sent'")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([issue], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Records the recipients of a run as pending (keeping earlier outcomes).
    pub fn enqueue<'a>(
        &mut self,
        issue: &str,
        keys: impl Iterator<Item = &'a str>,
        now: &str,
    ) -> Result<(), String> {
        let tx = self.conn.transaction().map_err(db)?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO deliveries (issue, email, status, updated_at) VALUES (?1, ?2, 'pending', ?3)
                     ON CONFLICT (issue, email) DO NOTHING",
                )
                .map_err(db)?;
            for k in keys {
                st.execute(params![issue, k, now]).map_err(db)?;
            }
        }
        tx.commit().map_err(db)
    }

    /// Records a batch of outcomes in one transaction (group commit).
    pub fn record(&mut self, issue: &str, outcomes: &[Outcome], now: &str) -> Result<(), String> {
        let tx = self.conn.transaction().map_err(db)?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO deliveries (issue, email, status, attempts, last_reply, message_id, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (issue, email) DO UPDATE SET status = excluded.status,
                       attempts = deliveries.attempts + excluded.attempts, last_reply = excluded.last_reply,
                       message_id = excluded.message_id, updated_at = excluded.updated_at",
                )
                .map_err(db)?;
            for o in outcomes {
                st.execute(params![
                    issue,
                    o.email_key,
                    o.status.as_str(),
                    o.attempts,
                    o.reply,
                    o.message_id,
                    now
                ])
                .map_err(db)?;
            }
            let mut sup = tx
                .prepare_cached(
                    "INSERT INTO suppressions (email, reason, detail, created_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (email) DO NOTHING",
                )
                .map_err(db)?;
            for o in outcomes {
                if let Some(reason) = &o.suppress {
                    sup.execute(params![o.email_key, reason, o.reply, now])
                        .map_err(db)?;
                }
            }
        }
        tx.commit().map_err(db)
    }

    /// Adds a suppression; returns false if the address was already suppressed.
    pub fn suppress(
        &self,
        email: &Email,
        reason: &str,
        detail: &str,
        now: &str,
    ) -> Result<bool, String> {
        let n = self
            .conn
            .execute(
                "INSERT INTO suppressions (email, reason, detail, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (email) DO NOTHING",
                params![email.key(), reason, detail, now],
            )
            .map_err(|e| self.err(e))?;
        Ok(n == 1)
    }

    /// Lifts a suppression (resubscribe); returns whether there was one.
    pub fn unsuppress(&self, email: &Email) -> Result<bool, String> {
        let n = self
            .conn
            .execute("DELETE FROM suppressions WHERE email = ?1", [email.key()])
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    pub fn suppression(&self, email: &Email) -> Result<Option<String>, String> {
        self.conn
            .query_row(
                "SELECT reason FROM suppressions WHERE email = ?1",
                [email.key()],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// A cheap read that proves the database answers (for health checks).
    pub fn check(&self) -> Result<(), String> {
        self.conn
            .query_row("SELECT 1 FROM suppressions LIMIT 1", [], |_| Ok(()))
            .optional()
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn counts(&self, issue: &str) -> Result<Counts, String> {
        let mut c = Counts::default();
        let mut st = self
            .conn
            .prepare("SELECT status, COUNT(*) FROM deliveries WHERE issue = ?1 GROUP BY status")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([issue], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (s, n) = row.map_err(|e| self.err(e))?;
            match s.as_str() {
                "sent" => c.sent = n,
                "failed" => c.failed = n,
                _ => c.pending = n,
            }
        }
        Ok(c)
    }

    pub fn failures(&self, issue: &str) -> Result<Vec<Failure>, String> {
        let mut st = self
            .conn
            .prepare("SELECT email, attempts, last_reply FROM deliveries WHERE issue = ?1 AND status = 'failed' ORDER BY email")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([issue], |r| {
                Ok(Failure {
                    email: r.get(0)?,
                    attempts: r.get(1)?,
                    reply: r.get(2)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub fn start_run(&self, issue: &str, now: &str) -> Result<i64, String> {
        self.conn
            .execute(
                "INSERT INTO runs (issue, started_at) VALUES (?1, ?2)",
                params![issue, now],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn finish_run(
        &self,
        id: i64,
        now: &str,
        sent: u64,
        failed: u64,
        skipped: u64,
    ) -> Result<(), String> {
        self.conn
            .execute(
                "UPDATE runs SET finished_at = ?2, sent = ?3, failed = ?4, skipped = ?5 WHERE id = ?1",
                params![id, now, sent, failed, skipped],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}

/// An exclusive lock on `state/send.lock`, held for the life of a send. The
/// OS releases it when the process dies, so a crash never leaves it stuck.
pub struct SendLock {
    _file: File,
}

impl SendLock {
    /// `Ok(None)` when another process holds the lock.
    pub fn try_acquire(dir: &Path) -> Result<Option<SendLock>, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join("send.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        match fs4::fs_std::FileExt::try_lock_exclusive(&file) {
            Ok(true) => Ok(Some(SendLock { _file: file })),
            Ok(false) => Ok(None),
            Err(e) => Err(format!("cannot lock {}: {e}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = State::open(dir.path()).unwrap();
        s.enqueue("i1", ["a@x.com", "b@x.com"].into_iter(), "t0")
            .unwrap();
        let o = |k: &str, status, sup: Option<&str>| Outcome {
            email_key: k.into(),
            status,
            attempts: 1,
            reply: "250 ok".into(),
            message_id: "<m>".into(),
            suppress: sup.map(str::to_owned),
        };
        s.record(
            "i1",
            &[
                o("a@x.com", Status::Sent, None),
                o("b@x.com", Status::Failed, Some("bounced")),
            ],
            "t1",
        )
        .unwrap();
        let c = s.counts("i1").unwrap();
        assert_eq!((c.sent, c.failed, c.pending), (1, 1, 0));
        assert!(s.delivered("i1").unwrap().contains("a@x.com"));
        assert!(s.suppressed().unwrap().contains("b@x.com"));
        // Re-enqueueing keeps outcomes.
        s.enqueue("i1", ["a@x.com"].into_iter(), "t2").unwrap();
        assert_eq!(s.counts("i1").unwrap().sent, 1);
    }

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
}
