//! The database's shape, as numbered migrations. `PRAGMA user_version` says
//! how many have run; each runs once, in a transaction, and only adds or
//! carries data over, so a database from any earlier version opens without
//! loss.

use rusqlite::Connection;

/// Each entry takes the database from version N to N+1 (index N).
const MIGRATIONS: &[&str] = &[
    // 1: the journal, suppressions and runs.
    "
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
    ",
    // 2: where each delivery went. Version 1 wrote outbox deliveries with
    // the reply `written to the outbox`; everything else it marked sent or
    // failed went to an SMTP server it did not name.
    "
    ALTER TABLE deliveries ADD COLUMN via TEXT NOT NULL DEFAULT '';
    UPDATE deliveries SET via = 'outbox' WHERE last_reply = 'written to the outbox';
    UPDATE deliveries SET via = 'smtp:' WHERE via = '' AND status != 'pending';
    ALTER TABLE runs ADD COLUMN via TEXT NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN not_attempted INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN stopped TEXT;
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    CREATE TABLE issue_marks (
        issue      TEXT PRIMARY KEY,
        mark       TEXT NOT NULL CHECK (mark IN ('skipped', 'published')),
        detail     TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL
    ) WITHOUT ROWID;
    ",
    // 3: the subscriber list lives here. Each reader is a row with a status;
    // `editions` is what they signed up for (`*` = every edition, now and
    // later), and `edition_choices` holds what they chose since, one row per
    // edition, which wins. The suppressions of versions 1 and 2 become rows
    // with their status, so nobody who left is mailed again.
    "
    CREATE TABLE subscribers (
        id            INTEGER PRIMARY KEY,
        email         TEXT NOT NULL UNIQUE,
        address       TEXT NOT NULL,
        name          TEXT,
        editions      TEXT NOT NULL DEFAULT '*',
        status        TEXT NOT NULL CHECK (status IN
                        ('pending', 'active', 'unsubscribed', 'bounced', 'complained', 'removed')),
        source        TEXT NOT NULL,
        consent_at    TEXT,
        created_at    TEXT NOT NULL,
        changed_at    TEXT NOT NULL,
        change_reason TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE edition_choices (
        subscriber INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        edition    TEXT NOT NULL,
        subscribed INTEGER NOT NULL,
        changed_at TEXT NOT NULL,
        PRIMARY KEY (subscriber, edition)
    ) WITHOUT ROWID;
    CREATE TABLE subscriber_events (
        id         INTEGER PRIMARY KEY,
        subscriber INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        at         TEXT NOT NULL,
        event      TEXT NOT NULL,
        detail     TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX subscriber_events_of ON subscriber_events (subscriber);
    CREATE TABLE forgotten (
        hash TEXT PRIMARY KEY,
        at   TEXT NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO subscribers (email, address, status, source, created_at, changed_at, change_reason)
        SELECT email, email,
               CASE reason WHEN 'bounced' THEN 'bounced' WHEN 'complained' THEN 'complained'
                           ELSE 'unsubscribed' END,
               'suppression list', created_at, created_at,
               reason || CASE WHEN detail != '' THEN ' (' || detail || ')' ELSE '' END
        FROM suppressions;
    INSERT INTO subscriber_events (subscriber, at, event, detail)
        SELECT id, created_at, status, change_reason FROM subscribers;
    DROP TABLE suppressions;
    ",
    // 4: sign-ups through the form. A request is kept on the reader's row
    // (new readers are `pending`) until confirmed; `confirm_expires` is the
    // expiry of the one confirmation link that works, and `mailed_at` when
    // the address was last mailed about a sign-up (at most once an hour).
    "
    ALTER TABLE subscribers ADD COLUMN signup_editions TEXT;
    ALTER TABLE subscribers ADD COLUMN signup_at TEXT;
    ALTER TABLE subscribers ADD COLUMN signup_ip TEXT;
    ALTER TABLE subscribers ADD COLUMN mailed_at TEXT;
    ALTER TABLE subscribers ADD COLUMN confirm_expires INTEGER;
    ",
    // 5: returned mail. `bounces` holds what came back about a reader and
    // which issue (soft bounces count once per issue: the unique key);
    // `returned` remembers every message handled, by digest, so reading the
    // same mbox or mailbox twice changes nothing the second time.
    "
    CREATE TABLE bounces (
        id         INTEGER PRIMARY KEY,
        subscriber INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        issue      TEXT,
        kind       TEXT NOT NULL CHECK (kind IN ('hard', 'soft', 'policy', 'complaint')),
        status     TEXT NOT NULL DEFAULT '',
        detail     TEXT NOT NULL DEFAULT '',
        at         TEXT NOT NULL,
        UNIQUE (subscriber, issue, kind)
    );
    CREATE INDEX bounces_of_issue ON bounces (issue);
    CREATE TABLE returned (
        digest TEXT PRIMARY KEY,
        class  TEXT NOT NULL,
        at     TEXT NOT NULL
    ) WITHOUT ROWID;
    ",
    // 6: the news desk. `feeds` keeps, per configured feed (by name), the
    // validators its server sent last, so the next pull can be answered
    // with a 304, and how the last pull went. `candidates` holds each story
    // pulled, once: by the feed's id for the entry, then by the key of its
    // link across every feed (the same story in two feeds is one candidate).
    // Times are RFC 3339 UTC, so they sort as text.
    "
    CREATE TABLE feeds (
        name          TEXT PRIMARY KEY,
        url           TEXT NOT NULL,
        etag          TEXT,
        last_modified TEXT,
        pulled_at     TEXT NOT NULL,
        outcome       TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE candidates (
        id         INTEGER PRIMARY KEY,
        feed       TEXT NOT NULL,
        entry_id   TEXT NOT NULL,
        url        TEXT NOT NULL,
        link_key   TEXT NOT NULL UNIQUE,
        title      TEXT NOT NULL,
        summary    TEXT NOT NULL DEFAULT '',
        published  TEXT,
        first_seen TEXT NOT NULL,
        UNIQUE (feed, entry_id)
    );
    CREATE INDEX candidates_by_date ON candidates (coalesce(published, first_seen));
    ",
];

pub const VERSION: usize = MIGRATIONS.len();

/// Brings the database up to `VERSION`. A database from a newer almanac is
/// refused rather than misread.
pub fn migrate(conn: &mut Connection) -> Result<(), MigrateError> {
    let have: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if have > VERSION {
        return Err(MigrateError::Newer {
            found: have,
            known: VERSION,
        });
    }
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(have) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", n + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "it was written by a newer almanac (schema version {found}; this one knows {known}); upgrade almanac"
    )]
    Newer { found: usize, known: usize },
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}
