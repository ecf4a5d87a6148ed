//! The subscriber list: one row per reader with a status, what they signed
//! up for, the per-edition choices they made since, and a history of every
//! change. Unsubscribes, bounces and complaints are statuses here, so an
//! import can see them and never undo them.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::{Result, State};

/// Where a reader stands with the whole newsletter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Signed up on the form, not confirmed yet.
    Pending,
    Active,
    /// Left, by their own choice (one-click, the manage page, a mail).
    Unsubscribed,
    /// Mail to them bounced for good.
    Bounced,
    /// They marked a message as spam.
    Complained,
    /// Taken off the configured CSV by the operator: adding the row back
    /// brings them back, unlike the three above.
    Removed,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Pending,
        Status::Active,
        Status::Unsubscribed,
        Status::Bounced,
        Status::Complained,
        Status::Removed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Active => "active",
            Status::Unsubscribed => "unsubscribed",
            Status::Bounced => "bounced",
            Status::Complained => "complained",
            Status::Removed => "removed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// A reader's own decision (or their mailbox's) that no import undoes.
    pub fn is_suppressed(self) -> bool {
        matches!(
            self,
            Status::Unsubscribed | Status::Bounced | Status::Complained
        )
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reader, as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Subscriber {
    pub id: i64,
    /// The case-folded key (`Email::key`).
    pub email: String,
    /// The address as it was given.
    pub address: String,
    pub name: Option<String>,
    /// What they signed up for: `*` (every edition) or `a;b`.
    pub editions: String,
    pub status: Status,
    pub source: String,
    pub consent_at: Option<String>,
    pub created_at: String,
    pub changed_at: String,
    pub change_reason: String,
    /// Per-edition choices made since, which win over `editions`.
    pub choices: BTreeMap<String, bool>,
}

impl Subscriber {
    /// Whether they get `edition`: their choice for it, else what they
    /// signed up for.
    pub fn wants(&self, edition: &str) -> bool {
        match self.choices.get(edition) {
            Some(&chosen) => chosen,
            None => signed_up_for(&self.editions, edition),
        }
    }
}

/// `*` or a `;`-separated list.
pub fn signed_up_for(editions: &str, edition: &str) -> bool {
    editions == "*" || editions.split(';').any(|e| e == edition)
}

/// One change in a reader's history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    pub at: String,
    pub event: String,
    pub detail: String,
}

/// A row to import.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Where it came from, for messages: `file:line`.
    pub origin: String,
    pub email: String,
    pub address: String,
    pub name: Option<String>,
    pub editions: String,
    pub status: Status,
    pub consent_at: Option<String>,
    /// The keyed hash a `forget` leaves behind.
    pub hash: String,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Imported {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    /// Back on the list after the operator had taken them off.
    pub readded: Vec<String>,
    /// Now unsubscribed, bounced or complained, as the import says.
    pub left: Vec<String>,
    pub unchanged: usize,
    /// Unsubscribed, bounced or complained here: never resubscribed by an
    /// import (address and status).
    pub kept: Vec<(String, Status)>,
    /// Erased on request: their hash matched.
    pub forgotten: usize,
    /// Taken off because the synced CSV no longer lists them.
    pub removed: Vec<String>,
}

/// How many readers an issue of one edition reaches.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Audience {
    /// Readers who are active or have left (not pending, not removed).
    pub subscribers: u64,
    /// Active, but never signed up for this edition.
    pub not_this_edition: u64,
    /// Signed up for it, but unsubscribed (from it or from all), bounced
    /// or complained.
    pub suppressed: u64,
    pub already_sent: u64,
    /// Still to get it.
    pub pending: u64,
}

/// One recipient of a send.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub id: i64,
    pub address: String,
    pub name: Option<String>,
}

/// The SQL truth of "`s` gets edition ?1".
const WANTS: &str = "COALESCE(
    (SELECT c.subscribed FROM edition_choices c WHERE c.subscriber = s.id AND c.edition = ?1),
    s.editions = '*' OR instr(';' || s.editions || ';', ';' || ?1 || ';') > 0)";

