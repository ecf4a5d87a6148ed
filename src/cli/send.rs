//! `almanac send ISSUE | --due`: plans the send (every check first), asks on
//! a terminal, then sends with a progress bar and prints the summary (see
//! `app::send`). `--dry-run`, `--test ADDR` and `--limit N` as documented in
//! the README.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::progress::Progress;
use super::{Cli, CmdResult};
use crate::app::send::{Plan, Request, due::DueNow};
use crate::app::{self, Error, exit};
use crate::domain::Email;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Issue id or folder.
    #[arg(required_unless_present = "due")]
    pub issue: Option<String>,
    /// Send the edition that is due now by the schedule (for cron/systemd).
    #[arg(long, conflicts_with_all = ["issue", "test"])]
    pub due: bool,
    /// Pretend the time is this (RFC 3339), for `--due` and the Date header.
    #[arg(long, value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
    /// Build and check every personalised message, send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Send a proof to these addresses (repeat, or separate with commas);
    /// marked as a proof; the journal is untouched.
    #[arg(long, value_name = "ADDR", value_delimiter = ',')]
    pub test: Vec<Email>,
    /// Send to at most N of the pending recipients.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Do not ask for confirmation on a terminal.
    #[arg(long, short)]
    pub yes: bool,
    /// Print the summary as JSON on standard output.
    #[arg(long)]
    pub json: bool,
    /// Write the messages to out/outbox/ (delivered to nobody) even if an
    /// SMTP server is configured.
    #[arg(long)]
    pub outbox: bool,
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| format!("`{s}` is not an RFC 3339 time such as 2026-11-25T07:00:00Z ({e})"))
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = super::project(cli)?;
    let now = args.now.unwrap_or_else(crate::clock::now);
    if !args.test.is_empty() {
        let mut sent = Vec::new();
        for addr in &args.test {
            let built = project.built(args.issue.as_deref())?;
            let proof = app::send::proof(&project, built, addr, now)?;
            if sent.is_empty() {
                warn(&proof.warnings);
            }
            if !args.json {
                println!("proof sent to {} via {}", proof.to, proof.transport);
            }
            sent.push(serde_json::json!({ "to": proof.to.to_string(), "via": proof.transport.to_string() }));
        }
        if args.json {
            super::print_json(&sent);
        }
        return Ok(exit::OK);
    }
    let (built, lock) = if args.due {
        match app::send::due::due(&project, now, args.outbox)? {
            DueNow::Idle(line) => {
                println!("{line}");
                return Ok(exit::OK);
            }
            DueNow::Send { built, lock, line } => {
                println!("{line}");
                (*built, Some(lock))
            }
        }
    } else {
        (project.built(args.issue.as_deref())?, None)
    };
    let req = Request {
        dry_run: args.dry_run,
        limit: args.limit,
        now,
        outbox: args.outbox,
    };
    let plan = app::send::plan(&project, built, &req, lock)?;
    warn(&plan.warnings);
    if args.dry_run {
        let (summary, d) = plan.dry_run()?;
        if !args.json {
            println!(
                "dry run: built {} messages ({:.1} MB, {:.0} KB each on average) in {:.2} s; nothing was sent",
                d.messages,
                d.bytes as f64 / 1e6,
                d.bytes as f64 / 1e3 / d.messages.max(1) as f64,
                summary.seconds
            );
        }
        return Ok(super::summary::finish(&summary, args.json));
    }
    if !(args.due || args.yes || plan.summary.pending == 0 || confirm(&plan)) {
        return Err(Error::Declined);
    }
    let progress = Arc::new(Progress::new(plan.summary.pending as u64, args.json));
    let summary = plan.execute(progress.clone());
    progress.finish();
    Ok(super::summary::finish(&summary?, args.json))
}

fn warn(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

/// Asks on a terminal; anything but a terminal on both ends means yes
/// (cron, scripts, pipes).
fn confirm(plan: &Plan<'_>) -> bool {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return true;
    }
    eprint!(
        "Send \"{}\" ({}) to {} via {}? [y/N] ",
        plan.built.issue.subject,
        plan.built.issue.id,
        super::plural(plan.summary.pending, "subscriber"),
        plan.delivery.describe()
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes" | "Yes")
}
