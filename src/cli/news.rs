//! `almanac news pull | list | add`: the news desk (see `app::news`).

use chrono::{DateTime, Utc};
use clap::Subcommand;

use super::{Cli, CmdResult};
use crate::app::news::{FeedOutcome, PullReport};
use crate::app::{self, Error, exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, Subcommand)]
pub enum Action {
    /// Fetch every [[feeds]] source and store the new candidate stories.
    Pull {
        /// Print how each feed went as JSON.
        #[arg(long)]
        json: bool,
        /// The time to record the pull at (RFC 3339), instead of the clock.
        #[arg(long, value_parser = parse_now)]
        now: Option<DateTime<Utc>>,
    },
    /// Candidates no issue uses yet, newest first.
    List {
        /// How far back to look: `7d`, `48h`, ...
        #[arg(long, default_value = "7d", value_parser = parse_since)]
        since: std::time::Duration,
        /// Also show candidates an issue already carries, with that issue.
        #[arg(long)]
        used: bool,
        /// Print the candidates as JSON (id, source, title, url, published, age, summary, used_in).
        #[arg(long)]
        json: bool,
        /// List as of this time (RFC 3339), instead of the clock.
        #[arg(long, value_parser = parse_now)]
        now: Option<DateTime<Utc>>,
    },
    /// Append candidates to an issue's issue.toml as [[news]] tables (comments kept).
    Add {
        /// Candidate ids, as `almanac news list` shows them.
        #[arg(required = true)]
        ids: Vec<i64>,
        /// The issue (an id or folder), usually a draft from `almanac new`.
        #[arg(long)]
        issue: String,
    },
}

pub fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| format!("`{s}` is not an RFC 3339 time such as 2026-12-09T07:00:00Z ({e})"))
}

pub fn parse_since(s: &str) -> Result<std::time::Duration, String> {
    crate::config::parse_duration(s)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("`{s}` is not a duration such as `7d` or `48h`"))
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = super::project(cli)?;
    match &args.action {
        Action::Pull { json, now } => {
            let report = app::news::pull(&project, now.unwrap_or_else(crate::clock::now))?;
            if *json {
                super::print_json(&report);
            } else {
                print_pull(&report);
            }
            Ok(if report.failed() > 0 {
                exit::INVALID
            } else {
                exit::OK
            })
        }
        Action::List {
            since,
            used,
            json,
            now,
        } => {
            let now = now.unwrap_or_else(crate::clock::now);
            let items = app::news::list(&project, *since, *used, now)?;
            if *json {
                super::print_json(&items);
                return Ok(exit::OK);
            }
            print_list(&items, since, *used);
            Ok(exit::OK)
        }
        Action::Add { ids, issue } => add(&project, ids, issue),
    }
}

fn print_pull(r: &PullReport) {
    for f in &r.feeds {
        match &f.outcome {
            FeedOutcome::Pulled {
                new,
                known,
                filtered,
                skipped,
                moved_to,
            } => {
                let mut line = format!("{}: {new} new, {known} already known", f.name);
                if *filtered > 0 {
                    line.push_str(&format!(", {filtered} left out by include/exclude"));
                }
                if *skipped > 0 {
                    line.push_str(&format!(", {skipped} without a title or link"));
                }
                if let Some(to) = moved_to {
                    line.push_str(&format!(" (redirected to {to})"));
                }
                println!("{line}");
            }
            FeedOutcome::NotModified => println!("{}: not modified since the last pull", f.name),
            FeedOutcome::Failed { why, hint } => {
                eprintln!("error: feed `{}` ({}): {why}", f.name, f.url);
                eprintln!("  hint: {hint}");
            }
        }
    }
    let failed = r.failed();
    let ok = r.feeds.len() - failed;
    let mut summary = format!(
        "pulled {ok} of {}: {}",
        super::plural(r.feeds.len(), "feed"),
        super::plural(r.new_candidates(), "new candidate")
    );
    if failed > 0 {
        summary.push_str(&format!("; {failed} failed (above)"));
    }
    println!("{summary}");
    if r.new_candidates() > 0 {
        println!("next: `almanac news list`, then `almanac news add ID... --issue ISSUE`");
    }
}

/// "7d", "48h": a window as it was given.
pub fn window(since: &std::time::Duration) -> String {
    let secs = since.as_secs();
    if secs.is_multiple_of(86400) {
        format!("{}d", secs / 86400)
    } else {
        format!("{}h", secs.div_ceil(3600))
    }
}

/// Words of the summary shown under each title.
const SUMMARY_WORDS: usize = 16;

fn print_list(items: &[app::news::Listed], since: &std::time::Duration, used: bool) {
    let source_w = items
        .iter()
        .map(|i| i.source.chars().count())
        .max()
        .unwrap_or(0);
    let id_w = items
        .iter()
        .map(|i| i.id.to_string().len())
        .max()
        .unwrap_or(1);
    for i in items {
        let used_in = i
            .used_in
            .as_ref()
            .map(|u| format!("  [in {u}]"))
            .unwrap_or_default();
        println!(
            "{:>id_w$}  {:<source_w$}  {:>8}  {}{used_in}",
            i.id, i.source, i.age, i.title
        );
        let words: Vec<&str> = i.summary.split_whitespace().collect();
        if !words.is_empty() {
            let more = if words.len() > SUMMARY_WORDS {
                " …"
            } else {
                ""
            };
            let first = words[..words.len().min(SUMMARY_WORDS)].join(" ");
            println!("{:id_w$}  {first}{more}", "");
        }
    }
    let window = window(since);
    let what = if used {
        "candidates"
    } else {
        "candidates not yet in an issue"
    };
    println!("{} {what} from the last {window}", items.len());
    if !items.is_empty() {
        println!("add some with `almanac news add ID... --issue ISSUE`");
    }
}

fn add(project: &app::Project, ids: &[i64], issue: &str) -> CmdResult {
    let added = app::news::add(project, ids, issue)?;
    for w in &added.warnings {
        eprintln!("warning: {w}");
    }
    if added.replaced_template {
        println!("replaced the template's placeholder item");
    }
    for (id, title) in &added.items {
        println!("added {id}: {title}");
    }
    if added.items.is_empty() {
        return Err(Error::Invalid(format!(
            "nothing was added to {}",
            added.file.display()
        )));
    }
    println!(
        "{} now has {} more {}; give each a `score` (1 to 10), then `almanac check {}`",
        added.file.display(),
        added.items.len(),
        if added.items.len() == 1 {
            "news item"
        } else {
            "news items"
        },
        added.issue
    );
    Ok(exit::OK)
}