/// "`s` already got issue ?2" (over SMTP only when ?3 is 1).
const GOT_IT: &str = "EXISTS (SELECT 1 FROM deliveries d WHERE d.issue = ?2 AND d.email = s.email
    AND d.status = 'sent' AND (?3 = 0 OR d.via LIKE 'smtp:%'))";

const COLUMNS: &str =
    "s.id, s.email, s.address, s.name, s.editions, s.status, s.source, s.consent_at,
    s.created_at, s.changed_at, s.change_reason";

fn subscriber(r: &Row<'_>) -> rusqlite::Result<Subscriber> {
    let status: String = r.get(5)?;
    Ok(Subscriber {
        id: r.get(0)?,
        email: r.get(1)?,
        address: r.get(2)?,
        name: r.get(3)?,
        editions: r.get(4)?,
        status: Status::parse(&status).unwrap_or(Status::Removed),
        source: r.get(6)?,
        consent_at: r.get(7)?,
        created_at: r.get(8)?,
        changed_at: r.get(9)?,
        change_reason: r.get(10)?,
        choices: BTreeMap::new(),
    })
}

impl State {
    fn with_choices(&self, s: Option<Subscriber>) -> Result<Option<Subscriber>> {
        let Some(mut s) = s else { return Ok(None) };
        let mut st = self
            .conn
            .prepare_cached("SELECT edition, subscribed FROM edition_choices WHERE subscriber = ?1")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([s.id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (ed, on) = row.map_err(|e| self.err(e))?;
            s.choices.insert(ed, on);
        }
        Ok(Some(s))
    }

    pub fn subscriber(&self, email_key: &str) -> Result<Option<Subscriber>> {
        let s = self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM subscribers s WHERE s.email = ?1"),
                [email_key],
                subscriber,
            )
            .optional()
            .map_err(|e| self.err(e))?;
        self.with_choices(s)
    }

