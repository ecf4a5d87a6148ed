//! Returned mail, as recorded: what came back about which reader and issue,
//! and which messages were already handled.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};

use super::{Result, State};

/// How a bounce is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceKind {
    Hard,
    Soft,
    Policy,
    Complaint,
}

impl BounceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BounceKind::Hard => "hard",
            BounceKind::Soft => "soft",
            BounceKind::Policy => "policy",
            BounceKind::Complaint => "complaint",
        }
    }
}

impl State {
    /// Whether a message with this digest was handled before.
    pub fn returned_before(&self, digest: &str) -> Result<bool> {
        self.conn
            .query_row("SELECT 1 FROM returned WHERE digest = ?1", [digest], |_| {
                Ok(())
            })
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| self.err(e))
    }

    pub fn mark_returned(&mut self, digest: &str, class: &str, now: &str) -> Result<()> {
        self.transaction(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO returned (digest, class, at) VALUES (?1, ?2, ?3)",
                params![digest, class, now],
            )?;
            Ok(())
        })
    }

    /// Records a bounce; false when this one was known (a soft bounce is
    /// counted once per issue).
    pub fn record_bounce(
        &mut self,
        subscriber: i64,
        issue: Option<&str>,
        kind: BounceKind,
        status: &str,
        detail: &str,
        now: &str,
    ) -> Result<bool> {
        let mut new = false;
        self.transaction(|tx| {
            new = tx.execute(
                "INSERT OR IGNORE INTO bounces (subscriber, issue, kind, status, detail, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![subscriber, issue, kind.as_str(), status, detail, now],
            )? > 0;
            Ok(())
        })?;
        Ok(new)
    }

    /// The issues that went out to this address over SMTP, oldest first.
    pub fn issues_sent_to(&self, email_key: &str) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT issue FROM deliveries
                 WHERE email = ?1 AND status = 'sent' AND via LIKE 'smtp%'
                 ORDER BY updated_at, issue",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([email_key], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// The issues this reader soft-bounced.
    pub fn soft_bounced_issues(&self, subscriber: i64) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT issue FROM bounces
                 WHERE subscriber = ?1 AND kind = 'soft' AND issue IS NOT NULL",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([subscriber], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// An issue's bounces and complaints, by kind.
    pub fn bounce_counts(&self, issue: &str) -> Result<BTreeMap<String, u64>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT kind, COUNT(*) FROM bounces WHERE issue = ?1 GROUP BY kind")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([issue], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// Everything that came back about one reader (for `subscribers show`).
    pub fn bounces_of(&self, subscriber: i64) -> Result<Vec<serde_json::Value>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT issue, kind, status, detail, at FROM bounces WHERE subscriber = ?1 ORDER BY at",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([subscriber], |r| {
                Ok(serde_json::json!({
                    "issue": r.get::<_, Option<String>>(0)?,
                    "kind": r.get::<_, String>(1)?,
                    "status": r.get::<_, String>(2)?,
                    "detail": r.get::<_, String>(3)?,
                    "at": r.get::<_, String>(4)?,
                }))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }
}
