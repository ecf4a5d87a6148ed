//! `almanac schedule [--systemd|--cron]`: the next sends, or ready-to-install
//! timer units / a crontab line for `almanac send --due`.

use std::process::ExitCode;

use chrono::{DateTime, Utc};

use super::project::Project;
use super::{Cli, CmdResult, Failure, exit};
use crate::content;
use crate::schedule;

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
    /// Pretend the time is this (RFC 3339).
    #[arg(long)]
    pub now: Option<DateTime<Utc>>,
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = Project::load(cli)?;
    let Some(s) = &project.config.schedule else {
        return Err(Failure::Message(
            "newsletter.toml has no [schedule]".into(),
            exit::INVALID,
        ));
    };
    let dir = std::fs::canonicalize(if project.config.root.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        &project.config.root
    })
    .unwrap_or_else(|_| project.config.root.clone());
    let bin = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "almanac".into());
    if args.systemd {
        print!("{}", systemd(&dir.display().to_string(), &bin));
        return Ok(ExitCode::from(exit::OK));
    }
    if args.cron {
        println!(
            "# m h dom mon dow  command  (every 10 minutes; `--due` sends only what is due, once)"
        );
        println!(
            "*/10 * * * * cd {} && {bin} send --due >> state/almanac.log 2>&1",
            dir.display()
        );
        return Ok(ExitCode::from(exit::OK));
    }
    let now = args.now.unwrap_or_else(crate::clock::now);
    let ids = content::list_issue_ids(&project.config.paths.issues).unwrap_or_default();
    println!(
        "time zone {}, grace {} min",
        s.timezone,
        s.grace.as_secs() / 60
    );
    for o in schedule::upcoming(s, now, args.count) {
        let prefix = format!("{}-", o.date);
        let issue = ids
            .iter()
            .find(|id| {
                id.as_str().starts_with(&prefix) && id.as_str().contains(o.slot.edition.as_str())
            })
            .map_or_else(|| "(no issue yet)".to_string(), |id| id.to_string());
        println!(
            "{:<8} {}  {} local  {} UTC  {}",
            o.slot.edition.as_str(),
            o.date,
            o.at.with_timezone(&s.timezone).format("%a %H:%M %Z"),
            o.at.format("%Y-%m-%d %H:%M"),
            issue
        );
    }
    Ok(ExitCode::from(exit::OK))
}

fn systemd(dir: &str, bin: &str) -> String {
    format!(
        r#"# /etc/systemd/system/almanac-send.service
[Unit]
Description=almanac: send the newsletter edition that is due
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
WorkingDirectory={dir}
# Secrets: ALMANAC_SMTP_URL, ALMANAC_SMTP_PASSWORD, ALMANAC_UNSUBSCRIBE_SECRET,
# optionally ALMANAC_DKIM_KEY, ALMANAC_SUBSCRIBERS, ALMANAC_STATE_DIR.
EnvironmentFile=/etc/almanac/env
ExecStart={bin} send --due
# 0 sent or nothing due; 3 some failed; 4 another send running; 5 missed.
SuccessExitStatus=0

# /etc/systemd/system/almanac-send.timer
[Unit]
Description=almanac: check every 10 minutes for a due edition

[Timer]
OnCalendar=*:0/10
Persistent=true
RandomizedDelaySec=30

[Install]
WantedBy=timers.target
"#
    )
}
