//! The news desk: candidate stories pulled from the configured feeds into
//! the state database (`pull`), listed while no issue uses them (`list`),
//! and appended to an issue's `issue.toml` as `[[news]]` tables (`add`)
//! with the file's comments and formatting kept (toml_edit). Curation stays
//! with the editor: the desk never scores an item and never writes an
//! issue the editor did not name.
//!
//! `pull` is the only use case that reaches the network for content.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, Value};

use super::{Error, Project, Result};
use crate::config::Feed;
use crate::content::links::{self, IssueLinks};
use crate::diag::Problem;
use crate::domain::IssueId;
use crate::news::{self, FetchError, Fetched, Fetcher, Validators, parse::Parsed};
use crate::state::{Candidate, NewCandidate, State, Stored};

/// How one feed's pull went.
#[derive(Debug, serde::Serialize)]
pub struct FeedReport {
    pub name: String,
    pub url: String,
    #[serde(flatten)]
    pub outcome: FeedOutcome,
}

#[derive(Debug, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FeedOutcome {
    Pulled {
        /// Stories not seen before.
        new: usize,
        /// Stories already stored (this entry, or the same link from any feed).
        known: usize,
        /// Entries the feed's include/exclude keywords left out.
        filtered: usize,
        /// Entries without a title or an http(s) link.
        skipped: usize,
        /// Where the feed was found, when a redirect moved it.
        moved_to: Option<String>,
    },
    /// The server answered 304: nothing changed since the last pull.
    NotModified,
    Failed {
        why: String,
        hint: &'static str,
    },
}

#[derive(Debug, serde::Serialize)]
pub struct PullReport {
    pub feeds: Vec<FeedReport>,
}

impl PullReport {
    pub fn failed(&self) -> usize {
        self.feeds
            .iter()
            .filter(|f| matches!(f.outcome, FeedOutcome::Failed { .. }))
            .count()
    }

    pub fn new_candidates(&self) -> usize {
        self.feeds
            .iter()
            .map(|f| match f.outcome {
                FeedOutcome::Pulled { new, .. } => new,
                _ => 0,
            })
            .sum()
    }
}

/// Feeds fetched at once; more would only queue behind each other.
const PARALLEL_FETCHES: usize = 8;

/// Fetches every configured feed (a broken, slow or non-feed source is
/// reported and never stops the others) and stores new candidates.
pub fn pull(project: &Project, now: DateTime<Utc>) -> Result<PullReport> {
    let cfg = &project.config;
    if cfg.feeds.is_empty() {
        return Err(no_feeds(project));
    }
    let mut state = State::open(&cfg.paths.state)?;
    let mut known = Vec::new();
    for f in &cfg.feeds {
        let (etag, last_modified) = state.feed_validators(f.name.as_str(), f.url.as_str())?;
        known.push(Validators {
            etag,
            last_modified,
        });
    }
    let fetched = fetch_all(project, &known)?;
    let stamp = rfc3339(now);
    let mut feeds = Vec::new();
    for (feed, result) in cfg.feeds.iter().zip(fetched) {
        let (outcome, validators) = match result {
            Ok(Fetched::NotModified) => (FeedOutcome::NotModified, None),
            Ok(Fetched::Body {
                bytes,
                url,
                validators,
                ..
            }) => match news::parse::parse(&bytes, &url) {
                Ok(parsed) => {
                    let moved = (url != feed.url).then(|| url.to_string());
                    let outcome = store(&mut state, feed, parsed, moved, &stamp)?;
                    (outcome, Some(validators))
                }
                Err(e) => (failed(e.to_string(), e.hint()), None),
            },
            Err(e) => (failed(e.to_string(), e.hint()), None),
        };
        let v = validators.as_ref();
        state.record_pull(
            feed.name.as_str(),
            feed.url.as_str(),
            v.map(|v| (v.etag.as_deref(), v.last_modified.as_deref())),
            &outcome_text(&outcome),
            &stamp,
        )?;
        feeds.push(FeedReport {
            name: feed.name.to_string(),
            url: feed.url.to_string(),
            outcome,
        });
    }
    Ok(PullReport { feeds })
}

