//! The schedule as the editor and the operator see it: the upcoming sends
//! with their issues, the issue for a scheduled slot, and units for cron
//! and systemd.

use chrono::{DateTime, Utc};

use super::{Error, Project, Result};
use crate::config::Schedule;
use crate::content::{self, Issue};
use crate::diag::Problems;
use crate::domain::IssueId;
use crate::schedule::{self, Occurrence};

/// What the issues folder holds for one scheduled slot.
pub enum SlotIssue {
    None,
    Found(Box<Issue>),
    /// A folder for this slot that does not load.
    Broken(IssueId, Problems),
}

pub fn schedule(project: &Project) -> Result<&Schedule> {
    project
        .config
        .schedule
        .as_ref()
        .ok_or(Error::NoSchedule(""))
}

/// The issue whose edition and date match the slot's occurrence. A folder
/// that fails to load counts when its name says it is this edition's.
pub fn issue_for(project: &Project, o: &Occurrence) -> Result<SlotIssue> {
    let prefix = o.date.format("%Y-%m-%d").to_string();
    let mut broken = None;
    for id in project
        .issue_ids()?
        .into_iter()
        .filter(|id| id.as_str().starts_with(&prefix))
    {
        match content::load_issue(id.clone(), &project.issue_dir(&id), &project.layouts) {
            Ok(issue) if issue.edition == o.slot.edition && issue.date.0 == o.date => {
                return Ok(SlotIssue::Found(Box::new(issue)));
            }
            Ok(_) => {}
            Err(p) if id.as_str().contains(o.slot.edition.as_str()) => {
                broken.get_or_insert((id, Problems::default())).1.extend(p);
            }
            Err(_) => {}
        }
    }
    Ok(match broken {
        Some((id, p)) => SlotIssue::Broken(id, p),
        None => SlotIssue::None,
    })
}

/// "midweek of 2026-11-25 (scheduled Wed 25 Nov 07:00 Europe/London)".
pub fn describe(s: &Schedule, o: &Occurrence) -> String {
    format!(
        "{} of {} (scheduled {} {})",
        o.slot.edition,
        o.date,
        o.at.with_timezone(&s.timezone).format("%a %d %b %H:%M"),
        s.timezone
    )
}

/// "; next: sunday of 2026-11-29 at Sun 29 Nov 07:00 Europe/London".
pub fn next_send(project: &Project, now: DateTime<Utc>) -> String {
    let Some(s) = &project.config.schedule else {
        return String::new();
    };
    match schedule::upcoming(s, now, 1).first() {
        Some(o) => format!(
            "; next: {} of {} at {} {}",
            o.slot.edition,
            o.date,
            o.at.with_timezone(&s.timezone).format("%a %d %b %H:%M"),
            s.timezone
        ),
        None => String::new(),
    }
}

/// One upcoming send and the issue waiting for it.
pub struct Upcoming {
    pub occurrence: Occurrence,
    pub issue: Option<IssueId>,
}

pub fn upcoming(project: &Project, now: DateTime<Utc>, count: usize) -> Result<Vec<Upcoming>> {
    let s = schedule(project)?;
    schedule::upcoming(s, now, count)
        .into_iter()
        .map(|o| {
            let issue = match issue_for(project, &o)? {
                SlotIssue::Found(i) => Some(i.id),
                SlotIssue::Broken(id, _) => Some(id),
                SlotIssue::None => None,
            };
            Ok(Upcoming {
                occurrence: o,
                issue,
            })
        })
        .collect()
}

/// The newsletter's folder, absolute, for units that `cd` into it.
pub fn root_dir(project: &Project) -> std::path::PathBuf {
    let root = &project.config.root;
    let dir = if root.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        root.as_path()
    };
    std::fs::canonicalize(dir).unwrap_or_else(|_| root.clone())
}

/// Where the scheduler's failures are mailed: the newsletter's Reply-To,
/// else its From.
pub fn editor(project: &Project) -> String {
    let n = &project.config.newsletter;
    n.reply_to.as_ref().unwrap_or(&n.from).email.to_string()
}

/// A crontab: the environment file is loaded (cron starts with almost no
/// environment), every run is appended to the log, and only a failed run
/// prints anything, so cron mails MAILTO exactly when something went wrong.
pub fn cron(dir: &str, bin: &str, mail_to: &str) -> String {
    format!(
        "# m h dom mon dow  command  (every 10 minutes; `--due` sends only what is due, once)\n\
         # Secrets (ALMANAC_SMTP_URL, ALMANAC_SMTP_PASSWORD, ALMANAC_UNSUBSCRIBE_SECRET, ...) live in\n\
         # /etc/almanac/env as KEY=value lines, readable only by the user this crontab belongs to.\n\
         MAILTO={mail_to}\n\
         */10 * * * * cd {dir} && set -a && . /etc/almanac/env && set +a && {{ {bin} send --due >> state/almanac.log 2>&1 || {{ echo \"almanac send --due failed (exit $?); the end of state/almanac.log:\"; tail -n 20 state/almanac.log; }}; }}\n"
    )
}

/// systemd units: the service loads the environment file, a failure
/// starts `almanac-send-failed.service`, which mails the journal's last
/// lines to the editor (any `mail` command will do; mailutils or bsd-mailx).
pub fn systemd(dir: &str, bin: &str, mail_to: &str) -> String {
    format!(
        r#"# /etc/systemd/system/almanac-send.service
[Unit]
Description=almanac: send the newsletter edition that is due
After=network-online.target
Wants=network-online.target
OnFailure=almanac-send-failed.service

[Service]
Type=oneshot
WorkingDirectory={dir}
# Secrets: ALMANAC_SMTP_URL, ALMANAC_SMTP_PASSWORD, ALMANAC_UNSUBSCRIBE_SECRET,
# optionally ALMANAC_DKIM_KEY, ALMANAC_SUBSCRIBERS, ALMANAC_STATE_DIR.
EnvironmentFile=/etc/almanac/env
ExecStart={bin} send --due
# 0: sent, or nothing due. Anything else is a failure and starts OnFailure=:
# 1 nothing could be sent (a draft, a broken issue, no SMTP), 3 some failed,
# 4 another send running, 5 missed (once; the issue is then recorded skipped).

# /etc/systemd/system/almanac-send-failed.service
[Unit]
Description=almanac: tell the editor that a scheduled send failed

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'journalctl -u almanac-send.service -n 30 --no-pager | mail -s "almanac: the scheduled send failed on %H" {mail_to}'

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
