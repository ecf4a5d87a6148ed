//! `almanac subscribers check|list|add|remove` (see `app::subscribers`).

use clap::Subcommand;

use super::{Cli, CmdResult};
use crate::app::{self, exit};
use crate::domain::Email;

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
        edition: Option<String>,
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
    let project = super::project(cli)?;
    match &args.action {
        Action::Check => {
            let list = app::subscribers::load(&project)?;
            for e in &list.errors {
                eprintln!("{e}");
            }
            for (ed, n) in app::subscribers::per_edition(&project, &list) {
                println!("{ed}: {n} subscribers");
            }
            println!(
                "{} valid, {} bad row(s)",
                list.subscribers.len(),
                list.errors.len()
            );
            Ok(if list.errors.is_empty() {
                exit::OK
            } else {
                exit::INVALID
            })
        }
        Action::List { edition } => {
            let edition = edition.as_deref().map(|e| project.edition(e)).transpose()?;
            for r in app::subscribers::list(&project, edition.as_ref())? {
                println!("{}\t{}\t{}", r.email, r.name, r.editions);
            }
            Ok(exit::OK)
        }
        Action::Add {
            email,
            name,
            editions,
        } => {
            let today = crate::clock::now().format("%Y-%m-%d").to_string();
            app::subscribers::add(&project, email, name.as_deref(), editions, &today)?;
            println!("added {email}");
            Ok(exit::OK)
        }
        Action::Remove { email } => {
            app::subscribers::remove(&project, email)?;
            println!("removed {email}");
            Ok(exit::OK)
        }
    }
}