fn failed(why: String, hint: &'static str) -> FeedOutcome {
    FeedOutcome::Failed { why, hint }
}

fn no_feeds(project: &Project) -> Error {
    Problem::error(&project.config.file, "there are no [[feeds]] to pull from")
        .hint("add one table per source, e.g.\n[[feeds]]\nname = \"arXiv cs.CL\"\nurl = \"https://rss.arxiv.org/rss/cs.CL\"")
        .into()
}

/// Every feed fetched concurrently; results in the config's order.
fn fetch_all(
    project: &Project,
    known: &[Validators],
) -> Result<Vec<std::result::Result<Fetched, FetchError>>> {
    let cfg = &project.config;
    let agent = format!(
        "almanac/{} (+{})",
        env!("CARGO_PKG_VERSION"),
        cfg.links.archive
    );
    let fetcher = Fetcher::new(&agent, cfg.news.timeout, news::MAX_FEED_BYTES)
        .map_err(|e| Error::Invalid(e.to_string()))?;
    let fetcher = Arc::new(fetcher);
    let gate = Arc::new(tokio::sync::Semaphore::new(PARALLEL_FETCHES));
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (feed, v)) in cfg.feeds.iter().zip(known).enumerate() {
            let (fetcher, gate) = (fetcher.clone(), gate.clone());
            let (url, v) = (feed.url.clone(), v.clone());
            tasks.spawn(async move {
                let _turn = gate.acquire_owned().await;
                (i, fetcher.fetch(&url, &v).await)
            });
        }
        let mut out: Vec<Option<std::result::Result<Fetched, FetchError>>> =
            (0..cfg.feeds.len()).map(|_| None).collect();
        while let Some(done) = tasks.join_next().await {
            let (i, result) = done.map_err(|e| Error::Task(e.to_string()))?;
            out[i] = Some(result);
        }
        Ok(out
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(FetchError::Other("not fetched".into()))))
            .collect())
    })
}

/// Stores a parsed feed's entries that pass its keywords.
fn store(
    state: &mut State,
    feed: &Feed,
    parsed: Parsed,
    moved_to: Option<String>,
    now: &str,
) -> Result<FeedOutcome> {
    let mut filtered = 0;
    let mut skipped = parsed.skipped;
    let mut entries = Vec::new();
    for e in parsed.entries {
        if !feed.wants(&e.title, &e.summary) {
            filtered += 1;
            continue;
        }
        let Some(link_key) = links::key(e.link.as_str()) else {
            skipped += 1;
            continue;
        };
        entries.push(NewCandidate {
            entry_id: e.id,
            url: e.link.to_string(),
            link_key,
            title: e.title,
            summary: e.summary,
            published: e.published.map(rfc3339),
        });
    }
    let Stored { new, known } = state.add_candidates(feed.name.as_str(), &entries, now)?;
    Ok(FeedOutcome::Pulled {
        new,
        known,
        filtered,
        skipped,
        moved_to,
    })
}

