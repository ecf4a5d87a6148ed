//! `almanac status [ISSUE]`: every recent issue's stage, or one issue's
//! deliveries (see `app::status`).

use super::{Cli, CmdResult};
use crate::app::lifecycle::IssueState;
use crate::app::{self, exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Issue id or folder; without one, the recent issues.
    pub issue: Option<String>,
    /// How many issues to list without ISSUE.
    #[arg(long, default_value_t = 10)]
    pub count: usize,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = super::project(cli)?;
    let now = crate::clock::now();
    let Some(arg) = &args.issue else {
        let all = app::status::list(&project, now, args.count)?;
        if args.json {
            super::print_json(&all);
        } else if all.is_empty() {
            println!("no issues yet; create one with `almanac new EDITION`");
        }
        for s in all.iter().filter(|_| !args.json) {
            println!("{}", line(s));
        }
        return Ok(exit::OK);
    };
    let d = app::status::one(&project, arg, now)?;
    if args.json {
        super::print_json(&d);
        return Ok(exit::OK);
    }
    let s = &d.state;
    println!(
        "{}: {}; sent {}, failed {}, pending {} of {} recipients{}",
        s.issue,
        s.label,
        s.sent,
        s.failed,
        s.pending,
        s.recipients,
        outbox(s)
    );
    if let Some(r) = &d.last_run {
        println!(
            "  last run: started {}, {}{}",
            r.started_at,
            r.finished_at
                .as_ref()
                .map_or("not finished".into(), |f| format!("finished {f}")),
            r.stopped
                .as_ref()
                .map_or(String::new(), |why| format!("; stopped early: {why}"))
        );
    }
    if d.relays.len() > 1 {
        let parts: Vec<String> = d.relays.iter().map(|(r, n)| format!("{r} {n}")).collect();
        println!("  through: {}", parts.join(", "));
    }
    if !d.returned.is_empty() {
        let name = |k: &str| {
            match k {
                "hard" => "hard bounces",
                "soft" => "soft bounces",
                "policy" => "policy refusals",
                "complaint" => "complaints",
                other => other,
            }
            .to_owned()
        };
        let parts: Vec<String> = d
            .returned
            .iter()
            .map(|(k, n)| format!("{n} {}", name(k)))
            .collect();
        println!("  came back: {}", parts.join(", "));
    }
    for f in &d.failures {
        println!(
            "  failed: {} ({} attempts): {}",
            f.email, f.attempts, f.reply
        );
    }
    Ok(exit::OK)
}

fn outbox(s: &IssueState) -> String {
    if s.outbox > 0 {
        format!(
            " (and {} written to the outbox only, which reached nobody)",
            s.outbox
        )
    } else {
        String::new()
    }
}

/// One issue in the list: id, edition, stage, counts.
fn line(s: &IssueState) -> String {
    let counts = if s.sent + s.failed > 0 {
        format!(
            "  sent {}/{}{}",
            s.sent,
            s.recipients,
            if s.failed > 0 {
                format!(", failed {}", s.failed)
            } else {
                String::new()
            }
        )
    } else {
        String::new()
    };
    format!(
        "{:<24} {:<8} {}{}{}",
        s.issue,
        s.edition.as_deref().unwrap_or("?"),
        s.label,
        counts,
        outbox(s)
    )
}
