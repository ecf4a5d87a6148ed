//! `almanac new EDITION [--date D]`: scaffolds the next issue (see `app::new`).

use chrono::NaiveDate;

use super::{Cli, CmdResult};
use crate::app::{self, exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The edition, e.g. `midweek` or `sunday`.
    pub edition: String,
    /// The issue date (YYYY-MM-DD); default: the edition's next scheduled day.
    #[arg(long)]
    pub date: Option<NaiveDate>,
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