    pub fn subscriber_by_id(&self, id: i64) -> Result<Option<Subscriber>> {
        let s = self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM subscribers s WHERE s.id = ?1"),
                [id],
                subscriber,
            )
            .optional()
            .map_err(|e| self.err(e))?;
        self.with_choices(s)
    }

    /// Every reader with `status` (all when `None`), in id order, to `f`.
    pub fn each_subscriber(
        &self,
        status: Option<Status>,
        mut f: impl FnMut(Subscriber),
    ) -> Result<()> {
        let mut after = 0i64;
        loop {
            let page = self.subscribers_page(status, after, 1000)?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = last.id;
            page.into_iter().for_each(&mut f);
        }
    }

    /// Up to `limit` readers with `status` (all when `None`) after id
    /// `after`, in id order, with their choices.
    pub fn subscribers_page(
        &self,
        status: Option<Status>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Subscriber>> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM subscribers s WHERE s.id > ?1 AND (?2 IS NULL OR s.status = ?2)
                 ORDER BY s.id LIMIT ?3"
            ))
            .map_err(|e| self.err(e))?;
        let page: Vec<Subscriber> = st
            .query_map(
                params![after, status.map(Status::as_str), limit as i64],
                subscriber,
            )
            .map_err(|e| self.err(e))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(page.len());
        for s in page {
            out.extend(self.with_choices(Some(s))?);
        }
        Ok(out)
    }

    /// Readers by status and edition (`*` counts everyone).
    pub fn subscriber_counts(
        &self,
        editions: &[String],
    ) -> Result<BTreeMap<(String, Status), u64>> {
        let mut out = BTreeMap::new();
        let mut all = self
            .conn
            .prepare_cached("SELECT status, COUNT(*) FROM subscribers GROUP BY status")
            .map_err(|e| self.err(e))?;
        let rows = all
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (st, n) = row.map_err(|e| self.err(e))?;
            if let Some(st) = Status::parse(&st) {
                out.insert(("*".to_string(), st), n);
            }
        }
        let mut by = self
            .conn
            .prepare_cached(&format!(
                "SELECT s.status, COUNT(*) FROM subscribers s WHERE {WANTS} GROUP BY s.status"
            ))
            .map_err(|e| self.err(e))?;
        for ed in editions {
            let rows = by
                .query_map([ed], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))
                .map_err(|e| self.err(e))?;
            for row in rows {
                let (st, n) = row.map_err(|e| self.err(e))?;
                if let Some(st) = Status::parse(&st) {
                    out.insert((ed.clone(), st), n);
                }
            }
        }
        Ok(out)
    }

    /// Who issue `issue` of `edition` reaches, counted.
    pub fn audience(&self, edition: &str, issue: &str, real_only: bool) -> Result<Audience> {
        let sql = format!(
            "SELECT
               COUNT(*) FILTER (WHERE s.status NOT IN ('pending', 'removed')),
               COUNT(*) FILTER (WHERE s.status = 'active' AND NOT {signed} AND NOT {WANTS}),
               COUNT(*) FILTER (WHERE ({signed} OR {WANTS}) AND (s.status IN ('unsubscribed', 'bounced', 'complained')
                                  OR (s.status = 'active' AND NOT {WANTS}))),
               COUNT(*) FILTER (WHERE s.status = 'active' AND {WANTS} AND {GOT_IT}),
               COUNT(*) FILTER (WHERE s.status = 'active' AND {WANTS} AND NOT {GOT_IT})
             FROM subscribers s",
            signed = "(s.editions = '*' OR instr(';' || s.editions || ';', ';' || ?1 || ';') > 0)"
        );
        self.conn
            .query_row(&sql, params![edition, issue, real_only], |r| {
                Ok(Audience {
                    subscribers: r.get(0)?,
                    not_this_edition: r.get(1)?,
                    suppressed: r.get(2)?,
                    already_sent: r.get(3)?,
                    pending: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))
    }

    /// The next `limit` recipients of the issue after subscriber `after`,
    /// in id order: a send reads the list a page at a time.
    pub fn recipients(
        &self,
        edition: &str,
        issue: &str,
        real_only: bool,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Recipient>> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT s.id, s.address, s.name FROM subscribers s
                 WHERE s.id > ?4 AND s.status = 'active' AND {WANTS} AND NOT {GOT_IT}
                 ORDER BY s.id LIMIT ?5"
            ))
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(
                params![edition, issue, real_only, after, limit as i64],
                |r| {
                    Ok(Recipient {
                        id: r.get(0)?,
                        address: r.get(1)?,
                        name: r.get(2)?,
                    })
                },
            )
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// A reader's history, oldest first.
    pub fn events(&self, id: i64) -> Result<Vec<Event>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT at, event, detail FROM subscriber_events WHERE subscriber = ?1 ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([id], |r| {
                Ok(Event {
                    at: r.get(0)?,
                    event: r.get(1)?,
                    detail: r.get(2)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// Sets a reader's status, creating the row if the address is unknown
    /// (so an unsubscribe or a bounce holds before any import). Returns
    /// the id and whether anything changed.
    pub fn set_status(
        &mut self,
        email_key: &str,
        address: &str,
        status: Status,
        reason: &str,
        now: &str,
    ) -> Result<(i64, bool)> {
        let mut out = (0, false);
        self.transaction(|tx| {
            out = set_status(tx, email_key, address, status, reason, now)?;
            Ok(())
        })?;
        Ok(out)
    }

    /// Suppresses many addresses (keys, with a reason each) with one status.
    pub fn set_status_all(
        &mut self,
        entries: &[(String, String)],
        status: Status,
        now: &str,
    ) -> Result<()> {
        self.transaction(|tx| {
            for (key, reason) in entries {
                set_status(tx, key, key, status, reason, now)?;
            }
            Ok(())
        })
    }

    /// Subscribes or unsubscribes a reader from one edition. Subscribing
    /// someone who had left everything brings them back.
    pub fn set_edition(
        &mut self,
        id: i64,
        edition: &str,
        on: bool,
        how: &str,
        now: &str,
    ) -> Result<bool> {
        let mut changed = false;
        self.transaction(|tx| {
            changed = set_edition(tx, id, edition, on, how, now)?;
            Ok(())
        })?;
        Ok(changed)
    }

    /// The reader's whole choice at once (the manage page): these editions
    /// on, every other known one off; none at all means leaving.
    pub fn set_editions(
        &mut self,
        id: i64,
        known: &[String],
        on: &[String],
        how: &str,
        now: &str,
    ) -> Result<()> {
        self.transaction(|tx| {
            for ed in known {
                set_edition(tx, id, ed, on.contains(ed), how, now)?;
            }
            if on.is_empty() {
                let key: String =
                    tx.query_row("SELECT email FROM subscribers WHERE id = ?1", [id], |r| {
                        r.get(0)
                    })?;
                set_status(tx, &key, &key, Status::Unsubscribed, how, now)?;
            }
            Ok(())
        })
    }

    /// Adds one reader by hand (`subscribers add`, a confirmed sign-up).
    pub fn add_subscriber(&mut self, row: &Incoming, source: &str, now: &str) -> Result<i64> {
        let mut id = 0;
        self.transaction(|tx| {
            id = insert(tx, row, source, now)?;
            Ok(())
        })?;
        Ok(id)
    }

    /// Imports rows: new readers are added, known ones updated, and nobody
    /// who unsubscribed, bounced or complained is brought back. With
    /// `sync`, this is the configured CSV: active readers it imported
    /// before and no longer lists are marked removed. A dry run reports
    /// and rolls back.
    pub fn import(
        &mut self,
        rows: impl IntoIterator<Item = Incoming>,
        source: &str,
        sync: bool,
        dry_run: bool,
        now: &str,
    ) -> Result<Imported> {
        let mut report = Imported::default();
        let path = &self.path;
        let db = |source| super::Error::Db {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        import(&tx, rows, source, sync, now, &mut report).map_err(db)?;
        if dry_run {
            tx.rollback().map_err(db)?;
        } else {
            tx.commit().map_err(db)?;
        }
        Ok(report)
    }

    /// Erases a reader: their row, history, choices and deliveries, keeping
    /// only `hash` so that no import brings them back. False when unknown.
    pub fn forget(&mut self, email_key: &str, hash: &str, now: &str) -> Result<bool> {
        // Erased means erased: deleted content is overwritten, not left in
        // free pages, and the WAL is folded in and emptied afterwards.
        self.conn
            .pragma_update(None, "secure_delete", true)
            .map_err(|e| self.err(e))?;
        let mut found = false;
        self.transaction(|tx| {
            found = tx.execute("DELETE FROM subscribers WHERE email = ?1", [email_key])? > 0;
            found |= tx.execute("DELETE FROM deliveries WHERE email = ?1", [email_key])? > 0;
            tx.execute(
                "INSERT INTO forgotten (hash, at) VALUES (?1, ?2) ON CONFLICT (hash) DO NOTHING",
                params![hash, now],
            )?;
            Ok(())
        })?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(|e| self.err(e))?;
        Ok(found)
    }

    pub fn is_forgotten(&self, hash: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT 1 FROM forgotten WHERE hash = ?1",
                [hash],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| self.err(e))
    }

    /// Every delivery of any issue to this address.
    pub fn deliveries_to(&self, email_key: &str) -> Result<Vec<serde_json::Value>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT issue, status, via, attempts, last_reply, message_id, updated_at
                 FROM deliveries WHERE email = ?1 ORDER BY updated_at",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([email_key], |r| {
                Ok(serde_json::json!({
                    "issue": r.get::<_, String>(0)?,
                    "status": r.get::<_, String>(1)?,
                    "via": r.get::<_, String>(2)?,
                    "attempts": r.get::<_, u32>(3)?,
                    "reply": r.get::<_, String>(4)?,
                    "message_id": r.get::<_, String>(5)?,
                    "at": r.get::<_, String>(6)?,
                }))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }
}

fn event(
    tx: &Transaction<'_>,
    id: i64,
    now: &str,
    what: &str,
    detail: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO subscriber_events (subscriber, at, event, detail) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id, now, what, detail])?;
    Ok(())
}

fn insert(tx: &Transaction<'_>, row: &Incoming, source: &str, now: &str) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO subscribers (email, address, name, editions, status, source, consent_at,
           created_at, changed_at, change_reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
    )?
    .execute(params![
        row.email,
        row.address,
        row.name,
        row.editions,
        row.status.as_str(),
        source,
        row.consent_at,
        now,
        format!("added from {}", row.origin)
    ])?;
    let id = tx.last_insert_rowid();
    event(
        tx,
        id,
        now,
        row.status.as_str(),
        &format!("added from {}", row.origin),
    )?;
    Ok(id)
}

