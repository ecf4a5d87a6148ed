//! `almanac check [ISSUE] [--all]`: every problem in the config, layouts and
//! issues, and the lint of each built email (see `app::check`).

use super::{Cli, CmdResult};
use crate::app::{self, exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Issue id or folder (default: the newest issue).
    pub issue: Option<String>,
    /// Check every issue.
    #[arg(long, conflicts_with = "issue")]
    pub all: bool,
    /// Print the problems and the issues that passed as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = super::project(cli)?;
    let report = app::check::check(&project, args.issue.as_deref(), args.all)?;
    if args.json {
        super::print_json(&serde_json::json!({
            "ok": report.ok,
            "errors": report.problems.errors(),
            "warnings": report.problems.warnings(),
            "problems": report.problems.iter().map(|p| p.to_json()).collect::<Vec<_>>(),
        }));
        return Ok(if report.problems.has_errors() {
            exit::INVALID
        } else {
            exit::OK
        });
    }
    super::print_problems(&report.problems);
    for line in &report.ok {
        println!("ok: {line}");
    }
    println!("{}", app::summary(&report.problems));
    Ok(if report.problems.has_errors() {
        exit::INVALID
    } else {
        exit::OK
    })
}
