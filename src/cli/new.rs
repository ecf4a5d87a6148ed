//! `almanac new EDITION [--date D]`: scaffolds the next issue (see `app::new`).

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
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date in the form YYYY-MM-DD, e.g. 2026-12-02"))
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = super::project(cli)?;
    let created = app::new::scaffold(&project, &args.edition, args.date, crate::clock::now())?;
    let id = &created.id;
    println!("created {}", created.dir.display());
    for w in &created.warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "next: fill in issue.toml and guide.md and watch them in `almanac preview`; `almanac check {id}` lists what is left; remove `draft = true` when it is ready"
    );
    Ok(exit::OK)
}
