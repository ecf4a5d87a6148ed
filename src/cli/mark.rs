//! `almanac skip ISSUE` and `almanac publish ISSUE` (see `app::marks`).

use super::{Cli, CmdResult};
use crate::app::{self, exit};
use crate::state::Mark;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Issue id or folder.
    pub issue: String,
    /// Take the mark away again.
    #[arg(long)]
    pub undo: bool,
}

pub fn run(cli: &Cli, args: &Args, mark: Mark) -> CmdResult {
    let project = super::project(cli)?;
    let line = app::marks::set(&project, &args.issue, mark, args.undo, crate::clock::now())?;
    println!("{line}");
    if mark == Mark::Published {
        let r = app::archive::publish(&project)?;
        super::print_problems(&r.warnings);
        println!(
            "archived {} → {}",
            super::plural(r.issues, "issue"),
            r.dir.display()
        );
    }
    Ok(exit::OK)
}
