//! `almanac status ISSUE`: delivery counts and failures from the journal.

use std::process::ExitCode;

use super::project::Project;
use super::{Cli, CmdResult, Failure, exit};
use crate::state::State;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Issue id.
    pub issue: String,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = Project::load(cli)?;
    let state =
        State::open(&project.config.paths.state).map_err(|e| Failure::Message(e, exit::INVALID))?;
    let counts = state
        .counts(&args.issue)
        .map_err(|e| Failure::Message(e, exit::INVALID))?;
    let failures = state
        .failures(&args.issue)
        .map_err(|e| Failure::Message(e, exit::INVALID))?;
    if args.json {
        let v = serde_json::json!({ "issue": args.issue, "counts": counts, "failures": failures });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        println!(
            "{}: sent {}, failed {}, pending {}",
            args.issue, counts.sent, counts.failed, counts.pending
        );
        for f in &failures {
            println!(
                "  failed: {} ({} attempts): {}",
                f.email, f.attempts, f.reply
            );
        }
    }
    Ok(ExitCode::from(exit::OK))
}
