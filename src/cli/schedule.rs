//! `almanac schedule [--systemd|--cron]`: the next sends, or ready-to-install
//! timer units / a crontab line for `almanac send --due`.

use chrono::{DateTime, Utc};

use super::{Cli, CmdResult};
use crate::app::{self, exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many upcoming sends to list.
    #[arg(long, default_value_t = 4)]
    pub count: usize,
    /// Print a systemd service and timer for `send --due`.
    #[arg(long, conflicts_with = "cron")]
    pub systemd: bool,
    /// Print a crontab line for `send --due`.
    #[arg(long)]
    pub cron: bool,
    /// Print the upcoming sends as JSON.
    #[arg(long, conflicts_with_all = ["systemd", "cron"])]
    pub json: bool,
    /// Pretend the time is this (RFC 3339).
    #[arg(long)]
    pub now: Option<DateTime<Utc>>,
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = super::project(cli)?;
    let s = app::schedule::schedule(&project)?;
    let dir = app::schedule::root_dir(&project).display().to_string();
    let bin = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "almanac".into());
    if args.systemd {
        print!(
            "{}",
            app::schedule::systemd(&dir, &bin, &app::schedule::editor(&project))
        );
        return Ok(exit::OK);
    }
    if args.cron {
        print!(
            "{}",
            app::schedule::cron(&dir, &bin, &app::schedule::editor(&project))
        );
        return Ok(exit::OK);
    }
    let now = args.now.unwrap_or_else(crate::clock::now);
    let upcoming = app::schedule::upcoming(&project, now, args.count)?;
    if args.json {
        let sends: Vec<serde_json::Value> = upcoming
            .iter()
            .map(|u| {
                let o = &u.occurrence;
                serde_json::json!({
                    "edition": o.slot.edition.as_str(),
                    "date": o.date.to_string(),
                    "local": o.at.with_timezone(&s.timezone).to_rfc3339(),
                    "utc": o.at.to_rfc3339(),
                    "issue": u.issue.as_ref().map(ToString::to_string),
                })
            })
            .collect();
        super::print_json(&serde_json::json!({
            "timezone": s.timezone.name(),
            "grace_minutes": s.grace.as_secs() / 60,
            "sends": sends,
        }));
        return Ok(exit::OK);
    }
    println!(
        "time zone {}, grace {} min",
        s.timezone,
        s.grace.as_secs() / 60
    );
    for u in upcoming {
        let o = &u.occurrence;
        println!(
            "{:<8} {}  {} local  {} UTC  {}",
            o.slot.edition.as_str(),
            o.date,
            o.at.with_timezone(&s.timezone).format("%a %H:%M %Z"),
            o.at.format("%Y-%m-%d %H:%M"),
            u.issue
                .map_or_else(|| "(no issue yet)".to_string(), |id| id.to_string())
        );
    }
    Ok(exit::OK)
}
