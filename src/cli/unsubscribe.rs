//! `almanac unsubscribe ADDRESS|TOKEN...` and `--from-eml FILE...`: records
//! suppressions, which win over the subscriber list (see `app::suppress`).

use std::path::PathBuf;

use super::{Cli, CmdResult};
use crate::app::suppress::Said;
use crate::app::{self, exit};
use crate::intake::Source;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Addresses, or tokens from unsubscribe links.
    #[arg(required_unless_present = "from_eml")]
    pub who: Vec<String>,
    /// Lift the suppression instead (resubscribe).
    #[arg(long, conflicts_with = "from_eml")]
    pub undo: bool,
    /// Read bounces (DSN), complaints (ARF) and unsubscribe mails from these
    /// RFC 5322 files and record what they say.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub from_eml: Vec<PathBuf>,
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = super::project(cli)?;
    let now = crate::clock::now();
    let mut said = app::suppress::by_address(&project, &args.who, args.undo, now)?;
    // The files are read as `almanac bounces FILE` reads them.
    for f in &args.from_eml {
        let r = app::bounces::read(&project, &Source::File(f.clone()), None, now)?;
        said.extend(r.lines.into_iter().map(Said::Done));
        said.extend(
            r.not_understood
                .into_iter()
                .map(|u| Said::Refused(format!("{}: {}", u.message, u.why))),
        );
    }
    let mut bad = 0;
    for s in said {
        match s {
            Said::Done(line) => println!("{line}"),
            Said::Refused(why) => {
                eprintln!("error: {why}");
                bad += 1;
            }
        }
    }
    Ok(if bad > 0 { exit::INVALID } else { exit::OK })
}
