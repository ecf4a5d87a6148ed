//! Sign-ups through the form: a request waits on the reader's row until its
//! confirmation link is used. A new address is a `pending` reader; a known
//! one keeps their status until they confirm.

use rusqlite::{OptionalExtension, params};

use super::{Result, State, SubStatus};

/// What a sign-up request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub id: i64,
    /// Their status before this request (pending for a new address).
    pub status: SubStatus,
}

/// The request a confirmation link belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmable {
    /// Waiting, and this is its link: editions to start with.
    Waiting {
        editions: String,
        address: String,
    },
    /// The link is no longer the one that works (used, or superseded).
    Used {
        address: String,
    },
    Unknown,
}

impl State {
    /// Records (or refreshes) a sign-up for these editions. A new address
    /// becomes a pending reader.
    pub fn request_signup(
        &mut self,
        key: &str,
        address: &str,
        name: Option<&str>,
        editions: &str,
        ip: Option<&str>,
        now: &str,
    ) -> Result<Request> {
        let mut out = None;
        self.transaction(|tx| {
            let found: Option<(i64, String)> = tx
                .query_row("SELECT id, status FROM subscribers WHERE email = ?1", [key], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let (id, status) = match found {
                Some((id, status)) => (id, SubStatus::parse(&status).unwrap_or(SubStatus::Removed)),
                None => {
                    tx.execute(
                        "INSERT INTO subscribers (email, address, name, editions, status, source, created_at,
                           changed_at, change_reason)
                         VALUES (?1, ?2, ?3, ?4, 'pending', 'form', ?5, ?5, 'signed up on the form')",
                        params![key, address, name, editions, now],
                    )?;
                    let id = tx.last_insert_rowid();
                    tx.execute(
                        "INSERT INTO subscriber_events (subscriber, at, event, detail)
                         VALUES (?1, ?2, 'pending', 'signed up on the form')",
                        params![id, now],
                    )?;
                    (id, SubStatus::Pending)
                }
            };
            tx.execute(
                "UPDATE subscribers SET signup_editions = ?2, signup_at = ?3, signup_ip = ?4,
                   name = COALESCE(?5, name) WHERE id = ?1",
                params![id, editions, now, ip, name],
            )?;
            out = Some(Request { id, status });
            Ok(())
        })?;
        Ok(out.expect("set in the transaction"))
    }

    /// Claims the right to mail this reader about a sign-up: true (and
    /// recorded) when the last such mail is older than `cutoff`. Atomic, so
    /// no burst of requests ever mails an address twice.
    pub fn claim_signup_mail(&mut self, id: i64, cutoff: &str, now: &str) -> Result<bool> {
        let mut claimed = false;
        self.transaction(|tx| {
            claimed = tx.execute(
                "UPDATE subscribers SET mailed_at = ?3 WHERE id = ?1 AND (mailed_at IS NULL OR mailed_at < ?2)",
                params![id, cutoff, now],
            )? == 1;
            Ok(())
        })?;
        Ok(claimed)
    }

    /// Makes `expires` the one confirmation link that works for this reader.
    pub fn set_confirm_expiry(&mut self, id: i64, expires: i64) -> Result<()> {
        self.transaction(|tx| {
            tx.execute(
                "UPDATE subscribers SET confirm_expires = ?2 WHERE id = ?1",
                params![id, expires],
            )?;
            Ok(())
        })
    }

    /// What a confirmation link with this expiry finds.
    pub fn confirmable(&self, id: i64, expires: i64) -> Result<Confirmable> {
        let row: Option<(String, Option<String>, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT address, signup_editions, confirm_expires FROM subscribers WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(match row {
            Some((address, Some(editions), Some(e))) if e == expires => {
                Confirmable::Waiting { editions, address }
            }
            Some((address, ..)) => Confirmable::Used { address },
            None => Confirmable::Unknown,
        })
    }

    /// Confirms a sign-up: the reader is active, with the editions asked
    /// for, and their consent recorded; the link stops working.
    pub fn confirm_signup(
        &mut self,
        id: i64,
        expires: i64,
        consent: &str,
        now: &str,
    ) -> Result<bool> {
        let mut done = false;
        self.transaction(|tx| {
            done = tx.execute(
                "UPDATE subscribers SET status = 'active', editions = signup_editions, consent_at = ?3,
                   changed_at = ?3, change_reason = ?4, signup_editions = NULL, signup_at = NULL,
                   confirm_expires = NULL
                 WHERE id = ?1 AND confirm_expires = ?2 AND signup_editions IS NOT NULL",
                params![id, expires, now, consent],
            )? == 1;
            if done {
                tx.execute("DELETE FROM edition_choices WHERE subscriber = ?1", [id])?;
                tx.execute(
                    "INSERT INTO subscriber_events (subscriber, at, event, detail) VALUES (?1, ?2, 'active', ?3)",
                    params![id, now, consent],
                )?;
            }
            Ok(())
        })?;
        Ok(done)
    }

    /// Forgets sign-ups older than `cutoff`: pending readers who never
    /// confirmed are deleted; known readers just lose the request.
    pub fn purge_signups(&mut self, cutoff: &str) -> Result<usize> {
        let mut n = 0;
        self.transaction(|tx| {
            n = tx.execute(
                "DELETE FROM subscribers WHERE status = 'pending' AND signup_at IS NOT NULL AND signup_at < ?1",
                [cutoff],
            )?;
            tx.execute(
                "UPDATE subscribers SET signup_editions = NULL, signup_at = NULL, signup_ip = NULL,
                   confirm_expires = NULL
                 WHERE status != 'pending' AND signup_at IS NOT NULL AND signup_at < ?1",
                [cutoff],
            )?;
            Ok(())
        })?;
        Ok(n)
    }
}