/// The outcome in words, as `feeds.outcome` keeps it.
fn outcome_text(o: &FeedOutcome) -> String {
    match o {
        FeedOutcome::Pulled { new, known, .. } => format!("{new} new, {known} known"),
        FeedOutcome::NotModified => "not modified".into(),
        FeedOutcome::Failed { why, .. } => format!("failed: {why}"),
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A candidate as `news list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listed {
    pub id: i64,
    pub source: String,
    pub title: String,
    pub url: String,
    /// RFC 3339; absent when the feed gave no date.
    pub published: Option<String>,
    /// "3h ago", "2d ago": from the date, or from when it was first pulled.
    pub age: String,
    pub summary: String,
    /// The issue that already carries this story, if any.
    pub used_in: Option<String>,
}

/// Candidates dated within `since` of `now`, newest first; without
/// `include_used`, only those no issue carries yet.
pub fn list(
    project: &Project,
    since: Duration,
    include_used: bool,
    now: DateTime<Utc>,
) -> Result<Vec<Listed>> {
    let state = State::open(&project.config.paths.state)?;
    let from = now - chrono::Duration::from_std(since).unwrap_or(chrono::Duration::MAX);
    let issues = issue_links(project)?;
    let out = state
        .candidates_since(&rfc3339(from))?
        .into_iter()
        .map(|c| listed(c, &issues, now))
        .filter(|l| include_used || l.used_in.is_none())
        .collect();
    Ok(out)
}

fn listed(c: Candidate, issues: &[IssueLinks], now: DateTime<Utc>) -> Listed {
    let when = c
        .published
        .as_deref()
        .and_then(parse_time)
        .or_else(|| parse_time(&c.first_seen))
        .unwrap_or(now);
    Listed {
        id: c.id,
        used_in: links::used_in(issues, &c.link_key, None).map(|(i, _)| i.id.to_string()),
        source: c.feed,
        title: c.title,
        url: c.url,
        published: c.published,
        age: age(when, now),
        summary: c.summary,
    }
}

fn issue_links(project: &Project) -> Result<Vec<IssueLinks>> {
    let ids = project.issue_ids()?;
    Ok(links::all(&project.config.paths.issues, &ids))
}

/// "just now", "5h ago", "3d ago", "2w ago", "1mo ago", "1y ago".
pub fn age(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let d = now - then;
    let (hours, days) = (d.num_hours(), d.num_days());
    match () {
        _ if hours < 1 => "just now".into(),
        _ if hours < 24 => format!("{hours}h ago"),
        _ if days < 14 => format!("{days}d ago"),
        _ if days < 30 => format!("{}w ago", days / 7),
        _ if days < 365 => format!("{}mo ago", days / 30),
        _ => format!("{}y ago", days / 365),
    }
}

/// What `add` did to an issue.
#[derive(Debug)]
pub struct Added {
    pub issue: IssueId,
    pub file: PathBuf,
    /// (candidate id, title) of each item appended, in order.
    pub items: Vec<(i64, String)>,
    /// The scaffold's untouched placeholder item was taken out.
    pub replaced_template: bool,
    /// Things the editor should know (a story already sent, a link made https).
    pub warnings: Vec<String>,
}

/// Appends a `[[news]]` table per candidate to `issue`'s `issue.toml`.
pub fn add(project: &Project, ids: &[i64], issue: &str) -> Result<Added> {
    let id = project.resolve(Some(issue))?;
    let state = State::open(&project.config.paths.state)?;
    let mut seen = BTreeSet::new();
    let mut candidates = Vec::new();
    for &n in ids {
        if !seen.insert(n) {
            continue;
        }
        let c = state.candidate(n)?.ok_or_else(|| {
            Error::NotFound(format!(
                "there is no candidate {n}; `almanac news list` shows the ids (after `almanac news pull`)"
            ))
        })?;
        candidates.push(c);
    }
    add_candidates(project, &id, candidates)
}

/// The unused candidates of the week before `date` (and up to it), newest
/// first, at most `limit`; and how many there were in all.
pub fn week_before(
    project: &Project,
    date: NaiveDate,
    since: Duration,
    limit: usize,
) -> Result<(Vec<Candidate>, usize)> {
    let state = State::open(&project.config.paths.state)?;
    let tz = project.timezone();
    let end = date.succ_opt().unwrap_or(date);
    let to_utc = |d: NaiveDate| {
        d.and_time(chrono::NaiveTime::MIN)
            .and_local_timezone(tz)
            .earliest()
            .map_or_else(
                || d.and_time(chrono::NaiveTime::MIN).and_utc(),
                |t| t.with_timezone(&Utc),
            )
    };
    let until = to_utc(end);
    let from = until - chrono::Duration::from_std(since).unwrap_or(chrono::Duration::MAX);
    let issues = issue_links(project)?;
    let all: Vec<Candidate> = state
        .candidates_since(&rfc3339(from))?
        .into_iter()
        .filter(|c| {
            let when = c.published.as_deref().unwrap_or(&c.first_seen);
            parse_time(when).is_some_and(|t| t < until)
        })
        .filter(|c| links::used_in(&issues, &c.link_key, None).is_none())
        .collect();
    let total = all.len();
    Ok((all.into_iter().take(limit).collect(), total))
}

/// Appends `candidates` to the issue's file (see `add`).
pub fn add_candidates(
    project: &Project,
    id: &IssueId,
    candidates: Vec<Candidate>,
) -> Result<Added> {
    let file = project.issue_dir(id).join("issue.toml");
    let src = crate::diag::read_text(&file, 512 * 1024)?;
    let mut doc: DocumentMut = src.parse().map_err(|e: toml_edit::TomlError| {
        let mut p = Problem::error(&file, e.message().trim().to_owned())
            .hint("fix the file first: `almanac news add` edits valid TOML only");
        if let Some(span) = e.span() {
            p = p.at(&src, span);
        }
        Error::from(p)
    })?;
    let issues = issue_links(project)?;
    let mut added = Added {
        issue: id.clone(),
        file: file.clone(),
        items: Vec::new(),
        replaced_template: false,
        warnings: Vec::new(),
    };
    let issue_date = doc
        .get("date")
        .and_then(Item::as_value)
        .and_then(Value::as_datetime)
        .and_then(|d| d.date)
        .and_then(|d| NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into()));
    if !doc.get("draft").and_then(Item::as_bool).unwrap_or(false) {
        added.warnings.push(format!(
            "{id} is not a draft: it will not build until every new item has a score"
        ));
    }
    let news = news_tables(&mut doc, &file)?;
    let mut prefix = take_template_item(news);
    added.replaced_template = prefix.is_some();
    for c in candidates {
        // This issue first: an earlier issue carrying the story too must
        // not hide that the draft already has it.
        let here = issues.iter().filter(|i| &i.id == id);
        if let Some((_, n)) = links::used_in_any(here, &c.link_key) {
            added.warnings.push(format!(
                "candidate {} is already news item {n} of {id}; not added again",
                c.id
            ));
            continue;
        }
        if let Some((issue, n)) = links::used_in(&issues, &c.link_key, Some(id)) {
            added.warnings.push(format!(
                "candidate {} ({}) was already in {} (news item {n}); added anyway, and `almanac check` will say so",
                c.id, c.url, issue.id
            ));
        }
        let (table, notes) = news_table(project, &c, issue_date, prefix.take());
        added.warnings.extend(notes);
        news.push(table);
        added.items.push((c.id, c.title));
    }
    crate::fsx::write_file(&file, doc.to_string().as_bytes())?;
    Ok(added)
}

/// The `[[news]]` array of tables, created when the file has none.
fn news_tables<'d>(
    doc: &'d mut DocumentMut,
    file: &std::path::Path,
) -> Result<&'d mut ArrayOfTables> {
    let item = doc
        .entry("news")
        .or_insert(Item::ArrayOfTables(ArrayOfTables::new()));
    item.as_array_of_tables_mut().ok_or_else(|| {
        Problem::error(file, "`news` is not written as [[news]] tables")
            .hint("rewrite the items as [[news]] tables, as `almanac new` does; then add again")
            .into()
    })
}

/// Takes out the scaffold's placeholder item if the editor left it as
/// `almanac new` wrote it, and returns the comment above it (which
/// explains the tables) for the first item added in its place.
fn take_template_item(news: &mut ArrayOfTables) -> Option<String> {
    let untouched = |t: &Table| {
        t.get("title").and_then(Item::as_str) == Some("TODO: the item's headline")
            && t.get("url").and_then(Item::as_str) == Some("https://example.com/TODO")
    };
    let at = news.iter().position(untouched)?;
    let prefix = news
        .get(at)
        .and_then(|t| t.decor().prefix())
        .and_then(|p| p.as_str())
        .unwrap_or("")
        .to_owned();
    news.remove(at);
    Some(prefix)
}

/// One candidate as a `[[news]]` table, and notes for the editor.
fn news_table(
    project: &Project,
    c: &Candidate,
    issue_date: Option<NaiveDate>,
    prefix: Option<String>,
) -> (Table, Vec<String>) {
    let mut notes = Vec::new();
    let mut url = c.url.clone();
    if let Some(rest) = url.strip_prefix("http://") {
        url = format!("https://{rest}");
        notes.push(format!(
            "candidate {}: the feed links over plain http; written as {url} (emails carry https links only): check that it opens",
            c.id
        ));
    }
    let tz = project.timezone();
    let published = c
        .published
        .as_deref()
        .and_then(parse_time)
        .or_else(|| parse_time(&c.first_seen))
        .map(|t| t.with_timezone(&tz).date_naive());
    if let (Some(p), Some(d)) = (published, issue_date)
        && p > d
    {
        notes.push(format!(
            "candidate {} was published {p}, after the issue's date {d}; `almanac check` will refuse it until the dates agree",
            c.id
        ));
    }
    let feed = project
        .config
        .feeds
        .iter()
        .find(|f| f.name.as_str() == c.feed);
    let mut t = Table::new();
    let comment = format!(
        "# Candidate {} from {}: give it a `score` (1 to 10) and make the summary your own.\n",
        c.id, c.feed
    );
    t.decor_mut().set_prefix(format!(
        "{}{comment}",
        prefix.unwrap_or_else(|| "\n".into())
    ));
    t.insert("title", toml_edit::value(c.title.as_str()));
    t.insert("url", toml_edit::value(url));
    t.insert("source", toml_edit::value(c.feed.as_str()));
    if let Some(d) = published.and_then(toml_date) {
        t.insert("published", toml_edit::value(d));
    }
    if let Some(topic) = feed.and_then(|f| f.topic.as_ref()) {
        t.insert("topic", toml_edit::value(topic.as_str()));
    }
    t.insert("summary", Item::Value(summary_value(&c.summary)));
    (t, notes)
}

fn toml_date(d: NaiveDate) -> Option<toml_edit::Datetime> {
    use chrono::Datelike;
    Some(toml_edit::Datetime {
        date: Some(toml_edit::Date {
            year: u16::try_from(d.year()).ok()?,
            month: u8::try_from(d.month()).ok()?,
            day: u8::try_from(d.day()).ok()?,
        }),
        time: None,
        offset: None,
    })
}

/// The summary as the samples write it: a multi-line string, wrapped for
/// the editor to rework. A feed without one leaves a marker that the
/// placeholder check asks about.
fn summary_value(summary: &str) -> Value {
    if summary.trim().is_empty() {
        return Value::from("TODO: the feed gave no summary; write one.");
    }
    let opts = textwrap::Options::new(76).break_words(false);
    let wrapped = textwrap::fill(summary.trim(), opts);
    // In a """ string only a backslash and three quotes in a row need care.
    let escaped = wrapped.replace('\\', "\\\\").replace("\"\"\"", "\"\"\\\"");
    let repr = format!("\"\"\"\n{escaped}\n\"\"\"");
    match repr.parse::<Value>() {
        Ok(v) if v.as_str() == Some(&format!("{wrapped}\n")) => v,
        _ => Value::from(summary.trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_the_samples() {
        let now: DateTime<Utc> = "2026-12-09T07:00:00Z".parse().unwrap();
        let at = |s: &str| age(s.parse().unwrap(), now);
        assert_eq!(at("2026-12-09T06:30:00Z"), "just now");
        assert_eq!(at("2026-12-09T02:00:00Z"), "5h ago");
        assert_eq!(at("2026-12-06T07:00:00Z"), "3d ago");
        assert_eq!(at("2026-11-18T07:00:00Z"), "3w ago");
        assert_eq!(at("2026-10-30T07:00:00Z"), "1mo ago");
    }

    #[test]
    fn summaries_are_multiline_strings_that_read_back() {
        let s = "A \"quoted\" word, a back\\slash and \"\"\"three quotes\"\"\" in a long enough sentence to wrap over the width of one line.";
        let v = summary_value(s);
        let repr = v.to_string();
        assert!(repr.trim_start().starts_with("\"\"\"\n"), "{repr}");
        let doc: toml::Table = toml::from_str(&format!("summary = {repr}")).unwrap();
        let back = doc["summary"].as_str().unwrap();
        assert_eq!(back.split_whitespace().collect::<Vec<_>>().join(" "), s);
        assert_eq!(
            summary_value("").as_str(),
            Some("TODO: the feed gave no summary; write one.")
        );
    }
}
