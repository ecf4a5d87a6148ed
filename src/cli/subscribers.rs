//! `almanac subscribers ...`: the list in the state database (see
//! `app::subscribers`).

use std::path::PathBuf;

use clap::Subcommand;

use super::{Cli, CmdResult};
use crate::app::{self, exit};
use crate::domain::Email;
use crate::state::SubStatus;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, Subcommand)]
pub enum Action {
    /// Counts by edition and status; bad rows of the configured CSV.
    Check,
    /// Readers with their status and editions.
    List {
        /// Only those with this status (active, pending, unsubscribed, bounced, complained, removed).
        #[arg(long, value_parser = parse_status)]
        status: Option<SubStatus>,
        /// Only those who get this edition.
        #[arg(long)]
        edition: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Add a reader (an unsubscribed, bounced or complained one only with --resubscribe).
    Add {
        email: Email,
        #[arg(long)]
        name: Option<String>,
        /// `both`, or an edition such as `midweek`.
        #[arg(long, default_value = "both")]
        editions: String,
        /// Bring back someone who left, and record that.
        #[arg(long)]
        resubscribe: bool,
    },
    /// Unsubscribe a reader from everything (kept: no import brings them back).
    Remove { email: Email },
    /// Import almanac's CSV, or a Mailchimp, Buttondown, listmonk or Substack export.
    Import {
        file: PathBuf,
        /// What readers of a file without editions signed up for (default: both).
        #[arg(long)]
        editions: Option<String>,
        /// Show what would change; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Write the list with statuses (CSV that imports back, or JSON).
    Export {
        #[arg(long, default_value = "csv", value_parser = ["csv", "json"])]
        format: String,
    },
    /// Everything held about one address (a privacy request), as JSON.
    Show { email: Email },
    /// Erase one address's data and deliveries, keeping a keyed hash so no import adds it back.
    Forget { email: Email },
}

fn parse_status(s: &str) -> Result<SubStatus, String> {
    SubStatus::parse(&s.to_ascii_lowercase()).ok_or_else(|| {
        let all: Vec<&str> = SubStatus::ALL.iter().map(|s| s.as_str()).collect();
        format!("unknown status `{s}`; use one of {}", all.join(", "))
    })
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = super::project(cli)?;
    let now = crate::clock::now();
    match &args.action {
        Action::Check => super::subscriber_report::check(&project, now),
        Action::List {
            status,
            edition,
            json,
        } => super::subscriber_report::list(&project, *status, edition.as_deref(), *json, now),
        Action::Add {
            email,
            name,
            editions,
            resubscribe,
        } => {
            let what = app::subscribers::add(
                &project,
                email,
                name.as_deref(),
                editions,
                *resubscribe,
                now,
            )?;
            println!("{what} {email}");
            Ok(exit::OK)
        }
        Action::Remove { email } => {
            app::subscribers::remove(&project, email, now)?;
            println!(
                "unsubscribed {email} from every edition (an import will not bring them back)"
            );
            Ok(exit::OK)
        }
        Action::Import {
            file,
            editions,
            dry_run,
            json,
        } => {
            let r = app::subscribers::import(&project, file, editions.as_deref(), *dry_run, now)?;
            Ok(super::subscriber_report::imported(
                file, &r, *dry_run, *json,
            ))
        }
        Action::Export { format } => {
            let bytes = app::subscribers::export(&project, format == "json", now)?;
            std::io::Write::write_all(&mut std::io::stdout(), &bytes)
                .map_err(|e| app::Error::Invalid(format!("cannot write the export: {e}")))?;
            Ok(exit::OK)
        }
        Action::Show { email } => {
            super::print_json(&app::subscribers::show(&project, email, now)?);
            Ok(exit::OK)
        }
        Action::Forget { email } => {
            if app::subscribers::forget(&project, email, now)? {
                println!(
                    "forgot {email}: their data and deliveries are erased; a keyed hash is kept so no import adds them back"
                );
            } else {
                println!(
                    "nothing was held about {email}; a keyed hash is kept so no import adds them"
                );
            }
            Ok(exit::OK)
        }
    }
}