fn set_status(
    tx: &Transaction<'_>,
    key: &str,
    address: &str,
    status: Status,
    reason: &str,
    now: &str,
) -> rusqlite::Result<(i64, bool)> {
    let found: Option<(i64, String)> = tx
        .prepare_cached("SELECT id, status FROM subscribers WHERE email = ?1")?
        .query_row([key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match found {
        Some((id, old)) if old == status.as_str() => Ok((id, false)),
        Some((id, _)) => {
            tx.prepare_cached("UPDATE subscribers SET status = ?2, changed_at = ?3, change_reason = ?4 WHERE id = ?1")?.execute(
                params![id, status.as_str(), now, reason],
            )?;
            event(tx, id, now, status.as_str(), reason)?;
            Ok((id, true))
        }
        None => {
            tx.prepare_cached("INSERT INTO subscribers (email, address, status, source, created_at, changed_at, change_reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?4)")?.execute(
                params![key, address, status.as_str(), reason, now],
            )?;
            let id = tx.last_insert_rowid();
            event(tx, id, now, status.as_str(), reason)?;
            Ok((id, true))
        }
    }
}

fn set_edition(
    tx: &Transaction<'_>,
    id: i64,
    edition: &str,
    on: bool,
    how: &str,
    now: &str,
) -> rusqlite::Result<bool> {
    let before: Option<bool> = tx
        .prepare_cached(
            "SELECT subscribed FROM edition_choices WHERE subscriber = ?1 AND edition = ?2",
        )?
        .query_row(params![id, edition], |r| r.get(0))
        .optional()?;
    let (editions, status): (String, String) = tx
        .prepare_cached("SELECT editions, status FROM subscribers WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let was = before.unwrap_or_else(|| signed_up_for(&editions, edition));
    let mut changed = false;
    if before != Some(on) {
        tx.prepare_cached("INSERT INTO edition_choices (subscriber, edition, subscribed, changed_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (subscriber, edition) DO UPDATE SET subscribed = excluded.subscribed,
               changed_at = excluded.changed_at")?.execute(
            params![id, edition, on, now],
        )?;
        changed = was != on;
    }
    if changed {
        let what = if on {
            "subscribed to"
        } else {
            "unsubscribed from"
        };
        event(tx, id, now, &format!("{what} {edition}"), how)?;
    }
    let left = Status::parse(&status).is_some_and(Status::is_suppressed) || status == "removed";
    if on && left {
        tx.prepare_cached("UPDATE subscribers SET status = 'active', changed_at = ?2, change_reason = ?3 WHERE id = ?1")?.execute(
            params![id, now, how],
        )?;
        event(tx, id, now, "active", how)?;
        changed = true;
    }
    Ok(changed)
}

fn import(
    tx: &Transaction<'_>,
    rows: impl IntoIterator<Item = Incoming>,
    source: &str,
    sync: bool,
    now: &str,
    report: &mut Imported,
) -> rusqlite::Result<()> {
    if sync {
        tx.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS synced (email TEXT PRIMARY KEY); DELETE FROM synced;",
        )?;
    }
    for row in rows {
        if sync {
            tx.prepare_cached("INSERT OR IGNORE INTO synced (email) VALUES (?1)")?
                .execute([&row.email])?;
        }
        let forgotten = tx
            .prepare_cached("SELECT 1 FROM forgotten WHERE hash = ?1")?
            .query_row([&row.hash], |_| Ok(()))
            .optional()?
            .is_some();
        if forgotten {
            report.forgotten += 1;
            continue;
        }
        import_one(tx, &row, source, now, report)?;
    }
    if sync {
        let gone: Vec<(i64, String)> = {
            let mut st = tx.prepare(
                "SELECT id, address FROM subscribers WHERE source = ?1 AND status = 'active'
                 AND email NOT IN (SELECT email FROM synced)",
            )?;
            st.query_map([source], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        for (id, address) in gone {
            let why = format!("no longer listed in {}", source.trim_start_matches("sync:"));
            tx.prepare_cached("UPDATE subscribers SET status = 'removed', changed_at = ?2, change_reason = ?3 WHERE id = ?1")?.execute(
                params![id, now, why],
            )?;
            event(tx, id, now, "removed", &why)?;
            report.removed.push(address);
        }
    }
    Ok(())
}

fn import_one(
    tx: &Transaction<'_>,
    row: &Incoming,
    source: &str,
    now: &str,
    report: &mut Imported,
) -> rusqlite::Result<()> {
    let known: Option<(i64, String, Option<String>, String)> = tx
        .prepare_cached("SELECT id, status, name, editions FROM subscribers WHERE email = ?1")?
        .query_row([&row.email], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let Some((id, status, name, editions)) = known else {
        insert(tx, row, source, now)?;
        if row.status.is_suppressed() {
            report.left.push(row.address.clone());
        } else {
            report.added.push(row.address.clone());
        }
        return Ok(());
    };
    let status = Status::parse(&status).unwrap_or(Status::Removed);
    if status.is_suppressed() {
        if row.status == status {
            report.unchanged += 1;
        } else {
            report.kept.push((row.address.clone(), status));
        }
        return Ok(());
    }
    if row.status.is_suppressed() {
        set_status(
            tx,
            &row.email,
            &row.address,
            row.status,
            &format!("as {} says", row.origin),
            now,
        )?;
        report.left.push(row.address.clone());
        return Ok(());
    }
    let comes_back =
        matches!(status, Status::Removed | Status::Pending) && row.status == Status::Active;
    // A name given by the import replaces the stored one; none keeps it.
    let renamed = row.name.is_some() && row.name != name;
    if !comes_back && editions == row.editions && !renamed {
        report.unchanged += 1;
        return Ok(());
    }
    let name = row.name.clone().or(name);
    tx.prepare_cached("UPDATE subscribers SET name = ?2, editions = ?3, status = ?4, source = CASE WHEN ?5 THEN ?6 ELSE source END,
           changed_at = ?7, change_reason = ?8 WHERE id = ?1")?.execute(
        params![
            id,
            name,
            row.editions,
            if comes_back { Status::Active.as_str() } else { status.as_str() },
            comes_back,
            source,
            now,
            format!("updated from {}", row.origin)
        ],
    )?;
    if comes_back {
        event(
            tx,
            id,
            now,
            "active",
            &format!("added back by {}", row.origin),
        )?;
        report.readded.push(row.address.clone());
    } else {
        event(
            tx,
            id,
            now,
            "updated",
            &format!("name or editions from {}", row.origin),
        )?;
        report.updated.push(row.address.clone());
    }
    Ok(())
}
