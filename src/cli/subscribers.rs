//! `almanac subscribers check|list|add|remove`: the CSV list, checked and
//! edited without breaking its format.

use std::process::ExitCode;

use clap::Subcommand;

use super::project::Project;
use super::{Cli, CmdResult, Failure, exit};
use crate::domain::Email;
use crate::subscribers::{self, Wants};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, Subcommand)]
pub enum Action {
    /// Report bad rows (with line numbers) and counts.
    Check,
    /// List valid subscribers (email, name, editions).
    List {
        /// Only those who get this edition.
        #[arg(long)]
        edition: Option<crate::domain::EditionId>,
    },
    /// Add a subscriber.
    Add {
        email: Email,
        #[arg(long)]
        name: Option<String>,
        /// `both`, or an edition such as `midweek`.
        #[arg(long, default_value = "both")]
        editions: String,
    },
    /// Remove a subscriber (for an unsubscribe, prefer `almanac unsubscribe`,
    /// which also wins over later imports).
    Remove { email: Email },
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = Project::load(cli)?;
    let path = project.config.paths.subscribers.clone().ok_or_else(|| {
        Failure::Message(
            "no subscriber list: set `paths.subscribers` or ALMANAC_SUBSCRIBERS".into(),
            exit::INVALID,
        )
    })?;
    let editions: Vec<_> = project.layouts.editions.keys().cloned().collect();
    let msg = |e: String| Failure::Message(e, exit::INVALID);
    match &args.action {
        Action::Check => {
            let list = subscribers::load(&path, &editions).map_err(|e| msg(e.to_string()))?;
            for e in &list.errors {
                eprintln!("{e}");
            }
            for ed in &editions {
                let n = list
                    .subscribers
                    .iter()
                    .filter(|s| s.wants.includes(ed))
                    .count();
                println!("{ed}: {n} subscribers");
            }
            println!(
                "{} valid, {} bad row(s)",
                list.subscribers.len(),
                list.errors.len()
            );
            Ok(ExitCode::from(if list.errors.is_empty() {
                exit::OK
            } else {
                exit::INVALID
            }))
        }
        Action::List { edition } => {
            let list = subscribers::load(&path, &editions).map_err(|e| msg(e.to_string()))?;
            for s in &list.subscribers {
                let wants = match &s.wants {
                    Wants::All => "both".to_string(),
                    Wants::Some(v) => v.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(";"),
                };
                if edition.as_ref().is_some_and(|e| !s.wants.includes(e)) {
                    continue;
                }
                println!(
                    "{}\t{}\t{}",
                    s.email,
                    s.name.as_ref().map_or("", |n| n.as_str()),
                    wants
                );
            }
            Ok(ExitCode::from(exit::OK))
        }
        Action::Add {
            email,
            name,
            editions: wanted,
        } => {
            if let Some(n) = name {
                crate::domain::Line::new(n, "the name", 100).map_err(msg)?;
            }
            let today = crate::clock::now().format("%Y-%m-%d").to_string();
            subscribers::parse_wants(wanted, &editions).map_err(msg)?;
            subscribers::add(&path, email, name.as_deref(), wanted, &today).map_err(msg)?;
            println!("added {email}");
            Ok(ExitCode::from(exit::OK))
        }
        Action::Remove { email } => {
            if subscribers::remove(&path, email).map_err(msg)? {
                println!("removed {email}");
                Ok(ExitCode::from(exit::OK))
            } else {
                Err(msg(format!("{email} is not on the list")))
            }
        }
    }
}
