//! The delivery journal: one row per (issue, recipient) with where it went,
//! and one row per send run.

use std::collections::HashSet;

use rusqlite::{OptionalExtension, params};

use super::{Result, State};

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
    /// Where it went, as stored: `smtp:NAME`, `outbox`.
    pub via: String,
}

/// What the journal holds for one issue.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Delivered to an SMTP server.
    pub sent: u64,
    /// Written to the outbox only (reached nobody).
    pub outbox: u64,
    pub failed: u64,
    /// Queued by a run that has not finished them.
    pub pending: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FailedDelivery {
    pub email: String,
    pub attempts: u32,
    pub reply: String,
}

/// A send run, as `status` shows it.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RunRecord {
    pub started_at: String,
    pub finished_at: Option<String>,
    pub via: String,
    pub sent: u64,
    pub failed: u64,
    pub skipped: u64,
    pub not_attempted: u64,
    /// Why it stopped early, if it did.
    pub stopped: Option<String>,
    /// The sending process.
    pub pid: Option<u32>,
}

impl RunRecord {
    /// Started and not finished, by a process that is still alive.
    pub fn in_progress(&self) -> bool {
        self.finished_at.is_none() && self.pid.is_some_and(process_alive)
    }
}

/// Whether a process with this id exists (Linux: `/proc`; elsewhere it is
/// assumed to, so an unfinished run shows as sending, never as crashed).
fn process_alive(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

/// An issue id with its journal counts.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssueRecord {
    pub issue: String,
    pub counts: Counts,
}

