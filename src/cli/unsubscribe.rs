//! `almanac unsubscribe ADDRESS|TOKEN...`: records suppressions, which win
//! over the subscriber list in every later send.

use std::process::ExitCode;

use super::project::Project;
use super::{Cli, CmdResult, Failure, exit};
use crate::domain::Email;
use crate::mail;
use crate::state::State;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Addresses, or tokens from unsubscribe links.
    #[arg(required = true)]
    pub who: Vec<String>,
    /// Lift the suppression instead (resubscribe).
    #[arg(long)]
    pub undo: bool,
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = Project::load(cli)?;
    let state =
        State::open(&project.config.paths.state).map_err(|e| Failure::Message(e, exit::INVALID))?;
    let key = mail::token_key(&project.config);
    let now = crate::clock::now().to_rfc3339();
    let mut bad = 0;
    for who in &args.who {
        let email = match who.parse::<Email>() {
            Ok(e) => e,
            Err(_) => match key.verify(who) {
                Some(e) => e,
                None => {
                    eprintln!("error: `{who}` is neither an address nor a valid unsubscribe token");
                    bad += 1;
                    continue;
                }
            },
        };
        let result = if args.undo {
            state.unsuppress(&email).map(|had| {
                if had {
                    "resubscribed"
                } else {
                    "was not suppressed"
                }
            })
        } else {
            state
                .suppress(&email, "unsubscribed", "almanac unsubscribe", &now)
                .map(|new| {
                    if new {
                        "unsubscribed"
                    } else {
                        "already suppressed"
                    }
                })
        };
        match result {
            Ok(what) => println!("{email}: {what}"),
            Err(e) => return Err(Failure::Message(e, exit::INVALID)),
        }
    }
    Ok(ExitCode::from(if bad > 0 {
        exit::INVALID
    } else {
        exit::OK
    }))
}
