//! `almanac new EDITION [--date D] [--from-news]`: scaffolds the next issue
//! (see `app::new`), optionally with the week's candidate stories.

use chrono::NaiveDate;

use super::{Cli, CmdResult};
use crate::app::{self, exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The edition, e.g. `midweek` or `sunday`.
    pub edition: String,
    /// The issue date (YYYY-MM-DD); default: the edition's next scheduled day.
    #[arg(long, value_parser = parse_date)]
    pub date: Option<NaiveDate>,
    /// Fill the draft's news with the candidates no issue uses yet (see `almanac news`).
    #[arg(long)]
    pub from_news: bool,
    /// With --from-news: how far before the issue date to take candidates from.
    #[arg(long, default_value = "7d", requires = "from_news", value_parser = super::news::parse_since)]
    pub since: std::time::Duration,
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date in the form YYYY-MM-DD, e.g. 2026-12-02"))
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = super::project(cli)?;
    let now = crate::clock::now();
    let created = if args.from_news {
        let (created, from) =
            app::new::scaffold_from_news(&project, &args.edition, args.date, now, args.since)?;
        print_created(&created);
        match &from.added {
            Some(added) => {
                for w in &added.warnings {
                    eprintln!("warning: {w}");
                }
                println!(
                    "added {} from the news desk{}",
                    super::plural(added.items.len(), "candidate"),
                    if from.available > added.items.len() {
                        format!(
                            " (the newest {} of {}; `almanac news list` shows the rest)",
                            added.items.len(),
                            from.available
                        )
                    } else {
                        String::new()
                    }
                );
            }
            None => eprintln!(
                "warning: no candidates from the {} before {}: run `almanac news pull`, or add items by hand",
                super::news::window(&args.since),
                created.date
            ),
        }
        created
    } else {
        let created = app::new::scaffold(&project, &args.edition, args.date, now)?;
        print_created(&created);
        created
    };
    println!(
        "next: fill in issue.toml and guide.md and watch them in `almanac preview`; `almanac check {}` lists what is left; remove `draft = true` when it is ready",
        created.id
    );
    Ok(exit::OK)
}

fn print_created(created: &app::new::Created) {
    println!("created {}", created.dir.display());
    for w in &created.warnings {
        eprintln!("warning: {w}");
    }
}
