//! `almanac new EDITION [--date D]`: scaffolds `issues/<date>-<edition>/`
//! with a commented `issue.toml` and `guide.md`. The default date is the
//! edition's next scheduled weekday after today. Never overwrites.

use std::process::ExitCode;

use chrono::{Datelike, Days, NaiveDate};

use super::project::Project;
use super::{Cli, CmdResult, Failure, exit};
use crate::domain::EditionId;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The edition, e.g. `midweek` or `sunday`.
    pub edition: String,
    /// The issue date (YYYY-MM-DD); default: the edition's next scheduled day.
    #[arg(long)]
    pub date: Option<NaiveDate>,
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = Project::load(cli)?;
    let edition: EditionId = args
        .edition
        .parse()
        .map_err(|e: String| Failure::Message(e, exit::USAGE))?;
    let Some(ed) = project.layouts.edition(&edition) else {
        return Err(Failure::Message(
            format!(
                "unknown edition `{edition}`; known editions are {}",
                project.layouts.edition_names()
            ),
            exit::USAGE,
        ));
    };
    let today = crate::clock::now().date_naive();
    let date = match args.date {
        Some(d) => d,
        None => next_date(&project, &edition, today).ok_or_else(|| {
            Failure::Message(
                format!("the schedule has no day for `{edition}`; pass --date YYYY-MM-DD"),
                exit::USAGE,
            )
        })?,
    };
    let id = format!("{}-{edition}", date.format("%Y-%m-%d"));
    let dir = project.config.paths.issues.join(&id);
    if dir.exists() {
        return Err(Failure::Message(
            format!(
                "{} already exists; not overwriting it (pass --date for another day)",
                dir.display()
            ),
            exit::INVALID,
        ));
    }
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).map_err(|e| {
            Failure::Message(
                format!("cannot write {}: {e}", dir.join(name).display()),
                exit::INVALID,
            )
        })
    };
    std::fs::create_dir_all(&dir).map_err(|e| {
        Failure::Message(
            format!("cannot create {}: {e}", dir.display()),
            exit::INVALID,
        )
    })?;
    write(
        "issue.toml",
        issue_template(&edition, ed.name.as_str(), date),
    )?;
    write("guide.md", GUIDE_TEMPLATE.to_owned())?;
    println!("created {}", dir.display());
    println!(
        "next: fill in issue.toml and guide.md, then `almanac check {id}` and `almanac build {id}`"
    );
    Ok(ExitCode::from(exit::OK))
}

/// The first day after `today` that the schedule sends this edition.
fn next_date(project: &Project, edition: &EditionId, today: NaiveDate) -> Option<NaiveDate> {
    let slot = project
        .config
        .schedule
        .as_ref()?
        .slots
        .iter()
        .find(|s| &s.edition == edition)?;
    (1..=7)
        .filter_map(|n| today.checked_add_days(Days::new(n)))
        .find(|d| d.weekday() == slot.weekday)
}

fn issue_template(edition: &EditionId, name: &str, date: NaiveDate) -> String {
    format!(
        r#"# The {name} issue of {date}. `almanac check` validates this file.
edition = "{edition}"
date = {date}

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
