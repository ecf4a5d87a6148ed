//! The news desk's memory: each feed's HTTP validators and last outcome,
//! and the candidate stories pulled so far, each stored once.

use rusqlite::{OptionalExtension, Row, params};

use super::{Result, State};

/// A story from a feed, ready to store.
#[derive(Debug, Clone)]
pub struct NewCandidate {
    /// The feed's id for the entry; unique within the feed.
    pub entry_id: String,
    pub url: String,
    /// What makes two links the same story (see `content::links::key`).
    pub link_key: String,
    pub title: String,
    pub summary: String,
    /// RFC 3339 UTC, when the feed dates it.
    pub published: Option<String>,
}

/// A stored candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: i64,
    /// The feed's name, as configured when it was pulled.
    pub feed: String,
    pub url: String,
    pub link_key: String,
    pub title: String,
    pub summary: String,
    pub published: Option<String>,
    pub first_seen: String,
}

/// What storing one feed's entries did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stored {
    pub new: usize,
    /// Already stored: the same entry id from this feed, or the same link
    /// from any feed.
    pub known: usize,
}

const COLUMNS: &str = "id, feed, url, link_key, title, summary, published, first_seen";

fn candidate(r: &Row<'_>) -> rusqlite::Result<Candidate> {
    Ok(Candidate {
        id: r.get(0)?,
        feed: r.get(1)?,
        url: r.get(2)?,
        link_key: r.get(3)?,
        title: r.get(4)?,
        summary: r.get(5)?,
        published: r.get(6)?,
        first_seen: r.get(7)?,
    })
}

impl State {
    /// The ETag and Last-Modified a feed's server sent last, if the feed
    /// still has the same address (a new address starts afresh).
    pub fn feed_validators(
        &self,
        name: &str,
        url: &str,
    ) -> Result<(Option<String>, Option<String>)> {
        self.conn
            .query_row(
                "SELECT etag, last_modified FROM feeds WHERE name = ?1 AND url = ?2",
                params![name, url],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(|e| self.err(e))
    }

    /// Records a pull of a feed: its outcome in words and, when the server
    /// sent a feed, its new validators (`None` keeps the old ones: a 304
    /// or a failure says nothing new about them).
    pub fn record_pull(
        &mut self,
        name: &str,
        url: &str,
        validators: Option<(Option<&str>, Option<&str>)>,
        outcome: &str,
        now: &str,
    ) -> Result<()> {
        self.transaction(|tx| {
            // A changed address drops the old validators: they were the
            // other server's.
            tx.execute(
                "INSERT INTO feeds (name, url, pulled_at, outcome) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET
                   etag = CASE WHEN url = excluded.url THEN etag END,
                   last_modified = CASE WHEN url = excluded.url THEN last_modified END,
                   url = excluded.url, pulled_at = excluded.pulled_at, outcome = excluded.outcome",
                params![name, url, now, outcome],
            )?;
            if let Some((etag, lm)) = validators {
                tx.execute(
                    "UPDATE feeds SET etag = ?2, last_modified = ?3 WHERE name = ?1",
                    params![name, etag, lm],
                )?;
            }
            Ok(())
        })
    }

    /// Stores a feed's entries, each once: an entry id this feed gave
    /// before, or a link already stored from any feed, is known.
    pub fn add_candidates(
        &mut self,
        feed: &str,
        entries: &[NewCandidate],
        now: &str,
    ) -> Result<Stored> {
        let mut stored = Stored::default();
        self.transaction(|tx| {
            let mut insert = tx.prepare(
                "INSERT INTO candidates (feed, entry_id, url, link_key, title, summary, published, first_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT DO NOTHING",
            )?;
            for e in entries {
                let n = insert.execute(params![
                    feed,
                    e.entry_id,
                    e.url,
                    e.link_key,
                    e.title,
                    e.summary,
                    e.published,
                    now
                ])?;
                if n == 1 {
                    stored.new += 1;
                } else {
                    stored.known += 1;
                }
            }
            Ok(())
        })?;
        Ok(stored)
    }

    /// Candidates dated (or, undated, first seen) at or after `since`,
    /// newest first.
    pub fn candidates_since(&self, since: &str) -> Result<Vec<Candidate>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM candidates WHERE coalesce(published, first_seen) >= ?1
             ORDER BY coalesce(published, first_seen) DESC, id DESC"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([since], candidate)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>());
        rows.map_err(|e| self.err(e))
    }

    /// One candidate by its id.
    pub fn candidate(&self, id: i64) -> Result<Option<Candidate>> {
        let sql = format!("SELECT {COLUMNS} FROM candidates WHERE id = ?1");
        self.conn
            .query_row(&sql, [id], candidate)
            .optional()
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, key: &str) -> NewCandidate {
        NewCandidate {
            entry_id: id.into(),
            url: format!("https://{key}"),
            link_key: key.into(),
            title: format!("Title {id}"),
            summary: String::new(),
            published: Some("2026-12-01T09:00:00Z".into()),
        }
    }

    #[test]
    fn candidates_are_stored_once_by_id_then_link() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = State::open(dir.path()).unwrap();
        let now = "2026-12-02T00:00:00Z";
        let first = s
            .add_candidates("A", &[entry("1", "a.org/1"), entry("2", "a.org/2")], now)
            .unwrap();
        assert_eq!(first, Stored { new: 2, known: 0 });
        // The same id again, and another feed carrying the same link.
        let again = s
            .add_candidates("A", &[entry("1", "a.org/1-moved")], now)
            .unwrap();
        let other = s
            .add_candidates("B", &[entry("x", "a.org/2")], now)
            .unwrap();
        assert_eq!((again.known, other.known), (1, 1));
        let all = s.candidates_since("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(s.candidate(all[0].id).unwrap().unwrap(), all[0]);
        assert!(
            s.candidates_since("2026-12-05T00:00:00Z")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn validators_follow_the_address() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = State::open(dir.path()).unwrap();
        let (url, other) = ("https://a.org/feed", "https://b.org/feed");
        s.record_pull("A", url, Some((Some("\"v1\""), None)), "2 new", "t1")
            .unwrap();
        s.record_pull("A", url, None, "not modified", "t2").unwrap();
        assert_eq!(
            s.feed_validators("A", url).unwrap(),
            (Some("\"v1\"".into()), None)
        );
        s.record_pull("A", other, None, "failed", "t3").unwrap();
        assert_eq!(s.feed_validators("A", other).unwrap(), (None, None));
        assert_eq!(s.feed_validators("A", url).unwrap(), (None, None));
    }
}
