//! `issue.toml`: edition, date, subject, preheader, editor's note and the
//! curated `[[news]]` items. Each item is deserialised on its own, so one bad
//! item is reported without hiding the problems in the others.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeValue, ValueDeserializer};

use super::{Date, Guide, guide};
use crate::diag::{Problem, Problems, read_text, toml_problem};
use crate::domain::{EditionId, HttpsUrl, IssueId, Line, Prose, Score};
use crate::layouts::Layouts;

const MAX_ISSUE_BYTES: u64 = 512 * 1024;
pub const MAX_SUBJECT: usize = 150;
pub const MAX_PREHEADER: usize = 200;

#[derive(Debug, Clone)]
pub struct Issue {
    pub id: IssueId,
    pub edition: EditionId,
    pub date: Date,
    pub subject: Line,
    pub preheader: Line,
    pub note: Option<Prose>,
    /// In file order; the edition's rules pick and order them at render time.
    pub news: Vec<NewsItem>,
    pub guide: Guide,
    /// A draft is never sent (proofs and preview only); `almanac new`
    /// writes `draft = true`, and the editor removes it when ready.
    pub draft: bool,
    /// Found while loading but not stopping it (placeholders in a draft).
    pub warnings: Problems,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewsItem {
    pub title: Line,
    pub url: HttpsUrl,
    pub source: Line,
    pub published: Date,
    pub score: Score,
    #[serde(default)]
    pub topic: Option<Line>,
    pub summary: Prose,
}

impl NewsItem {
    /// "today", "3d ago", "2w ago", "1mo ago": always computed from the issue
    /// date, never typed, so it cannot go stale.
    pub fn age(&self, issue_date: Date) -> String {
        let days = (issue_date.0 - self.published.0).num_days().max(0);
        match days {
            0 => "today".into(),
            1..=13 => format!("{days}d ago"),
            14..=29 => format!("{}w ago", days / 7),
            30..=364 => format!("{}mo ago", days / 30),
            _ => format!("{}y ago", days / 365),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssue {
    edition: Spanned<EditionId>,
    date: Spanned<Date>,
    subject: Spanned<String>,
    preheader: Spanned<String>,
    #[serde(default)]
    note: Option<Prose>,
    #[serde(default)]
    draft: bool,
    /// Words the placeholder check must not flag (say, a real "TK").
    #[serde(default)]
    allow_words: Vec<String>,
    /// Only checked for shape here; `Cx::news` reads the items with spans.
    #[serde(default)]
    #[allow(dead_code)]
    news: Vec<toml::Table>,
}

pub fn load(id: IssueId, dir: &Path, layouts: &Layouts) -> Result<Issue, Problems> {
    let file = dir.join("issue.toml");
    let mut problems = Problems::default();
    let guide = guide::load(&dir.join("guide.md"));
    let parsed = read_text(&file, MAX_ISSUE_BYTES)
        .map_err(Problems::from)
        .and_then(|src| {
            let raw: RawIssue = toml::from_str(&src).map_err(|e| toml_problem(&file, &src, &e))?;
            Ok((src, raw))
        });
    let (src, raw) = match parsed {
        Ok(v) => v,
        Err(p) => {
            problems.extend(p);
            if let Err(g) = guide {
                problems.extend(g);
            }
            return Err(problems);
        }
    };
    let mut cx = Cx {
        file: &file,
        src: &src,
        problems: &mut problems,
    };
    cx.check_edition(&raw.edition, layouts);
    cx.check_folder_edition(&id, &raw.edition, layouts);
    cx.check_date(&id, &raw.date);
    let subject = cx.line(&raw.subject, "the subject", MAX_SUBJECT);
    let preheader = cx.line(&raw.preheader, "the preheader", MAX_PREHEADER);
    let date = *raw.date.get_ref();
    let news = cx.news(date);
    let guide = guide.map_err(|g| problems.extend(g)).ok();
    let mut warnings = Problems::default();
    for p in placeholders(dir, &src, &raw.allow_words, raw.draft) {
        if p.is_error() {
            problems.push(p);
        } else {
            warnings.push(p);
        }
    }
    match (subject, preheader, guide) {
        (Some(subject), Some(preheader), Some(guide)) if !problems.has_errors() => Ok(Issue {
            id,
            edition: raw.edition.into_inner(),
            date,
            subject,
            preheader,
            note: raw.note,
            news,
            guide,
            draft: raw.draft,
            warnings,
        }),
        _ => Err(problems),
    }
}

/// Placeholders in issue.toml and guide.md (an unreadable guide has been
/// reported already).
fn placeholders(dir: &Path, src: &Arc<str>, allow: &[String], draft: bool) -> Vec<Problem> {
    use super::placeholders::{Kind, problems};
    let mut out = problems(&dir.join("issue.toml"), src, Kind::Toml, allow, draft);
    let guide = dir.join("guide.md");
    if let Ok(text) = read_text(&guide, MAX_ISSUE_BYTES) {
        out.extend(problems(&guide, &text, Kind::Markdown, allow, draft));
    }
    out
}

struct Cx<'a> {
    file: &'a Path,
    src: &'a Arc<str>,
    problems: &'a mut Problems,
}

impl Cx<'_> {
    fn push(&mut self, span: std::ops::Range<usize>, msg: String, hint: &str) {
        self.problems
            .push(Problem::error(self.file, msg).at(self.src, span).hint(hint));
    }

    fn check_edition(&mut self, e: &Spanned<EditionId>, layouts: &Layouts) {
        if layouts.edition(e.get_ref()).is_none() {
            self.push(
                e.span(),
                format!("unknown edition `{}`", e.get_ref()),
                &format!(
                    "known editions are {}; an edition is a file in layouts/editions/",
                    layouts.edition_names()
                ),
            );
        }
    }

    /// A folder named `<date>-<edition>` must hold that edition: the
    /// scheduler finds issues by edition, and a mismatch sends the wrong one.
    fn check_folder_edition(&mut self, id: &IssueId, e: &Spanned<EditionId>, layouts: &Layouts) {
        let Some((_, suffix)) = id.as_str().rsplit_once('-') else {
            return;
        };
        let named = layouts.editions.keys().find(|k| k.as_str() == suffix);
        // An unknown edition has been reported already.
        if let Some(named) = named
            && named != e.get_ref()
            && layouts.edition(e.get_ref()).is_some()
        {
            self.push(
                e.span(),
                format!(
                    "the folder `{id}` is named for the {named} edition, but this issue says `{}`",
                    e.get_ref()
                ),
                "rename the folder or change `edition` so the two agree",
            );
        }
    }

    fn check_date(&mut self, id: &IssueId, d: &Spanned<Date>) {
        let date = d.get_ref().0.format("%Y-%m-%d").to_string();
        if id.as_str().len() >= 10
            && id.as_str()[..10].parse::<chrono::NaiveDate>().is_ok()
            && !id.as_str().starts_with(&date)
        {
            self.push(
                d.span(),
                format!("the date {date} does not match the folder name `{id}`"),
                "the folder name starts with the issue's date; make the two agree",
            );
        }
    }

    fn line(&mut self, s: &Spanned<String>, what: &str, max: usize) -> Option<Line> {
        Line::new(s.get_ref(), what, max)
            .map_err(|e| self.push(s.span(), e, "keep it to one line of plain text"))
            .ok()
    }

    /// Deserialises each `[[news]]` table on its own, from the spanned parse
    /// of the file (not from a `toml::Table`, which has lost its positions),
    /// so every error points at the key or value it is about.
    fn news(&mut self, date: Date) -> Vec<NewsItem> {
        let Ok(doc) = toml::de::DeTable::parse(self.src) else {
            // Unreachable in practice: the same text has just parsed.
            return Vec::new();
        };
        let items: Vec<Spanned<DeValue<'_>>> = doc
            .get_ref()
            .get("news")
            .and_then(|v| v.get_ref().as_array())
            .map(|a| a.iter().cloned().collect())
            .unwrap_or_default();
        let mut out: Vec<NewsItem> = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            // The span of an array-of-tables entry is its `[[news]]` header.
            let header = item.span();
            let value_span = |key: &str| {
                item.get_ref()
                    .as_table()
                    .and_then(|t| t.get(key))
                    .map_or(header.clone(), |v| v.span())
            };
            let n = match NewsItem::deserialize(ValueDeserializer::from(item.clone())) {
                Ok(n) => n,
                Err(e) => {
                    self.push(
                        e.span().unwrap_or(header.clone()),
                        format!("news item {}: {}", i + 1, e.message().trim()),
                        "each [[news]] has title, url, source, published, score (1-10), summary and an optional topic",
                    );
                    continue;
                }
            };
            if n.published > date {
                self.push(
                    value_span("published"),
                    format!("news item {} was published after the issue date", i + 1),
                    "check the `published` date; it must be on or before the issue's `date`",
                );
            }
            if out.iter().any(|o| o.url == n.url) {
                self.push(
                    value_span("url"),
                    format!("news item {} repeats a link already in this issue", i + 1),
                    "remove the duplicate item",
                );
            }
            out.push(n);
        }
        if out.is_empty() && !self.problems.has_errors() {
            self.problems.push(
                Problem::error(self.file, "this issue has no news items")
                    .hint("add at least one [[news]] table"),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(published: &str) -> NewsItem {
        toml::from_str(&format!(
            "title='t'\nurl='https://e.com'\nsource='s'\npublished={published}\nscore=5\nsummary='x'"
        ))
        .unwrap()
    }

    #[test]
    fn ages_are_computed() {
        let d = Date("2026-11-25".parse().unwrap());
        assert_eq!(item("2026-11-25").age(d), "today");
        assert_eq!(item("2026-11-22").age(d), "3d ago");
        assert_eq!(item("2026-11-04").age(d), "3w ago");
        assert_eq!(item("2026-10-20").age(d), "1mo ago");
        assert_eq!(item("2025-10-20").age(d), "1y ago");
    }
}
