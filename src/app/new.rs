//! Scaffolding the next issue of an edition: `issues/<date>-<edition>/`
//! with a commented `issue.toml` and `guide.md`. The default date is the
//! edition's next scheduled send in the schedule's time zone. Never
//! overwrites.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};

use super::{Error, Project, Result};
use crate::domain::EditionId;
use crate::fsx::Context;

pub struct Created {
    pub id: String,
    pub dir: PathBuf,
    pub date: NaiveDate,
    /// The date is not a scheduled send of the edition, or is past.
    pub warnings: Vec<String>,
}

pub fn scaffold(
    project: &Project,
    edition: &str,
    date: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Result<Created> {
    let edition = project.edition(edition)?;
    let name = project
        .layouts
        .edition(&edition)
        .expect("checked by Project::edition")
        .name
        .to_string();
    let date = match date {
        Some(d) => d,
        None => next_date(project, &edition, now).ok_or_else(|| {
            Error::Usage(format!(
                "the schedule has no day for `{edition}`; pass --date YYYY-MM-DD"
            ))
        })?,
    };
    let id = format!("{}-{edition}", date.format("%Y-%m-%d"));
    let dir = project.config.paths.issues.join(&id);
    if dir.exists() {
        return Err(Error::IssueExists(dir));
    }
    std::fs::create_dir_all(&dir).at("create", &dir)?;
    crate::fsx::write_file(
        &dir.join("issue.toml"),
        issue_template(&edition, &name, date).as_bytes(),
    )?;
    crate::fsx::write_file(&dir.join("guide.md"), GUIDE_TEMPLATE.as_bytes())?;
    let warnings = date_warnings(project, &edition, date, now);
    Ok(Created {
        id,
        dir,
        date,
        warnings,
    })
}

/// Most candidates `new --from-news` puts in a draft: more is a reading
/// list, not an issue (the rest stay in `almanac news list`).
pub const FROM_NEWS_LIMIT: usize = 40;

/// What `new --from-news` put in the draft.
pub struct FromNews {
    /// `None` when there were no candidates (the template's item stays).
    pub added: Option<super::news::Added>,
    /// Unused candidates in the window; more than were added past the limit.
    pub available: usize,
}

/// Scaffolds the issue as `scaffold` does, with the unused candidates of
/// the `since` before its date in place of the template's news item.
pub fn scaffold_from_news(
    project: &Project,
    edition: &str,
    date: Option<NaiveDate>,
    now: DateTime<Utc>,
    since: std::time::Duration,
) -> Result<(Created, FromNews)> {
    let created = scaffold(project, edition, date, now)?;
    let id: crate::domain::IssueId = created.id.parse().map_err(Error::Usage)?;
    let (candidates, available) =
        super::news::week_before(project, created.date, since, FROM_NEWS_LIMIT)?;
    let added = if candidates.is_empty() {
        None
    } else {
        Some(super::news::add_candidates(project, &id, candidates)?)
    };
    Ok((created, FromNews { added, available }))
}

/// "Wednesday" (chrono's `Display` gives "Wed").
fn day_name(w: chrono::Weekday) -> String {
    NaiveDate::from_isoywd_opt(2026, 1, w)
        .map_or_else(|| w.to_string(), |d| d.format("%A").to_string())
}

/// What is odd about a date given with --date: a day the schedule does not
/// send this edition (`send --due` would never pick the issue up), or a
/// day that has passed.
fn date_warnings(
    project: &Project,
    edition: &EditionId,
    date: NaiveDate,
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(s) = &project.config.schedule {
        let today = now.with_timezone(&s.timezone).date_naive();
        if date < today {
            out.push(format!(
                "{date} is in the past (today is {today} in {})",
                s.timezone
            ));
        }
        let slot = s.slots.iter().find(|sl| &sl.edition == edition);
        match slot {
            Some(sl) if chrono::Datelike::weekday(&date) != sl.weekday => {
                let day = day_name(sl.weekday);
                out.push(format!(
                    "{date} is a {}, but {edition} is scheduled on {day}s; `send --due` will not send this issue (send it by hand, or pick a {day})",
                    date.format("%A"),
                ))
            }
            None => out.push(format!(
                "the schedule has no slot for {edition}; `send --due` will not send this issue"
            )),
            Some(_) => {}
        }
    }
    out
}

/// The local date of the edition's next scheduled send after `now`.
fn next_date(project: &Project, edition: &EditionId, now: DateTime<Utc>) -> Option<NaiveDate> {
    let s = project.config.schedule.as_ref()?;
    let slot = s.slots.iter().find(|sl| &sl.edition == edition)?;
    crate::schedule::next(s.timezone, slot, now).map(|o| o.date)
}

fn issue_template(edition: &EditionId, name: &str, date: NaiveDate) -> String {
    format!(
        r#"# The {name} issue of {date}. `almanac check` validates this file.
edition = "{edition}"
date = {date}
# A draft is never sent (proofs and the preview only). Delete this line, or
# set it to false, when the issue is ready.
draft = true

# One line, at most 150 characters. Shown as the email's subject.
subject = "TODO: write the subject"
# The inbox teaser shown after the subject, at most 200 characters.
preheader = "TODO: one sentence that makes people open the email."

# The editor's note, plain text; separate paragraphs with a blank line.
note = """
TODO: a short note to readers.
"""

# One [[news]] table per curated item. The edition's layout decides how many
# are shown and in what order. The age ("3d ago") is computed from `date`.
[[news]]
title = "TODO: the item's headline"
url = "https://example.com/TODO"
source = "TODO: where it was published"
published = {date}
score = 5          # 1 (minor) to 10 (the story of the week)
topic = "general"  # optional
summary = """
TODO: two to four sentences in your own words.
"""
"#
    )
}

const GUIDE_TEMPLATE: &str = r#"+++
# The featured guide. Everything between the +++ lines is TOML.
title = "TODO: the guide's title"
kind = "Concept guide"        # e.g. Concept guide, Deep dive, How-to
level = "Beginner"            # Beginner, Intermediate or Advanced
topic = "TODO: topic"
tldr = "TODO: the guide in two sentences."
takeaways = [
  "TODO: first key takeaway.",
]
related = ["TODO: a related topic"]
+++

TODO: an introductory paragraph. Markdown works: **bold**, *italic*,
[links](https://example.com) (https only), lists and > quotes. Raw HTML does not.

## What it is

TODO.

## Timeline

1. **2024** — TODO: what happened.

## FAQ

### TODO: a question readers ask?

TODO: its answer.
"#;
