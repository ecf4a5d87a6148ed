//! `issue.toml`: edition, date, subject, preheader, editor's note and the
//! curated `[[news]]` items. Each item is deserialised on its own, so one bad
//! item is reported without hiding the problems in the others.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::fields::Fields;
use super::{Date, Guide, guide};
use crate::diag::{Problem, Problems, read_text, toml_problem, toml_value_problem};
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
    /// Found while loading but not stopping it (placeholders in a draft,
    /// guide images without a size), at their line and column.
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

const ISSUE_KEYS: &[&str] = &[
    "edition",
    "date",
    "subject",
    "preheader",
    "note",
    "draft",
    "allow_words",
    "news",
];
const NEWS_KEYS: &[&str] = &[
    "title",
    "url",
    "source",
    "published",
    "score",
    "topic",
    "summary",
];
const NEWS_HINT: &str =
    "each [[news]] has title, url, source, published, score (1-10), summary and an optional topic";

pub fn load(id: IssueId, dir: &Path, layouts: &Layouts) -> Result<Issue, Problems> {
    let file = dir.join("issue.toml");
    let guide = guide::load(&dir.join("guide.md"));
    let mut problems = Problems::default();
    let head = match read_text(&file, MAX_ISSUE_BYTES) {
        Ok(src) => parse(&id, &file, &src, layouts, &mut problems),
        Err(p) => {
            problems.push(p);
            None
        }
    };
    let guide = guide.map_err(|g| problems.extend(g)).ok();
    let mut warnings = guide
        .as_ref()
        .map(|g| g.warnings.clone())
        .unwrap_or_default();
    if let (Ok(src), Some(h)) = (read_text(&file, MAX_ISSUE_BYTES), &head) {
        for p in placeholders(dir, &src, &h.allow_words, h.draft) {
            if p.is_error() {
                problems.push(p);
            } else {
                warnings.push(p);
            }
        }
    }
    match (head, guide) {
        (Some(h), Some(guide)) if !problems.has_errors() => Ok(Issue {
            warnings: {
                // What parsing found but let pass (a draft's unscored item).
                warnings.extend(problems);
                warnings
            },
            id,
            edition: h.edition,
            date: h.date,
            subject: h.subject,
            preheader: h.preheader,
            note: h.note,
            news: h.news,
            guide,
            draft: h.draft,
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

/// Everything `issue.toml` holds, validated.
struct Head {
    edition: EditionId,
    date: Date,
    subject: Line,
    preheader: Line,
    note: Option<Prose>,
    draft: bool,
    /// Words the placeholder check must not flag (say, a real "TK").
    allow_words: Vec<String>,
    news: Vec<NewsItem>,
}

/// Reads every field of the file and of each news item on its own, so one
/// run reports every bad value, each at its own position.
fn parse(
    id: &IssueId,
    file: &Path,
    src: &Arc<str>,
    layouts: &Layouts,
    problems: &mut Problems,
) -> Option<Head> {
    let doc = DeTable::parse(src)
        .map_err(|e| problems.push(toml_problem(file, src, &e)))
        .ok()?;
    let mut fields = Fields::new(doc.get_ref(), 0..0);
    let edition = fields.required::<EditionId>("edition");
    let date = fields.required::<Date>("date");
    let subject = fields.required::<String>("subject");
    let preheader = fields.required::<String>("preheader");
    let note = fields.optional::<Prose>("note");
    let draft = fields.optional::<bool>("draft");
    let allow_words = fields.optional::<Vec<String>>("allow_words");
    fields.deny_unknown(ISSUE_KEYS);
    for (span, msg) in fields.take_errors() {
        problems.push(toml_value_problem(file, src, span, msg));
    }
    let is_draft = draft
        .as_ref()
        .is_some_and(|d| d.as_ref().is_some_and(|d| *d.get_ref()));
    let mut cx = Cx {
        file,
        src,
        problems,
        draft: is_draft,
    };
    if let Some(e) = &edition {
        cx.check_edition(e, layouts);
        cx.check_folder_edition(id, e, layouts);
    }
    if let Some(d) = &date {
        cx.check_date(id, d);
    }
    let subject = subject.and_then(|s| cx.line(&s, "the subject", MAX_SUBJECT));
    let preheader = preheader.and_then(|s| cx.line(&s, "the preheader", MAX_PREHEADER));
    let news = cx.news(fields.value("news"), date.as_ref().map(|d| *d.get_ref()));
    Some(Head {
        edition: edition?.into_inner(),
        date: date?.into_inner(),
        subject: subject?,
        preheader: preheader?,
        note: note?.map(Spanned::into_inner),
        draft: draft?.is_some_and(Spanned::into_inner),
        allow_words: allow_words?.map(Spanned::into_inner).unwrap_or_default(),
        news,
    })
}

struct Cx<'a> {
    file: &'a Path,
    src: &'a Arc<str>,
    problems: &'a mut Problems,
    /// A draft may hold news items the editor has not scored yet.
    draft: bool,
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

    /// Reads every `[[news]]` table from the spanned parse of the file (not
    /// from a `toml::Table`, which has lost its positions), so every error
    /// points at the key or value it is about. `date` is the issue's, when
    /// it could be read.
    fn news(&mut self, news: Option<&Spanned<DeValue<'_>>>, date: Option<Date>) -> Vec<NewsItem> {
        let items = match news.map(|n| (n, n.get_ref().as_array())) {
            None => None,
            Some((_, Some(items))) => Some(items.iter().collect::<Vec<_>>()),
            Some((n, None)) => {
                self.push(
                    n.span(),
                    "`news` must be a list of [[news]] tables".into(),
                    NEWS_HINT,
                );
                return Vec::new();
            }
        };
        let mut out: Vec<NewsItem> = Vec::new();
        for (i, item) in items.into_iter().flatten().enumerate() {
            let Some(n) = self.news_item(i + 1, item) else {
                continue;
            };
            self.check_news_item(i + 1, item, &n, date, &out);
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

    /// One item, every field tried; `None` if any was missing or bad.
    fn news_item(&mut self, n: usize, item: &Spanned<DeValue<'_>>) -> Option<NewsItem> {
        // The span of an array-of-tables entry is its `[[news]]` header.
        let Some(table) = item.get_ref().as_table() else {
            self.push(
                item.span(),
                format!("news item {n} is not a table"),
                NEWS_HINT,
            );
            return None;
        };
        let mut f = Fields::new(table, item.span());
        let title = f.required::<Line>("title");
        let url = f.required::<HttpsUrl>("url");
        let source = f.required::<Line>("source");
        let published = f.required::<Date>("published");
        let score = match f.value("score") {
            None if self.draft => Some(self.unscored(n, item)),
            _ => f.required::<Score>("score"),
        };
        let topic = f.optional::<Line>("topic");
        let summary = f.required::<Prose>("summary");
        f.deny_unknown(NEWS_KEYS);
        for (span, msg) in f.take_errors() {
            self.push(span, format!("news item {n}: {msg}"), NEWS_HINT);
        }
        Some(NewsItem {
            title: title?.into_inner(),
            url: url?.into_inner(),
            source: source?.into_inner(),
            published: published?.into_inner(),
            score: score?.into_inner(),
            topic: topic?.map(Spanned::into_inner),
            summary: summary?.into_inner(),
        })
    }

    /// A draft's item without a score (as `almanac news add` writes them):
    /// asked for like a placeholder, a warning until the issue is ready,
    /// and ranked lowest meanwhile so the preview still works.
    fn unscored(&mut self, n: usize, item: &Spanned<DeValue<'_>>) -> Spanned<Score> {
        self.problems.push(
            Problem::warning(self.file, format!("news item {n} has no `score` yet"))
                .at(self.src, item.span())
                .hint("give it `score = N`, from 1 (minor) to 10 (the story of the week); a draft may wait (the preview ranks it 1), a ready issue may not"),
        );
        Spanned::new(item.span(), Score::new(1).expect("1 is a valid score"))
    }

    /// Checks across fields and items: dates and repeated links.
    fn check_news_item(
        &mut self,
        n: usize,
        item: &Spanned<DeValue<'_>>,
        news: &NewsItem,
        date: Option<Date>,
        earlier: &[NewsItem],
    ) {
        let value_span = |key: &str| {
            item.get_ref()
                .as_table()
                .and_then(|t| t.get(key))
                .map_or(item.span(), |v| v.span())
        };
        if date.is_some_and(|d| news.published > d) {
            self.push(
                value_span("published"),
                format!("news item {n} was published after the issue date"),
                "check the `published` date; it must be on or before the issue's `date`",
            );
        }
        // The same story behind a tracking parameter, `www.` or a trailing
        // slash is still the same story.
        let key = super::links::key(news.url.as_str());
        if let Some(m) = earlier.iter().position(|o| {
            o.url == news.url || (key.is_some() && super::links::key(o.url.as_str()) == key)
        }) {
            self.push(
                value_span("url"),
                format!("news item {n} repeats a link already in this issue"),
                &format!("news item {} has the same link; remove one of them", m + 1),
            );
        }
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