impl State {
    /// Addresses this issue was delivered to: over SMTP only when
    /// `real_only`, else to the outbox too.
    pub fn delivered(&self, issue: &str, real_only: bool) -> Result<HashSet<String>> {
        let sql = if real_only {
            "SELECT email FROM deliveries WHERE issue = ?1 AND status = 'sent' AND via LIKE 'smtp:%'"
        } else {
            "SELECT email FROM deliveries WHERE issue = ?1 AND status = 'sent'"
        };
        let mut st = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map([issue], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// Addresses whose last attempt at this issue failed.
    pub fn failed(&self, issue: &str) -> Result<HashSet<String>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT email FROM deliveries WHERE issue = ?1 AND status = 'failed'")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([issue], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// Records the recipients of a run as pending (keeping earlier outcomes).
    pub fn enqueue<'a>(
        &mut self,
        issue: &str,
        keys: impl Iterator<Item = &'a str>,
        now: &str,
    ) -> Result<()> {
        self.transaction(|tx| {
            let mut st = tx.prepare_cached(
                "INSERT INTO deliveries (issue, email, status, updated_at) VALUES (?1, ?2, 'pending', ?3)
                 ON CONFLICT (issue, email) DO NOTHING",
            )?;
            for k in keys {
                st.execute(params![issue, k, now])?;
            }
            Ok(())
        })
    }

    /// Records a batch of outcomes in one transaction (group commit).
    pub fn record(&mut self, issue: &str, outcomes: &[Outcome], now: &str) -> Result<()> {
        self.transaction(|tx| {
            let mut st = tx.prepare_cached(
                "INSERT INTO deliveries (issue, email, status, attempts, last_reply, message_id, updated_at, via)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (issue, email) DO UPDATE SET status = excluded.status,
                   attempts = deliveries.attempts + excluded.attempts, last_reply = excluded.last_reply,
                   message_id = excluded.message_id, updated_at = excluded.updated_at,
                   via = excluded.via",
            )?;
            for o in outcomes {
                st.execute(params![
                    issue,
                    o.email_key,
                    o.status.as_str(),
                    o.attempts,
                    o.reply,
                    o.message_id,
                    now,
                    o.via
                ])?;
            }
            Ok(())
        })
    }

    /// Messages that went through `via` (as stored) since `since` (RFC 3339,
    /// UTC): what a relay's daily quota has used.
    pub fn sent_via_since(&self, via: &str, since: &str) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM deliveries WHERE via = ?1 AND status = 'sent' AND updated_at >= ?2",
                params![via, since],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// How many of an issue's deliveries each relay took, by name.
    pub fn sent_by_relay(&self, issue: &str) -> Result<Vec<(String, u64)>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT substr(via, 6), COUNT(*) FROM deliveries
                 WHERE issue = ?1 AND status = 'sent' AND via LIKE 'smtp:%' GROUP BY via ORDER BY via",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([issue], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    pub fn counts(&self, issue: &str) -> Result<Counts> {
        let mut c = Counts::default();
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT status, via LIKE 'smtp:%', COUNT(*) FROM deliveries WHERE issue = ?1 GROUP BY 1, 2",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([issue], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, u64>(2)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            match row.map_err(|e| self.err(e))? {
                (s, true, n) if s == "sent" => c.sent += n,
                (s, false, n) if s == "sent" => c.outbox += n,
                (s, _, n) if s == "failed" => c.failed += n,
                (_, _, n) => c.pending += n,
            }
        }
        Ok(c)
    }

    pub fn failures(&self, issue: &str) -> Result<Vec<FailedDelivery>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT email, attempts, last_reply FROM deliveries
                 WHERE issue = ?1 AND status = 'failed' ORDER BY email",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([issue], |r| {
                Ok(FailedDelivery {
                    email: r.get(0)?,
                    attempts: r.get(1)?,
                    reply: r.get(2)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// Every issue the journal knows, with its counts.
    pub fn issues(&self) -> Result<Vec<IssueRecord>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT DISTINCT issue FROM deliveries ORDER BY issue")
            .map_err(|e| self.err(e))?;
        let ids: Vec<String> = st
            .query_map([], |r| r.get(0))
            .map_err(|e| self.err(e))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))?;
        ids.into_iter()
            .map(|issue| {
                let counts = self.counts(&issue)?;
                Ok(IssueRecord { issue, counts })
            })
            .collect()
    }

    pub fn start_run(&self, issue: &str, via: &str, now: &str) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO runs (issue, started_at, via, pid) VALUES (?1, ?2, ?3, ?4)",
                params![issue, now, via, std::process::id()],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn finish_run(&self, id: i64, r: &RunRecord) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET finished_at = ?2, sent = ?3, failed = ?4, skipped = ?5,
                   not_attempted = ?6, stopped = ?7 WHERE id = ?1",
                params![
                    id,
                    r.finished_at,
                    r.sent,
                    r.failed,
                    r.skipped,
                    r.not_attempted,
                    r.stopped
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The latest run of an issue.
    pub fn last_run(&self, issue: &str) -> Result<Option<RunRecord>> {
        self.conn
            .query_row(
                "SELECT started_at, finished_at, via, sent, failed, skipped, not_attempted, stopped, pid
                 FROM runs WHERE issue = ?1 ORDER BY id DESC LIMIT 1",
                [issue],
                |r| {
                    Ok(RunRecord {
                        started_at: r.get(0)?,
                        finished_at: r.get(1)?,
                        via: r.get(2)?,
                        sent: r.get(3)?,
                        failed: r.get(4)?,
                        skipped: r.get(5)?,
                        not_attempted: r.get(6)?,
                        stopped: r.get(7)?,
                        pid: r.get(8)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = State::open(dir.path()).unwrap();
        s.enqueue("i1", ["a@x.com", "b@x.com", "c@x.com"].into_iter(), "t0")
            .unwrap();
        let o = |k: &str, status| Outcome {
            email_key: k.into(),
            status,
            attempts: 1,
            reply: "250 ok".into(),
            message_id: "<m>".into(),
            via: "smtp:h:25".into(),
        };
        s.record(
            "i1",
            &[o("a@x.com", Status::Sent), o("b@x.com", Status::Failed)],
            "t1",
        )
        .unwrap();
        let outbox = Outcome {
            via: "outbox".into(),
            ..o("c@x.com", Status::Sent)
        };
        s.record("i1", &[outbox], "t1").unwrap();
        assert_eq!(s.sent_via_since("smtp:h:25", "t0").unwrap(), 1);
        assert_eq!(s.sent_via_since("smtp:h:25", "t2").unwrap(), 0);
        assert_eq!(s.sent_by_relay("i1").unwrap(), [("h:25".to_owned(), 1)]);
        let c = s.counts("i1").unwrap();
        assert_eq!((c.sent, c.outbox, c.failed, c.pending), (1, 1, 1, 0));
        assert!(s.delivered("i1", true).unwrap().contains("a@x.com"));
        assert!(!s.delivered("i1", true).unwrap().contains("c@x.com"));
        assert!(s.delivered("i1", false).unwrap().contains("c@x.com"));
        // Re-enqueueing keeps outcomes.
        s.enqueue("i1", ["a@x.com"].into_iter(), "t2").unwrap();
        assert_eq!(s.counts("i1").unwrap().sent, 1);
        assert_eq!(s.issues().unwrap().len(), 1);
    }
}
