//! `almanac build [ISSUE]`: writes out/<issue>/ (see `app::build`).

use std::time::Instant;

use super::{Cli, CmdResult};
use crate::app::{self, exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Issue id or folder (default: the newest issue).
    pub issue: Option<String>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let start = Instant::now();
    let project = super::project(cli)?;
    let r = app::build::build(&project, args.issue.as_deref())?;
    super::print_problems(&r.built.warnings);
    if !args.quiet {
        let lint = &r.built.lint;
        println!(
            "built {} → {} (html {:.1} KB, style {:.1} KB, {} links) in {} ms",
            r.built.issue.id,
            r.dir.display(),
            lint.html_bytes as f64 / 1000.0,
            lint.style_bytes as f64 / 1000.0,
            lint.links,
            start.elapsed().as_millis()
        );
    }
    Ok(exit::OK)
}
