//! `almanac bounces [SOURCE]...`: reads returned mail and records what it
//! says (see `app::bounces`). A source is `-` (one message on standard
//! input, as an MTA's pipe gives it), a Maildir, an mbox, a message file,
//! or an `imaps://` mailbox; without one, `[bounces] imap`.

use super::{Cli, CmdResult};
use crate::app::bounces::Report;
use crate::app::{self, Error, exit};
use crate::intake::Source;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// `-`, a Maildir, an mbox, a message file, or imaps://user@host/MAILBOX.
    pub sources: Vec<String>,
    /// The envelope recipient of a piped message (Postfix: `${original_recipient}`);
    /// also read from ORIGINAL_RECIPIENT, which Postfix's local delivery sets.
    #[arg(
        long,
        value_name = "ADDRESS",
        env = "ORIGINAL_RECIPIENT",
        hide_env = true
    )]
    pub recipient: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// sysexits' EX_TEMPFAIL: an MTA keeps a piped message and tries again.
const TEMPFAIL: u8 = 75;

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = super::project(cli)?;
    let mut sources = Vec::new();
    for s in &args.sources {
        sources.push(Source::parse(s).map_err(Error::Usage)?);
    }
    if sources.is_empty() {
        match &project.config.bounces.imap {
            Some(url) => sources.push(Source::Imap(url.clone())),
            None => {
                return Err(Error::Usage(
                    "name a source (`-`, a Maildir, an mbox, a file, or imaps://user@host/INBOX), or set `[bounces] imap`".into(),
                ));
            }
        }
    }
    let now = crate::clock::now();
    let mut code = exit::OK;
    let mut reports = Vec::new();
    for source in &sources {
        match app::bounces::read(&project, source, args.recipient.as_deref(), now) {
            Ok(r) => reports.push((source.to_string(), r)),
            // A pipe's message must not be lost: let the MTA retry it.
            Err(e) if matches!(source, Source::Stdin) && !matches!(e, Error::Usage(_)) => {
                super::report(&e);
                return Ok(TEMPFAIL);
            }
            Err(e) => {
                super::report(&e);
                code = e.exit_code();
            }
        }
    }
    if args.json {
        let all: Vec<serde_json::Value> = reports
            .iter()
            .map(|(s, r)| serde_json::json!({ "source": s, "report": r }))
            .collect();
        super::print_json(&all);
    } else {
        for (source, r) in &reports {
            print(source, r);
        }
    }
    Ok(code)
}

fn print(source: &str, r: &Report) {
    for l in &r.lines {
        println!("{l}");
    }
    for u in &r.not_understood {
        eprintln!("kept: {}: {}", u.message, u.why);
    }
    let counts: Vec<String> = r.counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let mut summary = format!(
        "{source}: {} message{}",
        r.messages,
        if r.messages == 1 { "" } else { "s" }
    );
    if !counts.is_empty() {
        summary += &format!(" ({})", counts.join(", "));
    }
    summary += &format!(
        "; {} reader{} changed",
        r.changed.len(),
        if r.changed.len() == 1 { "" } else { "s" }
    );
    if r.seen_before > 0 {
        summary += &format!("; {} handled before", r.seen_before);
    }
    if !r.not_understood.is_empty() {
        summary += &format!("; {} not understood, left in place", r.not_understood.len());
    }
    eprintln!("{summary}");
}
