//! `almanac archive`: writes the web archive to out/site/ (see `app::archive`).

use std::time::Instant;

use super::{Cli, CmdResult};
use crate::app::{self, exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let start = Instant::now();
    let project = super::project(cli)?;
    let r = app::archive::publish(&project)?;
    super::print_problems(&r.warnings);
    if !args.quiet {
        println!(
            "archived {}{} → {} (index.html, feed.xml) in {} ms",
            super::plural(r.issues, "issue"),
            if r.unsent > 0 {
                format!(" ({} not sent yet, left out)", r.unsent)
            } else {
                String::new()
            },
            r.dir.display(),
            start.elapsed().as_millis()
        );
    }
    Ok(exit::OK)
}
