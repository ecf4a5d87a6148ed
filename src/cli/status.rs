//! `almanac status ISSUE`: delivery counts and failures (see `app::status`).

use super::{Cli, CmdResult};
use crate::app::{self, exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Issue id.
    pub issue: String,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = super::project(cli)?;
    let s = app::status::status(&project, &args.issue)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
        return Ok(exit::OK);
    }
    let c = &s.counts;
    println!(
        "{}: sent {}, failed {}, pending {}",
        s.issue,
        c.sent + c.outbox,
        c.failed,
        c.pending
    );
    for f in &s.failures {
        println!(
            "  failed: {} ({} attempts): {}",
            f.email, f.attempts, f.reply
        );
    }
    Ok(exit::OK)
}
